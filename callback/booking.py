"""Booking a callback from a call: for whom, who answers, and the first moment and the promise the caller is told.

The engine asks; this decides from the database and the answer is what the
caller hears (``CallbackStored``), so what is said and what is stored are one.

- A caller who wanted someone in the directory: the request is for that
  person or function and their unit. The unit's choice (``directory.promises``)
  says who answers — the centre (the dispatcher dials, in the target's next
  phone time) or the unit itself (its own list) — and by when.
- A queue callback whose turn cannot come before the switchboard closes is
  due at the next opening, and the caller is told so.
- A second request from the same number for the same purpose while one is
  open is merged into it (``requests.store``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback import requests
from callback import queue as centre
from callback.models import CallbackRequest
from directory import promises
from directory.models import Staff
from ivr import hours as phone_hours
from ivr import schedules


@dataclass(frozen=True)
class Booked:
    request: CallbackRequest
    first: datetime | None  # the first moment we call, as the caller is told (None: when their turn comes)
    until: datetime | None  # the end of the phone time the first call falls in
    merged: bool  # an open request for the same purpose took this one in


@dataclass(frozen=True)
class Purpose:
    """Whom a request is for and who answers it, with the first moment and the promise."""

    kind: str
    due_at: datetime | None
    until: datetime | None
    due_by: datetime | None
    target_kind: str = "centre"
    target_id: str | None = None
    target_name: str | None = None
    unit_id: int | None = None
    unit_name: str | None = None
    answered_by: str = "centre"
    hours_key: str | None = None
    situation: str | None = None
    email_to: str | None = None
    told: datetime | None = None  # a queue callback whose turn may not come today: when we call at the latest


def for_target(session: Session, staff: Staff, kind: str, now: datetime, tz: ZoneInfo, eve_close: str) -> Purpose:
    """A callback to someone the caller could not reach: due in their next phone time, promised as their unit chose."""
    policy = promises.policy_for(staff.unit)
    key = promises.hours_key(session, staff=staff)
    schedule = schedules.load(session, key, tz, eve_close, now)
    promise = promises.promise(schedule, now, policy.promise_days)
    open_now = phone_hours.status(schedule, now).open
    if open_now and kind == "queue" and policy.answered_by == "centre":
        # open but not answering (absent, busy): the centre calls back in turn, as before
        return Purpose("queue", None, None, promise.due_by, staff.kind, staff.external_id, staff.name, staff.unit_id,
                       staff.unit.name, "centre", key, "unavailable", None)
    return Purpose("next_open", promise.first, promise.first_end, promise.due_by, staff.kind, staff.external_id,
                   staff.name, staff.unit_id, staff.unit.name, policy.answered_by, key,
                   "unavailable" if open_now else "closed", policy.email or staff.email or None)


def for_centre(session: Session, kind: str, due_at: datetime | None, expected_turn: datetime | None,
               now: datetime, tz: ZoneInfo, eve_close: str) -> Purpose:
    """A callback from the centre: at the next opening, or in turn — unless the turn cannot come before closing."""
    schedule = schedules.load(session, "switchboard", tz, eve_close, now)
    status = phone_hours.status(schedule, now)
    if kind == "queue":
        if status.open and (expected_turn is None or status.closes_at is None or expected_turn < status.closes_at):
            promise = promises.promise(schedule, now, 0)
            return Purpose("queue", None, None, promise.due_by, situation="queue")
        # it keeps its place and is rung if its turn comes before closing; else at the opening, and told so
        after = status.closes_at if status.open and status.closes_at else now
        promise = promises.promise(schedule, after, 0)
        return Purpose("queue", None, promise.first_end, promise.due_by, situation="queue_after_closing",
                       told=promise.first)
    promise = promises.promise(schedule, max(now, due_at) if due_at else now, 0)
    return Purpose("next_open", promise.first, promise.first_end, promise.due_by, situation="switchboard_closed")


def book(session: Session, *, call_id: str, number: str, when: str, due_at: datetime | None, queue: str,
         menu_choice: str | None, target_id: str | None, subject: str | None, now: datetime, settings: dict,
         tz: ZoneInfo, queue_entry_id: int | None = None, queue_position: int | None = None,
         per_caller: int | None = None) -> Booked | None:
    """Store the request the caller asked for; None if the number is over its daily limit."""
    eve = settings["hours"]["eve_close"]
    staff = session.scalar(select(Staff).where(Staff.external_id == target_id)) if target_id else None
    if staff is not None:
        purpose = for_target(session, staff, when, now, tz, eve)
    else:
        turn = now + timedelta(seconds=centre.estimate(queue_position, per_caller)) \
            if queue_position and per_caller else None
        purpose = for_centre(session, when, due_at, turn, now, tz, eve)
    existing = session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == call_id))
    duplicate = None if existing is not None else requests.duplicate_of(
        session, number, purpose.target_kind, purpose.target_id, purpose.answered_by)
    if duplicate is not None:
        duplicate.merged += 1
        if subject and not duplicate.subject:
            duplicate.subject = subject
        session.flush()
        return Booked(duplicate, duplicate.due_at, None, True)
    request = requests.store(
        session, call_id=call_id, number=number, kind=purpose.kind, due_at=purpose.due_at, queue=queue,
        queue_position=queue_position, menu_choice=menu_choice, now=now,
        daily_limit=settings["callback"]["daily_limit"],
        queue_entry_id=queue_entry_id if purpose.kind == "queue" else None,
        purpose={"target_kind": purpose.target_kind, "target_id": purpose.target_id,
                 "target_name": purpose.target_name, "unit_id": purpose.unit_id, "unit_name": purpose.unit_name,
                 "answered_by": purpose.answered_by, "hours_key": purpose.hours_key, "situation": purpose.situation,
                 "subject": subject, "due_by": purpose.due_by, "email_to": purpose.email_to, "taken_by": "ivr"},
    )
    if request is None:
        return None
    return Booked(request, purpose.told or purpose.due_at, purpose.until, False)
