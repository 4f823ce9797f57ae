"""Test calls that touch nothing: the engine on a draft flow, with facts read from the database.

The administrator's test-call panel and the phone-hours preview run calls here.
Phone hours and directory hits are the real ones; a queue place is computed
without joining the queue; a callback is "stored" without storing; no event is
logged, so statistics never count a test. The answers come from
:class:`switchboard.call_facts.CallFacts` with ``live=False``, the same code a
live call asks.
"""

from __future__ import annotations

import copy
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from ivr.engine import CallState
from ivr.flow import Flow
from ivr.protocol import Action, Input, Request, Start
from ivr.simulator import Simulation
from switchboard.call_facts import CallFacts, drive


class DryRunPort:
    """A CallPort for one call on a given flow document; state lives in memory."""

    def __init__(self, sessions: sessionmaker[Session], settings: dict, document: dict):
        self.flow = Flow(copy.deepcopy(document), version=0)
        self.facts = CallFacts(settings, ZoneInfo(settings["service"]["timezone"]))
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
        with self.sessions() as session:
            def answer(request: Request, state: CallState) -> Input:
                return self.facts.answer(session, call_id, state, request, now, live=False)

            state, actions = drive(self.flow, state, inp, now, answer)
        self.states[call_id] = state
        return actions


def run(sessions: sessionmaker[Session], settings: dict, document: dict, at: datetime, tokens: list[str],
        caller: str | None = "+46701740699", called: str | None = None, finish: bool = False) -> dict:
    """Play ``tokens`` against ``document`` at ``at``; what the caller hears and what the call waits for."""
    port = DryRunPort(sessions, settings, document)
    simulation = Simulation(port, "testcall", at, caller, called)
    actions = [{**e.action.to_dict(), "at": e.at.isoformat()} for e in simulation.run(tokens, finish=finish)]
    state = port.state_of("testcall")
    return {"actions": actions, "awaiting": state.awaiting if state else "", "lang": state.lang if state else ""}
