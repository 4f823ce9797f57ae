"""Retention: after ``stats.retention_days`` a caller's number in the event log becomes a keyed pseudonym.

The number is kept while it may be needed (a callback, a complaint about a
call); after that it is replaced by ``ps:`` + HMAC-SHA256(key, number), so the
same caller still gives the same pseudonym (repeat calls stay countable) but
the number cannot be recovered without the key — a plain hash of a phone
number could be reversed by trying every number. The key comes only from the
environment (``VAXEL_STATS_PSEUDONYM_KEY``). Counts stay correct: the facts
hold no numbers, so no figure changes.

What is rewritten: ``call_started.data.caller`` in ``call_events``, and
``call_sessions.caller`` with the copy in the call's saved state. Callback
numbers are the callback package's (``callback.retention``).

What callers said or keyed to the directory (speech transcripts: the
``query`` of ``directory_lookup`` events and the facts' ``unmatched_query``,
the report's "top unmatched") follows the same retention but is deleted, not
pseudonymised: a transcript can name anyone, and a keyed hash of free text
serves no count. The event keeps ``hits`` and ``matched``, so lookup counts
and a ``vaxel stats rebuild`` stay correct. Deleting needs no key, so it also
happens when only counting (``dry_run`` counts them).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from stats.models import CallEvent

log = logging.getLogger(__name__)

KEY_ENV = "VAXEL_STATS_PSEUDONYM_KEY"
PREFIX = "ps:"
MIN_KEY = 16


class RetentionError(RuntimeError):
    """Retention cannot run as configured; the message says what to set."""


def key_from(environ: Mapping[str, str] | None = None) -> bytes:
    key = (os.environ if environ is None else environ).get(KEY_ENV, "")
    if len(key) < MIN_KEY:
        raise RetentionError(f"set {KEY_ENV} in the environment to a secret of at least {MIN_KEY} characters "
                             "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`); keep it: "
                             "the same key gives the same pseudonyms")
    return key.encode()


def pseudonym(number: str, key: bytes) -> str:
    """``ps:`` and 24 hex digits (96 bits) of HMAC-SHA256 — fits where a number did (32 characters)."""
    return PREFIX + hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:24]


def is_pseudonym(value: str | None) -> bool:
    return value is None or value.startswith(PREFIX)


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    events: int  # call_started events whose caller was (or would be) replaced
    sessions: int  # call_sessions rows likewise
    dry_run: bool
    queries: int = 0  # directory queries (events and facts) deleted, or that would be


def _event_query(cutoff: datetime):
    caller = CallEvent.data["caller"].as_string()
    return and_(CallEvent.type == "call_started", CallEvent.at < cutoff, caller.is_not(None),
                caller.not_like(f"{PREFIX}%"), caller != "")


def _lookup_query(cutoff: datetime):
    query = CallEvent.data["query"].as_string()
    return and_(CallEvent.type == "directory_lookup", CallEvent.at < cutoff, query.is_not(None))


def _fact_query(cutoff: datetime):
    from stats.models import CallFact

    return and_(CallFact.started_at < cutoff, CallFact.unmatched_query.is_not(None))


def purge_queries(session: Session, cutoff: datetime, dry_run: bool = False, batch: int = 1000) -> int:
    """Delete directory queries (transcripts) of calls before ``cutoff``: from the events and the facts."""
    from sqlalchemy import update

    from stats.models import CallFact

    if dry_run:
        return ((session.scalar(select(func.count()).select_from(CallEvent).where(_lookup_query(cutoff))) or 0)
                + (session.scalar(select(func.count()).select_from(CallFact).where(_fact_query(cutoff))) or 0))
    done = 0
    while True:
        rows = list(session.scalars(select(CallEvent).where(_lookup_query(cutoff)).order_by(CallEvent.id)
                                    .limit(batch)))
        for row in rows:
            row.data = {k: v for k, v in row.data.items() if k != "query"}
        session.commit()
        done += len(rows)
        if len(rows) < batch:
            break
    result = session.execute(update(CallFact).where(_fact_query(cutoff)).values(unmatched_query=None)
                             .execution_options(synchronize_session=False))
    session.commit()
    return done + (result.rowcount or 0)


def _session_query(cutoff: datetime):
    from ivr.models import CallSession

    return and_(CallSession.started_at < cutoff, CallSession.caller.is_not(None),
                CallSession.caller.not_like(f"{PREFIX}%"), CallSession.caller != "")


def purge(session: Session, now: datetime, retention_days: int, key: bytes | None, dry_run: bool = False,
          batch: int = 1000) -> PurgeReport:
    """Pseudonymise the numbers of calls older than ``retention_days``; commits per batch. A dry run changes nothing."""
    from ivr.models import CallSession

    cutoff = now - timedelta(days=retention_days)
    if dry_run:
        events = session.scalar(select(func.count()).select_from(CallEvent).where(_event_query(cutoff))) or 0
        calls = session.scalar(select(func.count()).select_from(CallSession).where(_session_query(cutoff))) or 0
        queries = purge_queries(session, cutoff, dry_run=True)
        session.rollback()
        return PurgeReport(cutoff, events, calls, True, queries)
    if key is None:
        raise RetentionError(f"no pseudonym key: set {KEY_ENV}")
    events = calls = 0
    while True:
        rows = list(session.scalars(select(CallEvent).where(_event_query(cutoff)).order_by(CallEvent.id)
                                    .limit(batch)))
        for row in rows:
            row.data = {**row.data, "caller": pseudonym(str(row.data["caller"]), key)}
        session.commit()
        events += len(rows)
        if len(rows) < batch:
            break
    while True:
        rows = list(session.scalars(select(CallSession).where(_session_query(cutoff)).order_by(CallSession.call_id)
                                    .limit(batch)))
        for row in rows:
            hidden = pseudonym(row.caller, key)
            if row.state and row.state.get("caller") == row.caller:
                row.state = {**row.state, "caller": hidden}
            row.caller = hidden
        session.commit()
        calls += len(rows)
        if len(rows) < batch:
            break
    queries = purge_queries(session, cutoff)
    return PurgeReport(cutoff, events, calls, False, queries)


def job(sessions: sessionmaker[Session], settings: dict, now: Callable[[], datetime]) -> Callable[[], None]:
    """The scheduled purge: logs and carries on whatever happens, so a scheduler keeps running."""

    def run() -> None:
        try:
            key = key_from()
            with sessions() as session:
                done = purge(session, now(), settings["stats"]["retention_days"], key)
            if done.events or done.sessions or done.queries:
                log.info("stats retention: pseudonymised %s events and %s calls, deleted %s directory queries "
                         "before %s", done.events, done.sessions, done.queries, done.cutoff.isoformat())
        except Exception:
            log.exception("stats retention: the purge failed; it runs again at the next wake-up")

    run.__name__ = "stats_retention"
    return run


def schedule(scheduler, sessions: sessionmaker[Session], settings: dict, now: Callable[[], datetime],
             hours: int = 1) -> None:
    """Add the purge to an APScheduler scheduler (the one process that runs jobs)."""
    scheduler.add_job(job(sessions, settings, now), "interval", hours=hours, id="stats_retention",
                      next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True)
