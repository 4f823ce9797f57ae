"""The call runner on a real database: queue order, estimates, callbacks stored first, fallbacks to a human."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from callback.models import CallbackRequest
from ivr.protocol import Digits, Hangup, OperatorAnswered, Speech, Tick, TransferEnded
from stats.events import events_of, record
from stats.models import CallEvent
from callback import queue as centre
from switchboard.calls import CallRunner
from tests.conftest import at

T0 = at("2026-11-24T10:00")


@pytest.fixture
def calls(app):
    svc = app.extensions["vaxel"]
    return CallRunner(svc.sessions, svc.settings, channel="demo")


def queued_caller(calls, call_id, seconds=0, caller="+46701740601"):
    calls.start(call_id, T0 + timedelta(seconds=seconds), caller=caller)
    return calls.handle(call_id, Digits("2"), T0 + timedelta(seconds=seconds + 2))


def test_new_callers_queue_in_arrival_order(calls):
    assert queued_caller(calls, "a")[-1].position == 1
    assert queued_caller(calls, "b", 10)[-1].position == 2
    assert queued_caller(calls, "c", 20)[-1].position == 3


def test_returned_caller_goes_ahead_of_new_callers(calls):
    queued_caller(calls, "a")
    queued_caller(calls, "b", 10)
    calls.start("r", T0 + timedelta(seconds=20), caller="+46701740602")
    calls.handle("r", Digits("1"), T0 + timedelta(seconds=22))
    calls.handle("r", Speech("torghandel"), T0 + timedelta(seconds=25))
    actions = calls.handle("r", TransferEnded("no-answer"), T0 + timedelta(seconds=50))
    enqueue = actions[-1]
    assert (enqueue.kind, enqueue.position, enqueue.returned) == ("enqueue", 1, True)
    # a new caller after that still queues behind everyone
    assert queued_caller(calls, "d", 60)[-1].position == 4
    # and when the returned caller hangs up, the others move up
    calls.handle("r", Hangup(), T0 + timedelta(seconds=70))
    assert queued_caller(calls, "e", 80)[-1].position == 4


def test_estimate_comes_from_recent_history_or_the_default(calls, sessions, app):
    settings = app.extensions["vaxel"].settings["queue"]
    with sessions() as session:
        assert centre.seconds_per_caller(session, "centre", T0, settings) == 90  # too little history
        for i in range(5):  # five callers each waited 3 minutes from position 2 -> 90 s per position
            session.add(centre.QueueEntry(call_id=f"h{i}", queue="centre", joined_at=T0 - timedelta(minutes=30),
                                          left_at=T0 - timedelta(minutes=27), position_at_join=2,
                                          outcome="answered"))
        for i in range(5):  # an hour-old burst of one-minute waits at position 1
            session.add(centre.QueueEntry(call_id=f"k{i}", queue="centre", joined_at=T0 - timedelta(minutes=61),
                                          left_at=T0 - timedelta(minutes=60), position_at_join=1,
                                          outcome="answered"))
        # none of these count: h0 put back after its talk, another queue, an answer older than the history
        for call_id, queue, joined, left in (("h0", "centre", 20, 2), ("x", "english", 40, 5),
                                             ("old", "centre", 200, 190)):
            session.add(centre.QueueEntry(call_id=call_id, queue=queue, joined_at=T0 - timedelta(minutes=joined),
                                          left_at=T0 - timedelta(minutes=left), position_at_join=1,
                                          outcome="answered"))
        session.commit()
        assert centre.seconds_per_caller(session, "centre", T0, settings) == 75  # (90*5 + 60*5) / 10
        assert centre.estimate(3, 75) == 240  # 225 s rounded up to whole minutes


def test_callback_is_committed_before_the_caller_hears_it(calls, sessions):
    queued_caller(calls, "cb", caller="+46701740610")
    calls.handle("cb", Tick(), T0 + timedelta(seconds=125))
    calls.handle("cb", Digits("1"), T0 + timedelta(seconds=127))
    actions = calls.handle("cb", Digits("1"), T0 + timedelta(seconds=130))
    assert [a.kind for a in actions] == ["callback", "say", "hangup"]
    with sessions() as session:
        stored = session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == "cb"))
        assert stored.number == "+46701740610" and stored.kind == "queue" and stored.status == "pending"
        assert stored.id == actions[0].request_id
        entry = session.scalar(select(centre.QueueEntry).where(centre.QueueEntry.call_id == "cb"))
        assert entry.outcome == "callback" and entry.left_at is not None


def test_a_failed_store_is_told_and_the_caller_stays_queued(calls, sessions, monkeypatch):
    from callback import requests

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(requests, "store", broken)
    queued_caller(calls, "cb2", caller="+46701740611")
    calls.handle("cb2", Tick(), T0 + timedelta(seconds=125))
    calls.handle("cb2", Digits("1"), T0 + timedelta(seconds=127))
    actions = calls.handle("cb2", Digits("1"), T0 + timedelta(seconds=130))
    assert [a.prompt for a in actions if a.kind == "say"] == ["callback_error", "back_in_queue"]
    assert calls.state_of("cb2").awaiting == "queue"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CallbackRequest)) == 0


def test_daily_limit_per_number(calls, app, sessions):
    limit = app.extensions["vaxel"].settings["callback"]["daily_limit"]
    outcomes = []
    for i in range(limit + 1):
        cid = f"lim{i}"
        queued_caller(calls, cid, seconds=i, caller="+46701740612")
        calls.handle(cid, Tick(), T0 + timedelta(seconds=i + 125))
        calls.handle(cid, Digits("1"), T0 + timedelta(seconds=i + 127))
        outcomes.append([a.kind for a in calls.handle(cid, Digits("1"), T0 + timedelta(seconds=i + 130))])
        with sessions() as session:  # called back: the next ask is a new request, not merged into this one
            session.execute(update(CallbackRequest).values(status="done", closed_at=T0))
            session.commit()
    assert outcomes[:limit] == [["callback", "say", "hangup"]] * limit
    assert outcomes[limit] == ["say", "say"]  # refused (limit) and back in the queue


def test_internal_error_sends_the_caller_to_the_centre(calls, monkeypatch, sessions):
    def broken(self, *args):
        raise RuntimeError("directory index is corrupt")

    monkeypatch.setattr("switchboard.call_facts.CallFacts.lookup", broken)
    calls.start("err", T0, caller="+46701740613")
    calls.handle("err", Digits("1"), T0 + timedelta(seconds=2))
    actions = calls.handle("err", Speech("torghandel"), T0 + timedelta(seconds=5))
    assert [a.kind for a in actions] == ["say", "enqueue"]
    assert actions[0].prompt == "to_centre"
    assert calls.state_of("err").awaiting == "queue"
    with sessions() as session:
        assert "queue_joined" in [e.type for e in events_of(session, "err")]
    # the call goes on normally from the queue
    assert [a.kind for a in calls.handle("err", Hangup(), T0 + timedelta(seconds=40))] == []


def test_no_published_flow_still_reaches_a_human(calls, app):
    from sqlalchemy import text

    with app.extensions["vaxel"].engine.begin() as conn:
        conn.execute(text("UPDATE flow_versions SET status = 'archived'"))
    actions = calls.start("noflow", T0, caller="+46701740614")
    assert [a.kind for a in actions] == ["say", "enqueue"]


def test_a_retried_start_webhook_does_not_start_the_call_twice(calls, sessions):
    first = calls.start("dup", T0, caller="+46701740615")
    assert first and calls.start("dup", T0, caller="+46701740615") == []
    with sessions() as session:
        assert [e.type for e in events_of(session, "dup")].count("call_started") == 1


def test_event_log_is_idempotent_per_call_and_step(sessions):
    with sessions() as session:
        for _ in range(2):  # the same step written twice (a retried webhook)
            record(session, "idem", 1, [("call_started", {"caller": None}), ("hours_checked", {"open": True})],
                   T0, "twilio")
            session.commit()
        assert session.scalar(select(func.count()).select_from(CallEvent).where(CallEvent.call_id == "idem")) == 2
        with pytest.raises(ValueError):
            record(session, "idem", 2, [("made_up_event", {})], T0, "twilio")


def test_operator_stats_data_survive_in_events(calls, sessions):
    queued_caller(calls, "st")
    calls.handle("st", OperatorAnswered("op-anna"), T0 + timedelta(seconds=92))
    calls.handle("st", Hangup(), T0 + timedelta(seconds=392))
    with sessions() as session:
        evs = {e.type: e.data for e in events_of(session, "st")}
    assert evs["queue_left"] == {"queue": "centre", "reason": "answered", "waited": 90, "operator": "op-anna"}
    assert evs["call_ended"]["talk_seconds"] == 300
    assert evs["queue_joined"]["menu_choice"] == "case"


def test_to_centre_moves_a_call_the_adapter_lost_into_the_queue(calls, sessions):
    calls.start("lost", T0, caller="+46701740616")
    assert calls.state_of("lost").awaiting == "menu"
    actions = calls.to_centre("lost", T0 + timedelta(seconds=3))
    assert [a.kind for a in actions] == ["say", "enqueue"]
    assert calls.state_of("lost").awaiting == "queue"
    assert calls.to_centre("lost", T0 + timedelta(seconds=4)) == []  # already there
    with sessions() as session:
        assert [e.type for e in events_of(session, "lost")][-1] == "queue_joined"


def test_handed_off_closes_a_call_the_pbx_took_over(calls, sessions):
    queued_caller(calls, "pbx")
    calls.handed_off("pbx", T0 + timedelta(seconds=9), "asterisk adapter error")
    assert calls.state_of("pbx").ended
    with sessions() as session:
        ended = events_of(session, "pbx")[-1]
        assert (ended.type, ended.data["reason"]) == ("call_ended", "handed_to_pbx")
        entry = session.scalar(select(centre.QueueEntry).where(centre.QueueEntry.call_id == "pbx"))
        assert entry.outcome == "handed_off"
    calls.handed_off("pbx", T0 + timedelta(seconds=10), "again")  # idempotent
    with sessions() as session:
        assert [e.type for e in events_of(session, "pbx")].count("call_ended") == 1


def test_a_caller_id_longer_than_the_column_is_kept_cut_not_refused(calls, sessions):
    """A SIP URI caller id of 100 characters: on PostgreSQL the whole call used to be refused (and then missing)."""
    from ivr.models import CallSession

    caller = "sip:" + "a" * 80 + "@pbx.example.org"
    actions = calls.start("long-caller", T0, caller=caller)
    assert "to_centre" not in [a.prompt for a in actions if a.kind == "say"]  # the flow, not the fallback
    calls.handle("long-caller", Digits("2"), T0)
    with sessions() as session:
        assert session.get(CallSession, "long-caller").caller == caller[:32]
