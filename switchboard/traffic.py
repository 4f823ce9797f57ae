"""Demo traffic: realistic calls for the dashboard, driven THROUGH the call engine (``vaxel demo traffic``).

Every call is a real run of the published flow by :class:`switchboard.calls.CallRunner`
on channel ``demo``, so the events — and the statistics — are exactly what real
calls would give. Arrivals follow a weekday × hour profile (mornings and
Mondays busiest, a few calls before opening and after closing); callers press
1 or 2, say names or subjects the directory knows (or does not), transfers ring
out answered or not, callers wait, give up or ask to be called back;
operators answer, note a wrap-up, and call back later through the callback
package. Randomness is seeded, and call ids are derived from the day, so a
second run adds nothing twice.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr.models import CallSession
from ivr.protocol import Digits, Hangup, NoInput, OperatorAnswered, Speech, Tick, TransferEnded
from stats import events as event_log
from stats.definitions import WRAPUP_OUTCOMES

CHANNEL = "demo"
WEEKDAY = {1: 1.25, 2: 1.1, 3: 1.0, 4: 1.0, 5: 0.8, 6: 0.05, 7: 0.05}
HOURS = {7: 0.3, 8: 1.3, 9: 1.6, 10: 1.5, 11: 1.1, 12: 0.6, 13: 1.2, 14: 1.1, 15: 0.9, 16: 0.6, 17: 0.3, 18: 0.15}
UNKNOWN = ["parkeringstillstånd", "bostadsanpassning", "färdtjänst", "hemtjänstavgift", "skolskjuts",
           "fiberanslutning", "hundskatt", "snöröjning", "vigsel", "lekplats"]
OPERATORS = ["anna", "bertil", "cecilia", "david"]
WRAPUP_STEP = 200_000  # where demo wrap-ups go in a call's steps (after the call's own and its callback's)


def callers(rng: random.Random) -> str:
    """A number from the range PTS keeps for fiction (070-174 06 xx)."""
    return f"+467017406{rng.randrange(0, 100):02d}"


class Caller:
    """One citizen's intentions; the driver turns them into inputs as the flow asks."""

    def __init__(self, rng: random.Random, queries: list[str]):
        self.rng = rng
        r = rng.random()
        self.kind = "exit" if r < 0.04 else "person" if r < 0.5 else "case"
        self.fumbles = rng.random() < 0.06  # presses a wrong key first
        self.query = rng.choice(UNKNOWN) if rng.random() < 0.15 else rng.choice(queries)
        self.ring = rng.choices(["answered", "no-answer", "busy", "failed"], (50, 33, 13, 4))[0]
        impatient = rng.random()
        self.patience = (rng.uniform(1, 5) if impatient < 0.03 else rng.expovariate(1 / 90) + 6 if impatient < 0.2
                         else 10_000)  # seconds in the queue before hanging up
        self.answer_after = rng.expovariate(1 / (14 if self.kind == "person" else 110)) + 3
        self.wants_callback = rng.random() < 0.5
        self.talk = rng.expovariate(1 / 180) + 20


def _drive(runner, call_id: str, start: datetime, caller: Caller, number: str, called: str) -> tuple[datetime, str | None]:
    """Run one call to its end; returns (end time, the operator who answered, if one did)."""
    rng = caller.rng
    t = start
    runner.start(call_id, t, number, called)
    operator = None
    joined: datetime | None = None
    last_tick: datetime | None = None
    fumbled = False
    for _ in range(80):
        state = runner.state_of(call_id)
        awaiting = state.awaiting if state else ""
        if not awaiting:
            break
        if awaiting == "menu":
            t += timedelta(seconds=rng.uniform(3, 9))
            if caller.kind == "exit":
                runner.handle(call_id, Hangup(), t)
            elif caller.fumbles and not fumbled:
                fumbled = True
                runner.handle(call_id, Digits("7"), t)
            else:
                runner.handle(call_id, Digits("1" if caller.kind == "person" else "2"), t)
        elif awaiting == "directory":
            t += timedelta(seconds=rng.uniform(4, 8))
            runner.handle(call_id, Speech(caller.query, 0.9), t)
        elif awaiting == "directory_choice":
            t += timedelta(seconds=6)
            runner.handle(call_id, Digits("1"), t)
        elif awaiting in ("target_offer", "closed_offer"):
            t += timedelta(seconds=4)
            runner.handle(call_id, Digits("1") if caller.wants_callback and rng.random() < 0.4 else NoInput(), t)
        elif awaiting == "transfer":
            t += timedelta(seconds=rng.uniform(5, 20) if caller.ring == "answered" else 25)
            runner.handle(call_id, TransferEnded(caller.ring), t)
        elif awaiting in ("queue", "queue_offer"):
            joined = joined or datetime.fromisoformat(state.queue["joined_at"])
            last_tick = last_tick or joined
            if awaiting == "queue_offer":
                t += timedelta(seconds=3)
                accept = caller.wants_callback and caller.answer_after > 150
                runner.handle(call_id, Digits("1") if accept else NoInput(), t)
                continue
            answer_at = joined + timedelta(seconds=caller.answer_after)
            give_up = joined + timedelta(seconds=caller.patience)
            tick = last_tick + timedelta(seconds=60)
            if min(answer_at, give_up) <= tick:
                t = max(t, min(answer_at, give_up))
                if answer_at <= give_up:
                    operator = rng.choice(OPERATORS)
                    runner.handle(call_id, OperatorAnswered(operator), t)
                else:
                    runner.handle(call_id, Hangup(), t)
            else:
                t = last_tick = tick
                runner.handle(call_id, Tick(), t)
        elif awaiting == "callback_confirm":
            t += timedelta(seconds=3)
            runner.handle(call_id, Digits("1"), t)
        elif awaiting == "callback_enter":
            t += timedelta(seconds=8)
            runner.handle(call_id, Digits(callers(rng)[3:] + "#"), t)
        elif awaiting == "bridged":
            t += timedelta(seconds=caller.talk)
            runner.handle(call_id, Hangup(), t)
        else:
            t += timedelta(seconds=6)
            runner.handle(call_id, NoInput(), t)
    return t, operator


def arrivals(rng: random.Random, day: date, per_day: int, tz: ZoneInfo) -> list[datetime]:
    n = round(per_day * WEEKDAY[day.isoweekday()] * rng.uniform(0.85, 1.15))
    hours = rng.choices(list(HOURS), list(HOURS.values()), k=n)
    return sorted(datetime.combine(day, time(h), tz) + timedelta(seconds=rng.randrange(3600)) for h in hours)


def _callbacks(sessions: sessionmaker[Session], settings: dict, day_end: datetime, rng: random.Random,
               since: datetime) -> int:
    """Dial the day's callback requests through the callback package: most reach the citizen, some never do."""
    from callback import claims, outcomes
    from callback.models import PENDING, CallbackRequest

    cfg = settings["callback"]
    with sessions() as session:
        pending = list(session.scalars(select(CallbackRequest.id).where(
            CallbackRequest.status == PENDING, CallbackRequest.requested_at >= since,
            CallbackRequest.requested_at < day_end)))
    done = 0
    for request_id in pending:
        with sessions() as session:
            request = session.get(CallbackRequest, request_id)
            t = max(request.due_at or request.requested_at, request.requested_at) + timedelta(
                minutes=rng.uniform(5, 90))
        for attempt in range(1, cfg["attempts"] + 1):
            with sessions() as session:
                claim = claims.claim_next(session, [request_id], "demo", t, cfg["lease_seconds"], cfg["order"],
                                          cfg["operator_endpoint"])
            if claim is None:
                break
            outcome = "answered" if rng.random() < 0.7 else rng.choice(["no-answer", "busy"])
            t += timedelta(seconds=rng.uniform(20, 60))
            with sessions() as session:
                outcomes.report(session, request_id, claim.attempt, outcome, t, settings)
            if outcome == "answered":
                break
            t += timedelta(minutes=cfg["retry_minutes"])
        done += 1
    return done


def generate(sessions: sessionmaker[Session], settings: dict, now: datetime, days: int = 30, per_day: int = 60,
             seed: int = 2026, progress: Callable[[date, int], None] | None = None) -> dict[str, int]:
    """Calls for ``days`` days ending yesterday (service time); returns counts of what was made."""
    from directory.models import Keyword, Staff
    from switchboard.calls import CallRunner

    tz = ZoneInfo(settings["service"]["timezone"])
    rng = random.Random(seed)
    with sessions() as session:
        queries = [n.lower() for n in session.scalars(select(Staff.name))] + list(session.scalars(
            select(Keyword.term)))
    if not queries:
        raise RuntimeError("the directory is empty: run `vaxel demo load` first")
    runner = CallRunner(sessions, settings, channel=CHANNEL)
    called = settings["callback"]["present_number"]
    counts = {"calls": 0, "callbacks": 0, "wrapups": 0}
    today = now.astimezone(tz).date()
    for offset in range(days, 0, -1):
        day = today - timedelta(days=offset)
        day_start = datetime.combine(day, time(0), tz)
        made = 0
        for i, start in enumerate(arrivals(rng, day, per_day, tz)):
            call_id = f"demo-{day:%Y%m%d}-{i:04d}"
            caller = Caller(rng, queries)
            number = callers(rng)
            with sessions() as session:
                if session.get(CallSession, call_id) is not None:
                    continue
            end, operator = _drive(runner, call_id, start, caller, number, called)
            made += 1
            if operator and rng.random() < 0.85:
                outcome = rng.choices(WRAPUP_OUTCOMES, (74, 14, 7, 5))[0]
                with sessions() as session:
                    event_log.record(session, call_id, WRAPUP_STEP, [("operator_wrapup", {
                        "outcome": outcome, "operator": operator, "wrapup_seconds": int(rng.uniform(10, 60))})],
                        end + timedelta(seconds=30), CHANNEL)
                    session.commit()
                counts["wrapups"] += 1
        counts["callbacks"] += _callbacks(sessions, settings, day_start + timedelta(days=1), rng, day_start)
        counts["calls"] += made
        if progress:
            progress(day, made)
    return counts
