"""Operators take callers from their queues with ``<Dial><Queue>`` — returned callers first.

Every queue of the flow is a Twilio queue of the same name (``centre``, ``english``, ...). A console
operator is served from the queues they serve (``vaxel user queues``): each time their line asks, the
queue whose first caller is due first (returned, then the longest wait); with nobody waiting they wait on
the first of their queues for ``hold_seconds`` and then look at all of them again. Other operator
endpoints take ``?queue=`` (default the centre).

An operator's phone (a Twilio number of its own, or a Twilio Client app)
calls ``POST /twilio/operator``. Twilio queues are first in, first out, so
callers returned from a failed transfer wait in ``centre-returned`` and new
callers in ``centre``; which one the operator dials is decided by our own
queue (:func:`callback.queue.waiting`), which knows the priorities. The
``<Queue url>`` runs for the caller about to be bridged: that is where the
engine hears ``OperatorAnswered``. When the talk ends — or an empty queue
was waited on long enough — the operator is served the next caller.

Only callers listed in ``twilio.operators`` are served; with the list empty
(the default) the line refuses everyone — a stranger must never be connected
to waiting citizens — and a production service with Twilio enabled refuses to
start (:func:`.blueprint.check_setup`).

Console operators: when the calling endpoint (``From``) is the
``ConsoleOperator.endpoint`` of a console operator, the line serves them only
while they are *ready* and hold no other call (a transfer they follow, a
caller on hold); otherwise it says why and hangs up, so their endpoint is free
for a call coming back to them (:mod:`.control`). The engine then hears the
operator's user name, as the console knows them. Endpoints the console does
not know are served as before.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from ivr.protocol import OperatorAnswered
from callback import queue as centre
from core.services import services
from switchboard.console.models import ConsoleOperator
from switchboard.console.operators import holding, live_calls, queues_of
from switchboard.twilio import twiml, urls
from switchboard.twilio.blueprint import (
    answers, arg, audio, bp, config, db, form, known_operator, link, now, runner,
)

log = logging.getLogger(__name__)

ANSWERED = {"completed", "answered"}
NOT_READY = "Du är inte redo i konsolen. Välj Redo i konsolen och ring linjen igen."
FOLLOWING = "Du har redan ett samtal. Samtalet kopplas tillbaka till dig om det inte besvaras."


def _console_operator(endpoint: str) -> tuple[str | None, str | None]:
    """(the console user name of this endpoint, why they may not take a caller now) — (None, None) if unknown."""
    if not endpoint:
        return None, None
    with services().sessions() as session:
        row = session.scalar(select(ConsoleOperator).where(ConsoleOperator.endpoint == endpoint))
        if row is None:
            return None, None
        if row.state != "ready":
            return row.username, NOT_READY
        if holding(live_calls(session), row.username) is not None:
            return row.username, FOLLOWING
        return row.username, None


def _queue_for(username: str | None, asked: str) -> str:
    """The queue this operator takes the next caller from: for a console operator, the one of the queues they
    serve whose first caller is due first (returned callers, then the longest wait; with nobody waiting, the
    first they serve); any other operator endpoint: ``asked`` (``?queue=``, default the centre)."""
    if username is None:
        return asked
    with services().sessions() as session:
        mine = queues_of(session, username)
        fronts = [(entries[0], qid) for qid, entries in centre.waiting_by_queue(session).items() if qid in mine]
    if not fronts:
        return mine[0]
    return min(fronts, key=lambda f: (-f[0].priority, f[0].joined_at, f[0].id))[1]


def _returned_first(queue: str) -> bool:
    """Does a returned caller (or a callback being rung back) stand first in our queue?"""
    with services().sessions() as session:
        waiting = centre.waiting(session, queue)
    return bool(waiting) and waiting[0].priority >= centre.RETURNED


@bp.post(urls.OPERATOR)
@answers("operator")
def operator():
    who, queue = form("From"), arg("queue") or twiml.CENTRE
    if not known_operator(who):
        return twiml.say_and_hang_up(twiml.NOT_AN_OPERATOR, audio())
    username, refusal = _console_operator(who)
    if refusal:
        log.info("twilio: console operator %s (%s) not handed a caller: %s", username, who, refusal)
        return twiml.say_and_hang_up(refusal, audio())
    if arg("skip") != "returned":  # after an empty returned queue: its other half, not a new choice
        queue = _queue_for(username, queue)
    returned = arg("skip") != "returned" and _returned_first(queue)
    tried = twiml.twilio_queue(queue, returned)
    return twiml.operator_dial(tried, link(urls.DEQUEUED, op=username or who, queue=queue),
                               link(urls.OPERATOR_NEXT, queue=queue, tried=tried), int(config()["hold_seconds"]))


@bp.post(urls.OPERATOR_NEXT)
@answers("operator")
def operator_next():
    """The operator's ``<Dial action>``: after a talk, the next caller; after an empty wait, look again."""
    queue, tried = arg("queue") or twiml.CENTRE, arg("tried")
    if form("DialCallStatus") in ANSWERED:
        return twiml.redirect(link(urls.OPERATOR, queue=queue))
    if tried.endswith(twiml.RETURNED_SUFFIX):  # nobody came from the returned queue: look at the other one
        return twiml.redirect(link(urls.OPERATOR, queue=queue, skip="returned"))
    pause = int(config()["hold_seconds"]) if form("DialCallStatus") == "failed" else 0  # e.g. no such queue yet
    return twiml.redirect(link(urls.OPERATOR, queue=queue), pause=pause)


@bp.post(urls.DEQUEUED)
@answers("quiet")
def dequeued():
    """``<Queue url>``: the caller (``CallSid``) is about to be bridged to the operator (``op``)."""
    call_sid, who = form("CallSid"), arg("op") or "centre"
    calls = runner()
    state = calls.state_of(call_sid)
    if state is None:  # a callback being rung back, or a caller queued by the rescue: only our queue knows them
        centre.leave(db(), call_sid, now(), "answered")
    elif state.awaiting in ("queue", "queue_offer"):
        calls.handle(call_sid, OperatorAnswered(who), now())
    return twiml.empty()
