"""The call event vocabulary and its append-only, idempotent log.

Every adapter writes these types and nothing else, so statistics need one
definition per figure. ``EVENT_TYPES`` is the documented vocabulary (README).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stats import facts
from stats.models import CallEvent

log = logging.getLogger(__name__)

EVENT_TYPES: dict[str, str] = {
    "call_started": "a call reached the flow (caller, called number, language, flow version)",
    "hours_checked": "the phone-hours decision (open, reason, next opening, holiday)",
    "menu_choice": "the caller chose a menu option (digit, option)",
    "input_invalid": "a key that leads nowhere (node, digits)",
    "input_timeout": "no input before the timeout (node)",
    "directory_lookup": "a directory search from the flow (query, mode, hits, matched)",
    "directory_confirm": "the flow asked whether an unsure hit is the one meant (target id, question number)",
    "directory_declined": "the caller said no to that question (target id, question number)",
    "transfer_started": "a transfer rings a person (target, ring timeout, confirm: press 1 asked; voicemail)",
    "transfer_answered": "the person answered (and pressed 1 where the answer confirmation asked)",
    "ring_next": "sequential ringing: the desk did not answer, the mobile is rung (reason)",
    "no_answer_policy": "the unit's no-answer policy rings someone else (policy: colleague, function, voicemail)",
    "colleague_offered": "someone away: a free colleague in their unit offered instead (colleague_id)",
    "colleague_chosen": "the caller took the colleague offered (key 1); a transfer to them follows",
    "voicemail_answered": "the unit's voicemail took the call (not a person reached)",
    "transfer_failed": "nobody answered (reason: no-answer, not-accepted, busy, failed, canceled, caller_hangup)",
    "returned_to_queue": "a failed transfer's caller goes back to the centre, ahead of new callers",
    "queue_joined": "the caller joined a queue (position, estimated wait, returned)",
    "queue_left": "the caller left a queue (reason: answered, abandoned, callback; waited seconds)",
    "callback_offered": "the caller was offered a callback",
    "callback_requested": "a callback request was stored (request id, when; for a directory target also target_id, unit, answered_by, due_by)",
    "call_ended": "the call ended (reason)",
    "reconciled": "the platform no longer had a call we thought live; it was closed (why, platform, last_seen)",
    "callback_attempt": "one dial of a callback ended (request id, attempt, outcome, order, retry_at)",
    "callback_completed": "a callback reached the citizen, or an operator marked it done (request id, attempts, by)",
    "callback_failed": "no attempt reached the citizen; the request is failed and shown to operators",
    "callback_cancelled": "an operator cancelled a callback request (request id, attempts)",
    "operator_wrapup": "an operator closed a handled call (outcome: answered_by_centre, transferred, "
                       "referred_to_phone_hours, message_taken; operator; wrapup_seconds)",
}


def record(
    session: Session,
    call_id: str,
    step: int,
    events: Iterable[tuple[str, dict[str, Any]]],
    at: datetime,
    channel: str,
) -> None:
    """Append the events of one call step; a repeated step (a retried webhook) writes nothing new."""
    record_steps(session, call_id, [(step, events)], at, channel)


def record_steps(
    session: Session,
    call_id: str,
    steps: Iterable[tuple[int, Iterable[tuple[str, dict[str, Any]]]]],
    at: datetime,
    channel: str,
    in_progress: bool = False,
) -> None:
    """Append the events of several steps of one call (what one webhook stepped) in one statement.

    ``in_progress``: the call runner's steps of a call that has not ended: its fact row waits for the end (a
    fold per step was a third of a step's statements); every other event re-folds the call at once."""
    rows = []
    for step, events in steps:
        for seq, (type_, data) in enumerate(events):
            if type_ not in EVENT_TYPES:
                raise ValueError(f"unknown call event type {type_!r}")
            rows.append(dict(call_id=call_id, step=step, seq=seq, type=type_, at=at, channel=channel, data=data))
    if not rows:
        return
    for row in rows:  # the log follows a call as `vaxel calls show` does (core/logs.py masks the numbers)
        details = " ".join(f"{k}={v}" for k, v in row["data"].items() if v not in (None, [], ""))
        log.info("%s %s", row["type"], details,
                 extra={"event": row["type"], "call_id": call_id, "channel": channel, "step": row["step"]})
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:  # built once: building an upsert is not free, and this runs on every call step
        _INSERTS[dialect] = (pg_insert if dialect == "postgresql" else sqlite_insert)(
            CallEvent.__table__).on_conflict_do_nothing(index_elements=["call_id", "step", "seq"])
    # a Core statement on the session's connection: the ORM's bulk path costs more than the insert itself
    session.connection().execute(_INSERTS[dialect], rows)
    if not in_progress:
        facts.mark(session, call_id)  # its stats fact row is re-folded before this transaction commits


_INSERTS: dict[str, Any] = {}


def events_of(session: Session, call_id: str) -> list[CallEvent]:
    return list(
        session.scalars(select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.step, CallEvent.seq))
    )
