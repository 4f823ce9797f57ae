"""PostgreSQL's pool (core.db): a connection that rested is asked before use and replaced if its server side is
gone; one used moments ago goes straight to work (no round trip on every webhook at a peak)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import db

pytestmark = pytest.mark.db


@pytest.fixture
def engine(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite's connections are files, with no server to lose")
    engine = db.make_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine, monkeypatch):
    asked = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi_connection: asked.append(1) or real(dbapi_connection))
    return asked


def backend(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def test_a_connection_used_moments_ago_is_not_asked_first(engine, pings):
    first = backend(engine)
    assert backend(engine) == backend(engine) == first
    assert pings == []


def test_a_rested_connection_whose_server_side_is_gone_is_replaced_without_an_error(engine, pings, monkeypatch):
    gone = backend(engine)
    admin = db.make_engine(engine.url.render_as_string(hide_password=False))
    with admin.connect() as conn:  # as a restart or a firewall would
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": gone}).scalar()
    admin.dispose()
    monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.0)
    now = backend(engine)  # no error: the ping found it gone and the pool connected anew
    assert now != gone and pings == [1]
    assert backend(engine) == now and pings == [1, 1]  # a live one rested too: asked, and kept
