"""Wrap-ups are recorded against the conversation, never as a call step; "Till kön" keeps the caller's place.

A wrap-up is given by the operator who held the call, during or after the talk, once; a correction is an
explicit new record, audited, and the statistics fact shows the corrected outcome. Whole Twilio calls are
driven with signed webhooks (the fixtures of ``test_twilio_calls`` and ``test_console_twilio``); the
console is driven over HTTP as in ``test_console``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callback import queue as centre
from core.audit import AuditEntry
from core.clock import Clock
from ivr.models import CallSession
from ivr.protocol import Digits, Hangup, OperatorAnswered, TransferEnded
from stats.events import events_of
from stats.models import CallFact
from switchboard.auth import add_user
from switchboard.calls import CallRunner
from switchboard.console import wrapups
from switchboard.console.models import Wrapup
from switchboard.console.wrapups import WRAPUP_STEPS, WrapupRefused
from tests.conftest import TZ, at, login
from tests.test_console import Console, mine
from tests.test_console_twilio import desk  # noqa: F401  (the fixture)
from tests.test_twilio_calls import phone  # noqa: F401  (the fixture)
from tests.test_twilio_calls import said, tags, verb

PASSWORD = "another-operator-2026"


@pytest.fixture
def calls(app):
    """Simulated calls; the service clock starts on a Tuesday morning and runs on."""
    svc = app.extensions["vaxel"]
    svc.clock = Clock(TZ, start=at("2026-11-24T10:00"))
    return CallRunner(svc.sessions, svc.settings, channel="demo")


@pytest.fixture
def console(operator_client):
    c = Console(operator_client)
    c.post("/api/console/state", {"state": "ready"})
    return c


def second_console(app, username: str = "berit", role: str = "operator") -> Console:
    """Another person's browser: a second account, logged in on a client of its own."""
    with app.extensions["vaxel"].sessions() as session:
        add_user(session, username, role, PASSWORD, username.title())
        session.commit()
    client = app.test_client()
    assert login(client, username, PASSWORD).status_code == 302
    return Console(client)


def held(app, calls, call_id: str, by: str = "operator", caller: str = "+46701740620") -> None:
    now = app.extensions["vaxel"].clock.now()
    calls.start(call_id, now, caller=caller)
    calls.handle(call_id, Digits("2"), now)
    calls.handle(call_id, OperatorAnswered(by), now)


def step_and_state(sessions, call_id: str) -> tuple[int, dict]:
    with sessions() as session:
        call = session.get(CallSession, call_id)
        return call.step, dict(call.state)


def wrapup_events(sessions, call_id: str) -> list[tuple[int, dict]]:
    with sessions() as session:
        return [(e.step, e.data) for e in events_of(session, call_id) if e.type == "operator_wrapup"]


# --- a wrap-up never changes what the platform is told ----------------------------------------------


def test_a_wrapup_while_a_twilio_transfer_rings_leaves_the_call_alone(desk, operator_client, sessions):  # noqa: F811
    caller = desk.held_call()
    dial = verb(desk.transfer(caller), "Dial")
    before = step_and_state(sessions, caller.call_sid)

    Console(operator_client).post(f"/api/console/calls/{caller.call_sid}/wrapup", {"outcome": "transferred"})
    assert step_and_state(sessions, caller.call_sid) == before  # not a call step
    assert wrapup_events(sessions, caller.call_sid) == [
        (WRAPUP_STEPS + 1, {"outcome": "transferred", "operator": "operator"})]

    # Twilio's next webhook is for the step the call is at: nobody answered, the caller comes back
    back = caller.post(dial.get("action"), DialCallStatus="no-answer")
    assert tags(back) == ["Say", "Dial"] and "Karin Berg" in said(back)
    assert verb(back, "Dial").find("Client").text == "operator"
    found = desk.events(caller.call_sid)
    assert ("transfer_failed", "no-answer") in [(t, d.get("reason")) for t, d in found]
    returned = [d for t, d in found if t == "returned_to_queue"]
    assert returned[-1]["to"] == "operator"
    state = desk.runner.state_of(caller.call_sid)
    assert state.awaiting == "bridged" and state.party == "operator"


def test_a_wrapup_while_the_caller_is_in_the_menu_is_refused_and_the_menu_goes_on(phone, operator_client,  # noqa: F811
                                                                                   sessions):
    caller = phone()
    menu = caller.call()
    before = step_and_state(sessions, caller.call_sid)
    refused = Console(operator_client).post(f"/api/console/calls/{caller.call_sid}/wrapup",
                                            {"outcome": "answered_by_centre"}, status=403)
    assert "inte haft" in refused["error"]
    assert step_and_state(sessions, caller.call_sid) == before
    assert wrapup_events(sessions, caller.call_sid) == []
    doc = caller.press(menu, "2")
    assert "nummer 1 i kön" in said(doc) and verb(doc, "Enqueue").text == "centre"


def test_a_wrapup_changes_no_step_on_a_simulated_call_either(app, calls, console, sessions):
    held(app, calls, "s1")
    before = step_and_state(sessions, "s1")
    snap = console.post("/api/console/calls/s1/wrapup", {"outcome": "message_taken"})
    assert step_and_state(sessions, "s1") == before
    assert mine(snap)["call"]["wrapup"]["outcome"] == "message_taken"
    assert mine(snap)["call"]["wrapup"]["label"] == "Meddelande taget"


# --- who, and how often ------------------------------------------------------------------------------


def test_an_operator_who_did_not_hold_the_call_is_refused(app, calls, console, sessions):
    held(app, calls, "w1")  # answered by "operator"
    berit = second_console(app)
    refused = berit.post("/api/console/calls/w1/wrapup", {"outcome": "answered_by_centre"}, status=403)
    assert "inte haft det här samtalet" in refused["error"]
    assert wrapup_events(sessions, "w1") == []
    with sessions() as session:
        assert session.scalars(select(Wrapup)).all() == []
    berit.post("/api/console/calls/nope/wrapup", {"outcome": "answered_by_centre"}, status=404)


def test_a_second_wrapup_is_refused_whoever_sends_it(app, calls, console, sessions):
    held(app, calls, "w2")
    console.post("/api/console/calls/w2/wrapup", {"outcome": "answered_by_centre"})
    again = console.post("/api/console/calls/w2/wrapup", {"outcome": "transferred"}, status=409)
    assert "redan ett utfall" in again["error"] and "Besvarat av kundcenter" in again["error"]
    assert "rättelse" in again["error"]
    admin = second_console(app, "chefen", "admin")  # an administrator did not hold it either
    admin.post("/api/console/calls/w2/wrapup", {"outcome": "transferred"}, status=403)
    assert [d["outcome"] for _, d in wrapup_events(sessions, "w2")] == ["answered_by_centre"]
    with sessions() as session:
        assert session.scalar(select(CallFact.wrapup_outcome).where(CallFact.call_id == "w2")) == \
            "answered_by_centre"


def test_two_wrapups_racing_cannot_both_be_recorded(app, calls, sessions, monkeypatch):
    held(app, calls, "w3")
    svc = app.extensions["vaxel"]
    with sessions() as first:
        wrapups.record(first, "w3", "operator", "transferred", svc.clock.now())
        first.commit()
    monkeypatch.setattr(wrapups, "current", lambda *_: None)  # what a request that read before that commit saw
    with sessions() as second:
        with pytest.raises(WrapupRefused) as refused:
            wrapups.record(second, "w3", "operator", "message_taken", svc.clock.now())
    assert refused.value.status == 409
    assert [d["outcome"] for _, d in wrapup_events(sessions, "w3")] == ["transferred"]


def test_a_wrapup_after_the_call_ended_and_the_list_of_calls_still_to_wrap_up(app, calls, console, sessions):
    held(app, calls, "w4")
    console.post("/api/console/calls/w4/end")
    snap = console.client.get("/api/console/snapshot").get_json()
    assert mine(snap)["call"] is None
    assert [d["call_id"] for d in mine(snap)["to_wrap_up"]] == ["w4"]
    assert mine(snap)["to_wrap_up"][0]["caller"] == "070-174 06 20"
    snap = console.post("/api/console/calls/w4/wrapup", {"outcome": "referred_to_phone_hours"})
    assert mine(snap)["to_wrap_up"] == []


# --- corrections ---------------------------------------------------------------------------------------


def test_a_correction_supersedes_is_audited_and_the_statistics_show_it(app, calls, console, sessions):
    held(app, calls, "w5")
    console.post("/api/console/calls/w5/end")
    console.post("/api/console/calls/w5/wrapup", {"outcome": "transferred"})
    with sessions() as session:
        first = session.scalar(select(Wrapup).where(Wrapup.call_id == "w5"))
        fact = session.get(CallFact, "w5")
        assert (fact.wrapup_outcome, fact.resolved, fact.wrapups) == ("transferred", 0, 1)
        first_seconds = fact.wrapup_seconds

    console.post("/api/console/calls/w5/wrapup", {"outcome": "answered_by_centre", "supersedes": first.id,
                                                  "note": "fel knapp"})
    with sessions() as session:
        rows = session.scalars(select(Wrapup).where(Wrapup.call_id == "w5").order_by(Wrapup.revision)).all()
        assert [(r.revision, r.outcome, r.supersedes_id, r.recorded_by) for r in rows] == [
            (1, "transferred", None, "operator"), (2, "answered_by_centre", first.id, "operator")]
        logged = session.scalar(select(AuditEntry).where(AuditEntry.action == "console.wrapup_correct"))
        assert logged.user == "operator" and logged.object_id == "w5" and logged.note == "fel knapp"
        assert logged.before["outcome"] == "transferred" and logged.after["outcome"] == "answered_by_centre"
        assert logged.after["wrapup_id"] == rows[1].id
        fact = session.get(CallFact, "w5")
        assert (fact.wrapup_outcome, fact.resolved, fact.wrapups, fact.wrapup_operator) == \
            ("answered_by_centre", 1, 1, "operator")
        assert fact.wrapup_seconds == first_seconds  # a later correction is not handling time
    steps = [s for s, _ in wrapup_events(sessions, "w5")]
    assert steps == [WRAPUP_STEPS + 1, WRAPUP_STEPS + 2]

    # a correction must name the wrap-up as it stands now: the first one is superseded
    stale = console.post("/api/console/calls/w5/wrapup", {"outcome": "message_taken", "supersedes": first.id},
                         status=409)
    assert "redan ändrats" in stale["error"]
    console.post("/api/console/calls/w5/wrapup", {"outcome": "message_taken", "supersedes": "x"}, status=400)


def test_an_administrator_may_correct_an_operators_wrapup(app, calls, console, sessions):
    held(app, calls, "w6")
    snap = console.post("/api/console/calls/w6/wrapup", {"outcome": "transferred"})
    wrapup_id = mine(snap)["call"]["wrapup"]["id"]
    berit = second_console(app)  # another operator may not
    berit.post("/api/console/calls/w6/wrapup", {"outcome": "message_taken", "supersedes": wrapup_id}, status=403)
    admin = second_console(app, "chefen", "admin")
    admin.post("/api/console/calls/w6/wrapup", {"outcome": "message_taken", "supersedes": wrapup_id,
                                                "note": "enligt samtalslogg"})
    with sessions() as session:
        fact = session.get(CallFact, "w6")
        assert (fact.wrapup_outcome, fact.wrapup_operator) == ("message_taken", "operator")  # still her call
        logged = session.scalar(select(AuditEntry).where(AuditEntry.action == "console.wrapup_correct"))
        assert logged.user == "chefen"


def test_the_runner_wrapup_is_the_same_record(app, calls, sessions):
    held(app, calls, "w7")
    now = app.extensions["vaxel"].clock.now()
    with pytest.raises(WrapupRefused):
        calls.wrapup("w7", "someone", "transferred", now)
    recorded = calls.wrapup("w7", "operator", "transferred", now)
    assert (recorded.revision, recorded.operator) == (1, "operator")
    with pytest.raises(WrapupRefused):
        calls.wrapup("w7", "operator", "transferred", now)


# --- "Till kön" and the returned list ------------------------------------------------------------------


def test_back_to_the_queue_keeps_the_place_and_the_wait(app, calls, console, sessions):
    svc = app.extensions["vaxel"]
    t0 = at("2026-11-24T10:00")
    calls.start("q1", t0, caller="+46701740620")
    calls.handle("q1", Digits("2"), t0)
    calls.start("q2", t0 + timedelta(minutes=3), caller="+46701740621")
    calls.handle("q2", Digits("2"), t0 + timedelta(minutes=3))

    svc.clock = Clock(TZ, start=t0 + timedelta(minutes=7))  # the operator answers q1 after seven minutes
    console.post("/api/console/calls/q1/answer")
    svc.clock = Clock(TZ, start=t0 + timedelta(minutes=8))
    snap = console.post("/api/console/calls/q1/queue")  # "Till kön"
    assert [q["call_id"] for q in snap["queue"]] == ["q1", "q2"]
    assert snap["queue"][0]["waited"] >= 8 * 60 and not snap["queue"][0]["returned"]
    joined = [d for t, d in events(sessions, "q1") if t == "queue_joined"]
    assert joined[-1]["position"] == 1  # and that is what the caller is told

    with sessions() as session:  # the waits the estimate learns from are first waits only
        entries = session.scalars(select(centre.QueueEntry).where(centre.QueueEntry.call_id == "q1")
                                  .order_by(centre.QueueEntry.id)).all()
        assert [e.outcome for e in entries] == ["answered", None]
        assert entries[1].joined_at == entries[0].joined_at


def test_back_to_the_queue_keeps_a_returned_callers_priority(app, calls, sessions):
    t0 = at("2026-11-24T10:00")
    settings = app.extensions["vaxel"].settings["queue"]
    with sessions() as session:
        centre.join(session, "p1", "centre", t0, settings, priority=centre.RETURNED, returned_from="Karin Berg")
        centre.join(session, "p2", "centre", t0 - timedelta(minutes=5), settings)  # waited longer, normal
        centre.leave(session, "p1", t0 + timedelta(minutes=1), "answered")
        placement = centre.join(session, "p1", "centre", t0 + timedelta(minutes=2), settings)  # put back
        assert placement.position == 1
        entry = centre.entry_of(session, "p1", "centre")
        assert (entry.priority, entry.returned_from, entry.joined_at) == (centre.RETURNED, "Karin Berg", t0)
        centre.join(session, "p3", "centre", t0 + timedelta(minutes=3), settings)
        assert [e.call_id for e in centre.waiting(session, "centre")] == ["p1", "p2", "p3"]
        # a call never answered before joins as it always did: at the back, now
        assert centre.entry_of(session, "p3", "centre").joined_at == t0 + timedelta(minutes=3)
        session.rollback()


def test_the_returned_list_drops_calls_that_have_ended(app, calls, console, sessions):
    held(app, calls, "r1")
    console.post("/api/console/calls/r1/transfer", {"target_id": "p039"})
    console.post("/api/console/state", {"state": "paused", "reason": "rast"})
    calls.handle("r1", TransferEnded("busy"), app.extensions["vaxel"].clock.now())
    snap = console.client.get("/api/console/snapshot").get_json()
    assert [r["call_id"] for r in snap["returned"]] == ["r1"]

    calls.handle("r1", Hangup(), app.extensions["vaxel"].clock.now())  # the caller gives up in the queue
    assert calls.state_of("r1").ended
    snap = console.client.get("/api/console/snapshot").get_json()
    assert snap["returned"] == [] and snap["queue"] == []


def events(sessions, call_id: str) -> list[tuple[str, dict]]:
    with sessions() as session:
        return [(e.type, e.data) for e in events_of(session, call_id)]

