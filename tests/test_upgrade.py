"""Upgrading a site: a database at the previous release's schema, filled by the demo traffic, upgraded by
``vaxel db upgrade``'s migrations — nothing lost, the old release could still have served meanwhile, and the
upgraded database takes new calls.

The previous release's schema is :data:`PREVIOUS_RELEASE` (raise it to that release's ``alembic heads`` at each
release). Its data is the demo traffic as generated today, keeping the tables and columns that schema has: what
the previous release would have stored. Runs on SQLite, and on PostgreSQL under ``make test-postgres``.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import MetaData, create_engine, inspect, select, text

from core.clock import Clock
from switchboard import db, traffic
from switchboard.app import create_app
from tests.conftest import TEST_START, TZ, at

# the schema of 2026-11-24 (commit e21fa92): before wrap-ups (0010), reconciliation (0011) and sessions (0012)
PREVIOUS_RELEASE = ("0002", "0003", "0004", "0006", "0007", "0008", "0009")
PG_URL = os.environ.get("VAXEL_TEST_DATABASE_URL")

pytestmark = pytest.mark.db


@contextmanager
def empty_database(tmp_path, name: str):
    """A new, empty database: a SQLite file, or a schema of its own on PostgreSQL."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / name}.db"
        return
    schema = f"vaxel_upgrade_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def app_on(url: str):
    app = create_app({"database": {"url": url}, "service": {"mode": "development"}})
    app.extensions["vaxel"].clock = Clock(TZ, start=at(TEST_START))
    return app


def fill_with_demo_traffic(url: str) -> None:
    from switchboard import demo
    from switchboard.auth import add_user
    from switchboard.seed import ensure_defaults
    from core.settings import CONFIG_DIR

    app = app_on(url)
    svc = app.extensions["vaxel"]
    with svc.sessions() as session:
        ensure_defaults(session, svc.settings)
        demo.load(session, str(CONFIG_DIR / "demo" / "municipality.toml"))
        add_user(session, "anna", "operator", "a-long-enough-password-1", "Anna Operatör")
        session.commit()
    counts = traffic.generate(svc.sessions, svc.settings, svc.clock.now(), days=5, per_day=30, seed=7)
    assert counts["calls"] > 30 and counts["callbacks"] > 0
    svc.engine.dispose()


def copy_into_previous_schema(source_url: str, target_url: str) -> None:
    """Every row of every table the previous schema has, in the columns it has."""
    source, target = create_engine(source_url), create_engine(target_url)
    old, new = MetaData(), MetaData()
    old.reflect(target)
    new.reflect(source)
    with source.connect() as read, target.begin() as write:
        for table in old.sorted_tables:
            if table.name == "alembic_version":
                continue
            columns = [new.tables[table.name].c[c.name] for c in table.columns]
            rows = [dict(row._mapping) for row in read.execute(select(*columns))]
            if rows:
                write.execute(table.insert(), rows)
            if write.dialect.name == "postgresql" and "id" in table.c and rows:  # as if inserted one by one
                write.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                   f"(SELECT max(id) FROM {table.name}))"))
    source.dispose()
    target.dispose()


def snapshot(url: str, tables: dict[str, list[str]]) -> dict[str, list[tuple]]:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine, only=list(tables))
    with engine.connect() as conn:
        taken = {name: sorted(tuple(repr(v) for v in row) for row in conn.execute(
            select(*[meta.tables[name].c[c] for c in columns]))) for name, columns in tables.items()}
    engine.dispose()
    return taken


def schema_of(url: str) -> dict[str, dict[str, dict]]:
    engine = create_engine(url)
    inspector = inspect(engine)
    shape = {t: {c["name"]: c for c in inspector.get_columns(t)} for t in inspector.get_table_names()
             if t != "alembic_version"}
    engine.dispose()
    return shape


def test_a_database_of_the_previous_release_filled_by_demo_traffic_upgrades_without_losing_anything(tmp_path):
    with empty_database(tmp_path, "today") as today, empty_database(tmp_path, "site") as site:
        db.upgrade(today)
        fill_with_demo_traffic(today)
        for revision in PREVIOUS_RELEASE:
            db.upgrade(site, revision)
        copy_into_previous_schema(today, site)

        before = schema_of(site)
        assert "wrapups" not in before and "alive_at" not in before["call_sessions"]  # really the old schema
        old_columns = {table: list(columns) for table, columns in before.items()}
        rows_before = snapshot(site, old_columns)
        assert len(rows_before["call_events"]) > 500 and rows_before["callback_requests"]

        db.upgrade(site)  # what `vaxel db upgrade` runs

        after = schema_of(site)
        assert snapshot(site, old_columns) == rows_before  # every row, every old column, unchanged
        for table, columns in before.items():  # the previous release still finds what it reads and writes
            assert set(columns) <= set(after[table]), table
            for name in set(after[table]) - set(columns):
                added = after[table][name]
                assert added["nullable"] or added["default"] is not None, (
                    f"{table}.{name} is NOT NULL without a server default: the previous release, still serving "
                    "during the upgrade, could no longer insert into {table}")

        # the service reads the upgraded data as the day it was made, and takes a new call
        upgraded, made = app_on(site), app_on(today)
        listing = ["calls", "list", "--since", "2026-11-01T00:00", "--limit", "100000", "--json"]
        calls_then = made.test_cli_runner().invoke(args=listing).output
        assert upgraded.test_cli_runner().invoke(args=listing).output == calls_then and calls_then.count("\n") > 30
        some_call = calls_then.splitlines()[0].split('"call_id": "')[1].split('"')[0]
        shown = ["calls", "show", some_call, "--json"]
        assert upgraded.test_cli_runner().invoke(args=shown).output == made.test_cli_runner().invoke(
            args=shown).output
        result = upgraded.test_cli_runner().invoke(args=["call", "--at", "2026-11-24T10:05:00+01:00", "2"])
        assert result.exit_code == 0 and "QUEUE" in result.output
        from switchboard.auth import User

        with upgraded.extensions["vaxel"].sessions() as session:
            anna = session.scalar(select(User).where(User.username == "anna"))
            assert anna.session_generation == 0 and anna.name == "Anna Operatör"
        for app in (upgraded, made):
            app.extensions["vaxel"].engine.dispose()
