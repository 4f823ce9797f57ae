"""Call histories written by hand, and what one call's events fold into (stats/facts.py).

``Call`` writes the events the engine would write, with the data it would
give them; the other statistics tests build their histories with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from stats import events as event_log
from stats import facts

TZ = ZoneInfo("Europe/Stockholm")
UTC = ZoneInfo("UTC")
ENTRY = "+46406280400"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@dataclass
class Ev:
    call_id: str
    step: int
    seq: int
    type: str
    at: datetime
    channel: str
    data: dict[str, Any]


class Call:
    """One call's events, in the engine's order and shape; ``write`` records them through the event log."""

    def __init__(self, call_id: str, start: datetime, called: str = ENTRY, caller: str | None = "+46701740699",
                 channel: str = "test"):
        self.call_id, self.t, self.channel = call_id, start, channel
        self.step = 0
        self.events: list[Ev] = []
        self.joined: datetime | None = None
        self.add("call_started", caller=caller, called=called, lang="sv", flow_version=1)

    def add(self, type_: str, after: float = 0, step: int | None = None, **data: Any) -> "Call":
        self.t += timedelta(seconds=after)
        if step is None:
            self.step += 1
            step = self.step
        self.events.append(Ev(self.call_id, step, 0, type_, self.t, self.channel, data))
        return self

    def hours(self, open_: bool = True) -> "Call":
        return self.add("hours_checked", schedule="switchboard", open=open_, reason="open" if open_ else "closed",
                        next_open=None, holiday=None, crisis=False)

    def choose(self, option: str, after: float = 6) -> "Call":
        digit = {"person": "1", "case": "2", "english": "9"}[option]
        return self.add("menu_choice", after, node="menu", digit=digit, option=option)

    def lookup(self, query: str, matched: bool, after: float = 5) -> "Call":
        return self.add("directory_lookup", after, query=query, hits=int(matched), matched=matched,
                        top=["p039"] if matched else [])

    def transfer(self, target_id: str, name: str, unit: str, outcome: str, ring: float) -> "Call":
        self.add("transfer_started", 1, target_id=target_id, target=name, unit=unit, ring_timeout=25)
        if outcome == "answered":
            return self.add("transfer_answered", ring, target_id=target_id, target=name)
        self.add("transfer_failed", ring, target_id=target_id, target=name, reason=outcome)
        if outcome != "caller_hangup":
            self.add("returned_to_queue", 0, target_id=target_id, target=name, reason=outcome)
        return self

    def queue(self, after: float = 1, returned: bool = False, choice: str | None = None) -> "Call":
        self.add("queue_joined", after, queue="centre", position=1, estimated_wait=60, returned=returned,
                 menu_choice=choice)
        self.joined = self.t
        return self

    def leave(self, after: float, reason: str, operator: str | None = None) -> "Call":
        waited = int((self.t + timedelta(seconds=after) - self.joined).total_seconds())
        return self.add("queue_left", after, queue="centre", reason=reason, waited=waited,
                        **({"operator": operator} if operator else {}))

    def end(self, reason: str, after: float = 0, talk: int | None = None) -> "Call":
        return self.add("call_ended", after, reason=reason, node="x",
                        **({"talk_seconds": talk} if talk is not None else {}))

    def wrapup(self, outcome: str, operator: str, after: float = 30, seconds: int | None = None,
               step: int = 200_000) -> "Call":
        data = {"outcome": outcome, "operator": operator}
        if seconds is not None:
            data["wrapup_seconds"] = seconds
        return self.add("operator_wrapup", after, step=step, **data)

    def callback_requested(self, when: str = "queue", after: float = 10) -> "Call":
        return self.add("callback_requested", after, request_id=1, when=when, menu_choice=None)

    def callback_attempt(self, attempt: int, outcome: str, after: float) -> "Call":
        return self.add("callback_attempt", after, step=100_000 + attempt * 10, request_id=1, attempt=attempt,
                        outcome=outcome, order="operator_first", operator="centre", retry_at=None)

    def callback_closed(self, type_: str, attempts: int, after: float = 0, waited: int | None = None) -> "Call":
        data: dict[str, Any] = {"request_id": 1, "attempts": attempts}
        if waited is not None:
            data["waited"] = waited
        return self.add(type_, after, step=100_000 + attempts * 10 + 1, **data)

    # -- shapes of whole calls -----------------------------------------------------------------

    @classmethod
    def answered(cls, call_id: str, start: datetime, wait: float, talk: int = 120, option: str = "case",
                 operator: str = "anna", **kw) -> "Call":
        c = cls(call_id, start, **kw).hours().choose(option).queue(choice=option)
        return c.leave(wait, "answered", operator).end("completed", talk, talk=talk)

    @classmethod
    def abandoned(cls, call_id: str, start: datetime, wait: float, option: str = "case", **kw) -> "Call":
        c = cls(call_id, start, **kw).hours().choose(option).queue(choice=option)
        return c.leave(wait, "abandoned").end("caller_hangup")

    def write(self, session) -> "Call":
        for e in self.events:
            event_log.record(session, e.call_id, e.step, [(e.type, e.data)], e.at, e.channel)
        return self

    def fold(self, tz: ZoneInfo = TZ) -> facts.Folded:
        return facts.fold(self.events, tz)


def write(sessions, *calls: Call) -> None:
    with sessions() as session:
        for c in calls:
            c.write(session)
        session.commit()


# --- the fold, without a database -------------------------------------------------------------------


def test_a_call_answered_from_the_queue():
    f = Call.answered("a", at("2026-11-24T10:00:00"), wait=40, talk=200).wrapup("answered_by_centre", "anna",
                                                                                seconds=25).fold().fact
    assert (f["queued"], f["answered"], f["abandoned"], f["queue_callback"]) == (1, 1, 0, 0)
    assert f["wait_seconds"] == 40 and f["answer_seconds"] == 40
    assert f["operator"] == "anna" and f["answered_by"] == "centre" and f["reach_seconds"] == 47
    assert f["talk_seconds"] == 200 and f["centre_talk_seconds"] == 200
    assert (f["wrapups"], f["resolved"], f["wrapup_seconds"]) == (1, 1, 25)
    assert f["outcome"] == "answered" and f["menu_choice"] == "case"
    assert (f["local_date"].isoformat(), f["local_hour"], f["local_weekday"]) == ("2026-11-24", 10, 2)


@pytest.mark.parametrize("wait", [4, 6])
def test_abandoned_at_4_and_6_seconds_are_both_abandoned_facts(wait):
    """The fact keeps the raw wait; the short-abandon threshold is applied by the report (configurable)."""
    f = Call.abandoned("a", at("2026-11-24T10:00:00"), wait=wait).fold().fact
    assert (f["abandoned"], f["wait_seconds"], f["outcome"], f["answer_seconds"]) == (1, wait, "abandoned", 0)


def test_a_callback_taken_from_the_queue_is_not_an_abandon():
    c = Call("cb", at("2026-11-24T10:00:00")).hours().choose("case").queue(choice="case")
    c.add("callback_offered", 120, where="queue", waited=120).callback_requested("queue", after=15)
    c.leave(0, "callback").end("callback_requested", 3)
    c.callback_attempt(1, "no-answer", 600).callback_attempt(2, "answered", 900)
    c.callback_closed("callback_completed", attempts=2, waited=1515)
    f = c.fold().fact
    assert (f["queue_callback"], f["abandoned"], f["answered"], f["outcome"]) == (1, 0, 0, "callback")
    assert (f["cb_requested"], f["cb_kind"], f["cb_status"], f["cb_completed"]) == (1, "queue", "completed", 1)
    assert f["cb_attempts"] == 2 and f["cb_contact_seconds"] == 1515 and f["wait_seconds"] == 135


def test_a_failed_callback_and_time_to_contact_without_waited():
    c = Call("cb", at("2026-11-24T16:55:00")).hours(False).add("callback_offered", 20, where="closed")
    c.callback_requested("next_open", after=5).end("callback_requested", 2)
    for n in (1, 2, 3):
        c.callback_attempt(n, "no-answer", 600)
    f = c.callback_closed("callback_failed", attempts=3).fold().fact
    assert (f["closed"], f["cb_status"], f["cb_failed"], f["cb_attempts"]) == (1, "failed", 1, 3)
    assert f["cb_contact_seconds"] is None and f["outcome"] == "callback"
    c2 = Call("cb2", at("2026-11-24T10:00:00")).hours().callback_requested("queue", after=0)
    f2 = c2.callback_closed("callback_completed", attempts=0, after=300).fold().fact
    assert f2["cb_contact_seconds"] == 300  # an operator marked it done: from the request to then


def test_a_transfer_returned_then_answered_by_the_centre():
    c = Call("t", at("2026-11-24T10:00:00")).hours().choose("person").lookup("torghandel", True)
    c.transfer("p039", "Sven Olofsson", "Marknad och torghandel", "no-answer", 25)
    c.queue(returned=True, choice="person").leave(20, "answered", "bertil").end("completed", 90, talk=90)
    folded = c.fold()
    f = folded.fact
    assert (f["transfers"], f["transfers_answered"], f["transfers_returned"]) == (1, 0, 1)
    assert (f["queue_returned"], f["answered"], f["answered_by"], f["outcome"]) == (1, 1, "centre", "answered")
    assert f["reach_seconds"] == 6 + 5 + 1 + 25 + 1 + 20  # KKiK: to a person, including the failed transfer
    [t] = folded.transfers
    assert (t["target_id"], t["outcome"], t["reason"], t["returned"], t["ring_seconds"]) == \
        ("p039", "failed", "no-answer", 1, 25)


def test_a_transfer_answered_is_reached_by_transfer():
    c = Call("t", at("2026-11-24T10:00:00")).hours().choose("person").lookup("Sven", True)
    f = c.transfer("p039", "Sven Olofsson", "Torghandel", "answered", 8).end("completed", 60, talk=60).fold().fact
    assert (f["answered_by"], f["outcome"], f["queued"], f["centre_talk_seconds"]) == ("transfer", "transferred", 0, 0)
    assert f["talk_seconds"] == 60


def test_hanging_up_while_the_transfer_rings_is_not_an_ivr_exit():
    c = Call("t", at("2026-11-24T10:00:00")).hours().choose("person").lookup("Sven", True)
    f = c.transfer("p039", "Sven Olofsson", "Torghandel", "caller_hangup", 10).end("caller_hangup").fold().fact
    assert (f["transfer_hangup"], f["outcome"], f["transfers_returned"]) == (1, "transfer_hangup", 0)


def test_menu_hang_up_is_an_ivr_exit_and_inputs_are_counted():
    c = Call("m", at("2026-11-24T10:00:00")).hours().add("input_invalid", 5, node="menu", digits="7")
    f = c.add("input_timeout", 6, node="menu").add("input_timeout", 6, node="menu").end("caller_hangup").fold().fact
    assert (f["invalid_inputs"], f["timeouts"], f["outcome"], f["menu_choice"]) == (1, 2, "ivr_exit", None)


def test_english_is_a_language_not_a_routing_choice():
    f = Call("e", at("2026-11-24T10:00:00")).hours().choose("english").choose("case").fold().fact
    assert (f["english"], f["menu_choice"], f["outcome"]) == (1, "case", "in_progress")


def test_an_unmatched_query_is_folded_for_counting():
    f = Call("d", at("2026-11-24T10:00:00")).hours().choose("person").lookup("  Parkerings  Tillstånd ", False).fold().fact
    assert (f["lookups"], f["lookups_matched"], f["unmatched_query"]) == (1, 0, "parkerings tillstånd")


def test_fallback_choice_comes_from_the_queue_join():
    c = Call("f", at("2026-11-24T10:00:00")).hours()
    c.add("input_timeout", 6, node="menu").add("input_timeout", 6, node="menu").add("input_timeout", 6, node="menu")
    f = c.queue(choice="fallback").fold().fact
    assert f["menu_choice"] == "fallback" and f["outcome"] == "in_progress" and f["wait_seconds"] is None


def test_a_call_over_midnight_counts_on_the_day_and_hour_it_started():
    c = Call("late", at("2026-11-24T23:59:30")).hours(False).add("callback_offered", 20, where="closed")
    f = c.end("goodbye", 60).fold().fact
    assert (f["local_date"].isoformat(), f["local_hour"], f["local_weekday"]) == ("2026-11-24", 23, 2)
    assert f["ended_at"].astimezone(TZ).date().isoformat() == "2026-11-25"


@pytest.mark.parametrize("utc, local_date, hour", [
    ("2026-03-29T00:59:59", "2026-03-29", 1),  # 01:59:59 CET, just before the spring change
    ("2026-03-29T01:00:00", "2026-03-29", 3),  # 03:00 CEST: 02:xx does not exist that night
    ("2026-10-25T00:30:00", "2026-10-25", 2),  # 02:30 CEST, the first 02:30 of the autumn night
    ("2026-10-25T01:30:00", "2026-10-25", 2),  # 02:30 CET, the second one
    ("2026-10-24T22:30:00", "2026-10-25", 0),  # 00:30 local is already the next day
    ("2026-12-31T23:30:00", "2027-01-01", 0),  # a new year in Stockholm while UTC is still in the old one
])
def test_local_date_and_hour_are_right_across_dst(utc, local_date, hour):
    start = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    f = Call("dst", start).hours().fold().fact
    assert (f["local_date"].isoformat(), f["local_hour"]) == (local_date, hour)


def test_the_latest_wrap_up_wins_and_its_time_defaults_to_after_the_call():
    c = Call.answered("w", at("2026-11-24T10:00:00"), wait=10, talk=60)
    c.wrapup("transferred", "anna", after=40, step=200_000).wrapup("answered_by_centre", "anna", after=5,
                                                                    step=200_001)
    f = c.fold().fact
    assert (f["wrapup_outcome"], f["resolved"], f["wrapups"], f["wrapup_operator"]) == \
        ("answered_by_centre", 1, 1, "anna")
    assert f["wrapup_seconds"] == 45  # no wrapup_seconds given: from the end of the call to the wrap-up


def test_the_fold_is_order_independent_and_has_nothing_for_no_events():
    c = Call.answered("o", at("2026-11-24T10:00:00"), wait=10)
    assert facts.fold(list(reversed(c.events))).fact == c.fold().fact
    assert facts.fold([]) is None


def test_fold_holds_no_caller_number():
    f = Call.answered("p", at("2026-11-24T10:00:00"), wait=10, caller="+46701740612").fold().fact
    assert "+46701740612" not in repr(f)


# --- operators holding calls (the console) ---------------------------------------------------------


def _answered_then(call_id: str) -> Call:
    c = Call(call_id, at("2026-11-24T10:00:00")).hours().choose("case").queue(choice="case")
    return c.leave(10, "answered", "anna")


def _operator_transfer(c: Call, outcome: str, ring: float, to: str | None = None, after: float = 30) -> Call:
    c.add("transfer_started", after, target_id="p003", target="Johan Berglund", unit="Kansli", ring_timeout=25,
          by="anna", attended=False, break_through=False)
    if outcome == "answered":
        return c.add("transfer_answered", ring, target_id="p003", target="Johan Berglund")
    c.add("transfer_failed", ring, target_id="p003", target="Johan Berglund", reason=outcome, by="anna")
    return c.add("returned_to_queue", 0, target_id="p003", target="Johan Berglund", reason=outcome, to=to,
                 operator="anna")


def test_an_operator_transfer_that_comes_back_to_the_same_operator():
    c = _operator_transfer(_answered_then("o1"), "no-answer", 25, to="operator").end("completed", 20, talk=20)
    folded = c.fold()
    f = folded.fact
    assert (f["answered"], f["wait_seconds"], f["operator"], f["outcome"]) == (1, 10, "anna", "answered")
    assert f["centre_talk_seconds"] == 30 + 20  # talking before the transfer and after it came back
    assert (f["transfers"], f["transfers_returned"], f["transfers_answered"]) == (1, 1, 0)
    [t] = folded.transfers
    assert (t["via"], t["outcome"], t["reason"], t["returned"]) == ("operator", "failed", "no-answer", 1)


def test_an_operator_transfer_answered_is_the_persons_talk_not_the_centres():
    f = _operator_transfer(_answered_then("o2"), "answered", 8).end("completed", 60, talk=60).fold().fact
    assert (f["answered_by"], f["outcome"], f["centre_talk_seconds"], f["talk_seconds"]) == \
        ("centre", "answered", 30, 60)
    assert f["transfers_answered"] == 1


def test_a_call_answered_once_counts_once_even_if_it_queues_again():
    c = _operator_transfer(_answered_then("o3"), "busy", 2, to="queue")
    c.queue(returned=True, choice="case").leave(40, "answered", "bertil").end("completed", 20, talk=20)
    f = c.fold().fact
    assert (f["answered"], f["wait_seconds"], f["answer_seconds"], f["operator"]) == (1, 10, 10, "anna")
    assert (f["queue_returned"], f["centre_talk_seconds"]) == (1, 30 + 20)
    c2 = _answered_then("o4").queue(after=30, choice="case").leave(50, "abandoned").end("caller_hangup")
    f2 = c2.fold().fact  # put back in the queue by the operator, then gave up: answered, not lost
    assert (f2["answered"], f2["abandoned"], f2["wait_seconds"], f2["centre_talk_seconds"]) == (1, 0, 10, 30)


def test_a_call_the_pbx_took_over_is_handed_off():
    c = Call("h", at("2026-11-24T10:00:00")).hours().choose("case").queue(choice="case")
    f = c.add("call_ended", 30, reason="handed_to_pbx", detail="agi gone").fold().fact
    assert (f["outcome"], f["queued"], f["answered"], f["abandoned"], f["wait_seconds"]) == \
        ("handed_off", 1, 0, 0, None)
