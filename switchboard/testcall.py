"""Test calls that touch nothing: the engine on a draft flow, with facts read from the database.

The administrator's test-call panel and the phone-hours preview run calls here.
Phone hours and directory hits are the real ones; a queue place is computed
without joining the queue; a callback is "stored" without storing; no event is
logged, so statistics never count a test.
"""

from __future__ import annotations

import copy
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from callback import policy
from ivr.engine import CallState, Step, step
from ivr.flow import Flow
from ivr.protocol import (
    Action, CallbackStored, CheckHours, CheckNumber, Input, JoinQueue, Lookup, LookupResult, NumberChecked,
    QueuePlace, QueueStatus, Request, Start, StoreCallback,
)
from ivr.simulator import Simulation
from switchboard import queue as centre
from switchboard.calls import CallRunner


class DryRunPort:
    """A CallPort for one call on a given flow document; state lives in memory."""

    def __init__(self, sessions: sessionmaker[Session], settings: dict, document: dict):
        self.flow = Flow(copy.deepcopy(document), version=0)
        self.runner = CallRunner(sessions, settings, channel="testcall")  # for its read-only answers
        self.sessions, self.settings = sessions, settings
        self.states: dict[str, CallState] = {}

    def start(self, call_id: str, now: datetime, caller: str | None = None, called: str | None = None,
              lang: str | None = None) -> list[Action]:
        return self._run(call_id, None, Start(caller, called, lang), now)

    def handle(self, call_id: str, inp: Input, now: datetime) -> list[Action]:
        return self._run(call_id, self.states.get(call_id), inp, now)

    def state_of(self, call_id: str) -> CallState | None:
        return self.states.get(call_id)

    def _run(self, call_id: str, state: CallState | None, inp: Input, now: datetime) -> list[Action]:
        actions: list[Action] = []
        with self.sessions() as session:
            for _ in range(20):
                result: Step = step(self.flow, state, inp, now)
                actions.extend(result.actions)
                state = result.state
                if result.request is None:
                    break
                inp = self._answer(session, result.request, now)
        self.states[call_id] = state
        return actions

    def _answer(self, session: Session, request: Request, now: datetime) -> Input:
        if isinstance(request, CheckHours):
            return self.runner.hours(session, request.schedule, now)
        if isinstance(request, Lookup):
            return LookupResult(request.query, tuple(self.runner.lookup(session, request.query, request.mode, now)))
        if isinstance(request, (JoinQueue, QueueStatus)):
            waiting = session.scalar(select(func.count()).select_from(centre.QueueEntry).where(
                centre.QueueEntry.queue == request.queue, centre.QueueEntry.left_at.is_(None))) or 0
            position = 1 if isinstance(request, JoinQueue) and request.returned_from else waiting + 1
            per_caller = centre.seconds_per_caller(session, request.queue, now, self.settings["queue"])
            return QueuePlace(position, centre.estimate(position, per_caller))
        if isinstance(request, CheckNumber):
            decision = policy.check(request.number, self.settings["callback"]["allowed_types"],
                                    self.settings["callback"]["region"])
            return NumberChecked(decision.ok, decision.number, decision.spoken, decision.reason)
        if isinstance(request, StoreCallback):
            return CallbackStored(True, request_id=0)
        raise TypeError(f"unknown request {request!r}")


def run(sessions: sessionmaker[Session], settings: dict, document: dict, at: datetime, tokens: list[str],
        caller: str | None = "+46701740699", called: str | None = None, finish: bool = False) -> dict:
    """Play ``tokens`` against ``document`` at ``at``; what the caller hears and what the call waits for."""
    port = DryRunPort(sessions, settings, document)
    simulation = Simulation(port, "testcall", at, caller, called)
    actions = [{**e.action.to_dict(), "at": e.at.isoformat()} for e in simulation.run(tokens, finish=finish)]
    state = port.state_of("testcall")
    return {"actions": actions, "awaiting": state.awaiting if state else "", "lang": state.lang if state else ""}
