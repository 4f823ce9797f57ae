"""When a callback is due and how retries are spaced: the pure rules, table by table (no database).

The switchboard's default hours: Mon–Thu 08–17, Fri 08–16; eves close at 15:00; julafton, nyårsafton and
midsommarafton are closed; a temporary closure closes the line too.
"""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from callback.dispatcher import brief
from callback.due import after_attempt, attempt_times, due_time
from ivr.hours import SWITCHBOARD_DEFAULT, Notice, Schedule, parse_weekly
from tests.conftest import TZ, at

SCHEDULE = Schedule(key="switchboard", name="Växeln", weekly=parse_weekly(SWITCHBOARD_DEFAULT), tz=TZ,
                    eve_close=time(15, 0))
WITH_CLOSURE = Schedule(key="switchboard", name="Växeln", weekly=parse_weekly(SWITCHBOARD_DEFAULT), tz=TZ,
                        eve_close=time(15, 0),
                        closures=(Notice(at("2026-11-24T10:00"), at("2026-11-24T12:00"), {"sv": "Stängt"}),),
                        special_days={at("2026-11-25T00:00").date(): ()})


def case(id_, now, expected, kind="queue", attempts=0, at_front=True, not_before=None, call_now=False,
         schedule=SCHEDULE):
    return pytest.param(kind, attempts, at_front, at(not_before) if not_before else None, call_now, at(now),
                        at(expected) if expected else None, schedule, id=id_)


DUE = [
    # a queue callback: due when it reaches the front, within phone hours
    case("queue-front-open", "2026-11-24T10:00", "2026-11-24T10:00"),
    case("queue-not-front-waits-its-turn", "2026-11-24T10:00", None, at_front=False),
    case("queue-not-front-even-when-closed", "2026-11-24T18:00", None, at_front=False),
    case("queue-front-after-closing-next-morning", "2026-11-24T17:05", "2026-11-25T08:00"),
    case("queue-front-friday-evening-monday", "2026-11-27T16:10", "2026-11-30T08:00"),
    case("queue-front-before-opening", "2026-11-24T07:30", "2026-11-24T08:00"),
    # closed line: due at the next opening that was promised, or later if the dispatcher was away
    case("next-open-weekend", "2026-11-27T17:00", "2026-11-30T08:00", kind="next_open",
         not_before="2026-11-30T08:00"),
    case("next-open-late-dispatcher", "2026-11-30T09:00", "2026-11-30T09:00", kind="next_open",
         not_before="2026-11-30T08:00"),
    case("next-open-julafton-to-28th", "2026-12-24T10:00", "2026-12-28T08:00", kind="next_open",
         not_before="2026-12-28T08:00"),
    case("next-open-nyarsafton-over-new-year", "2026-12-31T10:00", "2027-01-04T08:00", kind="next_open",
         not_before="2026-12-31T10:00"),
    case("next-open-midsommar", "2026-06-18T17:30", "2026-06-22T08:00", kind="next_open",
         not_before="2026-06-18T17:30"),
    # a retry is not before its time and only within phone hours (eves close at 15:00)
    case("retry-within-hours", "2026-11-24T10:00", "2026-11-24T10:10", attempts=1, not_before="2026-11-24T10:10"),
    case("retry-after-closing", "2026-11-26T17:00", "2026-11-27T08:00", attempts=1, not_before="2026-11-26T17:05"),
    case("retry-friday-16", "2026-11-27T15:55", "2026-11-30T08:00", attempts=1, not_before="2026-11-27T16:05"),
    case("retry-valborg-eve", "2026-04-30T14:55", "2026-05-04T08:00", attempts=2, not_before="2026-04-30T15:05"),
    case("retry-skartorsdag-over-easter", "2026-04-02T14:58", "2026-04-07T08:00", attempts=1,
         not_before="2026-04-02T15:08"),
    case("retry-trettondagsafton", "2027-01-05T14:55", "2027-01-07T08:00", attempts=1,
         not_before="2027-01-05T15:05"),
    case("retry-of-a-queue-request-ignores-the-queue", "2026-11-24T10:00", "2026-11-24T10:10", attempts=1,
         at_front=False, not_before="2026-11-24T10:10"),
    # a temporary closure and a special (closed) day
    case("closure-pushes-to-its-end", "2026-11-24T10:05", "2026-11-24T12:00", attempts=1,
         not_before="2026-11-24T10:30", schedule=WITH_CLOSURE),
    case("closed-special-day", "2026-11-25T09:00", "2026-11-26T08:00", schedule=WITH_CLOSURE),
    # an operator's "call now" beats place, time and hours
    case("call-now-on-saturday", "2026-11-28T11:00", "2026-11-28T11:00", at_front=False, call_now=True),
    case("call-now-before-retry-time", "2026-11-24T10:01", "2026-11-24T10:01", attempts=2,
         not_before="2026-11-24T10:20", call_now=True),
]


@pytest.mark.parametrize("kind, attempts, at_front, not_before, call_now, now, expected, schedule", DUE)
def test_due_time(kind, attempts, at_front, not_before, call_now, now, expected, schedule):
    assert due_time(kind=kind, attempts=attempts, at_front=at_front, not_before=not_before, call_now=call_now,
                    now=now, schedule=schedule) == expected


@pytest.mark.parametrize("attempt, outcome, max_attempts, status, retry", [
    (1, "answered", 3, "done", None),
    (1, "no-answer", 3, "pending", 10),
    (2, "busy", 3, "pending", 10),
    (2, "failed", 3, "pending", 10),  # the platform could not place it: try again too
    (3, "no-answer", 3, "failed", None),
    (3, "answered", 3, "done", None),
    (1, "busy", 1, "failed", None),
    (4, "no-answer", 3, "failed", None),  # an operator's extra "call now" after a failure
])
def test_after_an_attempt(attempt, outcome, max_attempts, status, retry):
    now = at("2026-11-24T10:00")
    after = after_attempt(attempt=attempt, outcome=outcome, now=now, max_attempts=max_attempts, retry_minutes=10)
    assert after.status == status
    assert after.retry_at == (now + timedelta(minutes=retry) if retry else None)


def test_an_unknown_outcome_is_an_error():
    with pytest.raises(ValueError, match="unknown outcome"):
        after_attempt(attempt=1, outcome="voicemail", now=at("2026-11-24T10:00"), max_attempts=3, retry_minutes=10)


@pytest.mark.parametrize("first, attempts, expected", [
    ("2026-11-24T10:00", 3, ["2026-11-24T10:00", "2026-11-24T10:10", "2026-11-24T10:20"]),
    ("2026-11-26T16:45", 3, ["2026-11-26T16:45", "2026-11-26T16:55", "2026-11-27T08:00"]),
    ("2026-11-27T15:50", 3, ["2026-11-27T15:50", "2026-11-30T08:00", "2026-11-30T08:10"]),
    ("2026-12-24T10:00", 3, ["2026-12-28T08:00", "2026-12-28T08:10", "2026-12-28T08:20"]),
    ("2026-04-02T14:50", 3, ["2026-04-02T14:50", "2026-04-07T08:00", "2026-04-07T08:10"]),
    ("2026-11-24T10:00", 1, ["2026-11-24T10:00"]),
    ("2026-11-24T10:00", 5, ["2026-11-24T10:00", "2026-11-24T10:10", "2026-11-24T10:20", "2026-11-24T10:30",
                             "2026-11-24T10:40"]),
])
def test_three_attempts_ten_minutes_apart_only_within_hours(first, attempts, expected):
    times = attempt_times(at(first), max_attempts=attempts, retry_minutes=10, schedule=SCHEDULE)
    assert times == [at(t) for t in expected]


def test_the_operator_brief_says_who_since_when_why_and_which_try():
    text = brief(number="+46701740699", requested_at=at("2026-11-24T10:02"), kind="queue", queue_position=3,
                 menu_choice="case", attempt=1, max_attempts=3, tz=TZ)
    assert text == ("Återuppringning till 070-174 06 99: bad om det 24/11 10:02 i kön som nummer 3 (ärende). "
                    "Försök 1 av 3.")
    closed = brief(number="+4646355000", requested_at=at("2026-12-24T10:00"), kind="next_open", queue_position=None,
                   menu_choice=None, attempt=2, max_attempts=3, tz=TZ)
    assert "046-35 50 00" in closed and "när växeln var stängd" in closed and "Försök 2 av 3" in closed
