"""Storing callback requests; the number policy's per-day limit is enforced here."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback.models import CallbackRequest

ACTIVE = ("pending", "claimed")


def requests_today(session: Session, number: str, now: datetime) -> int:
    since = now - timedelta(days=1)
    return session.scalar(
        select(func.count()).select_from(CallbackRequest).where(
            CallbackRequest.number == number, CallbackRequest.requested_at >= since,
            CallbackRequest.status.in_(ACTIVE),
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
) -> CallbackRequest | None:
    """Insert the request (once per call); None if the number already has ``daily_limit`` active requests."""
    existing = session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == call_id))
    if existing is not None:
        return existing
    if requests_today(session, number, now) >= daily_limit:
        return None
    request = CallbackRequest(call_id=call_id, number=number, requested_at=now, kind=kind, due_at=due_at,
                              queue=queue, queue_position=queue_position, menu_choice=menu_choice)
    session.add(request)
    session.flush()
    return request
