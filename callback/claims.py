"""Claiming due requests through the database, so two dispatchers never dial the same request twice.

The claim is one conditional UPDATE — ``status: pending -> claimed WHERE
status = 'pending'`` — that only one transaction can win, on PostgreSQL and
SQLite alike; the loser sees zero rows and moves on. On PostgreSQL the
candidate is picked with ``FOR UPDATE SKIP LOCKED`` first, so two dispatchers
do not queue up behind each other's rows. A claim carries a lease
(``claimed_by``/``claimed_until``): if its process dies, the request goes back
to pending when the lease runs out and is dialled again under the *same*
attempt number (the adapters' idempotency key), so nothing is lost and an
adapter can tell a re-dial of an attempt from a new one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from callback import places
from callback.due import due_time
from callback.models import CLAIMED, DIALLING, PENDING, CallbackAttempt, CallbackRequest
from ivr.hours import Schedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """What the dispatcher needs to dial, read while the claim was made."""

    request_id: int
    attempt: int
    call_id: str
    number: str
    kind: str
    requested_at: datetime
    queue_position: int | None
    menu_choice: str | None
    call_now: bool
    purpose: dict | None = None  # whom it is for and why, for the operator's brief (``brief_of``)


def purpose_of(request: CallbackRequest) -> dict:
    """What the operator is told about whom the citizen wanted and why."""
    return {"target_kind": request.target_kind, "target": request.target_name, "unit": request.unit_name,
            "situation": request.situation, "subject": request.subject, "message": request.message,
            "taken_by": request.taken_by, "merged": request.merged}


def _dispatch_order():
    """Operator "call now" first, then by when each became due (queue requests: when they asked)."""
    return (case((CallbackRequest.call_now.is_(True), 0), else_=1),
            func.coalesce(CallbackRequest.due_at, CallbackRequest.requested_at), CallbackRequest.id)


def due_ids(session: Session, now: datetime, schedule: Schedule,
            schedule_of: Callable[[str], Schedule | None] | None = None) -> list[int]:
    """Pending requests the centre may dial at ``now``, in dispatch order.

    Requests a unit answers itself (operators' messages among them) are the unit's, never dialled here
    unless sent back to the centre. A request on
    behalf of a unit (``hours_key``) waits for a moment when that unit has phone time too (``schedule_of``).
    """
    rows = session.scalars(
        select(CallbackRequest)
        .where(CallbackRequest.status == PENDING, CallbackRequest.number.is_not(None),
               CallbackRequest.answered_by == "centre",
               or_(CallbackRequest.call_now.is_(True), CallbackRequest.due_at.is_(None),
                   CallbackRequest.due_at <= now))
        .order_by(*_dispatch_order())
    ).all()
    due = []
    for request in rows:
        front = places.at_front(session, request) if request.kind == "queue" and request.attempts == 0 else True
        target = schedule_of(request.hours_key) if schedule_of and request.hours_key else None
        when = due_time(kind=request.kind, attempts=request.attempts, at_front=front, not_before=request.due_at,
                        call_now=request.call_now, now=now, schedule=schedule, target=target)
        if when is not None and when <= now:
            due.append(request.id)
    return due


def claim_next(session: Session, ids: list[int], worker: str, now: datetime, lease_seconds: int,
               order: str, operator: str | None) -> Claim | None:
    """Claim the first still-pending request of ``ids`` for ``worker`` and start its attempt; commits."""
    remaining = list(ids)
    while remaining:
        query = (select(CallbackRequest.id)
                 .where(CallbackRequest.id.in_(remaining), CallbackRequest.status == PENDING)
                 .order_by(*_dispatch_order()).limit(1))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        request_id = session.scalar(query)
        if request_id is None:
            session.rollback()
            return None
        remaining.remove(request_id)
        request = session.get(CallbackRequest, request_id, populate_existing=True)
        unfinished = None
        if request.attempts:
            unfinished = session.scalar(select(CallbackAttempt).where(
                CallbackAttempt.request_id == request_id, CallbackAttempt.attempt == request.attempts,
                CallbackAttempt.outcome.is_(None)))
        attempt = request.attempts if unfinished is not None else request.attempts + 1
        won = session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == request_id, CallbackRequest.status == PENDING,
                   CallbackRequest.attempts == request.attempts)
            .values(status=CLAIMED, claimed_by=worker, claimed_until=now + timedelta(seconds=lease_seconds),
                    attempts=attempt, call_now=False)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            session.rollback()  # another dispatcher was faster
            continue
        if unfinished is not None:  # a claim whose process died: the same attempt, dialled again
            unfinished.worker, unfinished.started_at = worker, now
            unfinished.note = "re-dialled after an expired claim"
        else:
            session.add(CallbackAttempt(request_id=request_id, attempt=attempt, worker=worker, started_at=now,
                                        dial_order=order, operator=operator))
        claim = Claim(request_id, attempt, request.call_id, request.number, request.kind, request.requested_at,
                      request.queue_position, request.menu_choice, request.call_now, purpose_of(request))
        session.commit()
        return claim
    session.rollback()
    return None


def release_expired(session: Session, now: datetime) -> list[int]:
    """Claims whose lease ran out (their dispatcher died before dialling) go back to pending; commits."""
    ids = list(session.scalars(select(CallbackRequest.id).where(
        CallbackRequest.status == CLAIMED, CallbackRequest.claimed_until < now)))
    released = []
    for request_id in ids:
        done = session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == request_id, CallbackRequest.status == CLAIMED,
                   CallbackRequest.claimed_until < now)
            .values(status=PENDING, claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if done:
            released.append(request_id)
            log.warning("callback request %s: claim expired; it is pending again", request_id)
    session.commit()
    return released


def mark_placed(session: Session, claim: Claim, worker: str, platform_id: str | None, now: datetime,
                outcome_timeout_seconds: int) -> bool:
    """The call is out: remember the platform's id and wait for the outcome until the timeout; commits.

    A quick adapter may already have reported the outcome (the request moved on); then only the
    platform id is kept.
    """
    session.execute(
        update(CallbackAttempt)
        .where(CallbackAttempt.request_id == claim.request_id, CallbackAttempt.attempt == claim.attempt)
        .values(platform_id=platform_id)
        .execution_options(synchronize_session=False)
    )
    placed = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == claim.request_id, CallbackRequest.status == CLAIMED,
               CallbackRequest.claimed_by == worker, CallbackRequest.attempts == claim.attempt)
        .values(status=DIALLING, claimed_until=now + timedelta(seconds=outcome_timeout_seconds))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return bool(placed)
