"""A citizen's call, webhook by webhook: each feeds the engine one input and renders what it answers.

``voice`` starts the call; ``step`` carries what a ``<Gather>`` heard (or the
silence after it); ``dial`` says how a transfer ended; ``wait`` and ``offer``
run while the caller is in a Twilio queue; ``queue-result`` continues after
the queue; ``status`` notices the end of the call; ``fallback`` is Twilio's
fallback URL and needs no database. Every answer that steps the engine goes
through :func:`replies.once`, so Twilio's retries never step it twice.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import urlparse


from directory.index import current_version
from directory.query import synonyms_from
from directory.search import speech_hints
from ivr.engine import CallState
from ivr.protocol import Action, Digits, Gather, Hangup, Input, NoInput, Speech, Tick, Transfer, TransferEnded
from core.services import services
from switchboard.twilio import replies, twiml, urls
from switchboard.calls import load_call
from switchboard.twilio.blueprint import (
    answers, arg, arg_int, audio, bp, config, db, form, form_int, link, now, rescue, runner, this_url,
)

log = logging.getLogger(__name__)

FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
ANSWERED = {"completed", "answered"}  # DialCallStatus of a transfer that was picked up
TRANSFER_FAILURES = {"busy", "no-answer", "not-accepted", "failed", "canceled"}
QUEUED = ("queue", "queue_offer")
E164 = re.compile(r"\+[1-9]\d{6,14}")


# -- helpers ----------------------------------------------------------------------------------------


def _position(call_sid: str) -> tuple[int, CallState] | None:
    """The engine step the call is at, and its state; None for a call we do not know. The first read locks
    the call's row for the request's transaction (PostgreSQL): one webhook of a call at a time."""
    call = load_call(db(), call_sid)
    if call is None:
        return None
    return call.step, CallState.from_dict(call.state) if call.state else CallState()


def _links(call_sid: str, step: int, enqueued_at: int | None = None, whisper: bool = False) -> twiml.Links:
    """``whisper``: the transfer asks whoever answers to press 1 (the ``<Number url>`` on the staff leg)."""
    queued = step if enqueued_at is None else enqueued_at
    return twiml.Links(
        step=link(urls.STEP, s=step),
        dial=link(urls.DIAL, s=step),
        whisper=link(urls.WHISPER, c=call_sid, s=step) if whisper else "",
        wait=link(urls.WAIT, s=step, q=queued),
        offer=link(urls.OFFER, s=step, q=queued),
        queue_result=link(urls.QUEUE_RESULT, s=queued),
    )


def _where(state: CallState) -> twiml.Where:
    queue = (state.queue or {}).get("name") or twiml.CENTRE
    return twiml.Where(state.awaiting, queue, state.returned_from is not None)


def _caller(raw: str) -> str | None:
    """Twilio's ``From``; a hidden number (anonymous, restricted, a client) is None."""
    return raw if E164.fullmatch(raw) else None


def _caller_id(state: CallState) -> str:
    """Whom staff see calling when a call is transferred (``twilio.transfer_caller_id``)."""
    policy = config()["transfer_caller_id"]
    if policy == "caller":
        return state.caller if state.caller and E164.fullmatch(state.caller) else (state.called or "")
    if policy == "called":
        return state.called or ""
    return policy


_hints: dict[tuple, tuple[object, list[str]]] = {}


def _directory_hints() -> list[str]:
    """Words callers say for option 1: the directory's keywords, staff names, then the site's synonym phrases
    (kept while the directory and the synonyms stay the same)."""
    session = db()
    synonyms = synonyms_from(services().settings["directory"]["synonyms_file"])
    key = (id(session.get_bind()), current_version(session))
    held = _hints.get(key)
    if held is None or held[0] is not synonyms:  # the synonyms file was read again: so are the hints
        if len(_hints) > 16:
            _hints.clear()
        held = _hints[key] = (synonyms, twiml.hint_list(speech_hints(session, synonyms, twiml.MAX_HINTS)))
    return held[1]


def _ring_or_fail(call_sid: str, actions: list[Action]) -> list[Action]:
    """A person with no number Twilio can dial (an extension only) is a failed transfer, said as such."""
    transfer = next((a for a in actions if isinstance(a, Transfer)), None)
    if transfer is None or transfer.number:
        return actions
    log.warning("call %s: %s has no dialable number; the transfer fails", call_sid, transfer.name)
    return [a for a in actions if a is not transfer] + runner().handle(call_sid, TransferEnded("failed"), now())


def _render(call_sid: str, actions: list[Action]) -> str:
    """TwiML for the call's normal flow after the engine stepped."""
    actions = _ring_or_fail(call_sid, actions)
    step, state = _position(call_sid)
    speech = any(isinstance(a, Gather) and "speech" in a.input for a in actions)
    whisper = any(isinstance(a, Transfer) and a.whisper for a in actions)
    return str(twiml.call_twiml(actions, _where(state), _links(call_sid, step, whisper=whisper), audio(),
                                _caller_id(state),
                                _directory_hints() if speech else ()))


def _once(call_sid: str, key: str, answer, kind: str = "call") -> str:
    return replies.once(db(), call_sid, key, now(), answer, retry=lambda: str(twiml.retry_later(this_url())),
                        rescue=lambda: rescue(kind))


def _heard() -> Input:
    """What the ``<Gather>`` heard: speech, keys, or nothing (the ``<Redirect>`` after it)."""
    if form("SpeechResult"):
        try:
            confidence = float(form("Confidence"))
        except ValueError:
            confidence = None
        return Speech(form("SpeechResult"), confidence)
    if form("Digits"):
        return Digits(form("Digits"))
    return NoInput()


def _stale(call_sid: str, state: CallState) -> str:
    """A request for a step the call has left: answer with what the caller hears now, not a new step."""
    if state.ended:
        return str(twiml.hangup())
    return replies.latest(db(), call_sid) or rescue("call")


# -- the call's normal flow -------------------------------------------------------------------------


@bp.post(urls.VOICE)
@answers("call")
def voice():
    call_sid = form("CallSid")
    if not call_sid:
        raise ValueError("a voice webhook without CallSid")

    def answer() -> str:
        actions = runner().start(call_sid, now(), caller=_caller(form("From")), called=form("To") or None)
        return _render(call_sid, actions)

    return _once(call_sid, "voice:0", answer)


@bp.post(urls.STEP)
@answers("call")
def step():
    call_sid, s = form("CallSid"), arg_int("s")

    def answer() -> str:
        position = _position(call_sid)
        if position is None:
            log.warning("call %s: unknown at step %s; sending the caller to the centre", call_sid, s)
            return rescue("call")
        at, state = position
        if at != s:
            return _stale(call_sid, state)
        return _render(call_sid, runner().handle(call_sid, _heard(), now()))

    return _once(call_sid, f"step:{s}", answer)


@bp.post(urls.DIAL)
@answers("call")
def dial():
    """``<Dial action>``: also called after an answered transfer has ended — DialCallStatus tells which."""
    call_sid, s = form("CallSid"), arg_int("s")

    def answer() -> str:
        position = _position(call_sid)
        if position is None:
            log.warning("call %s: unknown after a transfer; sending the caller to the centre", call_sid)
            return rescue("call")
        at, state = position
        if at != s or state.awaiting != "transfer":
            return _stale(call_sid, state)
        status = form("DialCallStatus")
        if status in ANSWERED and state.whisper and replies.get(db(), call_sid, f"accepted:{s}") is None:
            # the staff leg answered, heard the whisper and hung up (or a voicemail played over it): not reached
            log.info("call %s: the staff leg answered but nobody pressed 1; not accepted", call_sid)
            status = "not-accepted"
        calls = runner()
        if status in ANSWERED:
            talked = timedelta(seconds=form_int("DialCallDuration"))
            calls.handle(call_sid, TransferEnded("answered"), now() - talked)
            calls.handle(call_sid, Hangup(), now())
            return str(twiml.hangup())
        if form("CallStatus") in FINAL_STATUSES:  # the caller hung up while it rang
            calls.handle(call_sid, Hangup(), now())
            return str(twiml.hangup())
        reason = status if status in TRANSFER_FAILURES else "failed"
        return _render(call_sid, calls.handle(call_sid, TransferEnded(reason), now()))

    return _once(call_sid, f"dial:{s}", answer)


@bp.post(urls.WHISPER)
@answers("decline")
def whisper():
    """Runs on the staff leg when it answers; the caller keeps hearing ringing (answerOnBridge).

    Says who calls and why (the engine's words for this transfer) and waits for 1; an unknown call or step
    still gets the plain question, so whoever answers can take the call."""
    position = _position(arg("c"))
    said = position[1].whisper if position and position[0] == arg_int("s") else ""
    return twiml.whisper(link(urls.WHISPER_ANSWER, c=arg("c"), s=arg_int("s")), audio(),
                         said or twiml.WHISPER_PROMPT, int(services().settings["transfers"]["confirm_seconds"]))


@bp.post(urls.WHISPER_ANSWER)
@answers("decline")
def whisper_answer():
    if form("Digits")[:1] != "1":
        return twiml.hangup()
    replies.put(db(), arg("c"), f"accepted:{arg_int('s')}", "accepted", now())
    return twiml.empty()  # the end of the whisper: Twilio connects the two


# -- in the queue -----------------------------------------------------------------------------------


@bp.post(urls.WAIT)
@answers("wait")
def wait():
    """The queue's ``waitUrl``: time passes for the engine (position messages, the offer), then hold audio."""
    call_sid, s, q = form("CallSid"), arg_int("s"), arg_int("q")

    def answer() -> str:
        position = _position(call_sid)
        if position is None:  # e.g. queued by the rescue: waits for an operator like anyone else
            return str(twiml.hold(_links(call_sid, s, q), audio()))
        at, state = position
        if at != s or state.awaiting not in QUEUED:
            return str(twiml.hold(_links(call_sid, at, q), audio()))
        log.debug("call %s: Twilio QueuePosition %s of %s, waited %s s", call_sid, form("QueuePosition"),
                  form("CurrentQueueSize"), form("QueueTime"))
        heard = NoInput() if state.awaiting == "queue_offer" else Tick()
        actions = runner().handle(call_sid, heard, now())
        at, _ = _position(call_sid)
        return str(twiml.wait_twiml(actions, _links(call_sid, at, q), audio()))

    return _once(call_sid, f"wait:{s}", answer, "wait")


@bp.post(urls.OFFER)
@answers("wait")
def offer():
    """The key pressed at the callback offer. Taking it leaves the queue; the call goes on at ``queue-result``."""
    call_sid, s, q = form("CallSid"), arg_int("s"), arg_int("q")

    def answer() -> str:
        position = _position(call_sid)
        if position is None:
            return str(twiml.hold(_links(call_sid, s, q), audio()))
        at, state = position
        if at != s or state.awaiting != "queue_offer":
            return str(twiml.hold(_links(call_sid, at, q), audio()))
        actions = runner().handle(call_sid, Digits(form("Digits")) if form("Digits") else NoInput(), now())
        at, after = _position(call_sid)
        if after.awaiting in QUEUED:
            return str(twiml.wait_twiml(actions, _links(call_sid, at, q), audio()))
        replies.put(db(), call_sid, f"leave:{q}", _render(call_sid, actions), now())
        return str(twiml.leave())

    return _once(call_sid, f"offer:{s}", answer, "wait")


@bp.post(urls.QUEUE_RESULT)
@answers("call")
def queue_result():
    """``<Enqueue action>``: the caller left the Twilio queue — bridged, hung up, left for a callback, or an error."""
    call_sid, q, tries = form("CallSid"), arg_int("s"), arg_int("n")
    result = form("QueueResult")
    position = _position(call_sid)
    if result == "leave":
        pending = replies.get(db(), call_sid, f"leave:{q}")
        if pending:
            return pending
        return _render(call_sid, []) if position else rescue("call")
    if result in ("bridged", "hangup"):  # after the talk with an operator, or the caller gave up
        if position and not position[1].ended:
            runner().handle(call_sid, Hangup(), now())
        return twiml.hangup()
    if result in ("redirected", "bridging-in-process"):
        return twiml.empty()
    log.warning("call %s: the Twilio queue answered %r (try %d); queueing again", call_sid, result, tries + 1)
    at = position[0] if position else q
    links = twiml.Links(wait=link(urls.WAIT, s=at, q=q), queue_result=link(urls.QUEUE_RESULT, s=q, n=tries + 1))
    where = _where(position[1]) if position else twiml.Where("queue")
    return twiml.requeue(links, audio(), tries, where.queue, where.returned)


# -- the end of the call, and Twilio's fallback -----------------------------------------------------


@bp.post(urls.STATUS)
@answers("quiet")
def status():
    """The number's status callback: a call that ends while the engine still waits for something hung up."""
    call_sid, call_status = form("CallSid"), form("CallStatus")
    if call_status in FINAL_STATUSES:
        calls = runner()
        state = calls.state_of(call_sid)
        if state is not None and not state.ended:
            calls.handle(call_sid, Hangup(), now())
        if call_status != "completed":
            log.info("call %s ended as %s", call_sid, call_status)
        replies.forget(db(), call_sid)
    return twiml.empty()


@bp.post(urls.FALLBACK)
@answers("call")
def fallback():
    """Twilio's fallback URL: our primary answer failed. Apologise and queue — no database needed."""
    failed = form("ErrorUrl")
    log.error("twilio fallback for call %s: error %s at %s", form("CallSid") or "-", form("ErrorCode") or "-",
              failed or "-")
    if urlparse(failed).path.endswith(tuple(urls.PREFIX + route for route in urls.WAIT_ROUTES)):
        return twiml.hold(twiml.Links(wait=failed), audio())  # it failed inside a queue: keep holding
    return rescue("call")
