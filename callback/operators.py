"""The operators' callback list and what they may do with a request: call now, mark done, cancel.

Shared by the web view and ``vaxel callbacks list``. Every action is one
conditional UPDATE on the request's status, so an operator and a dispatcher
acting at the same moment cannot both win: a request being dialled cannot be
closed by hand, a closed one cannot be dialled.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from callback import eventlog, places
from callback.due import due_time
from callback.models import (
    CANCELLED, CLAIMED, DIALLING, DONE, FAILED, PENDING, CallbackAttempt, CallbackRequest,
)
from callback.policy import national
from ivr import schedules
from ivr.hours import Schedule
from core.text import N_

log = logging.getLogger(__name__)

STATUS_TEXT = {PENDING: "väntar", CLAIMED: "ringer upp", DIALLING: "ringer upp", DONE: "klar",
               FAILED: "misslyckad", CANCELLED: "avbruten"}
REASON_TEXT = {"person": "söker en person", "case": "ärende", "fallback": "kundcenter", "english": "engelska"}
ACTIONABLE = (PENDING, FAILED)  # what an operator may call now, mark done or cancel


class ActionError(ValueError):
    """The action does not fit the request's state; the message says why."""


@dataclass(frozen=True)
class Row:
    id: int
    number: str | None  # national format; None once purged
    requested_at: datetime
    kind: str  # queue | next_open
    attempts: int
    max_attempts: int
    position: int | None  # place in the centre queue while it holds one
    reason: str | None  # the caller's menu choice
    status: str
    due: datetime | None  # when it will be dialled (None: when its turn comes)
    last_outcome: str | None
    note: str | None
    # whom it is for and who answers (callback.models)
    target_kind: str = "centre"
    target: str | None = None  # the person, function or unit named
    unit: str | None = None
    answered_by: str = "centre"
    subject: str | None = None
    message: str | None = None
    taken_by: str = "ivr"
    due_by: datetime | None = None  # the promise
    merged: int = 0
    outcome: str | None = None
    overdue: bool = False  # still open after the promised time

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, self.status)

    @property
    def reason_text(self) -> str:
        return REASON_TEXT.get(self.reason or "", self.reason or "–")

    @property
    def actionable(self) -> bool:
        return self.status in ACTIONABLE and self.number is not None

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("requested_at", "due", "due_by"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def row_of(r: CallbackRequest, settings: dict, now: datetime, place: int | None = None, due: datetime | None = None,
           last: str | None = None) -> Row:
    return Row(r.id, national(r.number) if r.number else None, r.requested_at, r.kind, r.attempts,
               settings["callback"]["attempts"], place, r.menu_choice, r.status, due, last, r.note,
               target_kind=r.target_kind, target=r.target_name, unit=r.unit_name, answered_by=r.answered_by,
               subject=r.subject, message=r.message, taken_by=r.taken_by, due_by=r.due_by, merged=r.merged,
               outcome=r.outcome, overdue=r.status in (PENDING, CLAIMED, DIALLING, FAILED) and r.due_by is not None
               and r.due_by < now)


def rows(session: Session, now: datetime, settings: dict, closed_hours: int = 24) -> list[Row]:
    """Failed requests first, then those being dialled, then pending ones in dialling order, then those closed
    in the last ``closed_hours``."""
    tz = ZoneInfo(settings["service"]["timezone"])
    schedule = schedules.load(session, "switchboard", tz, settings["hours"]["eve_close"], now)
    requests = session.scalars(select(CallbackRequest).where(or_(
        CallbackRequest.status.in_((PENDING, CLAIMED, DIALLING)),
        and_(CallbackRequest.status == FAILED, CallbackRequest.purged_at.is_(None)),  # until someone acts
        CallbackRequest.closed_at >= now - timedelta(hours=closed_hours),
    )).order_by(CallbackRequest.requested_at, CallbackRequest.id)).all()
    loaded: dict[str, Schedule | None] = {}

    def target_hours(key: str) -> Schedule | None:
        """The phone hours of the unit a request is for (as the dispatcher reads them), once per key."""
        if key not in loaded:
            try:
                loaded[key] = schedules.load(session, key, tz, settings["hours"]["eve_close"], now)
            except KeyError:
                loaded[key] = None
        return loaded[key]

    result = []
    for r in requests:
        place = places.position(session, r) if r.status == PENDING else None
        due = None
        if r.status == PENDING and r.answered_by == "unit":
            due = r.due_at  # the unit calls from its own list, from then on
        elif r.status == PENDING:
            due = due_time(kind=r.kind, attempts=r.attempts, at_front=place in (None, 1), not_before=r.due_at,
                           call_now=r.call_now, now=now, schedule=schedule,
                           target=target_hours(r.hours_key) if r.hours_key else None)
        last = session.scalar(select(CallbackAttempt.outcome).where(
            CallbackAttempt.request_id == r.id, CallbackAttempt.outcome.is_not(None))
            .order_by(CallbackAttempt.attempt.desc()).limit(1))
        result.append(row_of(r, settings, now, place, due, last))
    rank = {FAILED: 0, CLAIMED: 1, DIALLING: 1, PENDING: 2, DONE: 3, CANCELLED: 3}
    # a request still waiting for its turn in the queue comes right after those due now, in queue order
    return sorted(result, key=lambda row: (rank[row.status], row.due or now, row.position or 0, row.requested_at,
                                           row.id))


def _change(session: Session, request_id: int, values: dict) -> CallbackRequest:
    request = session.get(CallbackRequest, request_id)
    if request is None:
        raise ActionError(N_("det finns ingen återuppringning %(id)s", id=request_id))
    changed = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == request_id, CallbackRequest.status.in_(ACTIONABLE),
               CallbackRequest.number.is_not(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        session.rollback()
        current = session.get(CallbackRequest, request_id, populate_existing=True)
        why = N_("numret är raderat") if current.number is None else STATUS_TEXT.get(current.status, current.status)
        raise ActionError(N_("återuppringning %(id)s kan inte ändras nu (%(why)s)", id=request_id, why=why))
    session.refresh(request)
    return request


def call_now(session: Session, request_id: int, user: str, now: datetime) -> CallbackRequest:
    """Dial at the dispatcher's next wake-up, ahead of its place and outside hours; a failed one gets one more try."""
    request = _change(session, request_id, {"status": PENDING, "call_now": True, "closed_at": None,
                                            "closed_by": None, "answered_by": "centre"})  # the centre takes it
    session.commit()
    log.info("callback %s: %s asked to call now", request_id, user)
    return request


def mark_done(session: Session, request_id: int, user: str, now: datetime, note: str = "") -> CallbackRequest:
    """The operator reached the citizen some other way."""
    request = _change(session, request_id, {"status": DONE, "call_now": False, "closed_at": now,
                                            "closed_by": user, "note": note.strip() or None})
    eventlog.record(session, request.call_id, eventlog.closing_step(request.attempts, by_operator=True),
                    "callback_completed", {"request_id": request.id, "attempts": request.attempts, "by": "operator",
                                           "waited": int((now - request.requested_at).total_seconds())}, now)
    session.commit()
    return request


def cancel(session: Session, request_id: int, user: str, now: datetime, note: str) -> CallbackRequest:
    """Withdraw a request; a note saying why is required."""
    if not note.strip():
        raise ActionError(N_("skriv varför återuppringningen avbryts"))
    request = _change(session, request_id, {"status": CANCELLED, "call_now": False, "closed_at": now,
                                            "closed_by": user, "note": note.strip()})
    eventlog.record(session, request.call_id, eventlog.closing_step(request.attempts, by_operator=True),
                    "callback_cancelled", {"request_id": request.id, "attempts": request.attempts,
                                           "by": "operator"}, now)
    session.commit()
    return request
