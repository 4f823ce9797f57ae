"""The console's CallControl on Asterisk: the exact AMI actions, then the resume FastAGI script over real TCP.

A call an operator holds is set up by driving :class:`CallRunner` directly. The
console's step goes through the runner; :class:`AsteriskControl` finds the
caller's channel (``Status``), sets ``VAXEL_CONSOLE`` and redirects it — checked
on a fake AMI server over TCP. Then the fake Asterisk connects to the real
FastAGI server's ``resume`` script with that variable, as the dialplan would.
"""

from __future__ import annotations

import time

import pytest

from ivr.protocol import Digits, Match, OperatorAnswered, OperatorTransfer
from stats.events import events_of
from callback import queue as centre
from switchboard.asterisk.ami import AmiClient
from switchboard.asterisk.control import AsteriskControl, decode, make_factory
from switchboard.asterisk.mapping import PRIO_CLASS
from switchboard.calls import CallRunner
from switchboard.console import control as console
from switchboard.console import operators
from tests.conftest import TZ, at
from tests.fakes.clock import SteppingClock
from tests.fakes.fake_ami import FakeAmi
from tests.fakes.fake_asterisk import FakeAsterisk
from tests.test_asterisk_calls import OPEN, start_phone

UID = "1795469729.4711"
CALL = f"ast-{UID}"
CALLER_CHANNEL = "PJSIP/trunk-0000002a"
OPERATOR_CHANNEL = "PJSIP/4400-0000002b"
TARGET = Match(id="s1", name="Karin Berg", unit="Miljöförvaltningen", number="+46406280439", extension="4439")


class ConsoleAmi(FakeAmi):
    """The fake AMI, also answering what the console control sends."""

    def answer(self, a):
        action, aid = a.get("Action", ""), a.get("ActionID", "")
        ok = {"Response": "Success", "ActionID": aid}
        if action == "Status":
            chans = [{"Event": "Status", "Channel": CALLER_CHANNEL, "Uniqueid": UID, "BridgeID": "b-1",
                      "ActionID": aid},
                     {"Event": "Status", "Channel": OPERATOR_CHANNEL, "Uniqueid": "1795469729.4712",
                      "BridgeID": "b-1", "ActionID": aid}]
            return [{**ok, "EventList": "start", "Message": "Channel status will follow"}, *chans,
                    {"Event": "StatusComplete", "ActionID": aid, "EventList": "Complete", "ListItems": "2"}]
        if action in ("Setvar", "Redirect", "Atxfer", "CancelAtxfer", "Hangup"):
            return [{**ok, "Message": f"{action} done"}]
        return super().answer(a)


@pytest.fixture
def ami():
    fake = ConsoleAmi()
    yield fake
    fake.close()


@pytest.fixture
def desk(app, tmp_path, ami):
    phone, server = start_phone(app, tmp_path, SteppingClock(TZ, at(OPEN)))
    client = AmiClient("127.0.0.1", ami.port, "vaxel", "test", timeout=3, backoff=(0.05, 0.2))
    client.start()
    assert client.connected.wait(5)
    services = app.extensions["vaxel"]
    with services.sessions() as session:
        operators.set_state(session, "operator", "ready", services.clock.now()).endpoint = "4400"
        session.commit()
    yield Desk(services, phone, ami, client)
    client.stop()
    server.stop()


class Desk:
    def __init__(self, services, phone, ami, client):
        self.services, self.phone, self.ami, self.client = services, phone, ami, client
        self.runner = CallRunner(services.sessions, services.settings, channel="asterisk")
        self.control = AsteriskControl(client, services)

    def held_call(self, call_id: str = CALL, operator: str = "operator") -> str:
        now = self.services.clock.now()
        self.runner.start(call_id, now, caller="+46701234567", called="+46406280400")
        self.runner.handle(call_id, Digits("2"), now)
        self.runner.handle(call_id, OperatorAnswered(operator), now)
        assert self.runner.state_of(call_id).awaiting == "bridged"
        return call_id

    def transfer(self, target: Match = TARGET, **options) -> dict:
        actions = self.runner.handle(CALL, OperatorTransfer(target, "operator", **options), self.services.clock.now())
        self.control.perform(CALL, actions)
        setvar, = self.ami.actions("Setvar")
        redirect, = self.ami.actions("Redirect")
        assert {k: setvar[k] for k in ("Channel", "Variable")} == {"Channel": CALLER_CHANNEL,
                                                                   "Variable": "VAXEL_CONSOLE"}
        assert {k: redirect[k] for k in ("Channel", "Context", "Exten", "Priority")} == {
            "Channel": CALLER_CHANNEL, "Context": "vaxel-console", "Exten": "resume", "Priority": "1"}
        assert "ExtraChannel" not in redirect
        return setvar

    def resume(self, setvar: dict, *script: str) -> FakeAsterisk:
        """The dialplan's AGI(agi://.../resume) on the redirected channel, with the variable the control set."""
        fake = FakeAsterisk(self.phone.port, list(script), clock=self.phone.clock,
                            env={"agi_uniqueid": UID, "agi_channel": CALLER_CHANNEL, "agi_network_script": "resume",
                                 "agi_request": f"agi://127.0.0.1:{self.phone.port}/resume"})
        fake.vars["VAXEL_CONSOLE"] = setvar["Value"]
        fake.run()
        assert not fake.errors
        return fake

    def events(self, call_id: str = CALL) -> list[tuple[str, dict]]:
        with self.services.sessions() as session:
            return [(e.type, e.data) for e in events_of(session, call_id)]


def test_the_redirect_carries_the_engine_actions(desk):
    desk.held_call()
    setvar = desk.transfer(ring_timeout=25)
    payload = decode(setvar["Value"])
    transfer = [a for a in payload["actions"] if a["action"] == "transfer"]
    assert transfer == [{"action": "transfer", "target_id": "s1", "name": "Karin Berg", "number": "+46406280439",
                         "extension": "4439", "ring_timeout": 25, "by": "operator", "attended": False,
                         "whisper": "Samtal från växeln till Karin Berg. Tryck 1 för att ta samtalet.", "also": []}]


def test_answered(desk):
    desk.held_call()
    fake = desk.resume(desk.transfer(ring_timeout=25), "ring:answered:40")
    assert [(d.target, d.ring_timeout, d.outcome) for d in fake.dialled] == [("PJSIP/4439", 25, "answered")]
    assert fake.vars["VAXEL_RESULT"] == "done" and fake.vars["VAXEL_CONSOLE"] == ""
    found = [t for t, _ in desk.events()]
    assert found[-3:] == ["transfer_started", "transfer_answered", "call_ended"]


def test_no_answer_comes_back_to_the_same_free_operator(desk):
    desk.held_call()
    fake = desk.resume(desk.transfer(), "ring:no-answer", "ring:answered:30")
    assert [(d.target, d.outcome) for d in fake.dialled] == [("PJSIP/4439", "no-answer"), ("PJSIP/4400", "answered")]
    assert fake.dialled[1].ring_timeout == 20
    returned = [d for t, d in desk.events() if t == "returned_to_queue"]
    assert returned[-1]["to"] == "operator" and returned[-1]["reason"] == "no-answer"
    assert desk.runner.state_of(CALL).ended


def test_busy_while_the_operator_is_busy_goes_first_in_the_queue(desk):
    desk.held_call()
    setvar = desk.transfer()
    desk.held_call("ast-other")  # meanwhile the operator took another caller
    fake = desk.resume(setvar, "ring:busy", "queue:operator:Anna:5")
    assert [d.outcome for d in fake.dialled] == ["busy"]
    assert int(fake.queued[0]["prio"]) >= PRIO_CLASS  # the returned class: ahead of everyone who just called
    returned = [d for t, d in desk.events() if t == "returned_to_queue"]
    assert returned[-1]["to"] == "queue" and returned[-1]["reason"] == "busy"
    joined = [d for t, d in desk.events() if t == "queue_joined"]
    assert joined[-1]["returned"] is True


def test_returned_caller_is_first_in_our_queue(desk):
    now = desk.services.clock.now()
    desk.runner.start("ast-waiting", now, caller="+46701111111", called="+46406280400")
    desk.runner.handle("ast-waiting", Digits("2"), now)
    desk.held_call()
    desk.held_call("ast-other")
    actions = desk.runner.handle(CALL, OperatorTransfer(TARGET, "operator"), now)
    assert any(a.kind == "transfer" for a in actions)
    from ivr.protocol import TransferEnded

    desk.runner.handle(CALL, TransferEnded("busy"), now)
    with desk.services.sessions() as session:
        assert centre.waiting(session, "centre")[0].call_id == CALL


def test_closed_extension_with_break_through_still_rings(desk):
    desk.held_call()
    closed = Match(id="s2", name="Per Ek", unit="Bygglov", extension="4450", status="closed", open_now=False)
    fake = desk.resume(desk.transfer(target=closed, break_through=True), "ring:answered:10")
    assert [d.target for d in fake.dialled] == ["PJSIP/4450"]
    assert [d for t, d in desk.events() if t == "transfer_started"][-1]["break_through"] is True


def test_caller_hangs_up_while_it_rings(desk):
    desk.held_call()
    fake = desk.resume(desk.transfer(), "hangup@dial")
    assert [d.outcome for d in fake.dialled] == ["cancel"]
    found = desk.events()
    assert ("transfer_failed", "caller_hangup") in [(t, d.get("reason")) for t, d in found]
    assert desk.runner.state_of(CALL).ended


def test_hold_and_take_back(desk):
    desk.held_call()
    desk.control.hold(CALL, True)
    assert decode(desk.ami.actions("Setvar")[-1]["Value"]) == {"hold": True}
    assert desk.ami.actions("Redirect")[-1]["Context"] == "vaxel-console"
    desk.control.hold(CALL, False)
    payload = decode(desk.ami.actions("Setvar")[-1]["Value"])
    assert payload["actions"] == [{"action": "bridged", "party": "operator", "via": "hold"}]
    fake = desk.resume(desk.ami.actions("Setvar")[-1], "ring:answered:20")
    assert [d.target for d in fake.dialled] == ["PJSIP/4400"]


def test_attended_transfer_is_atxfer_on_the_operator_channel(desk):
    desk.held_call()
    actions = desk.runner.handle(CALL, OperatorTransfer(TARGET, "operator", attended=True), desk.services.clock.now())
    desk.control.perform(CALL, actions)
    atxfer, = desk.ami.actions("Atxfer")
    assert {k: atxfer[k] for k in ("Channel", "Exten", "Context")} == {
        "Channel": OPERATOR_CHANNEL, "Exten": "4439", "Context": "vaxel-transfer"}
    assert desk.ami.actions("Redirect") == []
    desk.control.complete(CALL)
    assert desk.ami.actions("Hangup")[-1]["Channel"] == OPERATOR_CHANNEL
    state = desk.runner.state_of(CALL)
    assert state.awaiting == "bridged" and state.party == "Karin Berg"


def test_set_operator_drives_queue_membership(desk):
    desk.control.set_operator("operator", "4400", "ready")
    desk.control.set_operator("operator", "4400", "paused", "lunch")
    desk.control.set_operator("operator", "4400", "offline")
    add = desk.ami.actions("QueueAdd")[0]  # the second (paused) finds them there and becomes a QueuePause
    assert add["Interface"] == "PJSIP/4400" and add["Queue"] == "vaxel-centre" and add["Paused"] == "false"
    pause, = desk.ami.actions("QueuePause")
    assert pause["Paused"] == "true" and pause["Reason"] == "lunch"
    assert desk.ami.actions("QueueRemove")[-1]["Interface"] == "PJSIP/4400"


def test_an_operator_endpoint_outside_the_number_policy_is_never_put_in_the_queue(desk):
    for endpoint in ("+46900123456", "+447700900123"):  # premium rate; a number nobody listed
        with pytest.raises(console.ControlError, match="varken en anknytning"):
            desk.control.set_operator("operator", endpoint, "ready")
    assert desk.ami.actions("QueueAdd") == []


def test_unknown_channel_is_a_control_error(desk):
    with pytest.raises(console.ControlError):
        desk.control.perform("ast-nobody", [])


def test_the_incoming_script_leaves_quietly_when_the_console_redirected(desk):
    """The original AGI sees its channel go (HANGUP) after a redirect: it must not end the call in our books."""
    fake = FakeAsterisk(desk.phone.port, ["2", "hangup@queue"], clock=desk.phone.clock,
                        env={"agi_uniqueid": "1795469729.9999", "agi_callerid": "+46701234567"})
    fake.vars["VAXEL_CONSOLE"] = "eyJob2xkIjp0cnVlfQ=="
    fake.run()
    state = desk.runner.state_of("ast-1795469729.9999")
    assert state is not None and not state.ended


def test_factory_without_ami_refuses():
    with pytest.raises(console.ControlError):
        make_factory(None)(object())


def test_attended_cancel_is_cancelatxfer_and_the_caller_is_the_operators_again(desk):
    desk.held_call()
    actions = desk.runner.handle(CALL, OperatorTransfer(TARGET, "operator", attended=True), desk.services.clock.now())
    desk.control.perform(CALL, actions)
    desk.control.cancel(CALL)
    cancel, = desk.ami.actions("CancelAtxfer")
    assert cancel["Channel"] == OPERATOR_CHANNEL
    assert desk.ami.actions("Redirect") == []  # Asterisk gives the caller back itself
    state = desk.runner.state_of(CALL)
    assert state.awaiting == "bridged" and state.party == "operator"
