"""The call runner: binds the pure engine to the database for every adapter.

``start`` and ``handle`` each run in one transaction: load the call's state,
let the engine step, answer its requests (phone hours, directory, queue,
callback storage), append the events, save the state, commit — and only then
hand the actions to the adapter, so a caller never hears "we will call you"
about a request that was not stored. If anything fails, the caller is sent to
the centre queue: a citizen is never dropped because of our error.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callback import policy, requests as callbacks
from directory.search import search
from ivr import hours as phone_hours
from ivr import schedules
from ivr.engine import CallState, Step, step
from ivr.flow import Flow
from ivr.models import CallSession, FlowVersion
from ivr.protocol import (
    Action, CallbackStored, CheckHours, CheckNumber, CheckOperator, Enqueue, HoursChecked, Input, JoinQueue, Lookup,
    LookupResult, Match, NumberChecked, OperatorFree, QueuePlace, QueueStatus, Request, Say, Start, StoreCallback,
)
from stats import events as event_log
from switchboard import queue as centre
from switchboard.seed import published_flow

log = logging.getLogger(__name__)

FALLBACK_TEXT = {
    "sv": "Vi kopplar dig till kundcenter.",
    "en": "We are connecting you to the citizen centre.",
}
MAX_REQUESTS_PER_STEP = 20


class CallNotFound(LookupError):
    pass


_FLOWS: dict[tuple, Flow] = {}


def flow_for(version: FlowVersion) -> Flow:
    """A published version never changes, so its parsed form is kept (keyed so a reused row id is not mistaken)."""
    key = (version.id, version.version, version.created_at, version.published_at)
    if key not in _FLOWS:
        _FLOWS[key] = Flow(version.document, version.version)
    return _FLOWS[key]


class CallRunner:
    def __init__(self, sessions: sessionmaker[Session], settings: dict, channel: str):
        self.sessions = sessions
        self.settings = settings
        self.channel = channel
        self.tz = ZoneInfo(settings["service"]["timezone"])

    # -- public API for adapters ------------------------------------------------------------

    def start(self, call_id: str, now: datetime, caller: str | None = None, called: str | None = None,
              lang: str | None = None) -> list[Action]:
        with self.sessions() as session:
            existing = session.get(CallSession, call_id)
            if existing is not None:  # a retried "call comes in" webhook: the call already runs
                return []
            try:
                version = published_flow(session)
                if version is None:
                    raise RuntimeError("no published call flow; run `vaxel db upgrade`")
                call = CallSession(call_id=call_id, channel=self.channel, flow_version_id=version.id, caller=caller,
                                   called=called, started_at=now, updated_at=now, step=0, state={})
                session.add(call)
                result = self._run(session, call, flow_for(version), None, Start(caller, called, lang), now)
                session.commit()
                return result
            except Exception:
                log.exception("call %s: could not start the flow; sending the caller to the centre", call_id)
                session.rollback()
                return self._fallback(call_id, now, caller, called)

    def handle(self, call_id: str, inp: Input, now: datetime) -> list[Action]:
        with self.sessions() as session:
            query = select(CallSession).where(CallSession.call_id == call_id)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            call = session.scalar(query)
            if call is None:
                raise CallNotFound(call_id)
            state = CallState.from_dict(call.state) if call.state else None
            if state is not None and state.ended:
                return []
            try:
                version = session.get(FlowVersion, call.flow_version_id)
                result = self._run(session, call, flow_for(version), state, inp, now)
                session.commit()
                return result
            except Exception:
                log.exception("call %s: step failed on %s; sending the caller to the centre", call_id, inp.kind)
                session.rollback()
                return self._fallback(call_id, now, call.caller, call.called, state)

    def to_centre(self, call_id: str, now: datetime) -> list[Action]:
        """An adapter's own failure: move the call to the centre queue in our books too (best effort)."""
        state = self.state_of(call_id)
        if state is not None and (state.ended or state.awaiting in ("queue", "queue_offer", "bridged")):
            return []
        with self.sessions() as session:
            call = session.get(CallSession, call_id)
            caller, called = (call.caller, call.called) if call else (None, None)
        return self._fallback(call_id, now, caller, called, state)

    def wrapup(self, call_id: str, operator: str, outcome: str, now: datetime) -> None:
        """The operator's wrap-up code for a call they handled: the figure "resolved at the centre" comes from it."""
        with self.sessions() as session:
            call = session.get(CallSession, call_id)
            if call is None:
                raise CallNotFound(call_id)
            call.step += 1
            event_log.record(session, call_id, call.step, [("operator_wrapup", {"outcome": outcome,
                                                                                 "operator": operator})],
                             now, self.channel)
            session.commit()

    def handed_off(self, call_id: str, now: datetime, detail: str) -> None:
        """The adapter failed and the PBX's own fallback (the operators) took the call: close it in our books."""
        with self.sessions() as session:
            call = session.get(CallSession, call_id)
            if call is None or not call.state:
                return
            state = CallState.from_dict(call.state)
            if state.ended:
                return
            call.step += 1
            event_log.record(session, call_id, call.step, [("call_ended", {
                "reason": "handed_to_pbx", "detail": detail, "node": state.node, "awaiting": state.awaiting})],
                now, self.channel)
            centre.leave(session, call_id, now, "handed_off")
            state.awaiting = ""
            call.state, call.ended_at, call.updated_at = state.to_dict(), now, now
            session.commit()

    def state_of(self, call_id: str) -> CallState | None:
        with self.sessions() as session:
            call = session.get(CallSession, call_id)
            return CallState.from_dict(call.state) if call and call.state else None

    # -- the loop ---------------------------------------------------------------------------

    def _run(self, session: Session, call: CallSession, flow: Flow, state: CallState | None, inp: Input,
             now: datetime) -> list[Action]:
        actions: list[Action] = []
        for _ in range(MAX_REQUESTS_PER_STEP):
            result: Step = step(flow, state, inp, now)
            call.step += 1
            self._record(session, call, result, now)
            actions.extend(result.actions)
            state = result.state
            if result.request is None:
                break
            inp = self._answer(session, call, state, result.request, now)
        else:
            raise RuntimeError("the flow asked too many questions in one step")
        call.state = state.to_dict()
        call.updated_at = now
        if state.ended and call.ended_at is None:
            call.ended_at = now
        return actions

    def _record(self, session: Session, call: CallSession, result: Step, now: datetime) -> None:
        event_log.record(session, call.call_id, call.step, [(e.type, e.data) for e in result.events], now,
                         self.channel)
        for event in result.events:
            if event.type == "queue_left":
                centre.leave(session, call.call_id, now, event.data["reason"])

    # -- answering the engine's requests ----------------------------------------------------

    def _answer(self, session: Session, call: CallSession, state: CallState, request: Request,
                now: datetime) -> Input:
        if isinstance(request, CheckHours):
            return self.hours(session, request.schedule, now)
        if isinstance(request, Lookup):
            return LookupResult(request.query, tuple(self.lookup(session, request.query, request.mode, now)))
        if isinstance(request, JoinQueue):
            placement = centre.join(
                session, call.call_id, request.queue, now, self.settings["queue"],
                priority=centre.RETURNED if request.returned_from else centre.NORMAL,
                returned_from=request.returned_from,
            )
            return QueuePlace(placement.position, placement.estimated_wait)
        if isinstance(request, QueueStatus):
            placement = centre.placement(session, call.call_id, request.queue, now, self.settings["queue"])
            return QueuePlace(placement.position, placement.estimated_wait) if placement else QueuePlace(1, 0)
        if isinstance(request, CheckNumber):
            decision = policy.check(request.number, self.settings["callback"]["allowed_types"],
                                    self.settings["callback"]["region"])
            return NumberChecked(decision.ok, decision.number, decision.spoken, decision.reason)
        if isinstance(request, StoreCallback):
            return self._store_callback(session, call, state, request, now)
        if isinstance(request, CheckOperator):
            from switchboard.console.operators import is_free

            return OperatorFree(request.operator, is_free(session, request.operator, returning_call=call.call_id))
        raise TypeError(f"unknown request {request!r}")

    def hours(self, session: Session, key: str, now: datetime) -> HoursChecked:
        schedule = schedules.load(session, key, self.tz, self.settings["hours"]["eve_close"], now)
        st = phone_hours.status(schedule, now)
        return HoursChecked(
            open=st.open,
            reason=st.reason,
            weekly=schedules.weekly_of(session, key),
            next_open=st.next_open.isoformat() if st.next_open else None,
            holiday=st.holiday,
            closure=st.closure.message if st.closure else None,
            crisis=st.crisis.message if st.crisis else None,
        )

    def lookup(self, session: Session, query: str, mode: str, now: datetime) -> list[Match]:
        """Directory hits for the flow: speech/words by name or subject; keys as an extension or a spelled name."""
        results = search(session, query, now, self.tz, self.settings["hours"]["eve_close"], limit=5,
                         mode="keypad" if mode == "dtmf" else "text")
        return [
            Match(id=r.id, name=r.name, unit=r.unit, title=r.title, number=r.dial, extension=r.extension,
                  status=r.status, forward_to=r.forward_to, open_now=r.open_now, weekly=r.weekly,
                  next_open=r.opens, score=r.score, matched_by=r.matched_by, departments=r.departments)
            for r in results
        ]

    def _store_callback(self, session: Session, call: CallSession, state: CallState, request: StoreCallback,
                        now: datetime) -> CallbackStored:
        position = state.queue.get("position") if state.queue else None
        try:
            with session.begin_nested():
                # a queue callback keeps the caller's place through their queue entry (callback.places)
                entry = centre.entry_of(session, call.call_id, request.queue) if request.when == "queue" else None
                stored = callbacks.store(
                    session, call_id=call.call_id, number=request.number, kind=request.when,
                    due_at=datetime.fromisoformat(request.due_at) if request.due_at else None,
                    queue=request.queue, queue_position=centre.position_of(session, entry) if entry else position,
                    menu_choice=request.menu_choice, now=now,
                    daily_limit=self.settings["callback"]["daily_limit"],
                    queue_entry_id=entry.id if entry else None,
                )
        except Exception:
            log.exception("call %s: storing the callback request failed", call.call_id)
            return CallbackStored(False, reason="error")
        if stored is None:
            return CallbackStored(False, reason="limit")
        return CallbackStored(True, request_id=stored.id)

    # -- the human fallback -----------------------------------------------------------------

    def _fallback(self, call_id: str, now: datetime, caller: str | None, called: str | None,
                  state: CallState | None = None) -> list[Action]:
        """Our error must not drop the caller: tell them and put them in the centre queue."""
        lang = state.lang if state else "sv"
        position, wait = 1, 0
        try:
            with self.sessions() as session:
                call = session.get(CallSession, call_id)
                if call is None:
                    version = published_flow(session)
                    call = CallSession(call_id=call_id, channel=self.channel,
                                       flow_version_id=version.id if version else None, caller=caller,
                                       called=called, started_at=now, updated_at=now, step=0, state={})
                    session.add(call)
                placement = centre.join(session, call_id, "centre", now, self.settings["queue"])
                position, wait = placement.position, placement.estimated_wait
                fallback_state = state or CallState(caller=caller, called=called)
                fallback_state.node, fallback_state.awaiting = "centre", "queue"
                fallback_state.queue = {"name": "centre", "joined_at": now.isoformat(), "position": position,
                                        "last_announce": now.isoformat(), "offered": True, "left": False}
                call.step += 1
                event_log.record(session, call_id, call.step, [
                    ("queue_joined", {"queue": "centre", "position": position, "estimated_wait": wait,
                                      "returned": False, "fallback": True}),
                ], now, self.channel)
                call.state = asdict(fallback_state)
                call.updated_at = now
                session.commit()
        except Exception:
            log.exception("call %s: even the fallback could not be stored; the adapter still queues the caller",
                          call_id)
        return [Say("to_centre", FALLBACK_TEXT.get(lang, FALLBACK_TEXT["sv"]), lang),
                Enqueue("centre", position, wait)]
