"""What every process may keep in memory, and how each learns at once that it changed.

Some data is read on almost every call step but changes a few times a day:
the published call flow and the phone hours. Each process keeps them in
memory; a row per kind in ``cache_versions`` holds a token that changes in
the same transaction as the data (a ``before_flush`` listener notices any
new, changed or deleted row of a watched model, and bulk ``update``/``delete``
statements on one). A step reads all tokens with one small query and uses
its copy only while the token is the one it was built under — so a flow
published through one process is in force in every other at its next step,
with nothing to send between them. Tokens are random, so a database that is
dropped and created again never matches an old copy.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from sqlalchemy import String, event, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.functions import FunctionElement

from core.db import Base, UTCDateTime

T = TypeVar("T")

_WATCHED: dict[type, str] = {}
_TOKENS = "vaxel.cache_tokens"  # session.info key: the tokens this transaction read
_BUMPED = "vaxel.cache_bumped"  # session.info key: the kinds this transaction changed
_WRITTEN = "vaxel.cache_written"  # session.info key: the kinds whose new token is written


class CacheVersion(Base):
    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


def watch(kind: str, *models: type) -> None:
    """Changes to rows of ``models`` change the token of ``kind`` (called where the models are defined)."""
    for model in models:
        _WATCHED[model] = kind


def bump(session: Session, kind: str) -> None:
    """Say in this transaction that ``kind`` changed (the listeners do it for watched models)."""
    session.info.setdefault(_BUMPED, set()).add(kind)


def tokens(session: Session) -> dict[str, str]:
    """Every kind's token as this transaction sees it (one query per transaction)."""
    seen = session.info.get(_TOKENS)
    if seen is None:
        seen = session.info[_TOKENS] = dict(session.execute(select(CacheVersion.name, CacheVersion.token)).all())
    return seen


class _all_tokens(FunctionElement):
    type = String()
    inherit_cache = True


@compiles(_all_tokens)
def _all_tokens_postgresql(element, compiler, **kw):
    return "(SELECT string_agg(name || ':' || token, ',') FROM cache_versions)"


@compiles(_all_tokens, "sqlite")
def _all_tokens_sqlite(element, compiler, **kw):
    return "(SELECT group_concat(name || ':' || token, ',') FROM cache_versions)"


def tokens_column():
    """Every kind's token as one column (``name:token,...``) for a statement a step sends anyway — the call
    row's load — so that :func:`tokens` needs no round trip of its own: hand the value to :func:`prime`."""
    return _all_tokens().label("vaxel_tokens")


def prime(session: Session, column: str | None) -> None:
    """This transaction's tokens, read by :func:`tokens_column` (the first read in a transaction stands)."""
    if _TOKENS not in session.info:
        session.info[_TOKENS] = dict(part.split(":", 1) for part in column.split(",")) if column else {}


class Cached:
    """Values built from the database, kept while the token of their kind stays the same."""

    def __init__(self, kind: str):
        self.kind = kind
        self._lock = threading.Lock()
        self._values: dict[tuple, tuple[str, Any]] = {}

    def get(self, session: Session, key: Any, build: Callable[[], T]) -> T:
        token = tokens(session).get(self.kind)
        if token is None or self.kind in session.info.get(_BUMPED, ()):
            return build()  # no token yet, or changed in this very transaction: not what others see
        where = (id(session.get_bind()), key)
        held = self._values.get(where)
        if held is not None and held[0] == token:
            return held[1]
        value = build()
        with self._lock:
            if len(self._values) > 512:
                self._values.clear()
            self._values[where] = (token, value)
        return value


def install(sessions: sessionmaker[Session]) -> None:
    """Listen on this session factory (:func:`core.db.make_sessionmaker` does it for every factory): watched
    changes bump their kind's token in the same transaction."""

    @event.listens_for(sessions, "before_flush")
    def _notice(session: Session, _context, _instances) -> None:
        for obj in (*session.new, *session.dirty, *session.deleted):
            kind = _WATCHED.get(type(obj))
            if kind is not None:
                bump(session, kind)
        with session.no_autoflush:
            _write(session)

    @event.listens_for(sessions, "do_orm_execute")
    def _bulk(state) -> None:
        if (state.is_update or state.is_delete) and state.bind_mapper is not None:
            kind = _WATCHED.get(state.bind_mapper.class_)
            if kind is not None:
                bump(state.session, kind)

    @event.listens_for(sessions, "before_commit")
    def _flush_bumps(session: Session) -> None:
        if session.info.get(_BUMPED):
            with session.no_autoflush:
                _write(session)

    @event.listens_for(sessions, "after_commit")
    @event.listens_for(sessions, "after_rollback")
    def _forget(session: Session) -> None:
        for key in (_TOKENS, _BUMPED, _WRITTEN):
            session.info.pop(key, None)


def _write(session: Session) -> None:
    """New tokens for the kinds bumped so far (each written once per transaction)."""
    written = session.info.setdefault(_WRITTEN, set())
    for kind in session.info.get(_BUMPED, ()):
        if kind in written:
            continue
        written.add(kind)
        row = session.get(CacheVersion, kind)
        token, now = uuid.uuid4().hex, datetime.now(timezone.utc)
        if row is None:
            session.add(CacheVersion(name=kind, token=token, changed_at=now))
        else:
            row.token, row.changed_at = token, now
