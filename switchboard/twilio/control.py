"""The console's :class:`~switchboard.console.control.CallControl` on Twilio: REST updates of the caller's live call.

The caller an operator talks to sits in ``<Enqueue>``, bridged to the
operator's ``<Dial><Queue>``. Every console action replaces the caller's TwiML
with ``calls(CallSid).update(twiml=...)`` (same client construction as
:mod:`.dialer`); that pulls the caller out of the bridge, the operator's
``<Dial>`` ends, and the operator line (:mod:`.operator`) then refuses to hand
that operator a new caller while they follow the call (or are not *ready*).

*Followed transfer* (``Transfer.by``): the caller gets
``<Dial action=/twilio/console/dial?s=STEP timeout=RING answerOnBridge><Number>``.
That action feeds ``TransferEnded`` (DialCallStatus completed -> answered,
busy / no-answer / failed / canceled as they are; the caller's own hang-up ->
``Hangup``) and renders what the engine answers: back to the same free
operator -> ``<Say>`` + ``<Dial><Client>``/``<Number>``/``<Sip>`` of
``ConsoleOperator.endpoint`` (action: the same webhook; if the operator does
not pick up, ``OperatorToQueue`` puts the caller in the queue as a returned
caller); otherwise ``<Say>`` + ``<Enqueue>centre-returned`` exactly like the
normal flow. A target with only an extension (nothing Twilio can dial) fails
the transfer at once, as in :mod:`.inbound`. The answer confirmation (the
``<Number url>`` whisper, "tryck 1") runs on a followed transfer as on the
normal flow; a leg answered without the key is ``not-accepted``.

*Hold*: the caller is updated to hold audio looping through
``/twilio/console/hold`` (never steps the engine; it stays *bridged* to the
operator). *Resume* rings the operator's endpoint again, as a return does.

*Attended transfer* (``Transfer.attended``): the caller goes on hold; a REST
call rings the operator's endpoint and, when they answer, dials the target
(``<Dial action=/twilio/console/consult>``), so the operator talks to the
target first. Its SID is kept in ``twilio_responses`` (key ``consult``).
:meth:`TwilioControl.complete` reports ``TransferEnded(answered)`` and moves
the caller and the target's leg (the consult call's child) into a conference
``vaxel-<CallSid>``; the operator's leg then ends. If the target does not
answer (or hangs up before ``complete``) the consult action reports that
failure and the caller comes back like a followed transfer. Not faithful on
Twilio: the operator cannot talk to both at once (no three-way) and the
caller hears hold audio, not the consultation's ring; an operator endpoint
must be set for the operator (``ConsoleOperator.endpoint``).

*Operator state* (``set_operator``): Twilio has no queue membership; the
state lives in ``ConsoleOperator`` and :mod:`.operator` consults it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Sequence

from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from directory import numbers
from ivr.engine import CallState
from ivr.protocol import Action, Bridged, Hangup, OperatorToQueue, Say, Transfer, TransferEnded
from switchboard.calls import CallRunner, load_call, unit_of_work
from switchboard.console import control as console
from switchboard.console.models import ConsoleOperator
from switchboard.twilio import replies, rest, signature, twiml, urls

log = logging.getLogger(__name__)

OPERATOR_RING = 20  # seconds the operator's endpoint rings when a call comes back to them
ANSWERED = {"completed", "answered"}
TRANSFER_FAILURES = {"busy", "no-answer", "not-accepted", "failed", "canceled"}
FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
CONSULT_KEY = "consult"


# -- pure rendering ---------------------------------------------------------------------------------


def dial_endpoint(response: VoiceResponse, endpoint: str, action_url: str, ring: int = OPERATOR_RING,
                  caller_id: str = "") -> None:
    """Ring an operator's endpoint: ``client:anna`` -> ``<Client>``, ``sip:...`` -> ``<Sip>``, else ``<Number>``."""
    dial = response.dial(action=action_url, method="POST", timeout=ring, answer_on_bridge=True,
                         caller_id=caller_id or None)
    if endpoint.startswith("client:"):
        dial.client(endpoint[len("client:"):])
    elif endpoint.startswith("sip:"):
        dial.sip(endpoint)
    else:
        dial.number(endpoint)


def console_twiml(actions: Sequence[Action], where: twiml.Where, links: twiml.Links, audio: twiml.Audio,
                  caller_id: str = "", endpoint: str = "") -> VoiceResponse:
    """The caller's TwiML for what the engine answered to an operator's action (or the end of its transfer).

    ``links.dial`` is the console's dial action. A followed transfer and a return to the operator are
    rendered here; everything else (the centre queue, a goodbye) exactly as in the normal flow.
    """
    special = [a for a in actions if isinstance(a, Transfer) or (isinstance(a, Bridged) and a.via == "returned")]
    if not special:
        return twiml.call_twiml(actions, where, links, audio, caller_id)
    response = VoiceResponse()
    for action in actions:
        if isinstance(action, Say):
            audio.say(response, action.text, action.lang)
        elif isinstance(action, Transfer):
            dial = response.dial(action=links.dial, method="POST", timeout=action.ring_timeout,
                                 answer_on_bridge=True, caller_id=caller_id or None)
            whisper = links.whisper if action.whisper else ""
            for number in (action.number, *action.also):  # rung together: the first to answer wins
                if number == action.number or numbers.dialable(number, numbers.current(), f"{action.name}, also"):
                    dial.number(number, url=whisper or None, method="POST" if whisper else None)
            return response
        elif isinstance(action, Bridged) and action.via == "returned":
            dial_endpoint(response, endpoint, links.dial, caller_id=caller_id)
            return response
    return response


def hold_twiml(hold_url: str, audio: twiml.Audio) -> VoiceResponse:
    return twiml.hold(twiml.Links(wait=hold_url), audio)


def conference_twiml(room: str, action_url: str = "") -> VoiceResponse:
    response = VoiceResponse()
    dial = response.dial(action=action_url or None, method="POST" if action_url else None)
    dial.conference(room, end_conference_on_exit=True, start_conference_on_enter=True, beep=False)
    return response


# -- the control ------------------------------------------------------------------------------------


class TwilioControl:
    name = "twilio"

    def __init__(self, client: Client, services, base: str = "", session: Session | None = None):
        """``session``: a webhook's transaction to work in (its view commits); else each step commits its own."""
        self.client, self.services = client, services
        self._base = base
        self.session = session

    def _unit(self, write: bool = True):
        return unit_of_work(self.services.sessions, self.session, write)

    def consult_leg(self, call_id: str) -> str | None:
        """The SID of the operator's consultation leg now ringing or talking ("" or None: none)."""
        with self._unit(write=False) as (session, _):
            return replies.get(session, call_id, CONSULT_KEY)

    def set_consult_leg(self, call_id: str, sid: str) -> None:
        with self._unit() as (session, ours):
            replies.put(session, call_id, CONSULT_KEY, sid, self.services.clock.now())
            if ours:
                session.commit()

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def settings(self) -> dict:
        return self.services.settings

    def base(self) -> str:
        if self._base:
            return self._base
        configured = self.settings["public"]["url"]
        if configured:
            return configured.rstrip("/")
        try:
            from flask import request

            return signature.public_base("", request.host_url, request.script_root)
        except RuntimeError:
            raise console.ControlError("public.url (VAXEL_PUBLIC_URL) must be set for Twilio to reach us") from None

    def link(self, route: str, **params: object) -> str:
        return urls.absolute(self.base(), route, **params)

    def runner(self) -> CallRunner:
        return CallRunner(self.services.sessions, self.settings, channel="twilio", session=self.session)

    def audio(self) -> twiml.Audio:
        return twiml.Audio.from_settings(self.settings["twilio"])

    def position(self, call_id: str) -> tuple[int, CallState]:
        with self._unit(write=False) as (session, _):
            call = load_call(session, call_id)
            if call is None or not call.state:
                raise console.ControlError(f"call {call_id} is not known")
            return call.step, CallState.from_dict(call.state)

    def endpoint(self, operator: str | None) -> str:
        if not operator:
            return ""
        with self._unit(write=False) as (session, _):
            row = session.get(ConsoleOperator, operator)
            endpoint = row.endpoint if row else ""
        # the number policy again before ringing: an endpoint no longer allowed is treated as no endpoint
        return endpoint if numbers.endpoint_dialable(endpoint, self.policy(), f"operator {operator}") else ""

    def policy(self) -> numbers.Policy:
        return numbers.Policy.from_settings(self.settings)

    def links(self, call_id: str, step: int) -> twiml.Links:
        return twiml.Links(step=self.link(urls.STEP, s=step), dial=self.link(urls.CONSOLE_DIAL, s=step),
                           whisper=self.link(urls.WHISPER, c=call_id, s=step),
                           wait=self.link(urls.WAIT, s=step, q=step), offer=self.link(urls.OFFER, s=step, q=step),
                           queue_result=self.link(urls.QUEUE_RESULT, s=step))

    def caller_id(self, state: CallState) -> str:
        policy = self.settings["twilio"]["transfer_caller_id"]
        if policy == "caller":
            return state.caller or state.called or ""
        if policy == "called":
            return state.called or ""
        return policy

    def _update(self, call_sid: str, **change) -> None:
        try:
            self.client.calls(call_sid).update(**change)
        except (TwilioException, OSError) as exc:
            raise console.ControlError(f"Twilio did not update call {call_sid}: {exc}") from exc

    # -- rendering what the engine answered ---------------------------------------------------------

    def settle(self, call_id: str, actions: list[Action]) -> list[Action]:
        """Outcomes known before anything rings: a target Twilio cannot dial, an operator with no endpoint."""
        calls = self.runner()
        now = self.services.clock.now()
        for _ in range(3):
            transfer = next((a for a in actions if isinstance(a, Transfer)), None)
            back = next((a for a in actions if isinstance(a, Bridged) and a.via == "returned"), None)
            if transfer is not None and not numbers.dialable(transfer.number, self.policy(), f"call {call_id}"):
                log.warning("call %s: %s has no dialable number; the transfer fails", call_id, transfer.name)
                actions = [a for a in actions if a is not transfer] + calls.handle(call_id, TransferEnded("failed"),
                                                                                   now)
            elif back is not None and not self.endpoint(back.party):
                log.warning("call %s: operator %s has no endpoint to ring; the caller goes to the queue", call_id,
                            back.party)
                actions = [a for a in actions if a is not back] + calls.handle(call_id, OperatorToQueue(back.party, returned=True),
                                                                               now)
            else:
                break
        return actions

    def render(self, call_id: str, actions: list[Action]) -> str:
        actions = self.settle(call_id, actions)
        step, state = self.position(call_id)
        back = next((a for a in actions if isinstance(a, Bridged) and a.via == "returned"), None)
        queue = (state.queue or {}).get("name") or twiml.CENTRE
        where = twiml.Where(state.awaiting, queue, state.returned_from is not None)
        return str(console_twiml(actions, where, self.links(call_id, step), self.audio(), self.caller_id(state),
                                 self.endpoint(back.party) if back else ""))

    # -- CallControl ------------------------------------------------------------------------------

    def perform(self, call_id: str, actions: list[Action]) -> None:
        transfer = next((a for a in actions if isinstance(a, Transfer)), None)
        if transfer is not None and transfer.attended and transfer.number and numbers.dialable(
                transfer.number, self.policy(), f"call {call_id}"):
            return self._consult(call_id, actions, transfer)  # a refused number: render() fails the transfer
        self._hang_up_consult(call_id)
        self._update(call_id, twiml=self.render(call_id, actions))

    def hold(self, call_id: str, on: bool) -> None:
        step, state = self.position(call_id)
        if on:
            self._update(call_id, twiml=str(hold_twiml(self.link(urls.CONSOLE_HOLD, c=call_id), self.audio())))
            return
        endpoint = self.endpoint(state.party)
        if state.awaiting != "bridged" or not endpoint:
            raise console.ControlError(f"call {call_id} cannot be taken back: nobody to ring")
        response = VoiceResponse()
        dial_endpoint(response, endpoint, self.link(urls.CONSOLE_DIAL, s=step), caller_id=self.caller_id(state))
        self._update(call_id, twiml=str(response))

    def complete(self, call_id: str) -> None:
        consult = self.consult_leg(call_id)
        if not consult:
            raise console.ControlError(f"call {call_id} has no consultation to complete")
        try:
            legs = self.client.calls.list(parent_call_sid=consult, status="in-progress", limit=1)
        except (TwilioException, OSError) as exc:
            raise console.ControlError(f"Twilio could not find the consulted leg: {exc}") from exc
        if not legs:
            raise console.ControlError("the person consulted is no longer on the line")
        self.runner().handle(call_id, TransferEnded("answered"), self.services.clock.now())
        step, _ = self.position(call_id)
        room = f"vaxel-{call_id}"
        self._update(call_id, twiml=str(conference_twiml(room, self.link(urls.CONSOLE_DIAL, s=step))))
        self._update(legs[0].sid, twiml=str(conference_twiml(room)))
        self.set_consult_leg(call_id, "")

    def cancel(self, call_id: str) -> None:
        """End the consultation leg and bring the caller back, as when the target does not answer."""
        if not self.consult_leg(call_id):
            raise console.ControlError(f"call {call_id} has no consultation to cancel")
        self._hang_up_consult(call_id)  # clears the key first, so the leg's own webhook only hangs up
        self.perform(call_id, self.runner().handle(call_id, TransferEnded("canceled"), self.services.clock.now()))

    def set_operator(self, operator: str, endpoint: str, state: str, reason: str = "") -> None:
        """Nothing to tell Twilio: the operator line reads ``ConsoleOperator`` before it hands out a caller."""
        log.info("twilio: operator %s (%s) is now %s", operator, endpoint or "-", state)

    # -- attended ---------------------------------------------------------------------------------

    def _consult(self, call_id: str, actions: list[Action], transfer: Transfer) -> None:
        step, state = self.position(call_id)
        endpoint = self.endpoint(transfer.by)
        if not endpoint:
            raise console.ControlError(f"operator {transfer.by} has no endpoint to consult from")
        self._update(call_id, twiml=str(hold_twiml(self.link(urls.CONSOLE_HOLD, c=call_id), self.audio())))
        response = VoiceResponse()
        response.dial(action=self.link(urls.CONSOLE_CONSULT, c=call_id, s=step), method="POST",
                      timeout=transfer.ring_timeout, caller_id=state.called or None).number(transfer.number)
        try:
            created = self.client.calls.create(to=endpoint, from_=state.called or self.caller_id(state),
                                               twiml=str(response))
        except (TwilioException, OSError) as exc:
            raise console.ControlError(f"Twilio did not ring the operator for the consultation: {exc}") from exc
        self.set_consult_leg(call_id, created.sid)

    def _hang_up_consult(self, call_id: str) -> None:
        consult = self.consult_leg(call_id)
        if not consult:
            return
        self.set_consult_leg(call_id, "")
        try:
            self.client.calls(consult).update(status="completed")
        except (TwilioException, OSError):
            log.info("call %s: the consultation %s had already ended", call_id, consult)


def make_control(services, http_client: HttpClient | None = None) -> TwilioControl:
    """The factory registered for channel ``twilio``; credentials from the environment as for the dialer.

    With ``twilio.enabled`` false there are no Twilio calls to act on: the console gets the simulated control.
    """
    if not services.settings["twilio"]["enabled"]:
        return console.simulated()
    api = rest.client(services.settings, http_client)
    if api is None:
        raise console.ControlError(rest.MISSING + " to act on Twilio calls")
    return TwilioControl(api, services)


# -- the webhooks -----------------------------------------------------------------------------------

from core.services import services  # noqa: E402
from switchboard.twilio.blueprint import (  # noqa: E402
    answers, arg, arg_int, bp, db, form, form_int, now, rescue, this_url,
)


def _control() -> TwilioControl:
    return TwilioControl(None, services(), session=db())  # rendering only; no REST from a webhook answer


def _dial_outcome() -> str:
    status = form("DialCallStatus")
    return "answered" if status in ANSWERED else status if status in TRANSFER_FAILURES else "failed"


@bp.post(urls.CONSOLE_DIAL)
@answers("call")
def console_dial():
    """How an operator's followed transfer ended — or the ring back to the operator (return, end of hold)."""
    call_sid, s = form("CallSid"), arg_int("s")

    def answer() -> str:
        control = _control()
        try:
            at, state = control.position(call_sid)
        except console.ControlError:
            log.warning("call %s: unknown after a console transfer; sending the caller to the centre", call_sid)
            return rescue("call")
        if at != s or state.ended:
            return str(twiml.hangup()) if state.ended else (replies.latest(db(), call_sid) or rescue("call"))
        calls, outcome = control.runner(), _dial_outcome()
        if (outcome == "answered" and state.awaiting == "transfer" and state.whisper
                and replies.get(db(), call_sid, f"accepted:{s}") is None):
            outcome = "not-accepted"  # the target's leg answered, but nobody pressed 1 (a voicemail)
        if outcome == "answered":
            if state.awaiting == "transfer":
                calls.handle(call_sid, TransferEnded("answered"), now() - timedelta(seconds=form_int("DialCallDuration")))
            calls.handle(call_sid, Hangup(), now())
            return str(twiml.hangup())
        if form("CallStatus") in FINAL_STATUSES:  # the caller hung up while it rang
            calls.handle(call_sid, Hangup(), now())
            return str(twiml.hangup())
        if state.awaiting == "transfer":
            return control.render(call_sid, calls.handle(call_sid, TransferEnded(outcome), now()))
        if state.awaiting == "bridged" and state.party:  # the operator did not take the call back
            return control.render(call_sid, calls.handle(call_sid, OperatorToQueue(state.party, returned=True), now()))
        return replies.latest(db(), call_sid) or rescue("call")

    return replies.once(db(), call_sid, f"dial:console-{s}", now(), answer,
                        retry=lambda: str(twiml.retry_later(this_url())), rescue=lambda: rescue("call"))


@bp.post(urls.CONSOLE_HOLD)
@answers("wait")
def console_hold():
    """The caller on hold: hold audio, then here again — until the console takes them back (a REST update)."""
    return hold_twiml(this_url(), _control().audio())


@bp.post(urls.CONSOLE_CONSULT)
@answers("decline")
def console_consult():
    """The operator's consult leg: the target did not answer (or the talk ended before ``complete``)."""
    call_id, s = arg("c"), arg_int("s")
    control = _control()
    if not control.consult_leg(call_id):
        return twiml.hangup()  # completed or cancelled already: the operator's leg just ends
    at, state = control.position(call_id)
    if at != s or state.awaiting != "transfer":
        return twiml.hangup()
    outcome = _dial_outcome()
    control.set_consult_leg(call_id, "")
    actions = control.runner().handle(call_id, TransferEnded("canceled" if outcome == "answered" else outcome), now())
    db().commit()  # the REST side below reads the call in its own transactions
    console.control_for("twilio", services()).perform(call_id, actions)  # the caller's leg, over REST
    return twiml.hangup()
