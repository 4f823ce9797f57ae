"""How an attempt ended: recorded exactly once, then the request is done, retried later or failed.

Adapters report outcomes from wherever they learn them — the dispatcher's own
process (Asterisk AMI), or a web worker (a Twilio status callback) — so this
works on the database alone, with no dispatcher state. A repeated report of
the same attempt changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from callback import eventlog
from callback.dialer import OutcomeHandler
from callback.due import after_attempt
from callback.models import CLAIMED, DIALLING, DONE, FAILED, CallbackAttempt, CallbackRequest

log = logging.getLogger(__name__)


def report(session: Session, request_id: int, attempt: int, outcome: str, now: datetime, settings: dict,
           note: str | None = None) -> bool:
    """Record the outcome of one attempt and move the request on; False if it was already recorded. Commits."""
    cfg = settings["callback"]
    plan = after_attempt(attempt=attempt, outcome=outcome, now=now, max_attempts=cfg["attempts"],
                         retry_minutes=cfg["retry_minutes"])
    first = session.execute(
        update(CallbackAttempt)
        .where(CallbackAttempt.request_id == request_id, CallbackAttempt.attempt == attempt,
               CallbackAttempt.outcome.is_(None))
        .values(outcome=outcome, ended_at=now, note=note[:200] if note else CallbackAttempt.note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not first:
        session.rollback()
        log.info("callback %s attempt %s: outcome %s already recorded or unknown attempt", request_id, attempt,
                 outcome)
        return False
    request = session.get(CallbackRequest, request_id, populate_existing=True)
    row = session.scalar(select(CallbackAttempt).where(CallbackAttempt.request_id == request_id,
                                                       CallbackAttempt.attempt == attempt))
    eventlog.record(session, request.call_id, eventlog.attempt_step(attempt), "callback_attempt", {
        "request_id": request_id, "attempt": attempt, "outcome": outcome, "order": row.dial_order,
        "operator": row.operator, "retry_at": plan.retry_at.isoformat() if plan.retry_at else None,
    }, now)
    closed = {"closed_at": now, "closed_by": "dispatcher"} if plan.status in (DONE, FAILED) else {}
    moved = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == request_id, CallbackRequest.status.in_((CLAIMED, DIALLING)),
               CallbackRequest.attempts == attempt)
        .values(status=plan.status, due_at=plan.retry_at if plan.retry_at else CallbackRequest.due_at,
                claimed_by=None, claimed_until=None, **closed)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:  # the request moved on without this attempt (an expired claim, an operator): keep the record only
        log.warning("callback %s attempt %s: outcome %s arrived after the request moved on", request_id, attempt,
                    outcome)
    elif plan.status == DONE:
        eventlog.record(session, request.call_id, eventlog.closing_step(attempt), "callback_completed", {
            "request_id": request_id, "attempts": attempt, "by": "dispatcher",
            "waited": int((now - request.requested_at).total_seconds()),
        }, now)
    elif plan.status == FAILED:
        eventlog.record(session, request.call_id, eventlog.closing_step(attempt), "callback_failed", {
            "request_id": request_id, "attempts": attempt, "last_outcome": outcome,
        }, now)
    session.commit()
    return True


def expire_dialling(session: Session, now: datetime, settings: dict) -> list[int]:
    """Placed calls whose outcome never came within the timeout count as failed attempts (retried as usual)."""
    stale = session.execute(select(CallbackRequest.id, CallbackRequest.attempts).where(
        CallbackRequest.status == DIALLING, CallbackRequest.claimed_until < now)).all()
    session.rollback()
    expired = []
    for request_id, attempt in stale:
        if report(session, request_id, attempt, "failed", now, settings, note="no outcome reported in time"):
            expired.append(request_id)
    return expired


def handler(sessions: sessionmaker[Session], settings: dict, now: Callable[[], datetime]) -> OutcomeHandler:
    """The :data:`~callback.dialer.OutcomeHandler` an adapter is built with: one transaction per report."""

    def on_outcome(request_id: int, attempt: int, outcome: str) -> None:
        with sessions() as session:
            report(session, request_id, attempt, outcome, now(), settings)

    return on_outcome
