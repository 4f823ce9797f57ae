"""Whole calls driven the way Twilio drives them: signed webhooks, TwiML back, its URLs followed.

:class:`Twilio` plays Twilio's part. It signs every request with the auth
token (``RequestValidator.compute_signature``), posts Twilio's documented
parameters through Flask's test client, parses the TwiML and follows the
``action``, ``waitUrl``, ``<Redirect>`` and ``<Queue url>`` URLs it was handed,
adding the parameters Twilio adds there. The service clock is fixed per test.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker
from twilio.request_validator import RequestValidator

from callback.models import CallbackRequest
from ivr.models import CallSession
from stats.events import events_of
from callback import queue as centre
from core.clock import Clock
from switchboard.twilio import twiml
from switchboard.twilio.models import TwilioResponse
from tests.conftest import TZ, at

TOKEN = "test-twilio-auth-token"
ACCOUNT = "AC" + "0" * 32
HOST = "http://localhost"
MAIN_NUMBER = "+46406280400"
OPERATOR_PHONE = "+46701740699"  # the operator's phone, listed in twilio.operators by the phone fixture
T0 = at("2026-11-24T10:00")  # a Tuesday, the switchboard is open


class Twilio:
    """One call as Twilio would make it: every request signed, every URL taken from the TwiML we got."""

    def __init__(self, client, call_sid: str, caller: str = "+46701740601", called: str = MAIN_NUMBER,
                 token: str = TOKEN):
        self.client, self.call_sid, self.caller, self.called, self.token = client, call_sid, caller, called, token
        self.replies: list = []

    def params(self, **extra) -> dict:
        return {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": self.call_sid, "From": self.caller,
                "To": self.called, "Direction": "inbound", "CallStatus": "in-progress", **extra}

    def raw(self, url: str, params: dict, signature: str | None = "sign"):
        url = url if url.startswith("http") else HOST + url
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = RequestValidator(self.token).compute_signature(url, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        parts = urlsplit(url)
        return self.client.post(parts.path + (f"?{parts.query}" if parts.query else ""), data=params, headers=headers)

    def post(self, url: str, **extra) -> ET.Element:
        reply = self.raw(url, self.params(**extra))
        assert reply.status_code == 200, reply.data
        assert reply.mimetype == "text/xml"
        doc = ET.fromstring(reply.data)
        self.replies.append(doc)
        return doc

    # -- what the caller does ------------------------------------------------------------------

    def call(self) -> ET.Element:
        return self.post("/twilio/voice", CallStatus="ringing")

    def press(self, doc: ET.Element, digits: str) -> ET.Element:
        return self.post(gather(doc).get("action"), Digits=digits)

    def say(self, doc: ET.Element, words: str) -> ET.Element:
        return self.post(gather(doc).get("action"), SpeechResult=words, Confidence="0.87")

    def silence(self, doc: ET.Element) -> ET.Element:
        return self.post(redirect(doc))  # Twilio falls through the <Gather> to the <Redirect>

    def ring_ends(self, doc: ET.Element, status: str, duration: int = 0) -> ET.Element:
        extra = {"DialCallDuration": str(duration)} if status == "completed" else {}
        return self.post(verb(doc, "Dial").get("action"), DialCallStatus=status, DialCallSid="CA" + "d" * 32,
                         **extra)

    def wait(self, url: str, position: int = 1, waited: int = 0) -> ET.Element:
        return self.post(url, QueueSid="QU" + "1" * 32, QueuePosition=str(position), QueueTime=str(waited),
                         AvgQueueTime="30", CurrentQueueSize=str(position))

    def queue_left(self, doc_with_enqueue: ET.Element, result: str, waited: int = 0) -> ET.Element:
        return self.post(verb(doc_with_enqueue, "Enqueue").get("action"), QueueResult=result,
                         QueueSid="QU" + "1" * 32, QueueTime=str(waited))

    def hang_up(self) -> ET.Element:
        return self.post("/twilio/status", CallStatus="completed", CallDuration="100")


class Operator:
    """An operator's phone calling the operator line and taking whoever Twilio bridges."""

    def __init__(self, client, number: str = OPERATOR_PHONE):
        self.twilio = Twilio(client, "CA" + "o" * 32, caller=number, called="+46406280490")

    def call(self) -> ET.Element:
        return self.twilio.post("/twilio/operator")

    def takes(self, doc: ET.Element, caller: Twilio) -> ET.Element:
        """Twilio runs the <Queue url> for the caller at the front (that caller's CallSid), then bridges."""
        queue = verb(doc, "Dial").find("Queue")
        return caller.post(queue.get("url"), QueueSid="QU" + "1" * 32, QueueTime="40",
                           DequeingCallSid=self.twilio.call_sid)


# -- reading TwiML ---------------------------------------------------------------------------------


def tags(doc: ET.Element) -> list[str]:
    return [el.tag for el in doc]


def verb(doc: ET.Element, tag: str) -> ET.Element:
    found = doc.find(tag)
    assert found is not None, f"no <{tag}> in {ET.tostring(doc, encoding='unicode')}"
    return found


def gather(doc: ET.Element) -> ET.Element:
    return verb(doc, "Gather")


def redirect(doc: ET.Element) -> str:
    return verb(doc, "Redirect").text


def said(doc: ET.Element) -> str:
    return " ".join(el.text or "" for el in doc.iter("Say"))


def queue_of(doc: ET.Element) -> str:
    return verb(doc, "Enqueue").text


def wait_url(doc: ET.Element) -> str:
    return verb(doc, "Enqueue").get("waitUrl")


# -- fixtures --------------------------------------------------------------------------------------


def set_clock(app, moment: datetime) -> None:
    app.extensions["vaxel"].clock = Clock(TZ, start=moment)


@pytest.fixture
def phone(app, client, monkeypatch):
    """Twilio enabled with a known auth token, the clock on a Tuesday at 10:00; returns a call maker."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    app.extensions["vaxel"].settings["twilio"]["enabled"] = True
    app.extensions["vaxel"].settings["twilio"]["operators"] = [OPERATOR_PHONE]  # the line refuses unlisted callers
    set_clock(app, T0)
    made = iter(range(1, 1000))
    return lambda caller="+46701740601", **kw: Twilio(client, f"CA{next(made):032d}", caller=caller, **kw)


def events(sessions, call_sid: str) -> list[tuple[str, dict]]:
    with sessions() as session:
        return [(e.type, e.data) for e in events_of(session, call_sid)]


def types(sessions, call_sid: str) -> list[str]:
    return [t for t, _ in events(sessions, call_sid)]


def queued(phone_maker, app, digits="2") -> tuple[Twilio, ET.Element]:
    caller = phone_maker()
    menu = caller.call()
    return caller, caller.press(menu, digits)


def accept(caller: Twilio, ringing: ET.Element, digits: str = "1", sid: str = "CA" + "s" * 32) -> ET.Element:
    """The staff leg of the ringing transfer answers: Twilio fetches the ``<Number url>`` whisper on that leg, and
    the ``<Gather>`` there posts the key pressed (none: a voicemail). Returns the whisper TwiML."""
    number = verb(ringing, "Dial").find("Number")
    staff_leg = Twilio(caller.client, sid, caller=MAIN_NUMBER, called=number.text)
    whisper = staff_leg.post(number.get("url"))
    staff_leg.post(gather(whisper).get("action"), **({"Digits": digits} if digits else {}))
    return whisper


def reach_transfer(caller: Twilio, words: str = "torghandel") -> ET.Element:
    """Option 1 by speech; if the directory reads a choice, the caller takes the first."""
    doc = caller.press(caller.call(), "1")
    assert gather(doc).get("input") == "dtmf speech"
    doc = caller.say(doc, words)
    if doc.find("Dial") is None and doc.find("Gather") is not None:  # a choice is read: take the first
        doc = caller.press(doc, "1")
    return doc


# -- the flows -------------------------------------------------------------------------------------


def test_option_2_is_queued_and_answered_by_an_operator(phone, app, client, sessions):
    caller = phone()
    menu = caller.call()
    assert tags(menu) == ["Gather", "Redirect"]
    assert "Välkommen" in said(menu) and gather(menu).get("numDigits") == "1"
    assert verb(menu, "Gather").find("Say").get("language") == "sv-SE"

    doc = caller.press(menu, "2")
    assert "nummer 1 i kön" in said(doc)
    assert tags(doc)[-1] == "Enqueue" and queue_of(doc) == "centre"

    held = caller.wait(wait_url(doc), position=1)
    assert tags(held) == ["Pause", "Redirect"]  # no hold music configured: silence, then check again
    held = caller.wait(redirect(held), position=1, waited=20)
    assert tags(held) == ["Pause", "Redirect"]

    operator = Operator(client)
    line = operator.call()
    assert verb(line, "Dial").find("Queue").text == "centre"
    assert tags(operator.takes(line, caller)) == []  # the caller is bridged
    assert caller.queue_left(doc, "bridged", waited=40).find("Hangup") is not None
    caller.hang_up()

    found = events(sessions, caller.call_sid)
    left = next(data for t, data in found if t == "queue_left")
    assert left["reason"] == "answered" and left["operator"] == "+46701740699"
    assert found[-1][0] == "call_ended" and found[-1][1]["reason"] == "completed"
    with sessions() as session:
        assert session.get(CallSession, caller.call_sid).channel == "twilio"


def test_option_1_an_unsure_name_is_asked_about_by_key_before_anyone_is_rung(phone, sessions):
    caller = phone()
    asked = caller.say(caller.press(caller.call(), "1"), "Lindqvist")
    assert asked.find("Dial") is None
    assert "Menar du Sara Lundqvist på Barn och familj? Tryck 1 för ja, 2 för nej." in said(asked)
    assert gather(asked).get("input") == "dtmf" and gather(asked).get("numDigits") == "1"  # keys, as it says
    ringing = caller.press(asked, "1")
    assert verb(ringing, "Dial").find("Number").text == "+46406280411"
    assert ("directory_confirm", {"target_id": "p011", "question": 1}) in events(sessions, caller.call_sid)


def test_option_1_english_line_understands_building_permit(phone):
    caller = phone(called="+46406280498")
    ringing = caller.say(caller.press(caller.call(), "1"), "I need a building permit please")
    assert verb(ringing, "Dial").find("Number").text == "+46406280459"  # Bygglov – dagens handläggare


def test_option_1_by_speech_is_transferred_and_answered(phone, sessions):
    caller = phone()
    menu = caller.call()
    directory = caller.press(menu, "1")
    hints = gather(directory).get("hints").split(",")
    assert "torghandel" in [h.casefold() for h in hints] and len(hints) <= twiml.MAX_HINTS
    assert gather(directory).get("language") == "sv-SE" and gather(directory).get("finishOnKey") == "#"

    ringing = caller.say(directory, "torghandel")
    if ringing.find("Dial") is None:  # two contacts: the caller chooses the first
        ringing = caller.press(ringing, "1")
    dial = verb(ringing, "Dial")
    assert dial.get("answerOnBridge") == "true" and dial.get("timeout") == "25"
    assert dial.get("callerId") == caller.caller  # staff see the citizen's number
    assert dial.find("Number").text.startswith("+46") and "/twilio/whisper?" in dial.find("Number").get("url")
    whisper = accept(caller, ringing)  # whoever answers hears who calls and why, and presses 1
    assert "en medborgare söker dig om torghandel" in said(whisper) and "Tryck 1" in said(whisper)

    done = caller.ring_ends(ringing, "completed", duration=95)  # called after the talk has ended
    assert tags(done) == ["Hangup"]
    found = events(sessions, caller.call_sid)
    assert "transfer_answered" in [t for t, _ in found] and "transfer_failed" not in [t for t, _ in found]
    assert found[-1] == ("call_ended", {"reason": "completed", "node": found[-1][1]["node"], "talk_seconds": 95})
    speech = next(data for t, data in found if t == "directory_lookup")
    assert speech["query"] == "torghandel" and speech["matched"]


def test_no_answer_returns_the_caller_ahead_of_new_callers(phone, app, client, sessions):
    first, _ = queued(phone, app)
    second, _ = queued(phone, app)
    returned = phone("+46701740602")
    ringing = reach_transfer(returned)

    back = returned.ring_ends(ringing, "no-answer")
    assert "svarar inte" in said(back) and "först i kön" in said(back)
    assert queue_of(back) == "centre-returned"
    assert "nummer 1 i kön" in said(back)
    with app.app_context(), sessions() as session:
        order = [e.call_id for e in centre.waiting(session, "centre")]
    assert order == [returned.call_sid, first.call_sid, second.call_sid]

    operator = Operator(client)
    line = operator.call()
    assert verb(line, "Dial").find("Queue").text == "centre-returned"  # the returned caller is served first
    operator.takes(line, returned)
    nxt = operator.twilio.post(verb(line, "Dial").get("action"), DialCallStatus="completed", DialCallDuration="60")
    line = operator.twilio.post(redirect(nxt))
    assert verb(line, "Dial").find("Queue").text == "centre"  # then the others, first come first served
    kinds = types(sessions, returned.call_sid)
    assert kinds.index("transfer_failed") < kinds.index("returned_to_queue") < kinds.index("queue_joined")
    joined = next(data for t, data in events(sessions, returned.call_sid) if t == "queue_joined")
    assert joined["returned"] is True


def test_a_person_twilio_cannot_dial_is_a_failed_transfer_not_a_dead_end(phone, monkeypatch, sessions):
    from dataclasses import replace

    from switchboard.call_facts import CallFacts

    found = CallFacts.lookup
    monkeypatch.setattr(CallFacts, "lookup", lambda self, *args, **kwargs: [
        replace(m, number=None, extension="4321") for m in found(self, *args, **kwargs)])
    caller = phone()
    back = reach_transfer(caller)
    assert back.find("Dial") is None and "kunde inte koppla" in said(back)
    assert queue_of(back) == "centre-returned"
    failed = next(data for t, data in events(sessions, caller.call_sid) if t == "transfer_failed")
    assert failed["reason"] == "failed"


def test_busy_and_failed_transfers_also_return_and_say_why(phone):
    caller = phone()
    back = caller.ring_ends(reach_transfer(caller), "busy")
    assert "upptagen" in said(back) and queue_of(back) == "centre-returned"


def test_a_queued_caller_chooses_a_callback(phone, app, sessions):
    caller, doc = queued(phone, app)
    held = caller.wait(wait_url(doc))
    set_clock(app, T0 + timedelta(seconds=125))  # past callback_after: the next check offers the callback
    offer = caller.wait(redirect(held), waited=125)
    assert "uppringd" in said(offer)
    assert tags(offer)[-2:] == ["Gather", "Redirect"]
    assert gather(offer).get("action").startswith(f"{HOST}/twilio/offer")

    left = caller.press(offer, "1")
    assert tags(left) == ["Leave"]
    confirm = caller.queue_left(doc, "leave", waited=130)
    assert "070-174 06 01" in said(confirm)  # the caller id read back
    done = caller.press(confirm, "1")
    assert "Vi ringer dig" in said(done) and tags(done)[-1] == "Hangup"
    with sessions() as session:
        stored = session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == caller.call_sid))
    assert stored.number == "+46701740601" and stored.kind == "queue"
    assert types(sessions, caller.call_sid)[-1] == "call_ended"


def test_declining_the_offer_keeps_the_caller_waiting(phone, app):
    caller, doc = queued(phone, app)
    set_clock(app, T0 + timedelta(seconds=125))
    offer = caller.wait(wait_url(doc), waited=125)
    assert tags(offer)[-2:] == ["Gather", "Redirect"]
    kept = caller.silence(offer)  # no key: Twilio goes on to the <Redirect>, back to the wait URL
    assert tags(kept) == ["Pause", "Redirect"]
    assert urlsplit(redirect(kept)).path == "/twilio/wait"


def test_closed_hours_tell_the_hours_and_end_politely(phone, app, sessions):
    set_clock(app, at("2026-11-24T19:30"))
    caller = phone()
    closed = caller.call()
    assert "stängd" in said(closed) and "08" in said(closed)
    assert tags(closed)[-2:] == ["Gather", "Redirect"]  # the callback offer for the next opening
    goodbye = caller.silence(closed)
    assert "Hej då" in said(goodbye) and tags(goodbye)[-1] == "Hangup"
    assert types(sessions, caller.call_sid)[-1] == "call_ended"


def test_silence_repeats_the_menu_twice_then_goes_to_the_centre(phone, sessions):
    caller = phone()
    doc = caller.call()
    doc = caller.silence(doc)
    assert "hörde inget" in said(doc) and tags(doc) == ["Gather", "Redirect"]
    doc = caller.silence(doc)
    assert tags(doc) == ["Gather", "Redirect"]
    doc = caller.silence(doc)
    assert "kundcenter" in said(doc) and queue_of(doc) == "centre"
    assert types(sessions, caller.call_sid).count("input_timeout") == 3


def test_an_invalid_key_is_said_and_the_menu_repeats(phone, sessions):
    caller = phone()
    doc = caller.press(caller.call(), "7")
    assert "valet finns inte" in said(doc) and tags(doc) == ["Gather", "Redirect"]
    invalid = next(data for t, data in events(sessions, caller.call_sid) if t == "input_invalid")
    assert invalid["digits"] == "7"


def test_a_retried_webhook_does_not_step_the_engine_twice(phone, sessions):
    caller = phone()
    menu = caller.call()
    url = gather(menu).get("action")
    first = caller.raw(url, caller.params(Digits="2"))
    with sessions() as session:
        step_after_first = session.get(CallSession, caller.call_sid).step
    count = len(events(sessions, caller.call_sid))
    again = caller.raw(url, caller.params(Digits="2"))  # Twilio retries the same request
    assert again.data == first.data
    with sessions() as session:
        assert session.get(CallSession, caller.call_sid).step == step_after_first
        assert session.scalar(select(func.count()).select_from(centre.QueueEntry)) == 1
    assert len(events(sessions, caller.call_sid)) == count
    assert caller.call().find("Gather") is not None  # a retried "call comes in" gets the menu again, no new call


def test_a_request_for_a_step_already_left_does_not_feed_the_engine(phone, sessions):
    caller = phone()
    menu = caller.call()
    caller.press(menu, "7")  # the menu is said again, at a new step
    with sessions() as session:
        step = session.get(CallSession, caller.call_sid).step
    late = caller.post(redirect(menu))  # the old step's <Redirect> arrives late, e.g. from a stuck worker
    assert late.find("Gather") is not None
    with sessions() as session:
        assert session.get(CallSession, caller.call_sid).step == step


def test_a_caller_hanging_up_in_the_queue_is_recorded_as_abandoned(phone, app, sessions):
    caller, doc = queued(phone, app)
    caller.queue_left(doc, "hangup", waited=30)
    caller.hang_up()
    found = events(sessions, caller.call_sid)
    assert ("queue_left", "abandoned") in [(t, d.get("reason")) for t, d in found]
    assert found[-1][0] == "call_ended" and found[-1][1]["reason"] == "caller_hangup"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(TwilioResponse)
                              .where(TwilioResponse.call_sid == caller.call_sid)) == 0  # forgotten at the end


def test_whisper_lets_only_a_person_who_presses_1_take_the_call(phone, app, client, sessions):
    caller = phone()
    ringing = reach_transfer(caller)
    number = verb(ringing, "Dial").find("Number")
    staff_leg = Twilio(client, "CA" + "s" * 32, caller=MAIN_NUMBER, called=number.text)
    whisper = staff_leg.post(number.get("url"))
    assert "Tryck 1" in said(whisper) and tags(whisper) == ["Gather", "Hangup"]
    voicemail_reply = staff_leg.post(gather(whisper).get("action"))  # a voicemail presses nothing
    assert tags(voicemail_reply) == ["Hangup"]
    back = caller.ring_ends(ringing, "completed", duration=30)  # Twilio saw the leg answered
    assert queue_of(back) == "centre-returned"  # but nobody accepted: the caller goes back to the centre
    assert "svarar inte" in said(back)  # told as for no answer
    failed = [d for t, d in events(sessions, caller.call_sid) if t == "transfer_failed"]
    assert [d["reason"] for d in failed] == ["not-accepted"]
    assert [d["reason"] for t, d in events(sessions, caller.call_sid) if t == "returned_to_queue"] == ["not-accepted"]

    second = phone("+46701740603")
    ringing = reach_transfer(second)
    number = verb(ringing, "Dial").find("Number")
    staff_leg = Twilio(client, "CA" + "t" * 32, caller=MAIN_NUMBER, called=number.text)
    accepted = staff_leg.post(gather(staff_leg.post(number.get("url"))).get("action"), Digits="1")
    assert tags(accepted) == []  # the whisper ends: Twilio connects the two
    assert tags(second.ring_ends(ringing, "completed", duration=70)) == ["Hangup"]
    assert "transfer_answered" in types(sessions, second.call_sid)


def test_a_units_voicemail_takes_the_call_nobody_answered(phone, app, sessions):
    from directory.models import Unit

    with sessions() as session:
        session.scalar(select(Unit).where(Unit.slug == "torghandel")).no_answer = "voicemail"
        session.scalar(select(Unit).where(Unit.slug == "torghandel")).no_answer_number = "+46406280461"
        session.commit()
    caller = phone()
    next_ring = caller.ring_ends(reach_transfer(caller), "no-answer")
    assert "röstbrevlådan" in said(next_ring)
    number = verb(next_ring, "Dial").find("Number")
    assert number.text == "+46406280461" and number.get("url") is None  # no "tryck 1" for a voicemail
    assert tags(caller.ring_ends(next_ring, "completed", duration=40)) == ["Hangup"]
    assert "voicemail_answered" in types(sessions, caller.call_sid)


def test_a_full_twilio_queue_never_drops_the_caller(phone, app):
    caller, doc = queued(phone, app)
    again = caller.queue_left(doc, "queue-full")
    assert twiml.APOLOGY in said(again) and queue_of(again) == "centre"
    later = caller.queue_left(again, "queue-full")  # still full: wait a moment, try again, no second apology
    assert tags(later) == ["Pause", "Enqueue"]
    assert verb(later, "Enqueue").get("action") != verb(again, "Enqueue").get("action")


def test_an_operator_on_an_empty_returned_queue_moves_on_to_the_centre_queue(phone, app, client):
    returned = phone()
    returned.ring_ends(reach_transfer(returned), "no-answer")
    operator = Operator(client)
    line = operator.call()
    assert verb(line, "Dial").find("Queue").text == "centre-returned"
    # the returned caller hangs up meanwhile; Twilio's Dial on the empty queue times out
    nothing = operator.twilio.post(verb(line, "Dial").get("action"), DialCallStatus="no-answer")
    line = operator.twilio.post(redirect(nothing))
    assert verb(line, "Dial").find("Queue").text == "centre"


def test_a_retry_while_the_first_request_is_still_answered_comes_back_later(phone, app, sessions):
    caller = phone()
    menu = caller.call()
    url = gather(menu).get("action")
    s = int(url.rsplit("=", 1)[1])
    with sessions() as session:  # as if another worker had claimed the request and not yet answered
        session.add(TwilioResponse(call_sid=caller.call_sid, request_key=f"step:{s}", twiml=None, created_at=T0))
        session.commit()
    wait = caller.press(menu, "2")
    assert tags(wait) == ["Pause", "Redirect"] and redirect(wait) == url
    set_clock(app, T0 + timedelta(minutes=5))  # that worker died: the caller is rescued, not looped forever
    rescued = caller.press(menu, "2")
    assert twiml.APOLOGY in said(rescued) and queue_of(rescued) == "centre"


# -- never a dead call ----------------------------------------------------------------------------


def test_an_unknown_call_sid_on_a_later_step_goes_to_the_centre(phone):
    stranger = phone()
    doc = stranger.post("/twilio/step?s=4", Digits="1")
    assert twiml.APOLOGY in said(doc) and queue_of(doc) == "centre"
    held = stranger.wait(wait_url(doc))  # and waits like anyone else until an operator takes it
    assert tags(held) == ["Pause", "Redirect"]


def test_a_database_error_apologises_and_queues_the_caller(phone, app, caplog):
    caller = phone()
    menu = caller.call()
    broken = create_engine("sqlite:////nonexistent-dir/vaxel.db")
    app.extensions["vaxel"].sessions = sessionmaker(broken)
    with caplog.at_level(logging.ERROR):
        doc = caller.press(menu, "2")
    assert twiml.APOLOGY in said(doc) and queue_of(doc) == "centre"
    assert "failed for call" in caplog.text
    held = caller.wait(wait_url(doc))  # the wait loop keeps holding without a database
    assert tags(held) == ["Pause", "Redirect"]
    operator = Operator(caller.client)
    assert verb(operator.call(), "Dial").find("Queue").text == "centre"  # and operators can still take callers


def test_the_fallback_url_needs_no_database(phone, app):
    app.extensions["vaxel"].sessions = sessionmaker(create_engine("sqlite:////nonexistent-dir/vaxel.db"))
    caller = phone()
    doc = caller.post("/twilio/fallback", ErrorCode="11200", ErrorUrl=f"{HOST}/twilio/voice")
    assert twiml.APOLOGY in said(doc) and queue_of(doc) == "centre"
    inside = caller.post("/twilio/fallback", ErrorCode="11200", ErrorUrl=f"{HOST}/twilio/wait?s=4&q=4")
    assert tags(inside) == ["Pause", "Redirect"] and redirect(inside).endswith("/twilio/wait?s=4&q=4")


# -- only Twilio gets in ----------------------------------------------------------------------------


@pytest.mark.parametrize("signature", [None, "bm90IGEgc2lnbmF0dXJl", "forged-by-someone"])
def test_a_missing_or_bad_signature_is_refused(phone, sessions, caplog, signature):
    caller = phone()
    with caplog.at_level(logging.WARNING):
        reply = caller.raw("/twilio/voice", caller.params(), signature=signature)
    assert reply.status_code == 403
    assert "refused /twilio/voice" in caplog.text and caller.call_sid in caplog.text
    with sessions() as session:
        assert session.get(CallSession, caller.call_sid) is None


def test_a_request_signed_with_another_token_is_refused(phone):
    caller = phone()
    caller.token = "someone-elses-token"
    assert caller.raw("/twilio/voice", caller.params()).status_code == 403


def test_signatures_are_checked_against_the_public_url(phone, app):
    app.extensions["vaxel"].settings["public"]["url"] = "https://vaxel.sjobacka.se"
    caller = phone()
    signed_for_internal = caller.raw("/twilio/voice", caller.params())  # signed for http://localhost
    assert signed_for_internal.status_code == 403
    params = caller.params()
    signature = RequestValidator(TOKEN).compute_signature("https://vaxel.sjobacka.se/twilio/voice", params)
    reply = caller.raw("/twilio/voice", params, signature=signature)
    assert reply.status_code == 200
    assert gather(ET.fromstring(reply.data)).get("action").startswith("https://vaxel.sjobacka.se/twilio/step?s=")


def test_the_public_url_comes_from_vaxel_public_url():
    from core.settings import load_settings

    assert load_settings(environ={"VAXEL_PUBLIC_URL": "https://vaxel.sjobacka.se"})["public"]["url"] == \
        "https://vaxel.sjobacka.se"
    assert load_settings(environ={"VAXEL_TWILIO_OPERATORS": "client:anna, +46701740699"})["twilio"]["operators"] == \
        ["client:anna", "+46701740699"]


def test_twilio_endpoints_are_off_unless_enabled(phone, app):
    app.extensions["vaxel"].settings["twilio"]["enabled"] = False
    caller = phone()
    assert caller.raw("/twilio/voice", caller.params()).status_code == 404


def test_an_operator_line_restricted_to_known_operators(phone, app, client):
    app.extensions["vaxel"].settings["twilio"]["operators"] = ["client:anna"]
    refused = Operator(client, number="+46701740688").call()
    assert tags(refused) == ["Say", "Hangup"]
    assert verb(Operator(client, number="client:anna").call(), "Dial") is not None


def test_a_step_that_fails_inside_a_webhook_queues_the_caller_and_a_retry_hears_the_same(phone, sessions,
                                                                                       monkeypatch):
    """The engine's step fails half-way (the directory lookup, after the claim of the request was written): the
    whole transaction rolls back, the caller is queued at the centre in a new one, the answer is stored by key
    so Twilio's retry gets the same TwiML and the engine does not step again."""
    from callback.queue import QueueEntry
    from switchboard.call_facts import CallFacts

    def broken(*_a, **_k):
        raise RuntimeError("directory index is corrupt")

    monkeypatch.setattr(CallFacts, "lookup", broken)
    caller = phone()
    asked = caller.press(caller.call(), "1")
    doc = caller.say(asked, "torghandel")
    assert queue_of(doc) == "centre" and "kundcenter" in said(doc)
    again = caller.post(gather(asked).get("action"), SpeechResult="torghandel", Confidence="0.87")
    assert ET.tostring(again) == ET.tostring(doc)
    kinds = types(sessions, caller.call_sid)
    assert kinds.count("queue_joined") == 1 and "directory_lookup" not in kinds
    assert next(d for t, d in events(sessions, caller.call_sid) if t == "queue_joined")["fallback"] is True
    with sessions() as session:
        places = session.scalars(select(QueueEntry).where(QueueEntry.call_id == caller.call_sid)).all()
    assert [(p.queue, p.left_at) for p in places] == [("centre", None)]


def test_a_webhook_that_fails_outside_its_step_still_keeps_the_rescued_caller_in_our_queue(phone, sessions,
                                                                                          monkeypatch):
    """The view raises after the request's session was opened: its writes are rolled back, the rescue puts the
    caller in the centre queue in a new session — and that is committed, so the queue and the console know them."""
    from callback.queue import QueueEntry

    caller = phone()
    caller.call()

    def broken(*_a, **_k):
        raise RuntimeError("bug while answering")

    monkeypatch.setattr(twiml, "requeue", broken)
    doc = caller.post("/twilio/queue-result?s=1", QueueResult="error", QueueSid="QU" + "1" * 32)
    assert verb(doc, "Enqueue") is not None  # the apology and the queue, not a dead call
    with sessions() as session:
        places = session.scalars(select(QueueEntry).where(QueueEntry.call_id == caller.call_sid)).all()
    assert [p.left_at for p in places] == [None]
