"""The webhooks of callback calls placed by :mod:`switchboard.twilio.dialer`, and their outcome, reported once.

Every URL carries the attempt it belongs to (``r`` = request id, ``a`` =
attempt, ``o=1`` for operator first). Twilio reports one call several times
(answered, then completed; retries), and operator-first calls also end a
``<Dial>``; the first report of an attempt inserts its row in
``twilio_callback_outcomes`` and only that one reaches the
:data:`~callback.dialer.OutcomeHandler`.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from callback.dialer import OutcomeHandler
from callback import queue as centre
from core.services import services
from switchboard.twilio import twiml, urls
from switchboard.twilio.blueprint import answers, arg, arg_int, audio, bp, form, link, now, this_url
from switchboard.twilio.models import CallbackOutcome

log = logging.getLogger(__name__)

HANDLER_KEY = "vaxel.twilio.outcome_handler"  # app.extensions entry; default: callback.outcomes
ANSWERED = {"completed", "answered"}
FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


def outcome_handler() -> OutcomeHandler:
    """The handler set for this app (tests, another wiring), else the callback package's database reporter."""
    handler = current_app.extensions.get(HANDLER_KEY)
    if handler is None:
        from callback.outcomes import handler as reporter

        svc = services()
        handler = reporter(svc.sessions, svc.settings, svc.clock.now)
    return handler


def report_once(request_id: int, attempt: int, outcome: str) -> bool:
    """Report an attempt's outcome unless it was reported before; True if this call reported it."""
    sessions = services().sessions
    with sessions() as session:
        session.add(CallbackOutcome(request_id=request_id, attempt=attempt, call_sid=form("CallSid"), outcome=outcome,
                                    reported_at=now()))
        try:
            session.commit()
        except IntegrityError:
            log.info("callback %s/%s: outcome already reported; %s ignored", request_id, attempt, outcome)
            return False
    try:
        outcome_handler()(request_id, attempt, outcome)
    except Exception:
        log.exception("callback %s/%s: reporting %s failed; a later report may try again", request_id, attempt,
                      outcome)
        with sessions() as session:
            session.execute(delete(CallbackOutcome).where(CallbackOutcome.request_id == request_id,
                                                          CallbackOutcome.attempt == attempt))
            session.commit()
        raise
    return True


def outcome_of_call(call_status: str, operator_first: bool) -> str | None:
    """The attempt's outcome from the outbound call's own status; None while it is not decided yet.

    Operator first, the call is the operator's leg: the citizen's answer comes from the ``<Dial>``,
    so here anything but that is a failed attempt.
    """
    if operator_first:
        return "failed" if call_status in FINAL else None
    if call_status in ("in-progress", "completed"):
        return "answered"
    if call_status in ("busy", "no-answer", "failed"):
        return call_status
    return "failed" if call_status == "canceled" else None


def _attempt() -> tuple[int, int]:
    return arg_int("r"), arg_int("a")


@bp.post(urls.CALLBACK_ANSWER)
@answers("call")
def callback_answer():
    """The called party picked up: the operator (operator first) or the citizen (citizen first)."""
    request_id, attempt = _attempt()
    if arg("o") == "1":
        return twiml.callback_to_citizen(arg("b"), arg("n"), arg("p"),
                                         link(urls.CALLBACK_DIALLED, r=request_id, a=attempt), audio())
    svc = services()
    with svc.sessions() as session:
        centre.join(session, form("CallSid"), twiml.CENTRE, now(), svc.settings["queue"], priority=centre.RETURNED,
                    returned_from="callback")
        session.commit()
    greeting = twiml.CALLBACK_GREETING.format(municipality=svc.settings["service"]["municipality"])
    links = twiml.Links(wait=link(urls.CALLBACK_WAIT), queue_result=link(urls.CALLBACK_LEFT, r=request_id, a=attempt))
    return twiml.callback_to_queue(greeting, links, audio())


@bp.post(urls.CALLBACK_WAIT)
@answers("wait")
def callback_wait():
    return twiml.hold(twiml.Links(wait=this_url()), audio())


@bp.post(urls.CALLBACK_LEFT)
@answers("quiet")
def callback_left():
    """The rung-back citizen left the queue: talked to an operator, or hung up waiting."""
    with services().sessions() as session:
        centre.leave(session, form("CallSid"), now(), "answered" if form("QueueResult") == "bridged" else "abandoned")
        session.commit()
    return twiml.hangup()


@bp.post(urls.CALLBACK_DIALLED)
@answers("quiet")
def callback_dialled():
    """Operator first: how ringing the citizen ended."""
    status = form("DialCallStatus")
    outcome = "answered" if status in ANSWERED else status if status in ("busy", "no-answer") else "failed"
    report_once(*_attempt(), outcome)
    if outcome == "answered":
        return twiml.hangup()
    return twiml.say_and_hang_up(twiml.CALLBACK_NOT_REACHED, audio())


@bp.post(urls.CALLBACK_STATUS)
@answers("quiet")
def callback_status():
    """Twilio's status callback of the outbound call (answered, completed)."""
    call_status = form("CallStatus")
    outcome = outcome_of_call(call_status, arg("o") == "1")
    if outcome is not None:
        report_once(*_attempt(), outcome)
    if call_status in FINAL and arg("o") != "1":
        with services().sessions() as session:  # hung up while waiting in the queue
            centre.leave(session, form("CallSid"), now(), "abandoned")
            session.commit()
    return twiml.empty()
