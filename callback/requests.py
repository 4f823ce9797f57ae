"""Storing callback requests, with the number policy's per-number daily limit.

The limit lives here, not in ``policy``, because it needs the database: the
policy decides which *kinds* of number we ring, this decides how *often*.
Every request of the last 24 hours counts, whatever became of it — a completed
callback still rang the number, so counting only open ones would let anyone
make the municipality ring a number again and again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.models import OPEN, CallbackRequest
from core.db import durable


def requests_today(session: Session, number: str, now: datetime) -> int:
    """Requests for ``number`` made in the 24 hours before ``now``."""
    since = now - timedelta(days=1)
    return session.scalar(
        select(func.count()).select_from(CallbackRequest).where(
            CallbackRequest.number == number, CallbackRequest.requested_at > since,
            CallbackRequest.requested_at <= now,
        )
    ) or 0


def store(
    session: Session,
    *,
    call_id: str,
    number: str,
    kind: str,
    due_at: datetime | None,
    queue: str,
    queue_position: int | None,
    menu_choice: str | None,
    now: datetime,
    daily_limit: int,
    queue_entry_id: int | None = None,
    purpose: dict | None = None,
) -> CallbackRequest | None:
    """Insert the request (once per call); None if the number already had ``daily_limit`` requests today.

    ``queue_entry_id`` is the caller's place in the queue, which a ``queue`` request keeps; ``purpose`` holds
    the columns saying whom it is for (``CallbackRequest.target_kind`` and on).
    """
    existing = session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == call_id))
    if existing is not None:
        return existing
    if requests_today(session, number, now) >= daily_limit:
        return None
    durable(session)  # the caller is told "we will call you": this commit waits for the disk
    request = CallbackRequest(call_id=call_id, number=number, requested_at=now, kind=kind, due_at=due_at,
                              queue=queue, queue_position=queue_position, menu_choice=menu_choice,
                              queue_entry_id=queue_entry_id if kind == "queue" else None, **(purpose or {}))
    session.add(request)
    session.flush()
    return request


def duplicate_of(session: Session, number: str, target_kind: str, target_id: str | None,
                 answered_by: str) -> CallbackRequest | None:
    """An open request from ``number`` for the same purpose (the same target, the same answerer), oldest first.

    A citizen who asks three times for the same thing gets one call, not three: the new ask is merged into it.
    """
    query = select(CallbackRequest).where(
        CallbackRequest.number == number, CallbackRequest.status.in_(OPEN), CallbackRequest.kind != "message",
        CallbackRequest.target_kind == target_kind, CallbackRequest.answered_by == answered_by,
        CallbackRequest.target_id.is_(None) if target_id is None else CallbackRequest.target_id == target_id,
    ).order_by(CallbackRequest.requested_at, CallbackRequest.id).limit(1)
    return session.scalar(query)
