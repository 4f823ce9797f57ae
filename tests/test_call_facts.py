"""Live calls and test calls ask the same place for their facts: they hear the same, and a test call writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from callback.models import CallbackRequest
from callback.queue import QueueEntry
from ivr.engine import CallState, Step
from ivr.models import CallSession
from ivr.protocol import (
    CallbackStored, CheckHours, CheckOperator, HoursChecked, OperatorFree, StoreCallback,
)
from ivr.simulator import Simulation
from stats.models import CallEvent
from switchboard import testcall
from switchboard.call_facts import MAX_REQUESTS_PER_STEP, CallFacts, drive
from switchboard.calls import CallRunner
from switchboard.seed import published_flow
from tests.conftest import TZ, at

CALLER = "+46701740699"

SAME_AS_LIVE = [
    # (moment, tokens, what the call waits for at the end, a prompt the caller must hear)
    ("2026-11-24T10:00", ["2"], "queue", "queue_position"),  # menu choice 2: the centre queue
    ("2026-11-28T10:00", [], "closed_offer", "closed"),  # a Saturday: closed, with the opening hours
    ("2026-11-24T10:00", ["1", "say:torghandel"], "transfer", "connecting"),  # a directory lookup
    ("2026-11-24T10:00", ["2", "wait:125", "1", "1"], "", "callback_confirmed_queue"),  # a queue callback
]


def published_document(sessions) -> dict:
    with sessions() as session:
        return published_flow(session).document


def live_call(app, moment: str, tokens: list[str]) -> tuple[list[dict], str]:
    svc = app.extensions["vaxel"]
    runner = CallRunner(svc.sessions, svc.settings, channel="demo")
    sim = Simulation(runner, "live", at(moment), CALLER, None)
    actions = [{**e.action.to_dict(), "at": e.at.isoformat()} for e in sim.run(tokens, finish=False)]
    return actions, runner.state_of("live").awaiting


def comparable(actions: list[dict]) -> list[dict]:
    """Everything the caller is told, in order; a stored callback's id is the only thing a test call cannot know."""
    return [{k: v for k, v in a.items() if k != "request_id"} for a in actions]


def counts(sessions) -> dict[str, int]:
    with sessions() as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (CallSession, CallEvent, QueueEntry, CallbackRequest)}


@pytest.mark.parametrize("moment,tokens,awaiting,prompt", SAME_AS_LIVE)
def test_a_test_call_hears_what_a_live_call_hears(app, sessions, moment, tokens, awaiting, prompt):
    settings = app.extensions["vaxel"].settings
    # the test call first: it joins nothing, so the live call after it meets the same (empty) queue
    tested = testcall.run(sessions, settings, published_document(sessions), at(moment), tokens, caller=CALLER)
    live, live_awaiting = live_call(app, moment, tokens)
    assert prompt in [a["prompt"] for a in live if a["action"] == "say"]
    assert comparable(tested["actions"]) == comparable(live)
    assert tested["awaiting"] == live_awaiting == awaiting


@pytest.mark.parametrize("moment,tokens", [
    ("2026-11-24T10:00", ["2", "wait:125", "1", "1"]),  # queued, then a queue callback
    ("2026-11-28T10:00", ["1", "1"]),  # closed: a callback when we open
    ("2026-11-24T10:00", ["1", "say:torghandel", "ring:no-answer"]),  # a lookup, a failed transfer, the queue
])
def test_a_test_call_writes_nothing(app, sessions, moment, tokens):
    live_call(app, "2026-11-24T09:59", ["2"])  # someone already waits, so there is something to count
    before = counts(sessions)
    assert before["QueueEntry"] == 1 and before["CallEvent"] > 0
    result = testcall.run(sessions, app.extensions["vaxel"].settings, published_document(sessions), at(moment),
                          tokens, caller=CALLER)
    assert result["actions"]
    assert counts(sessions) == before


def test_a_test_call_counts_the_real_queue_without_joining_it(app, sessions):
    live_call(app, "2026-11-24T09:59", ["2"])
    tested = testcall.run(sessions, app.extensions["vaxel"].settings, published_document(sessions),
                          at("2026-11-24T10:00"), ["2"], caller=CALLER)
    assert [a["position"] for a in tested["actions"] if a["action"] == "enqueue"] == [2]


@pytest.mark.parametrize("request_,expected", [
    # booked in a savepoint rolled back at once: told what a caller would be (here: in turn, today by 17:00)
    (StoreCallback(CALLER, "queue", None, "centre", "2"),
     CallbackStored(True, request_id=0, due_by="2026-11-24T17:00:00+01:00")),
    (CheckOperator("anna"), OperatorFree("anna", False)),  # a test call has no operator
])
def test_what_a_test_call_is_told_instead_of_writing(app, sessions, request_, expected):
    facts = CallFacts(app.extensions["vaxel"].settings, TZ)
    with sessions() as session:
        assert facts.answer(session, "t", CallState(caller=CALLER), request_, at("2026-11-24T10:00"),
                            live=False) == expected
    assert counts(sessions)["CallbackRequest"] == 0


def test_a_flow_that_keeps_asking_is_stopped(monkeypatch):
    from switchboard import call_facts

    monkeypatch.setattr(call_facts, "step", lambda flow, state, inp, now: Step(CallState(), request=CheckHours("x")))
    steps = []
    with pytest.raises(RuntimeError, match="the flow asked too many questions in one step"):
        drive(None, None, None, at("2026-11-24T10:00"), lambda request, state: HoursChecked(), on_step=steps.append)
    assert len(steps) == MAX_REQUESTS_PER_STEP
