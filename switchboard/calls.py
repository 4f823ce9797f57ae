"""The call runner: binds the pure engine to the database for every adapter.

``start`` and ``handle`` each run in one transaction: load the call's state,
let the engine step, answer its requests (phone hours, directory, queue,
callback storage — :mod:`switchboard.call_facts`, shared with test calls),
append the events, save the state, commit — and only then
hand the actions to the adapter, so a caller never hears "we will call you"
about a request that was not stored. If anything fails, the caller is sent to
the centre queue: a citizen is never dropped because of our error.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr import queues as flow_queues
from ivr.engine import CallState, Step
from ivr.flow import Flow
from ivr.models import CallSession, FlowVersion
from ivr.protocol import Action, Enqueue, Hangup, Input, Request, Say, Start
from stats import events as event_log
from callback import queue as centre
from core import logs, versions
from core.db import begin_step, durable
from switchboard.call_facts import CallFacts, drive
from switchboard.console import wrapups
from switchboard.seed import published_flow

log = logging.getLogger(__name__)

FALLBACK_TEXT = {
    "sv": "Vi kopplar dig till kundcenter.",
    "en": "We are connecting you to the citizen centre.",
}


def _column(number: str | None) -> str | None:
    """A caller id as the call row keeps it: a SIP URI or a client name longer than the column is cut, never
    refused (PostgreSQL would refuse the whole call, and the caller would have no call in our books)."""
    return number[:CallSession.caller.type.length] if number else number


class CallNotFound(LookupError):
    pass


def _held_calls(session: Session) -> dict[str, CallSession]:
    """The calls this transaction has loaded or started, held strongly (the identity map forgets unused rows)."""
    transaction, held = session.info.get("vaxel.calls", (None, {}))
    if transaction is not session.get_transaction():
        held = {}
        session.info["vaxel.calls"] = (session.get_transaction(), held)
    return held


def load_call(session: Session, call_id: str) -> CallSession | None:
    """The call's row, locked on PostgreSQL until the transaction ends (one step of a call at a time); a
    second load in the same transaction, or of a call it started, costs no query."""
    held = _held_calls(session)
    if call_id not in held or held[call_id] not in session:
        held[call_id] = _read_call(session, call_id, lock=session.get_bind().dialect.name == "postgresql")
    return held[call_id]


def _read_call(session: Session, call_id: str, lock: bool = False) -> CallSession | None:
    """The call's row (locked if ``lock``) and, in the same statement, the cache tokens the step checks its
    flow, hours and directory copies against (:mod:`core.versions`): one round trip for both."""
    query = select(CallSession, versions.tokens_column()).where(CallSession.call_id == call_id)
    if lock:
        query = query.with_for_update(of=CallSession).execution_options(populate_existing=True)
    row = session.execute(query).first()
    if row is None:
        return None
    versions.prime(session, row[1])
    return row[0]


def _known(session: Session, call_id: str) -> bool:
    """Is there a row for this call? Asked with the cache tokens the new call's first step needs (one round trip)."""
    exists = select(CallSession.call_id).where(CallSession.call_id == call_id).scalar_subquery()
    found, tokens = session.execute(select(exists, versions.tokens_column())).one()
    versions.prime(session, tokens)
    return found is not None


def _add_call(session: Session, call: CallSession) -> None:
    """A call row new in this transaction: ours alone until it commits, so later loads need not read it."""
    session.add(call)
    _held_calls(session)[call.call_id] = call


_FLOWS: dict[tuple, Flow] = {}
_held = versions.Cached("flow")


def flow_for(version: FlowVersion) -> Flow:
    """A published version never changes, so its parsed form is kept (keyed so a reused row id is not mistaken)."""
    key = (version.id, version.version, version.created_at, version.published_at)
    if key not in _FLOWS:
        _FLOWS[key] = Flow(version.document, version.version)
    return _FLOWS[key]


def flow_of(session: Session, version_id: int | None) -> Flow | None:
    """The parsed flow version ``version_id``, without reading its document again while no flow changed."""
    def read() -> Flow | None:
        version = session.get(FlowVersion, version_id) if version_id is not None else None
        return flow_for(version) if version is not None else None

    return _held.get(session, ("id", version_id), read)


def flow_in_force(session: Session) -> tuple[int, Flow] | None:
    """(id, parsed flow) of the published version new calls start on; re-read in every process after a publish."""
    def read() -> tuple[int, Flow] | None:
        version = published_flow(session)
        return (version.id, flow_for(version)) if version is not None else None

    return _held.get(session, "published", read)


@contextmanager
def unit_of_work(sessions: sessionmaker[Session], session: Session | None,
                 write: bool = True) -> Iterator[tuple[Session, bool]]:
    """The caller's session (they commit), or one of our own, begun as a call step's writer
    (:func:`core.db.begin_step`) unless ``write`` is False: (session, ours)."""
    if session is not None:
        yield session, False
        return
    with sessions() as own:
        yield begin_step(own) if write else own, True


class CallRunner:
    def __init__(self, sessions: sessionmaker[Session], settings: dict, channel: str,
                 session: Session | None = None):
        """``session``: a webhook's own session — every method then works in its transaction and leaves the
        commit to it (a failed step rolls it back whole and queues the caller in a new one); without it, each
        call commits its own."""
        self.sessions = sessions
        self.session = session
        self.settings = settings
        self.channel = channel
        self.tz = ZoneInfo(settings["service"]["timezone"])
        self.facts = CallFacts(settings, self.tz)
        self._stored = threading.local()  # (call id, state) this thread's last step committed: see state_after

    # -- public API for adapters ------------------------------------------------------------

    def start(self, call_id: str, now: datetime, caller: str | None = None, called: str | None = None,
              lang: str | None = None, speech: bool = True) -> list[Action]:
        """Start the flow for a new call; ``speech`` False where the platform cannot hear speech on it."""
        self._stored.call = None
        with logs.call_context(call_id, self.channel), self._unit() as (session, ours):
            if _known(session, call_id):  # a retried "call comes in" webhook: the call already runs
                return []
            try:
                with self._undo_on_error(session, ours):
                    in_force = flow_in_force(session)
                    if in_force is None:
                        raise RuntimeError("no published call flow; run `vaxel db upgrade`")
                    call = CallSession(call_id=call_id, channel=self.channel, flow_version_id=in_force[0],
                                       caller=_column(caller), called=_column(called), started_at=now,
                                       updated_at=now, step=0, state={})
                    _add_call(session, call)
                    result = self._run(session, call, in_force[1], None, Start(caller, called, lang, speech), now)
                self._committed(call, ours)
                return result
            except Exception:
                log.exception("call %s: could not start the flow; sending the caller to the centre", call_id)
                return self._fallback(call_id, now, caller, called, session=None if ours else session)

    def handle(self, call_id: str, inp: Input, now: datetime) -> list[Action]:
        self._stored.call = None
        with logs.call_context(call_id, self.channel), self._unit() as (session, ours):
            call = load_call(session, call_id)
            if call is None:
                raise CallNotFound(call_id)
            state = CallState.from_dict(call.state) if call.state else None
            if state is not None and state.ended:
                return []
            caller, called = call.caller, call.called
            try:
                with self._undo_on_error(session, ours):
                    result = self._run(session, call, flow_of(session, call.flow_version_id), state, inp, now)
                self._committed(call, ours)
                return result
            except Exception:
                log.exception("call %s: step failed on %s; sending the caller to the centre", call_id, inp.kind)
                return self._fallback(call_id, now, caller, called, state, session=None if ours else session)

    def _unit(self, write: bool = True):
        return unit_of_work(self.sessions, self.session, write)

    @contextmanager
    def _undo_on_error(self, session: Session, ours: bool) -> Iterator[None]:
        """Our own transaction commits at the end; the caller's (a webhook's) is theirs to commit. Either rolls
        back whole on an error — no savepoint, whose two statements every step would pay for a rare failure —
        and the caller's is begun again for the fallback: what the adapter wrote before the step goes too (its
        answer is stored by key afterwards: :func:`switchboard.twilio.replies.once`)."""
        try:
            yield
            if ours:
                session.commit()
        except Exception:
            session.rollback()
            if not ours:
                begin_step(session)
            raise

    def to_centre(self, call_id: str, now: datetime) -> list[Action]:
        """An adapter's own failure: move the call to the centre queue in our books too (best effort)."""
        state = self.state_of(call_id)
        if state is not None and (state.ended or state.awaiting in ("queue", "queue_offer", "bridged")):
            return []
        with self._unit(write=False) as (session, _):
            call = session.get(CallSession, call_id)
            caller, called = (call.caller, call.called) if call else (None, None)
        return self._fallback(call_id, now, caller, called, state, session=self.session)

    def wrapup(self, call_id: str, operator: str, outcome: str, now: datetime, *, supersedes: int | None = None,
               note: str = "", supervisor: bool = False) -> wrapups.Recorded:
        """The wrap-up code of the operator who held the call, or its audited correction (``supersedes``).

        Not a call step: it is recorded against the conversation (:mod:`switchboard.console.wrapups`) and never
        touches the call's state or step, so the platform's next webhook is answered as if it had not happened.
        Raises :class:`~switchboard.console.wrapups.WrapupRefused` (not the holder, already wrapped up, ...).
        """
        with self._unit() as (session, ours):
            durable(session)  # an operator's work, not a call step: its commit waits for the disk
            recorded = wrapups.record(session, call_id, operator, outcome, now, supersedes=supersedes, note=note,
                                      supervisor=supervisor)
            if ours:
                session.commit()
            return recorded

    def handed_off(self, call_id: str, now: datetime, detail: str) -> None:
        """The adapter failed and the PBX's own fallback (the operators) took the call: close it in our books."""
        with self._unit() as (session, ours):
            call = load_call(session, call_id)
            if call is None or not call.state or CallState.from_dict(call.state).ended:
                return
            self.hand_off_in(session, call, now, detail)
            if ours:
                session.commit()

    def hand_off_in(self, session: Session, call: CallSession, now: datetime, detail: str) -> None:
        """Within the caller's transaction: the PBX has the caller now (not a lost call) — end it so."""
        state = CallState.from_dict(call.state) if call.state else None
        call.step += 1
        event_log.record(session, call.call_id, call.step, [("call_ended", {
            "reason": "handed_to_pbx", "detail": detail, "node": state.node if state else None,
            "awaiting": state.awaiting if state else None})], now, self.channel)
        centre.leave(session, call.call_id, now, "handed_off")
        if state is not None:
            state.awaiting = ""
            call.state = state.to_dict()
        call.ended_at = call.updated_at = now

    def hang_up_in(self, session: Session, call: CallSession, now: datetime) -> None:
        """Within the caller's transaction: what the caller hanging up now does (abandoned, transfer failed, ...)."""
        state = CallState.from_dict(call.state) if call.state else None
        flow = flow_of(session, call.flow_version_id) if call.flow_version_id else None
        if state is None or state.ended or flow is None:  # nothing the engine can step: close it by hand
            call.step += 1
            event_log.record(session, call.call_id, call.step, [("call_ended", {"reason": "caller_hangup"})], now,
                             self.channel)
        else:
            self._run(session, call, flow, state, Hangup(), now)
        call.ended_at = call.updated_at = now

    def state_after(self, call_id: str) -> CallState | None:
        """The state the last ``start``/``handle`` of this call on this thread committed (an adapter acting on
        what the engine just said needs no second read); read from the database when there is none."""
        stored = getattr(self._stored, "call", None)
        self._stored.call = None
        if stored is not None and stored[0] == call_id:
            return stored[1]
        return self.state_of(call_id)

    def _committed(self, call: CallSession, ours: bool) -> None:
        self._stored.call = (call.call_id, CallState.from_dict(call.state)) if ours and call.state else None

    def state_of(self, call_id: str) -> CallState | None:
        with self._unit(write=False) as (session, ours):  # in the caller's transaction: the row its step loads
            call = session.get(CallSession, call_id) if ours else load_call(session, call_id)
            return CallState.from_dict(call.state) if call and call.state else None

    # -- the loop ---------------------------------------------------------------------------

    def _run(self, session: Session, call: CallSession, flow: Flow, state: CallState | None, inp: Input,
             now: datetime) -> list[Action]:
        def answer(request: Request, state: CallState) -> Input:
            return self.facts.answer(session, call.call_id, state, request, now, live=True)

        steps: list[tuple[int, list[tuple[str, dict]]]] = []
        first = call.step  # counted here, written once at the end (not flushed before every query of a step)

        def on_step(result: Step) -> None:
            number = first + len(steps) + 1
            logs.set_step(number)  # other lines written during this step carry it too
            steps.append((number, [(e.type, e.data) for e in result.events]))
            for event in result.events:
                if event.type == "queue_left":
                    centre.leave(session, call.call_id, now, event.data["reason"])

        state, actions = drive(flow, state, inp, now, answer, on_step)
        call.step = first + len(steps)
        # one statement for them all; the statistics fold the call when it ends
        event_log.record_steps(session, call.call_id, steps, now, self.channel, in_progress=not state.ended)
        call.state = state.to_dict()
        call.updated_at = now
        if state.ended and call.ended_at is None:
            call.ended_at = now
        return actions

    # -- the human fallback -----------------------------------------------------------------

    def _fallback(self, call_id: str, now: datetime, caller: str | None, called: str | None,
                  state: CallState | None = None, session: Session | None = None) -> list[Action]:
        """Our error must not drop the caller: tell them and put them in a queue — the one they waited in, else
        the flow's default (the centre) — in ``session``'s transaction when given, else in one of our own."""
        lang = state.lang if state else "sv"
        position, wait = 1, 0
        queue = (state.queue or {}).get("name") if state and state.queue else "centre"
        try:
            with unit_of_work(self.sessions, session) as (session, ours), self._undo_on_error(session, ours):
                call = load_call(session, call_id)
                if call is None:
                    in_force = flow_in_force(session)
                    call = CallSession(call_id=call_id, channel=self.channel,
                                       flow_version_id=in_force[0] if in_force else None, caller=_column(caller),
                                       called=_column(called), started_at=now, updated_at=now, step=0, state={})
                    _add_call(session, call)
                if not (state and state.queue):
                    queue = flow_queues.default(session)
                placement = centre.join(session, call_id, queue, now, self.settings["queue"])
                position, wait = placement.position, placement.estimated_wait
                fallback_state = state or CallState(caller=caller, called=called)
                fallback_state.node, fallback_state.awaiting = "centre", "queue"
                fallback_state.queue = {"name": queue, "joined_at": now.isoformat(), "position": position,
                                        "last_announce": now.isoformat(), "offered": True, "left": False}
                call.step += 1
                event_log.record(session, call_id, call.step, [
                    ("queue_joined", {"queue": queue, "position": position, "estimated_wait": wait,
                                      "returned": False, "fallback": True}),
                ], now, self.channel)
                call.state = fallback_state.to_dict()
                call.updated_at = now
            self._committed(call, ours)
        except Exception:
            log.exception("call %s: even the fallback could not be stored; the adapter still queues the caller",
                          call_id)
        return [Say("to_centre", FALLBACK_TEXT.get(lang, FALLBACK_TEXT["sv"]), lang),
                Enqueue(queue, position, wait)]
