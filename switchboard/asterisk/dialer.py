"""Callbacks on Asterisk: ``callback.dialer.Dialer`` implemented with AMI ``Originate``.

Citizen first (``operator`` is None): the citizen's phone rings through
``asterisk.outbound_template`` showing the municipality's main number; when they
answer, ``[vaxel-callback]`` puts them in the centre queue ahead of new callers.
The outcome is the ``OriginateResponse``: Reason 4 answered, 5 busy, 3 (rang
out) or 1 (declined) no-answer, anything else failed.

Operator first: an operator is rung — an extension through
``asterisk.dial_template``, or a queue name (``callback.operator_endpoint``,
default ``centre``) through ``[vaxel-callback-queue]``, where the first free
operator of that app_queue takes it — hears the brief, and ``[vaxel-callback]``
then dials the citizen showing the main number. The outcome is that second ``Dial``'s ``DialEnd`` on the originated
channel (ANSWER, NOANSWER, BUSY, else failed); an operator who does not answer
makes the attempt ``failed`` — the citizen was never rung.

Each attempt is reported exactly once through the ``OutcomeHandler`` given at
construction; an attempt whose AMI connection drops before its outcome is
known is reported ``failed`` (the dispatcher's retry policy decides).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass

from callback.dialer import CallbackCall, DialError, OutcomeHandler
from directory import numbers
from switchboard.asterisk.ami import AmiClient, AmiError, AmiUnavailable
from switchboard.asterisk.mapping import NOT_NUMBER, SAFE_DIAL, app_queue_name

log = logging.getLogger(__name__)

ORIGINATE_OUTCOMES = {"4": "answered", "5": "busy", "3": "no-answer", "1": "no-answer"}
DIAL_END_OUTCOMES = {"ANSWER": "answered", "NOANSWER": "no-answer", "BUSY": "busy"}
CONTEXT = "vaxel-callback"


def originate_outcome(response: str | None, reason: str | None) -> str:
    """``OriginateResponse`` (Response, Reason) -> answered | no-answer | busy | failed."""
    if (response or "").lower() == "success":
        return "answered"
    return ORIGINATE_OUTCOMES.get((reason or "").strip(), "failed")


def dial_end_outcome(status: str | None) -> str:
    return DIAL_END_OUTCOMES.get((status or "").strip().upper(), "failed")


@dataclass
class _Attempt:
    call: CallbackCall
    operator_first: bool
    uniqueid: str | None = None


class AmiDialer:
    name = "asterisk"

    def __init__(self, client: AmiClient, on_outcome: OutcomeHandler, dial_template: str, outbound_template: str,
                 ring_timeout: int = 30, brief_audio=None, policy: numbers.Policy | None = None):
        self.client, self.on_outcome = client, on_outcome
        self.policy = policy or numbers.DEFAULT  # the callback number policy, checked again before dialling
        self.dial_template, self.outbound_template = dial_template, outbound_template
        self.ring_timeout = ring_timeout
        self.brief_audio = brief_audio  # an AudioLibrary, to play the brief to the operator
        self._by_action: dict[str, _Attempt] = {}
        self._by_channel: dict[str, str] = {}  # originated channel uniqueid -> action id
        self._lock = threading.Lock()
        client.subscribe(self._event)
        client.on_connect(lambda _client: self._forget_lost())

    def place(self, call: CallbackCall) -> str:
        if not numbers.dialable(call.number, self.policy, f"callback {call.request_id}"):
            raise DialError(f"callback {call.request_id}: the number policy refuses {call.number}")
        number = NOT_NUMBER.sub("", call.number)
        present = NOT_NUMBER.sub("", call.present_as)
        if not number:
            raise DialError(f"callback {call.request_id}: no number to call")
        action_id = f"vaxel-cb-{call.request_id}-{call.attempt}-{uuid.uuid4().hex[:6]}"
        variables = [f"VAXEL_CALLBACK={call.request_id}/{call.attempt}", f"VAXEL_NUMBER={number}",
                     f"VAXEL_PRESENT_AS={present}", f"VAXEL_RING={self.ring_timeout}",
                     f"VAXEL_DIAL={self.outbound_template.format(number=number)}"]
        if call.operator:
            channel = self.operator_channel(call.operator)
            headers = {"Channel": channel, "Context": CONTEXT, "Exten": "operator", "Priority": "1",
                       "CallerID": f'"Återuppringning" <{number}>'}
            brief = self._brief_file(call.brief)
            if brief:
                variables.append(f"VAXEL_BRIEF={brief}")
        else:
            channel = self.outbound_template.format(number=number)
            headers = {"Channel": channel, "Context": CONTEXT, "Exten": "citizen", "Priority": "1",
                       "CallerID": f"<{present}>"}
        attempt = _Attempt(call, operator_first=bool(call.operator))
        with self._lock:
            self._by_action[action_id] = attempt
        try:
            self.client.action("Originate", ActionID=action_id, Async="true", Timeout=str(self.ring_timeout * 1000),
                               Variable=variables, **headers)
        except (AmiError, AmiUnavailable) as exc:
            with self._lock:
                self._by_action.pop(action_id, None)
            raise DialError(f"callback {call.request_id}: {exc}") from None
        log.info("callback %s attempt %s: ringing %s", call.request_id, call.attempt, channel)
        return action_id

    def operator_channel(self, operator: str) -> str:
        """An extension rings that phone; a queue name rings the first free operator of that queue."""
        if operator.isdigit():
            return self.dial_template.format(extension=operator, number="")
        return f"Local/{app_queue_name(SAFE_DIAL.sub('', operator))}@vaxel-callback-queue"

    def _brief_file(self, brief: str) -> str | None:
        if not brief or self.brief_audio is None:
            return None
        return self.brief_audio.file_for(brief, "sv")

    def _report(self, action_id: str, outcome: str) -> None:
        with self._lock:
            attempt = self._by_action.pop(action_id, None)
            if attempt and attempt.uniqueid:
                self._by_channel.pop(attempt.uniqueid, None)
        if attempt is None:
            return  # already reported: exactly once
        try:
            self.on_outcome(attempt.call.request_id, attempt.call.attempt, outcome)
        except Exception:
            log.exception("callback %s: the outcome handler failed", attempt.call.request_id)

    def _event(self, e: dict[str, str]) -> None:
        name = e.get("Event")
        if name == "OriginateResponse":
            action_id = e.get("ActionID", "")
            with self._lock:
                attempt = self._by_action.get(action_id)
            if attempt is None:
                return
            outcome = originate_outcome(e.get("Response"), e.get("Reason"))
            if attempt.operator_first and outcome == "answered":
                with self._lock:  # the operator took it; the citizen's Dial decides the outcome
                    attempt.uniqueid = e.get("Uniqueid")
                    self._by_channel[attempt.uniqueid or ""] = action_id
                return
            self._report(action_id, "failed" if attempt.operator_first else outcome)
        elif name in {"DialEnd", "Hangup"}:
            with self._lock:
                action_id = self._by_channel.get(e.get("Uniqueid", ""))
            if action_id:
                self._report(action_id, dial_end_outcome(e.get("DialStatus")) if name == "DialEnd" else "failed")

    def _forget_lost(self) -> None:
        """After a reconnect, outcomes of attempts placed before it can no longer arrive."""
        with self._lock:
            lost = list(self._by_action)
        for action_id in lost:
            self._report(action_id, "failed")


def make_dialer(settings: dict, on_outcome: OutcomeHandler) -> AmiDialer:
    """``callback.dialer = "switchboard.asterisk.dialer:make_dialer"``: its own AMI connection from settings."""
    from switchboard.asterisk.prompts import library_from_settings
    from switchboard.asterisk.service import ami_client

    client = ami_client(settings)
    if client is None:
        raise ValueError("the Asterisk dialer needs AMI: set VAXEL_AMI_HOST, VAXEL_AMI_USER and VAXEL_AMI_SECRET")
    ast = settings["asterisk"]
    dialer = AmiDialer(client, on_outcome, ast["dial_template"], ast["outbound_template"],
                       brief_audio=library_from_settings(settings), policy=numbers.Policy.for_callbacks(settings))
    client.start()
    if not client.connected.wait(10):
        log.warning("AMI not connected yet; callbacks fail (and are retried) until it is")
    return dialer
