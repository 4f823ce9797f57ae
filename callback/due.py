"""When a callback may be dialled, and what happens after an attempt: pure functions, table-tested.

Kept apart from the database so the rules citizens depend on — "we call you
when it is your turn, or when we open", "three tries, ten minutes apart, only
while we are open" — can be read and tested in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from callback.dialer import OUTCOMES
from callback.models import DONE, FAILED, PENDING
from ivr.hours import Schedule, next_opening


def next_common_opening(schedule: Schedule, target: Schedule, start: datetime, rounds: int = 400) -> datetime | None:
    """The first moment at or after ``start`` when both lines are open: the centre calls back for a unit only
    while the unit, too, has phone time (so the citizen can be put through)."""
    moment = start
    for _ in range(rounds):
        first = next_opening(schedule, moment)
        second = next_opening(target, first) if first is not None else None
        if second is None:
            return None
        if second == first:
            return first
        moment = second
    return None


def due_time(*, kind: str, attempts: int, at_front: bool, not_before: datetime | None, call_now: bool,
             now: datetime, schedule: Schedule, target: Schedule | None = None) -> datetime | None:
    """The first moment at or after ``now`` the request may be dialled; None while it still waits its turn.

    - an operator's "call now" wins over everything (the operator is there, so the line is staffed);
    - a queue request's first attempt waits until nobody is ahead of it in line — newer callers never
      pass it, returned callers (a failed transfer) go ahead of it as they go ahead of everyone;
    - otherwise not before ``not_before`` (the opening promised, or the next retry), and only while the
      line is open: outside phone hours it is due at the next opening (holidays, eves, closures) — and, for
      a request on behalf of a unit (``target``), only while the unit has phone time too.
    """
    if call_now:
        return now
    if kind == "queue" and attempts == 0 and not at_front:
        return None
    start = max(now, not_before) if not_before is not None else now
    return next_common_opening(schedule, target, start) if target is not None else next_opening(schedule, start)


@dataclass(frozen=True)
class AfterAttempt:
    status: str  # done | pending (a retry) | failed
    retry_at: datetime | None = None  # not before; the opening hours apply on top (due_time)


def after_attempt(*, attempt: int, outcome: str, now: datetime, max_attempts: int,
                  retry_minutes: int) -> AfterAttempt:
    """Answered closes the request; anything else retries after ``retry_minutes`` until attempts run out."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    if outcome == "answered":
        return AfterAttempt(DONE)
    if attempt >= max_attempts:
        return AfterAttempt(FAILED)
    return AfterAttempt(PENDING, now + timedelta(minutes=retry_minutes))


def attempt_times(first: datetime, *, max_attempts: int, retry_minutes: int,
                  schedule: Schedule) -> list[datetime]:
    """When each attempt happens if nobody ever answers (and each outcome comes at once)."""
    times: list[datetime] = []
    moment = next_opening(schedule, first)
    for attempt in range(1, max_attempts + 1):
        if moment is None:
            break
        times.append(moment)
        after = after_attempt(attempt=attempt, outcome="no-answer", now=moment, max_attempts=max_attempts,
                              retry_minutes=retry_minutes)
        if after.retry_at is None:
            break
        moment = due_time(kind="next_open", attempts=attempt, at_front=True, not_before=after.retry_at,
                          call_now=False, now=moment, schedule=schedule)
    return times
