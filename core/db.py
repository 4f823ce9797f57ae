"""Database plumbing every package shares: the declarative base, column types, engines and sessions.

Domain packages define their typed models on :class:`Base`; the schema itself
is only ever created by Alembic migrations (``switchboard/db.py``, ``vaxel db upgrade``).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import JSON, DateTime, Engine, Float, MetaData, create_engine, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes stored as UTC, read back aware on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware times")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class seconds_between(FunctionElement):
    """SQL for the seconds from one :class:`UTCDateTime` column to another, so the database can aggregate
    durations itself (SQLite keeps them as text, PostgreSQL as timestamps)."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def make_engine(url: str, echo: bool = False, pool_size: int = 20, max_overflow: int = 10) -> Engine:
    """``pool_size``/``max_overflow``: PostgreSQL connections kept open / opened beyond them at a peak, per
    process (size them to ``service.threads``: a webhook holds one connection for its one transaction)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # in WAL mode NORMAL syncs at checkpoints, not at every commit: a power cut may lose the last
            # commits but never corrupts the file; one fsync per call step was most of a step's time
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        writer = _WRITERS[engine] = threading.Lock()

        @event.listens_for(engine, "checkin")
        def _writer_done(_dbapi_connection, record):
            if record.info.pop(_HOLDS_WRITER, False):
                writer.release()

        return engine
    engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow)
    _ping_when_idle(engine)
    return engine


IDLE_BEFORE_PING = 5.0  # seconds a pooled connection may rest and still be used without asking the server first


def _ping_when_idle(engine: Engine) -> None:
    """A pooled connection that rested longer than :data:`IDLE_BEFORE_PING` is asked ``SELECT 1`` before use and
    replaced if the server is gone (a PostgreSQL restart, a firewall's idle timeout); one used moments ago is not.

    SQLAlchemy's ``pool_pre_ping`` asks before every use: a round trip on every webhook at a peak, when
    connections go straight from one webhook to the next. A server that dies under load fails the statements in
    flight whatever the ping, and SQLAlchemy then replaces every connection of the pool."""

    @event.listens_for(engine, "checkin")
    def _rested_from(_dbapi_connection, record):
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_rested(dbapi_connection, record, _proxy):
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < IDLE_BEFORE_PING:
            return  # new, or just used
        try:
            if engine.dialect.do_ping(dbapi_connection):
                return
        except engine.dialect.loaded_dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise
        raise DisconnectionError("a rested pooled connection no longer answers")  # the pool connects anew


_CHECKED_IN = "vaxel.checked_in"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    from core import versions  # it defines a model on Base, so it cannot be imported at the top

    factory = sessionmaker(engine, expire_on_commit=False)
    versions.install(factory)
    return factory


# SQLite has one writer at a time. Threads of a process wait their turn on this lock, woken the moment the
# writer before them is done, instead of in SQLite's busy handler, which sleeps and polls (at 30 callers most of
# the time went to sleeping while the database was free). Released when the connection goes back to the pool,
# which is how every transaction ends; other processes still meet at SQLite's own lock.
_WRITERS: "weakref.WeakKeyDictionary[Engine, threading.Lock]" = weakref.WeakKeyDictionary()
_HOLDS_WRITER = "vaxel.holds_writer"
WRITER_WAIT = 30.0  # seconds, as SQLite's busy timeout: then SQLite's own lock decides


def begin_write(session: Session) -> Session:
    """Start ``session``'s transaction as a writer. On SQLite that takes the write lock now (``BEGIN
    IMMEDIATE``): a transaction that reads and then writes after another writer committed would fail at once
    ("database is locked") instead of waiting its turn, and a savepoint opened before the first write would
    otherwise run outside any transaction (the driver begins one only at a write), its release committing."""
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        connection = session.connection()
        writer = _WRITERS.get(connection.engine)
        if writer is not None:
            if writer.acquire(timeout=WRITER_WAIT):
                connection.connection.info[_HOLDS_WRITER] = True
            else:
                log.warning("no turn to write after %.0f s in this process; waiting at SQLite's lock", WRITER_WAIT)
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    return session


_RELAXED = text("SET LOCAL synchronous_commit TO off")
_DURABLE = text("SET LOCAL synchronous_commit TO on")


def begin_step(session: Session) -> Session:
    """Start a call step's transaction (:func:`begin_write`). On PostgreSQL its commit does not wait for the
    disk (``synchronous_commit`` off for this transaction only): that wait was 0.5–1.6 ms of a 10 ms step, and a
    crash can lose the last fraction of a second of steps but never leaves the database inconsistent — what
    SQLite's ``synchronous=NORMAL`` already does. A step that makes a promise (a callback booked) calls
    :func:`durable`; everything else (staff pages, imports, the scheduler) keeps waiting for the disk."""
    begin_write(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_RELAXED)
    return session


def durable(session: Session) -> None:
    """This transaction's commit waits for the disk again (PostgreSQL): what it stores was promised to someone."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_DURABLE)
