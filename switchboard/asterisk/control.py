"""The console's :class:`~switchboard.console.control.CallControl` on Asterisk: AMI ``Redirect`` into our FastAGI.

No table, no migration: Asterisk itself holds what is needed.

* *Which channel*: a call's id is ``ast-<agi_uniqueid>`` (:mod:`.call`); the
  control finds the channel with that ``Uniqueid`` in AMI ``Status``.
* *What to do*: ``Setvar VAXEL_CONSOLE=<base64 JSON>`` on the caller's channel
  (the engine's actions, or ``hold``), then ``Redirect`` to
  ``vaxel-console,resume,1`` (``config/asterisk/extensions_vaxel.conf``), which
  runs ``AGI(agi://HOST:4573/resume)``. The resume script (:class:`ResumeCall`)
  reads and clears the variable and performs the actions with the same code as a
  normal call: a followed ``Transfer`` is ``EXEC Dial <dial template>,<ring>``,
  ``DIALSTATUS`` goes to the runner as ``TransferEnded`` (CANCEL = the caller hung
  up), and what the runner answers is performed too — back to the same operator
  (``Bridged(via=returned)``) is ``Dial`` of the operator's interface
  (``ConsoleOperator.endpoint`` through the dial template; if they do not answer,
  ``OperatorToQueue``), or the centre queue loop of :mod:`.queueing` as a
  returned caller.
* The script the caller was in before (``incoming`` or an earlier ``resume``) sees
  its channel leave (HANGUP); it checks ``VAXEL_CONSOLE`` (GET VARIABLE works on
  a dead channel) and, if set, leaves quietly instead of telling the engine the
  caller hung up.
* *Hold*: ``hold`` in the variable — the resume script plays ``MusicOnHold`` until
  the next redirect; taking the caller back is a redirect whose action is
  ``Bridged(operator, via="hold")``: the operator's phone rings again.
* *Attended transfer*: AMI ``Atxfer`` on the operator's channel (the other channel
  in the caller's bridge, from ``Status``'s ``BridgeID``) to the target in
  ``vaxel-transfer`` (an extension) or ``vaxel-outbound`` (a number): Asterisk
  holds the caller while the operator consults. :meth:`AsteriskControl.complete`
  hangs the operator's channel up — Asterisk then bridges caller and target — and
  reports ``TransferEnded(answered)``. Not followed: if the target does not answer,
  Asterisk's own atxfer brings the caller back to the operator, and vaxel does not
  see it (the console must report ``TransferEnded("canceled")``, and must then not
  hand the resulting ``Bridged(returned)`` to :meth:`perform`, which would redirect
  the caller away from the operator they are already with).
* *Operator state*: ``QueueAdd``/``QueuePause``/``QueueRemove`` via :mod:`.operators`.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime

from directory import numbers
from ivr import queues as flow_queues
from ivr.protocol import (
    Action, Bridged, Enqueue, Gather, HangUp, OperatorToQueue, Say, Transfer, TransferEnded,
)
from switchboard.asterisk import operators
from switchboard.asterisk.agi import AgiChannel
from switchboard.asterisk.ami import AmiClient, AmiError, AmiUnavailable
from switchboard.asterisk.call import AsteriskCall, Step, flow_queue_of
from switchboard.asterisk.mapping import SAFE_DIAL, NOT_NUMBER, transfer_input
from switchboard.calls import CallRunner
from switchboard.console import control as console
from switchboard.console import operators as console_operators
from switchboard.console.models import ConsoleOperator

log = logging.getLogger(__name__)

VARIABLE = "VAXEL_CONSOLE"
CONTEXT, EXTEN = "vaxel-console", "resume"
OPERATOR_RING = 20
HOLD_SLICE = 60
ACTIONS = {cls.kind: cls for cls in (Say, Gather, Transfer, Enqueue, Bridged, HangUp)}


def encode(payload: dict) -> str:
    """A channel variable value with nothing Asterisk or AGI would parse: base64 of compact JSON."""
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode(value: str) -> dict:
    return json.loads(base64.b64decode(value))


def actions_of(payload: dict) -> list[Action]:
    out = []
    for data in payload.get("actions", []):
        data = dict(data)
        cls = ACTIONS.get(data.pop("action"))
        if cls is not None:
            out.append(cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}))
    return out


class AsteriskControl:
    name = "asterisk"

    def __init__(self, client: AmiClient, services):
        self.client, self.services = client, services

    def _ami(self, action: str, **headers) -> dict[str, str]:
        try:
            return self.client.action(action, **headers)
        except (AmiError, AmiUnavailable) as exc:
            raise console.ControlError(f"Asterisk refused {action}: {exc}") from exc

    def _channels(self) -> list[dict[str, str]]:
        try:
            return self.client.listing("Status")
        except (AmiError, AmiUnavailable) as exc:
            raise console.ControlError(f"Asterisk did not list its channels: {exc}") from exc

    def channel_of(self, call_id: str) -> dict[str, str]:
        if not call_id.startswith("ast-"):
            raise console.ControlError(f"call {call_id} is not an Asterisk call vaxel can find")
        uniqueid = call_id[len("ast-"):]
        for status in self._channels():
            if status.get("Uniqueid") == uniqueid:
                return status
        raise console.ControlError(f"call {call_id}: no such channel on Asterisk (the caller may have hung up)")

    def _redirect(self, call_id: str, payload: dict) -> None:
        channel = self.channel_of(call_id)["Channel"]
        self._ami("Setvar", Channel=channel, Variable=VARIABLE, Value=encode(payload))
        self._ami("Redirect", Channel=channel, Context=CONTEXT, Exten=EXTEN, Priority="1")

    # -- CallControl ------------------------------------------------------------------------------

    def perform(self, call_id: str, actions: list[Action]) -> None:
        transfer = next((a for a in actions if isinstance(a, Transfer)), None)
        if transfer is not None and transfer.attended:
            return self._atxfer(call_id, transfer)
        self._redirect(call_id, {"actions": [a.to_dict() for a in actions]})

    def hold(self, call_id: str, on: bool) -> None:
        if on:
            return self._redirect(call_id, {"hold": True})
        with self.services.sessions() as session:
            from ivr.models import CallSession
            from ivr.engine import CallState

            call = session.get(CallSession, call_id)
            state = CallState.from_dict(call.state) if call and call.state else None
        if state is None or state.awaiting != "bridged" or not state.party:
            raise console.ControlError(f"call {call_id} cannot be taken back: nobody to ring")
        self._redirect(call_id, {"actions": [Bridged(state.party, "hold").to_dict()]})

    def complete(self, call_id: str) -> None:
        operator = self._operator_channel(call_id)
        self._ami("Hangup", Channel=operator)
        CallRunner(self.services.sessions, self.services.settings, channel="asterisk").handle(
            call_id, TransferEnded("answered"), self.services.clock.now())

    def cancel(self, call_id: str) -> None:
        """AMI ``CancelAtxfer``: Asterisk drops the consulted leg and gives the caller back to the operator itself,
        so only our books follow (the engine's "back to the operator" actions are not performed again)."""
        operator = self._operator_channel(call_id)
        self._ami("CancelAtxfer", Channel=operator)
        CallRunner(self.services.sessions, self.services.settings, channel="asterisk").handle(
            call_id, TransferEnded("canceled"), self.services.clock.now())

    def set_operator(self, operator: str, endpoint: str, state: str, reason: str = "") -> None:
        if not endpoint:
            raise console.ControlError(f"operator {operator} has no phone (endpoint) to put in the queue")
        decision = numbers.check_endpoint(endpoint, numbers.Policy.from_settings(self.services.settings))
        if not decision.ok:
            raise console.ControlError(decision.message)
        interface = operators.interface_of(endpoint, self.services.settings["asterisk"]["dial_template"])
        with self.services.sessions() as session:  # a member of the app_queue of each queue they serve, no other
            served = console_operators.queues_of(session, operator)
            every = list(dict.fromkeys([*flow_queues.names(session), *served]))
        try:
            for queue in every:
                if state == "offline" or queue not in served:
                    try:
                        operators.log_out(self.client, interface, queue=queue)
                    except AmiError as exc:
                        if "not there" not in str(exc).lower():
                            raise
                    continue
                try:
                    operators.log_in(self.client, interface, name=operator, queue=queue, paused=state == "paused")
                except AmiError as exc:
                    if "already there" not in str(exc).lower():
                        raise
                    operators.pause(self.client, interface, paused=state == "paused",
                                    reason=reason if state == "paused" else "", queue=queue)
        except (AmiError, AmiUnavailable) as exc:
            raise console.ControlError(f"Asterisk refused the queue change for {operator}: {exc}") from exc

    # -- attended ---------------------------------------------------------------------------------

    def _operator_channel(self, call_id: str) -> str:
        caller = self.channel_of(call_id)
        bridge = caller.get("BridgeID") or caller.get("BridgeId")
        for status in self._channels():
            if bridge and status.get("Channel") != caller["Channel"] and (
                    status.get("BridgeID") or status.get("BridgeId")) == bridge:
                return status["Channel"]
        raise console.ControlError(f"call {call_id}: the operator's channel is not in a bridge with the caller")

    def _atxfer(self, call_id: str, transfer: Transfer) -> None:
        if transfer.extension and SAFE_DIAL.sub("", transfer.extension):
            exten, context = SAFE_DIAL.sub("", transfer.extension), "vaxel-transfer"
        elif transfer.number and NOT_NUMBER.sub("", transfer.number):
            exten, context = NOT_NUMBER.sub("", transfer.number), "vaxel-outbound"
        else:
            raise console.ControlError(f"{transfer.name} has no extension or number to consult")
        self._ami("Atxfer", Channel=self._operator_channel(call_id), Exten=exten, Context=context)


def make_factory(client: AmiClient | None):
    def factory(services) -> AsteriskControl:
        if client is None:
            raise console.ControlError("AMI is not configured (VAXEL_AMI_HOST): vaxel cannot act on Asterisk calls")
        return AsteriskControl(client, services)

    return factory


# -- the resume script: agi://HOST:4573/resume ------------------------------------------------------


class ResumeCall(AsteriskCall):
    """The caller after a console redirect: perform what the console asked, then go on like any call."""

    def operator_interface(self, operator: str) -> str | None:
        with self.runner.sessions() as session:
            row = session.get(ConsoleOperator, operator)
            endpoint = row.endpoint if row else ""
        if not numbers.endpoint_dialable(endpoint, numbers.Policy.from_settings(self.runner.settings),
                                         f"operator {operator}"):
            return None  # the number policy, again where it is dialled
        return operators.interface_of(endpoint, self.dial_template)

    def run(self) -> str:
        result = "fallback"
        try:
            raw = self.channel.var(VARIABLE)
            self.channel.set_var(VARIABLE, "")
            if not raw:
                raise RuntimeError("resumed without VAXEL_CONSOLE")
            payload = decode(raw)
            if payload.get("hold"):
                return self._hold()
            step = self.perform(actions_of(payload))
            while step is not None:
                if self.channel.hung_up and self.console_took_over():
                    return "console"
                inp, at = step
                step = self.perform(self.runner.handle(self.call_id, inp, at))
            result = "hangup" if self.channel.hung_up else "done"
        except Exception as exc:
            from switchboard.asterisk.agi import ChannelHungUp

            if isinstance(exc, ChannelHungUp):
                if self.console_took_over():
                    return "console"
                result = "hangup"
                self._tell_hangup()
            else:
                log.exception("call %s: the console's resume failed; the dialplan sends the caller to the operators",
                              self.call_id)
                try:
                    self.runner.handed_off(self.call_id, self.clock.now(), "asterisk resume error")
                except Exception:
                    log.exception("call %s: could not record the hand-off", self.call_id)
        finally:
            try:
                self.channel.set_var("VAXEL_RESULT", result)
            except Exception:
                pass
        return result

    def _hold(self) -> str:
        while self.channel.run_app("MusicOnHold", f",{HOLD_SLICE}") >= 0 and not self.channel.hung_up:
            pass
        if self.console_took_over():
            return "console"
        self._tell_hangup()
        return "hangup"

    def perform(self, actions: list[Action]) -> Step | None:
        back = next((a for a in actions if isinstance(a, Bridged) and a.via in ("returned", "hold")), None)
        if back is None:
            return super().perform(actions)
        for action in actions:
            if isinstance(action, Say):
                self.say(action, "")
        return self.ring_operator(back.party)

    def ring_operator(self, operator: str) -> Step:
        """The call comes back to the operator: ring their phone; nobody there -> the centre queue."""
        interface = self.operator_interface(operator)
        now: datetime
        if interface is None:
            log.warning("call %s: operator %s has no phone to ring; to the queue", self.call_id, operator)
            return OperatorToQueue(operator, returned=True), self.clock.now()
        self.channel.run_app("Dial", f"{interface},{OPERATOR_RING}")
        inp = transfer_input(self.channel.var("DIALSTATUS"))
        now = self.clock.now()
        if isinstance(inp, TransferEnded) and inp.status == "answered":
            from ivr.protocol import Hangup

            return Hangup(), now  # the talk with the operator is over
        if not isinstance(inp, TransferEnded):
            return inp, now  # the caller hung up
        return OperatorToQueue(operator, returned=True), now


def resume(services, audio=None):
    """The ``agi://HOST:4573/resume`` script."""
    from switchboard.asterisk.prompts import library_from_settings

    audio = audio or library_from_settings(services.settings)

    def run(channel: AgiChannel) -> str:
        runner = CallRunner(services.sessions, services.settings, channel="asterisk")
        call = ResumeCall(channel, runner, services.clock, audio, services.settings["asterisk"],
                          lambda call_id: flow_queue_of(services.sessions, call_id))
        return call.run()

    return run
