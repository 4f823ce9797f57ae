"""One place answers the call-flow engine's requests, for live calls and for test calls.

The engine is pure: it asks for facts (phone hours, directory hits, a queue
place, a number check, a stored callback, a free operator) and the caller of
:func:`~ivr.engine.step` answers. A live call (:class:`switchboard.calls.CallRunner`)
and a test call (:mod:`switchboard.testcall`) must hear the same answers from the
same data, so both run :func:`drive` and ask :class:`CallFacts`; the only
difference is ``live``: a live call joins the queue, stores the callback and asks
the operator console, a test call writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback import booking, policy
from callback import queue as centre
from directory.promises import confirms_answer_for, no_answer_of
from directory.query import synonyms_from
from directory.search import search
from ivr import hours as phone_hours
from ivr import schedules
from ivr.engine import CallState, Step, step
from ivr.flow import Flow
from ivr.protocol import (
    Action, CallbackStored, CheckHours, CheckNumber, CheckOperator, HoursChecked, Input, JoinQueue, Lookup,
    LookupResult, Match, NumberChecked, OperatorFree, QueuePlace, QueueStatus, Request, StoreCallback,
)

log = logging.getLogger(__name__)

MAX_REQUESTS_PER_STEP = 20


def drive(flow: Flow, state: CallState | None, inp: Input, now: datetime,
          answer: Callable[[Request, CallState], Input],
          on_step: Callable[[Step], None] | None = None) -> tuple[CallState, list[Action]]:
    """Step the engine on ``inp``, answering each request it makes, until it asks nothing more.

    ``answer(request, state)`` gives the engine its next input; ``on_step(result)`` sees every engine step.
    """
    actions: list[Action] = []
    for _ in range(MAX_REQUESTS_PER_STEP):
        result: Step = step(flow, state, inp, now)
        if on_step is not None:
            on_step(result)
        actions.extend(result.actions)
        state = result.state
        if result.request is None:
            break
        inp = answer(result.request, state)
    else:
        raise RuntimeError("the flow asked too many questions in one step")
    return state, actions


def no_answer_target(session: Session, result, confirm: bool) -> dict:
    """Where a transfer to ``result`` goes if nobody answers, as the engine needs it: the unit's policy and
    whom to ring (a free colleague with the same keyword, the unit's function number or voicemail); {} = back
    to the centre (the unit's choice, or nobody to ring for it)."""
    choice = no_answer_of(session, result.staff_id)
    unit = choice.unit or result.unit
    if choice.policy == "colleague" and result.stand_in is not None:
        c = result.stand_in
        to = {"id": c.id, "name": c.name, "unit": result.unit, "number": c.number, "extension": c.extension,
              "confirm_answer": confirm}
    elif choice.policy in ("function", "voicemail") and choice.number:
        to = {"id": f"{choice.policy}:{unit}", "name": unit, "unit": unit, "number": choice.number,
              "extension": None, "confirm_answer": choice.policy == "function" and confirm}
    else:
        return {}
    return {"policy": choice.policy, "to": {**to, "departments": result.departments}}


def instead_target(result, confirm: bool) -> dict:
    """The free colleague (or unit function) offered when ``result`` cannot answer, as a target to ring; {}."""
    c = result.suggestion
    if c is None or not (c.number or c.extension):
        return {}
    return {"id": c.id, "name": c.name, "unit": result.unit, "number": c.number,
            "extension": c.extension, "confirm_answer": confirm, "departments": result.departments}


class CallFacts:
    """The engine's requests answered from the database; ``live=False`` reads but never writes."""

    def __init__(self, settings: dict, tz: ZoneInfo):
        self.settings = settings
        self.tz = tz

    def answer(self, session: Session, call_id: str, state: CallState, request: Request, now: datetime,
               live: bool) -> Input:
        if isinstance(request, CheckHours):
            return self.hours(session, request.schedule, now)
        if isinstance(request, Lookup):
            return LookupResult(request.query, tuple(self.lookup(session, request.query, request.mode, now,
                                                                 request.lang)))
        if isinstance(request, (JoinQueue, QueueStatus)):
            return self._queue_place(session, call_id, request, now) if live else self._queue_preview(
                session, request, now)
        if isinstance(request, CheckNumber):
            return self.number(request)
        if isinstance(request, StoreCallback):
            return self._store_callback(session, call_id, state, request, now, live)
        if isinstance(request, CheckOperator):
            if not live:  # a test call has no operator
                return OperatorFree(request.operator, False)
            from switchboard.console.operators import is_free

            return OperatorFree(request.operator, is_free(session, request.operator, returning_call=call_id))
        raise TypeError(f"unknown request {request!r}")

    def hours(self, session: Session, key: str, now: datetime) -> HoursChecked:
        schedule = schedules.current(session, key, self.tz, self.settings["hours"]["eve_close"], now)
        st = phone_hours.status(schedule, now)
        return HoursChecked(
            open=st.open,
            reason=st.reason,
            weekly=schedules.weekly_current(session, key),
            next_open=st.next_open.isoformat() if st.next_open else None,
            holiday=st.holiday,
            closure=st.closure.message if st.closure else None,
            crisis=st.crisis.message if st.crisis else None,
            why=st.why_closed() if not st.open else "hours",
            today=phone_hours.span_texts(st.today),
            eve_of=st.eve_of,
        )

    def lookup(self, session: Session, query: str, mode: str, now: datetime, lang: str = "sv") -> list[Match]:
        """Directory hits for the flow: speech/words by name or subject as people say them (the line's language
        and the site's synonyms); keys as an extension or a spelled name."""
        results = search(session, query, now, self.tz, self.settings["hours"]["eve_close"], limit=5,
                         mode="keypad" if mode == "dtmf" else mode, lang=lang,
                         synonyms=synonyms_from(self.settings["directory"]["synonyms_file"]))
        site_confirm = bool(self.settings["transfers"]["confirm_answer"])
        matches = []
        for r in results:
            confirm = confirms_answer_for(session, r.staff_id, site_confirm)
            matches.append(Match(
                id=r.id, name=r.name, unit=r.unit, title=r.title, number=r.dial, extension=r.dial_extension,
                status=r.status, forward_to=r.forward_to, open_now=r.open_now, weekly=r.weekly, next_open=r.opens,
                score=r.score, matched_by=r.matched_by, sure=r.sure, departments=r.departments,
                confirm_answer=confirm, closed=r.closed, no_answer=no_answer_target(session, r, confirm),
                ring=r.ring if r.ring_mobile else "desk", mobile=r.ring_mobile,
                back=r.status_until if r.status in ("absent", "closed") else None,
                colleague=instead_target(r, confirm)))
        return matches

    def number(self, request: CheckNumber) -> NumberChecked:
        """May we call this number back (the callback number policy)?"""
        decision = policy.check(request.number, self.settings["callback"]["allowed_types"],
                                self.settings["callback"]["region"])
        return NumberChecked(decision.ok, decision.number, decision.spoken, decision.reason)

    # -- the queue ------------------------------------------------------------------------------

    def _queue_place(self, session: Session, call_id: str, request: JoinQueue | QueueStatus,
                     now: datetime) -> QueuePlace:
        if isinstance(request, JoinQueue):
            placement = centre.join(
                session, call_id, request.queue, now, self.settings["queue"],
                priority=centre.RETURNED if request.returned_from else centre.NORMAL,
                returned_from=request.returned_from,
            )
            return QueuePlace(placement.position, placement.estimated_wait)
        placement = centre.placement(session, call_id, request.queue, now, self.settings["queue"])
        return QueuePlace(placement.position, placement.estimated_wait) if placement else QueuePlace(1, 0)

    def _queue_preview(self, session: Session, request: JoinQueue | QueueStatus, now: datetime) -> QueuePlace:
        """The place a caller would get, computed without joining: behind everyone waiting, or first if returned."""
        waiting = session.scalar(select(func.count()).select_from(centre.QueueEntry).where(
            centre.QueueEntry.queue == request.queue, centre.QueueEntry.left_at.is_(None))) or 0
        position = 1 if isinstance(request, JoinQueue) and request.returned_from else waiting + 1
        per_caller = centre.seconds_per_caller(session, request.queue, now, self.settings["queue"])
        return QueuePlace(position, centre.estimate(position, per_caller))

    # -- callbacks ------------------------------------------------------------------------------

    def _store_callback(self, session: Session, call_id: str, state: CallState, request: StoreCallback,
                        now: datetime, live: bool = True) -> CallbackStored:
        """Book the callback; a test call (``live=False``) books it in a savepoint rolled back at once, so it
        hears exactly what a caller would (the unit's promise, the opening) and nothing is written."""
        position = state.queue.get("position") if state.queue else None
        savepoint = session.begin_nested()
        try:
            # a queue callback keeps the caller's place through their queue entry (callback.places)
            entry = centre.entry_of(session, call_id, request.queue) if request.when == "queue" else None
            if entry is not None:
                position = centre.position_of(session, entry)
            booked = booking.book(
                session, call_id=call_id, number=request.number, when=request.when,
                due_at=datetime.fromisoformat(request.due_at) if request.due_at else None,
                queue=request.queue, menu_choice=request.menu_choice, target_id=request.target_id,
                subject=request.subject, now=now, settings=self.settings, tz=self.tz,
                queue_entry_id=entry.id if entry else None, queue_position=position,
                per_caller=centre.seconds_per_caller(session, request.queue, now, self.settings["queue"]),
            )
            answer = CallbackStored(False, reason="limit") if booked is None else CallbackStored(
                True, request_id=booked.request.id if live else 0, due_at=_iso(booked.first),
                until=_iso(booked.until), due_by=_iso(booked.request.due_by),
                unit=booked.request.unit_name if booked.request.target_id else None,
                answered_by=booked.request.answered_by)
        except Exception:
            savepoint.rollback()
            log.exception("call %s: storing the callback request failed", call_id)
            return CallbackStored(False, reason="error")
        if live:
            savepoint.commit()
        else:
            savepoint.rollback()
        return answer


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
