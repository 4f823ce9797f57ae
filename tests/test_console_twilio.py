"""The console's CallControl on Twilio: followed transfers and returns as a state machine.

A call an operator holds is set up by driving :class:`CallRunner` directly; the
console's step (``OperatorTransfer``) goes through the runner, its actions to
:class:`TwilioControl`, whose REST request is recorded by a fake ``HttpClient``.
Twilio's part after that — the ``<Dial action>`` — is signed and posted like the
other Twilio tests, and the TwiML it answers is checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.rest import Client

from ivr.protocol import (  # noqa: F401
    Digits, Match, OperatorAnswered, OperatorToQueue, OperatorTransfer, Start, Transfer,
)
from stats.events import events_of
from callback import queue as centre
from switchboard.calls import CallRunner
from switchboard.console import control as console
from switchboard.console import operators
from switchboard.twilio import replies
from switchboard.twilio.control import TwilioControl, console_twiml
from tests.test_twilio_calls import (
    ACCOUNT, HOST, MAIN_NUMBER, T0, TOKEN, Operator, Twilio, accept, said, tags, verb,
)
from tests.test_twilio_calls import phone  # noqa: F401  (the fixture)
from tests.test_twilio_dialer import RecordingHttpClient

CALLER = "+46701740601"
ENDPOINT = "client:operator"
TARGET = Match(id="s1", name="Karin Berg", unit="Miljöförvaltningen", number="+46406280439", extension="4439")


@pytest.fixture
def desk(app, phone, monkeypatch):  # noqa: F811
    """Twilio on, public URL = the test host, the REST client recording; the demo operator ready on a client."""
    services = app.extensions["vaxel"]
    services.settings["public"]["url"] = HOST
    services.settings["twilio"]["operators"].append(ENDPOINT)  # the console operator's client may take callers
    http = RecordingHttpClient(body={"sid": "CA" + "e" * 32, "status": "queued"})
    monkeypatch.setitem(services.controls, "twilio",
                        lambda svc: TwilioControl(Client(ACCOUNT, TOKEN, http_client=http), svc))
    with services.sessions() as session:
        operators.set_state(session, "operator", "ready", T0).endpoint = ENDPOINT
        session.commit()
    return Desk(app, phone, http)


class Desk:
    def __init__(self, app, phone, http):  # noqa: F811
        self.app, self.phone, self.http = app, phone, http
        self.services = app.extensions["vaxel"]
        self.runner = CallRunner(self.services.sessions, self.services.settings, channel="twilio")

    def held_call(self, operator: str = "operator") -> Twilio:
        """A caller who chose the centre (2) and was answered by ``operator``."""
        caller = self.phone(CALLER)
        now = self.services.clock.now()
        self.runner.start(caller.call_sid, now, caller=CALLER, called=MAIN_NUMBER)
        self.runner.handle(caller.call_sid, Digits("2"), now)
        self.runner.handle(caller.call_sid, OperatorAnswered(operator), now)
        assert self.runner.state_of(caller.call_sid).awaiting == "bridged"
        return caller

    def transfer(self, caller: Twilio, target: Match = TARGET, **options) -> ET.Element:
        """What the console does: the runner decides, the call's control acts; returns the TwiML sent over REST."""
        actions = self.runner.handle(caller.call_sid, OperatorTransfer(target, "operator", **options),
                                     self.services.clock.now())
        before = len(self.http.requests)
        console.control_for("twilio", self.services).perform(caller.call_sid, actions)
        sent = self.http.requests[before:]
        assert len(sent) == 1
        assert sent[0]["method"] == "POST"
        assert sent[0]["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls/{caller.call_sid}.json"
        return ET.fromstring(sent[0]["data"]["Twiml"])

    def events(self, call_sid: str) -> list[tuple[str, dict]]:
        with self.services.sessions() as session:
            return [(e.type, e.data) for e in events_of(session, call_sid)]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_followed_transfer_rings_the_target_and_answered_ends_the_call(desk):
    caller = desk.held_call()
    doc = desk.transfer(caller, ring_timeout=25)
    dial = verb(doc, "Dial")
    assert dial.get("timeout") == "25" and dial.get("answerOnBridge") == "true"
    assert dial.find("Number").text == "+46406280439"
    assert dial.get("action").startswith(f"{HOST}/twilio/console/dial?s=")
    whisper = accept(caller, doc)  # the target hears "Samtal från växeln till Karin Berg" and presses 1
    assert "Karin Berg" in said(whisper)

    done = caller.post(dial.get("action"), DialCallStatus="completed", DialCallDuration="60")
    assert tags(done) == ["Hangup"]
    found = [t for t, _ in desk.events(caller.call_sid)]
    assert found[-3:] == ["transfer_started", "transfer_answered", "call_ended"]
    # a retried Dial action is answered the same, without stepping again
    assert tags(caller.post(dial.get("action"), DialCallStatus="completed", DialCallDuration="60")) == ["Hangup"]
    assert [t for t, _ in desk.events(caller.call_sid)] == found


def test_a_voicemail_answering_a_followed_transfer_brings_the_caller_back(desk):
    caller = desk.held_call()
    doc = desk.transfer(caller)
    accept(caller, doc, digits="")  # the target's voicemail answers and presses nothing
    back = caller.post(verb(doc, "Dial").get("action"), DialCallStatus="completed", DialCallDuration="20")
    assert tags(back) == ["Say", "Dial"]  # back to the same free operator, not "answered"
    failed = [d for t, d in desk.events(caller.call_sid) if t == "transfer_failed"]
    assert [d["reason"] for d in failed] == ["not-accepted"]


def test_an_attended_transfer_asks_for_no_key(desk):
    caller = desk.held_call()
    actions = desk.runner.handle(caller.call_sid, OperatorTransfer(TARGET, "operator", attended=True),
                                 desk.services.clock.now())
    assert [a.whisper for a in actions if isinstance(a, Transfer)] == [""]  # the operator speaks to the target first


def test_no_answer_comes_back_to_the_same_free_operator(desk):
    caller = desk.held_call()
    doc = desk.transfer(caller)
    back = caller.post(verb(doc, "Dial").get("action"), DialCallStatus="no-answer")
    assert tags(back) == ["Say", "Dial"]
    assert "Karin Berg" in said(back)
    dial = verb(back, "Dial")
    assert dial.find("Client").text == "operator"
    assert dial.get("action").startswith(f"{HOST}/twilio/console/dial?s=")
    state = desk.runner.state_of(caller.call_sid)
    assert state.awaiting == "bridged" and state.party == "operator"
    returned = [d for t, d in desk.events(caller.call_sid) if t == "returned_to_queue"]
    assert returned[-1]["to"] == "operator" and returned[-1]["reason"] == "no-answer"

    # the operator does not pick up the returned call: first in the centre queue, as a returned caller
    queued = caller.post(dial.get("action"), DialCallStatus="no-answer")
    assert verb(queued, "Enqueue").text == "centre-returned"


def test_busy_while_the_operator_is_busy_puts_the_caller_first_in_the_queue(desk):
    first = desk.phone("+46701740602")
    now = desk.services.clock.now()
    desk.runner.start(first.call_sid, now, caller="+46701740602", called=MAIN_NUMBER)
    desk.runner.handle(first.call_sid, Digits("2"), now)  # someone already waiting in the queue

    caller = desk.held_call()
    doc = desk.transfer(caller)
    other = desk.held_call()  # meanwhile the operator took another caller
    assert other.call_sid != caller.call_sid

    back = caller.post(verb(doc, "Dial").get("action"), DialCallStatus="busy")
    assert verb(back, "Enqueue").text == "centre-returned"
    assert back.find("Dial") is None
    with desk.services.sessions() as session:
        waiting = centre.waiting(session, "centre")
    assert waiting[0].call_id == caller.call_sid and waiting[0].priority >= centre.RETURNED
    returned = [d for t, d in desk.events(caller.call_sid) if t == "returned_to_queue"]
    assert returned[-1]["to"] == "queue" and returned[-1]["reason"] == "busy"


def test_closed_extension_with_break_through_still_rings(desk):
    caller = desk.held_call()
    closed = Match(id="s2", name="Per Ek", unit="Bygglov", number="+46406280450", status="closed", open_now=False)
    doc = desk.transfer(caller, target=closed, break_through=True)
    assert verb(doc, "Dial").find("Number").text == "+46406280450"
    started = [d for t, d in desk.events(caller.call_sid) if t == "transfer_started"]
    assert started[-1]["break_through"] is True


def test_caller_hangs_up_while_it_rings(desk):
    caller = desk.held_call()
    doc = desk.transfer(caller)
    gone = caller.post(verb(doc, "Dial").get("action"), DialCallStatus="canceled", CallStatus="completed")
    assert tags(gone) == ["Hangup"]
    found = desk.events(caller.call_sid)
    assert ("transfer_failed", "caller_hangup") in [(t, d.get("reason")) for t, d in found]
    assert found[-1][0] == "call_ended" and desk.runner.state_of(caller.call_sid).ended


def test_extension_only_target_fails_at_once_and_comes_back(desk):
    caller = desk.held_call()
    doc = desk.transfer(caller, target=Match(id="s3", name="Ola Ås", extension="4401"))
    assert verb(doc, "Dial").find("Client").text == "operator"


def test_the_dial_action_is_signed(desk):
    caller = desk.held_call()
    doc = desk.transfer(caller)
    url = verb(doc, "Dial").get("action")
    reply = caller.raw(url, caller.params(DialCallStatus="no-answer"), signature="forged")
    assert reply.status_code == 403
    assert desk.runner.state_of(caller.call_sid).awaiting == "transfer"


def test_hold_and_resume(desk, client):
    caller = desk.held_call()
    control = console.control_for("twilio", desk.services)
    control.hold(caller.call_sid, True)
    held = ET.fromstring(desk.http.requests[-1]["data"]["Twiml"])
    assert tags(held) == ["Pause", "Redirect"]
    loop = caller.post(verb(held, "Redirect").text)
    assert tags(loop) == ["Pause", "Redirect"]
    assert desk.runner.state_of(caller.call_sid).awaiting == "bridged"
    control.hold(caller.call_sid, False)
    resumed = ET.fromstring(desk.http.requests[-1]["data"]["Twiml"])
    assert verb(resumed, "Dial").find("Client").text == "operator"


def test_operator_line_serves_only_a_ready_free_console_operator(desk, client):
    line = Operator(client, number=ENDPOINT)
    doc = line.call()
    assert verb(doc, "Dial").find("Queue") is not None
    assert query(verb(doc, "Dial").find("Queue").get("url"))["op"] == "operator"  # the console's user name

    caller = desk.held_call()
    desk.transfer(caller)  # following a transfer: no new caller for them
    assert tags(line.call()) == ["Say", "Hangup"]

    with desk.services.sessions() as session:
        operators.set_state(session, "operator", "paused", T0, reason="lunch")
        session.commit()
    refused = line.call()
    assert tags(refused) == ["Say", "Hangup"] and "inte redo" in said(refused)

    unknown = Operator(client)  # an endpoint the console does not know works as before
    assert verb(unknown.call(), "Dial").find("Queue") is not None


def test_attended_transfer_consults_then_completes(desk):
    caller = desk.held_call()
    actions = desk.runner.handle(caller.call_sid, OperatorTransfer(TARGET, "operator", attended=True),
                                 desk.services.clock.now())
    control = console.control_for("twilio", desk.services)
    control.perform(caller.call_sid, actions)
    hold, consult = desk.http.requests[-2:]
    assert tags(ET.fromstring(hold["data"]["Twiml"])) == ["Pause", "Redirect"]
    assert consult["uri"].endswith(f"/Accounts/{ACCOUNT}/Calls.json")
    assert consult["data"]["To"] == ENDPOINT
    dial = verb(ET.fromstring(consult["data"]["Twiml"]), "Dial")
    assert dial.find("Number").text == "+46406280439"
    assert console.control_for("twilio", desk.services).consult_leg(caller.call_sid) == "CA" + "e" * 32

    desk.http.body = {"calls": [{"sid": "CA" + "f" * 32, "status": "in-progress"}], "next_page_uri": None,
                      "previous_page_uri": None, "page": 0, "page_size": 1, "uri": "/x", "first_page_uri": "/x"}
    desk.http.status = 200
    control.complete(caller.call_sid)
    listed, to_caller, to_target = desk.http.requests[-3:]
    assert listed["method"] == "GET"
    assert ET.fromstring(to_caller["data"]["Twiml"]).find("Dial/Conference").text == f"vaxel-{caller.call_sid}"
    assert to_target["uri"].endswith(f"/Calls/{'CA' + 'f' * 32}.json")
    state = desk.runner.state_of(caller.call_sid)
    assert state.awaiting == "bridged" and state.party == "Karin Berg"


def test_attended_no_answer_returns_the_caller_over_rest(desk):
    caller = desk.held_call()
    actions = desk.runner.handle(caller.call_sid, OperatorTransfer(TARGET, "operator", attended=True),
                                 desk.services.clock.now())
    console.control_for("twilio", desk.services).perform(caller.call_sid, actions)
    consult = ET.fromstring(desk.http.requests[-1]["data"]["Twiml"])
    leg = Twilio(caller.client, "CA" + "e" * 32, caller=MAIN_NUMBER, called=ENDPOINT)
    assert tags(leg.post(verb(consult, "Dial").get("action"), DialCallStatus="no-answer")) == ["Hangup"]
    back = ET.fromstring(desk.http.requests[-1]["data"]["Twiml"])
    assert desk.http.requests[-1]["uri"].endswith(f"/Calls/{caller.call_sid}.json")
    assert verb(back, "Dial").find("Client").text == "operator"


def test_set_operator_needs_nothing_from_twilio(desk):
    console.control_for("twilio", desk.services).set_operator("operator", ENDPOINT, "paused", "lunch")
    assert desk.http.requests == []


def test_create_app_registers_twilio_and_nothing_is_registered_globally(app):
    assert set(app.extensions["vaxel"].controls) == {"twilio"}  # Asterisk's comes when `vaxel serve` starts AMI
    assert not hasattr(console, "_FACTORIES")  # no process-wide registry that an import could fill


def test_console_twiml_leaves_the_normal_flow_alone():
    from ivr.protocol import Enqueue, Say
    from switchboard.twilio import twiml

    doc = console_twiml([Say("p", "Hej", "sv"), Enqueue("centre", 1, 0, returned=True)], twiml.Where("queue"),
                        twiml.Links(wait="w", queue_result="q"), twiml.Audio())
    parsed = ET.fromstring(str(doc))
    assert tags(parsed) == ["Say", "Enqueue"] and parsed.find("Enqueue").text == "centre-returned"


def test_attended_cancel_ends_the_consultation_and_brings_the_caller_back(desk):
    caller = desk.held_call()
    actions = desk.runner.handle(caller.call_sid, OperatorTransfer(TARGET, "operator", attended=True),
                                 desk.services.clock.now())
    control = console.control_for("twilio", desk.services)
    control.perform(caller.call_sid, actions)
    control.cancel(caller.call_sid)
    ended, back = desk.http.requests[-2:]
    assert ended["uri"].endswith(f"/Calls/{'CA' + 'e' * 32}.json") and ended["data"]["Status"] == "completed"
    assert back["uri"].endswith(f"/Calls/{caller.call_sid}.json")
    assert verb(ET.fromstring(back["data"]["Twiml"]), "Dial").find("Client").text == "operator"
    state = desk.runner.state_of(caller.call_sid)
    assert state.awaiting == "bridged" and state.party == "operator"
    assert console.control_for("twilio", desk.services).consult_leg(caller.call_sid) == ""
