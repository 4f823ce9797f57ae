"""Retention: a citizen's callback number is deleted a set time after the request is closed.

The request row stays — kind, menu choice, attempts, outcome, times — so the
statistics keep their counts; only the number, the free-text notes (the
operator's, and adapters' error texts on attempts) and the number echoed in
the call's saved state are removed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import CLOSED, CallbackAttempt, CallbackRequest
from ivr.models import CallSession


def purge(session: Session, now: datetime, retention_days: int) -> int:
    """Remove the numbers of requests closed more than ``retention_days`` ago; returns how many. Commits."""
    cutoff = now - timedelta(days=retention_days)
    requests = session.scalars(select(CallbackRequest).where(
        CallbackRequest.status.in_(CLOSED), CallbackRequest.closed_at < cutoff,
        CallbackRequest.purged_at.is_(None))).all()
    for request in requests:
        request.number, request.note, request.purged_at = None, None, now
        request.message = None  # what the citizen said
        for attempt in session.scalars(select(CallbackAttempt).where(CallbackAttempt.request_id == request.id)):
            attempt.note = None  # an adapter's error text may quote the number
        call = session.get(CallSession, request.call_id)
        if call is not None and call.state and call.state.get("callback"):
            state = dict(call.state)
            state["callback"] = {**state["callback"], "number": None, "spoken": None}
            call.state = state
    session.commit()
    return len(requests)
