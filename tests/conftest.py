"""Fixtures in the Flask tutorial's style: ``app``, ``client``, ``runner`` — on a real, migrated database.

The database is SQLite in a temporary directory, or PostgreSQL when
``VAXEL_TEST_DATABASE_URL`` is set (``make test-postgres``); there each run
gets a schema of its own, dropped afterwards. The schema is built by the real
Alembic migrations, once per run; every test starts from empty tables plus the
seeded flow and, for ``app``, the demo municipality.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from core.clock import Clock
from core.db import Base
from switchboard import db
from switchboard.app import create_app
from core.settings import CONFIG_DIR

TZ = ZoneInfo("Europe/Stockholm")
# The service clock of every app under test starts here (a Tuesday morning, switchboard open) and runs on:
# no test depends on the day it runs. A test that needs another moment sets ``services.clock`` itself.
TEST_START = "2026-11-24T10:00"
PG_URL = os.environ.get("VAXEL_TEST_DATABASE_URL")


def at(text_: str) -> datetime:
    """'2026-11-24T10:00' in Stockholm time."""
    return datetime.fromisoformat(text_).replace(tzinfo=TZ)


def pytest_collection_modifyitems(items):
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(autouse=True)
def _closed_consoles_wait(monkeypatch):
    """Tests share one database: a console closed in one test must not take an operator out of the queue in a
    later test half a minute on. Tests of that rule give their own grace (tests/test_console.py)."""
    from switchboard.console.stream import Away

    monkeypatch.setattr(Away, "GRACE", 24 * 3600.0)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if PG_URL:
        schema = f"vaxel_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
        db.upgrade(url)
        yield url
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'vaxel.db'}"
        db.upgrade(url)
        yield url


def _empty(app) -> None:
    """Delete every row; tables a migration has not created yet are left to test_migrations to report.

    The directory index goes too (kept by directory version, which starts over with the rows): one test's
    directory edit must not leak into the next test. What ``core.versions`` keeps needs nothing: the rows'
    tokens go with the rows, and new ones are random."""
    from sqlalchemy import inspect

    from directory import index

    index._cache.clear()

    services = app.extensions["vaxel"]
    with services.engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in existing:
                conn.execute(table.delete())


@pytest.fixture
def bare_app(database_url):
    """The app on empty tables plus the seeded default flow and switchboard hours."""
    from switchboard.seed import ensure_defaults

    app = create_app({"database": {"url": database_url}, "service": {"mode": "development"}})
    app.config.update(TESTING=True)
    _empty(app)
    services = app.extensions["vaxel"]
    services.clock = Clock(TZ, start=at(TEST_START))
    with services.sessions() as session:
        ensure_defaults(session, services.settings)
    yield app
    services.engine.dispose()


@pytest.fixture
def app(bare_app):
    """``bare_app`` with the demo municipality loaded."""
    from switchboard import demo

    services = bare_app.extensions["vaxel"]
    with services.sessions() as session:
        demo.load(session, str(CONFIG_DIR / "demo" / "municipality.toml"))
    return bare_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def sessions(app):
    return app.extensions["vaxel"].sessions


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token a form on ``path`` carries, as a browser would read it."""
    import re

    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username: str, password: str):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(client)})


@pytest.fixture
def operator_client(client):
    """A test client logged in as the demo operator."""
    assert login(client, "operator", "demo-operator-2026").status_code == 302
    return client


ADMIN_PASSWORD = "admin-password-2026"


@pytest.fixture
def admin_client(app, client):
    """A test client logged in as an administrator."""
    from switchboard.auth import add_user

    with app.extensions["vaxel"].sessions() as session:
        add_user(session, "chefen", "admin", ADMIN_PASSWORD, "Cecilia Chef")
        session.commit()
    assert login(client, "chefen", ADMIN_PASSWORD).status_code == 302
    return client
