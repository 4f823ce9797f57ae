"""Capturing a callback and keeping the caller's place, through the real runner and database.

A request is committed before the caller hears "we will call you"; it holds the caller's place in the
centre queue, so newer callers hear a position that counts it and it is due before them; outside hours
it waits for the next opening. `vaxel call` and `vaxel callbacks list` show it end to end.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback import claims, places
from callback.models import CallbackAttempt, CallbackRequest
from ivr import schedules
from ivr.protocol import Digits, OperatorAnswered, Speech, Tick, TransferEnded
from callback import queue as centre
from switchboard.calls import CallRunner
from tests.conftest import TZ, at

T0 = at("2026-11-24T10:00")  # a Tuesday, open 08-17


@pytest.fixture
def calls(app):
    svc = app.extensions["vaxel"]
    return CallRunner(svc.sessions, svc.settings, channel="simulator")


def s(seconds: int):
    return T0 + timedelta(seconds=seconds)


def queue(calls, call_id, at_second, caller):
    calls.start(call_id, s(at_second), caller=caller)
    return calls.handle(call_id, Digits("2"), s(at_second + 2))[-1].position


def ask_callback(calls, call_id, at_second):
    """Wait for the offer (120 s after joining), press 1, confirm the number with 1."""
    calls.handle(call_id, Tick(), s(at_second))
    calls.handle(call_id, Digits("1"), s(at_second + 2))
    return calls.handle(call_id, Digits("1"), s(at_second + 4))


def request_of(session, call_id) -> CallbackRequest:
    return session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == call_id))


def due_now(session, now, settings) -> list[int]:
    schedule = schedules.load(session, "switchboard", TZ, settings["hours"]["eve_close"], now)
    return claims.due_ids(session, now, schedule)


def test_the_request_is_committed_before_the_confirmation_is_spoken(calls, app):
    queue(calls, "first", 0, "+46701740601")
    actions = ask_callback(calls, "first", 125)
    assert [a.kind for a in actions] == ["callback", "say", "hangup"]
    assert actions[1].prompt == "callback_confirmed_queue" and "070-174 06 01" in actions[1].text
    # a fresh connection (another process, in effect) already sees it
    with Session(app.extensions["vaxel"].engine) as other:
        stored = request_of(other, "first")
        assert (stored.id, stored.number, stored.status, stored.kind) == (actions[0].request_id, "+46701740601",
                                                                          "pending", "queue")
        assert stored.queue_entry_id is not None and stored.menu_choice == "case"


def test_if_the_commit_fails_the_caller_hears_no_confirmation_and_stays_with_a_person(calls, app, monkeypatch):
    queue(calls, "broken", 0, "+46701740602")
    calls.handle("broken", Tick(), s(125))
    calls.handle("broken", Digits("1"), s(127))

    def refuse(self):
        raise RuntimeError("the database went away at commit")

    monkeypatch.setattr(Session, "commit", refuse)
    actions = calls.handle("broken", Digits("1"), s(129))
    monkeypatch.undo()
    prompts = [a.prompt for a in actions if a.kind == "say"]
    assert "callback_confirmed_queue" not in prompts and prompts == ["to_centre"]
    assert actions[-1].kind == "enqueue"  # the runner's fallback: a human, never a drop
    with app.extensions["vaxel"].sessions() as session:
        assert session.scalar(select(func.count()).select_from(CallbackRequest)) == 0


def test_a_store_error_is_told_and_the_caller_keeps_queuing(calls, sessions, monkeypatch):
    from callback import requests

    monkeypatch.setattr(requests, "store", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    queue(calls, "err", 0, "+46701740603")
    actions = ask_callback(calls, "err", 125)
    assert [a.prompt for a in actions if a.kind == "say"] == ["callback_error", "back_in_queue"]
    assert calls.state_of("err").awaiting == "queue"
    with sessions() as session:
        assert centre.entry_of(session, "err", "centre").left_at is None  # still in the phone queue


def test_the_callback_keeps_its_place_against_newer_callers(calls, sessions, app):
    settings = app.extensions["vaxel"].settings
    assert queue(calls, "x", 0, "+46701740610") == 1  # someone already waiting
    assert queue(calls, "a", 10, "+46701740611") == 2
    ask_callback(calls, "a", 135)  # A leaves the phone queue for a callback ...
    assert queue(calls, "c", 150, "+46701740612") == 3  # ... but a newer caller is still told A is ahead
    # the position message of the newer caller counts the callback too
    calls.handle("c", Tick(), s(212))
    with sessions() as session:
        a = request_of(session, "a")
        assert places.position(session, a) == 2
        assert centre.placement(session, "c", "centre", s(212), settings["queue"]).position == 3
        assert due_now(session, s(212), settings) == []  # X is still ahead of A
    # X is answered: A is at the front, due now; C (newer) is behind A
    calls.handle("x", OperatorAnswered("Olle"), s(220))
    with sessions() as session:
        a = request_of(session, "a")
        assert places.position(session, a) == 1
        assert due_now(session, s(221), settings) == [a.id]
        assert centre.placement(session, "c", "centre", s(221), settings["queue"]).position == 2
        claim = claims.claim_next(session, [a.id], "test", s(221), 60, "operator_first", "centre")
        assert (claim.request_id, claim.attempt) == (a.id, 1)
    with sessions() as session:  # once its turn came, it no longer stands in line
        assert centre.placement(session, "c", "centre", s(222), settings["queue"]).position == 1
        assert places.position(session, request_of(session, "a")) is None


def test_two_callbacks_go_in_the_order_their_callers_joined(calls, sessions, app):
    settings = app.extensions["vaxel"].settings
    queue(calls, "p", 0, "+46701740620")
    queue(calls, "q", 5, "+46701740621")
    ask_callback(calls, "q", 130)  # the later one asks first
    ask_callback(calls, "p", 140)
    with sessions() as session:
        p, q = request_of(session, "p"), request_of(session, "q")
        assert (places.position(session, p), places.position(session, q)) == (1, 2)
        assert due_now(session, s(150), settings) == [p.id]


def test_a_returned_caller_goes_ahead_of_a_callback_as_of_everyone(calls, sessions, app):
    settings = app.extensions["vaxel"].settings
    queue(calls, "a", 0, "+46701740630")
    ask_callback(calls, "a", 125)
    calls.start("r", s(140), caller="+46701740631")
    calls.handle("r", Digits("1"), s(142))
    calls.handle("r", Speech("torghandel"), s(145))
    enqueue = calls.handle("r", TransferEnded("no-answer"), s(170))[-1]
    assert (enqueue.kind, enqueue.position, enqueue.returned) == ("enqueue", 1, True)
    with sessions() as session:
        assert places.position(session, request_of(session, "a")) == 2
        assert due_now(session, s(171), settings) == []


def test_outside_hours_a_callback_at_the_front_waits_for_the_opening(calls, sessions, app):
    settings = app.extensions["vaxel"].settings
    calls.start("late", at("2026-11-24T16:50"), caller="+46701740640")
    calls.handle("late", Digits("2"), at("2026-11-24T16:50:02"))
    calls.handle("late", Tick(), at("2026-11-24T16:59:00"))
    calls.handle("late", Digits("1"), at("2026-11-24T16:59:02"))
    calls.handle("late", Digits("1"), at("2026-11-24T16:59:04"))
    with sessions() as session:
        request = request_of(session, "late")
        assert request.kind == "queue"
        assert due_now(session, at("2026-11-24T16:59:30"), settings) == [request.id]  # open, at the front
        assert due_now(session, at("2026-11-24T17:00:00"), settings) == []  # closed now
        assert due_now(session, at("2026-11-25T07:59:59"), settings) == []
        assert due_now(session, at("2026-11-25T08:00:00"), settings) == [request.id]


def test_a_closed_line_request_is_due_at_the_next_opening_not_before(runner, sessions, app):
    settings = app.extensions["vaxel"].settings
    result = runner.invoke(args=["call", "--at", "2026-12-24T10:00:00+01:00", "--json", "1", "1"])
    assert result.exit_code == 0, result.output
    callback = next(json.loads(line) for line in result.output.splitlines() if '"callback"' in line)
    assert callback["when"] == "next_open" and callback["due_at"] == "2026-12-28T08:00:00+01:00"
    with sessions() as session:
        assert due_now(session, at("2026-12-27T12:00"), settings) == []  # a Sunday in the holidays
        assert due_now(session, at("2026-12-28T07:59"), settings) == []
        assert due_now(session, at("2026-12-28T08:00"), settings) == [callback["request_id"]]


def test_vaxel_call_shows_offer_and_confirmation_and_the_list_shows_the_request(runner):
    result = runner.invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "--json", "2", "wait:120", "1", "1"])
    assert result.exit_code == 0, result.output
    actions = [json.loads(line) for line in result.output.splitlines()]
    prompts = [a.get("prompt") for a in actions]
    assert "callback_offer" in prompts and "callback_confirm_number" in prompts
    assert prompts.index("callback_confirm_number") < prompts.index("callback_confirmed_queue")
    callback = next(a for a in actions if a["action"] == "callback")
    listed = runner.invoke(args=["callbacks", "list", "--at", "2026-11-24T10:03:00+01:00"])
    assert listed.exit_code == 0, listed.output
    line = next(l for l in listed.output.splitlines() if l.strip().startswith(str(callback["request_id"])))
    assert "070-174 06 99" in line and "queue" in line and "ärende" in line and "pending" in line
    as_json = [json.loads(l) for l in runner.invoke(args=["callbacks", "list", "--json", "--at",
                                                          "2026-11-24T10:03:00+01:00"]).output.splitlines()]
    row = next(r for r in as_json if r["id"] == callback["request_id"])
    assert row["number"] == "070-174 06 99" and row["position"] == 1 and row["attempts"] == 0
    assert row["due"].startswith("2026-11-24T10:03:00") and row["reason"] == "case"  # due now


def test_dry_run_shows_the_dispatch_and_changes_nothing(runner, sessions):
    runner.invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "--json", "2", "wait:120", "1", "1"])
    result = runner.invoke(args=["callbacks", "run", "--dry-run", "--at", "2026-11-24T10:03:00+01:00"])
    assert result.exit_code == 0, result.output
    assert "connect a free operator on 'centre'" in result.output
    assert "ring 070-174 06 99 (+46701740699) showing 040-628 04 00" in result.output
    assert "1 callback(s) due; nothing was dialled or changed" in result.output
    with sessions() as session:
        request = session.scalar(select(CallbackRequest))
        assert (request.status, request.attempts) == ("pending", 0)
        assert session.scalar(select(func.count()).select_from(CallbackAttempt)) == 0
    # a simulated run goes the whole way: claimed, dialled, answered, done
    result = runner.invoke(args=["callbacks", "run", "--once", "--simulate", "answered",
                                 "--at", "2026-11-24T10:03:00+01:00"])
    assert result.exit_code == 0, result.output
    assert "dialled 1" in result.output
    listed = runner.invoke(args=["callbacks", "list", "--at", "2026-11-24T10:04:00+01:00"]).output
    assert " done " in listed and "1/3" in listed
