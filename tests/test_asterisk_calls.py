"""Whole calls over FastAGI: a fake Asterisk speaks to the real server over real TCP, as res_agi does.

The fake (tests/fakes/fake_asterisk.py) sends the agi_* block, answers every command the way the
captures in tests/fakes/wire show (keys as ASCII codes, GET DATA digits as themselves, the inline HANGUP,
511 on the dead channel) and plays a caller from a script. Behind the server: the real call runner,
engine and database with the demo municipality. Time on the call is simulated by a stepping clock.
"""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.protocol import Digits
from stats.events import events_of
from switchboard.asterisk.audio import AudioLibrary, SilenceSynthesizer, SynthesisError
from switchboard.asterisk.call import AsteriskCall
from switchboard.asterisk.mapping import PRIO_CLASS
from switchboard.asterisk.server import FastAgiServer
from switchboard.asterisk.service import agi_server, incoming
from switchboard.calls import CallRunner
from core.clock import Clock
from tests.conftest import TZ, at
from tests.fakes.clock import SteppingClock
from tests.fakes.fake_asterisk import FakeAsterisk

OPEN = "2026-11-24T10:00"  # a Tuesday: the switchboard is open 08-17
CLOSED = "2026-11-24T20:00"


class Phone:
    """The FastAGI server of a test app, and a way to place calls on it."""

    def __init__(self, services, port: int, clock):
        self.services, self.port, self.clock = services, port, clock

    def call(self, *script: str, caller: str = "+46701234567", **env: str) -> FakeAsterisk:
        uid = env.pop("agi_uniqueid", f"1795469729.{uuid.uuid4().int % 10**6}")
        fake = FakeAsterisk(self.port, list(script), clock=self.clock,
                            env={"agi_uniqueid": uid, "agi_callerid": caller, **env})
        fake.run()
        fake.call_id = f"ast-{uid}"
        return fake

    def events(self, fake: FakeAsterisk) -> list[tuple[str, dict]]:
        with self.services.sessions() as session:
            return [(e.type, e.data) for e in events_of(session, fake.call_id)]


def start_phone(app, tmp_path, clock, synthesizer=None, **server_options) -> tuple[Phone, FastAgiServer]:
    services = app.extensions["vaxel"]
    services.clock = clock
    audio = AudioLibrary(tmp_path / "sounds", synthesizer or SilenceSynthesizer())
    server = agi_server(services, "127.0.0.1", 0, audio=audio)
    for key, value in server_options.items():
        setattr(server, key, value)
    _, port = server.start()
    return Phone(services, port, clock), server


@pytest.fixture
def phone(app, tmp_path):
    phone, server = start_phone(app, tmp_path, SteppingClock(TZ, at(OPEN)))
    yield phone
    server.stop()


@pytest.fixture
def closed_phone(app, tmp_path):
    phone, server = start_phone(app, tmp_path, Clock(TZ, start=at(CLOSED)))
    yield phone
    server.stop()


def types(events) -> list[str]:
    return [t for t, _ in events]


def last(events, kind: str) -> dict:
    return [d for t, d in events if t == kind][-1]


def assert_clean(fake: FakeAsterisk) -> None:
    assert fake.errors == [], fake.transcript[-12:]


# -- option 2: the centre queue ----------------------------------------------------------------


def test_option_2_is_queued_hears_position_and_an_operator_answers(phone):
    fake = phone.call("2", "queue:wait", "queue:operator:Anna:20")
    assert_clean(fake)
    events = phone.events(fake)
    assert last(events, "menu_choice")["option"] == "case"
    assert last(events, "queue_joined")["position"] == 1 and last(events, "queue_joined")["returned"] is False
    left = last(events, "queue_left")
    assert left["reason"] == "answered" and left["operator"] == "Anna"
    assert last(events, "call_ended")["reason"] == "completed"
    assert fake.vars["VAXEL_RESULT"] == "done"
    # Swedish prompts as audio files, the queue message from its prebuilt pieces
    assert fake.played[:2] == ["Välkommen till Sjöbacka kommun.", fake.played[1]] and "tryck 2" in fake.played[1]
    i = fake.played.index("Du är nummer")
    assert fake.played[i + 1] == "1" and fake.played[i + 2].startswith("i kön. Beräknad väntetid är")
    # the caller waits in app_queue between the engine's messages, normal priority class
    assert fake.queued[0]["queue"] == "vaxel-centre" and int(fake.queued[0]["prio"]) < PRIO_CLASS
    assert any(line.startswith("ANSWER") for line in fake.commands[:1])


def test_position_updates_then_callback_keeps_the_turn(phone):
    fake = phone.call("2", "queue:wait", "queue:wait", "1", "1")
    assert_clean(fake)
    events = phone.events(fake)
    assert types(events).count("queue_joined") == 1
    assert last(events, "callback_offered")["where"] == "queue"
    assert last(events, "callback_requested")["when"] == "queue"
    assert last(events, "queue_left")["reason"] == "callback"
    assert last(events, "call_ended")["reason"] == "callback_requested"
    assert any(p.startswith("Tack. Vi ringer dig på 070-123 45 67") for p in fake.played)
    assert fake.played.count("Du är nummer") >= 2  # joined, then the update a minute later
    assert [q["timeout"] for q in fake.queued][:1] != ["0"]
    assert fake.vars["VAXEL_RESULT"] == "done"


def test_a_key_during_the_prompt_cuts_it_short(phone):
    fake = phone.call("early:2", "queue:operator")
    assert_clean(fake)
    assert last(phone.events(fake), "menu_choice")["digit"] == "2"
    first_listen = next((c for c in fake.commands if c.startswith("WAIT FOR DIGIT")), None)
    assert first_listen is None  # the key came with the greeting: no menu prompt, no listening
    assert fake.commands[1].startswith("STREAM FILE ") and fake.commands[1].endswith('"0123456789*#"')


# -- option 1: a person -------------------------------------------------------------------------


def test_option_1_by_extension_answered(phone):
    fake = phone.call("1", "4439#", "ring:answered:40")
    assert_clean(fake)
    assert [(d.target, d.ring_timeout, d.outcome) for d in fake.dialled] == [("PJSIP/4439", 25, "answered")]
    events = phone.events(fake)
    assert last(events, "directory_lookup")["query"] == "4439"
    assert last(events, "transfer_started")["target"] == "Sven Olofsson"
    assert last(events, "transfer_answered")["target"] == "Sven Olofsson"
    assert last(events, "call_ended") == {"reason": "completed", "node": "transfer", "talk_seconds": 40}
    assert any(p.startswith("Du kopplas nu till Sven Olofsson") for p in fake.played)
    assert fake.vars["VAXEL_RESULT"] == "done"


def test_the_transfer_asks_whoever_answers_to_press_1_first(phone, tmp_path):
    fake = phone.call("1", "4439#", "ring:answered:40")
    assert_clean(fake)
    options = fake.dialled[0].options
    assert options.startswith("U(vaxel-confirm^") and options.endswith("^6)")  # transfers.confirm_seconds
    whisper = options[len("U(vaxel-confirm^"):-len("^6)")]
    assert (tmp_path / "sounds" / "sv").resolve() in Path(whisper).parents
    text = Path(whisper + ".txt").read_text(encoding="utf-8").strip()
    assert text == "Samtal från växeln till Sven Olofsson. Tryck 1 för att ta samtalet."
    assert any(c == 'SET VARIABLE GOSUB_RETVAL ""' for c in fake.commands)  # no answer from an earlier Dial


def test_a_unit_without_confirmation_is_rung_without_the_subroutine(phone):
    from directory.models import Staff

    with phone.services.sessions() as session:
        session.scalar(select(Staff).where(Staff.extension == "4439")).unit.confirm_answer = False
        session.commit()
    fake = phone.call("1", "4439#", "ring:machine")
    assert_clean(fake)
    assert fake.dialled[0].options == "" and fake.dialled[0].outcome == "answered"  # the voicemail took it
    assert "transfer_answered" in types(phone.events(fake))


def test_a_units_no_answer_policy_rings_the_colleague_next(phone):
    from directory.models import Staff

    with phone.services.sessions() as session:
        session.scalar(select(Staff).where(Staff.extension == "4439")).unit.no_answer = "colleague"
        session.commit()
    fake = phone.call("1", "4439#", "ring:no-answer", "ring:answered:10")
    assert_clean(fake)
    assert [(d.target, d.outcome) for d in fake.dialled] == [("PJSIP/4439", "no-answer"), ("PJSIP/4440", "answered")]
    assert any("Vi kopplar dig till en kollega, Nadia Karimi" in p for p in fake.played)
    assert last(phone.events(fake), "transfer_answered")["target"] == "Nadia Karimi"


def test_option_1_extension_keyed_during_the_prompt(phone):
    fake = phone.call("1", "early:4439#", "ring:answered:5")
    assert_clean(fake)
    assert fake.dialled[0].target == "PJSIP/4439"
    assert any(c.startswith('GET DATA "" ') for c in fake.commands)


def test_option_1_by_keypad_name_spelling(phone):
    fake = phone.call("1", "7836#", "ring:answered:10")  # S-V-E-N on the keypad
    assert_clean(fake)
    assert [d.target for d in fake.dialled] == ["PJSIP/4439"]
    events = phone.events(fake)
    assert last(events, "directory_lookup")["query"] == "7836"
    assert last(events, "transfer_answered")["target"] == "Sven Olofsson"


@pytest.mark.parametrize("ring, reason, dialstatus", [
    ("ring:no-answer", "no-answer", "NOANSWER"),
    ("ring:busy", "busy", "BUSY"),
    ("ring:chanunavail", "failed", "CHANUNAVAIL"),
    ("ring:congestion", "failed", "CONGESTION"),
    ("ring:machine", "not-accepted", "ANSWER"),  # a voicemail answered; nobody pressed 1 in vaxel-confirm
])
def test_option_1_not_answered_returns_to_the_queue_first(phone, ring, reason, dialstatus):
    # someone already waits in the centre queue: the returned caller goes ahead of them
    runner = CallRunner(phone.services.sessions, phone.services.settings, channel="demo")
    runner.start("sim-waiting", at(OPEN), "+46701740601", "+46406280400")
    runner.handle("sim-waiting", Digits("2"), at(OPEN))
    fake = phone.call("1", "4439#", ring, "queue:operator:Anna:3")
    assert_clean(fake)
    assert fake.vars["DIALSTATUS"] == dialstatus
    events = phone.events(fake)
    assert last(events, "transfer_failed")["reason"] == reason
    assert last(events, "returned_to_queue")["target"] == "Sven Olofsson"
    joined = last(events, "queue_joined")
    assert joined["returned"] is True and joined["position"] == 1
    assert int(fake.queued[0]["prio"]) >= PRIO_CLASS  # the returned class in app_queue too
    said = {"no-answer": "svarar inte just nu", "busy": "är upptagen", "failed": "kunde inte koppla",
            "not-accepted": "svarar inte just nu"}[reason]
    assert any(said in p for p in fake.played)
    assert last(events, "call_ended")["reason"] == "completed"


# -- closed, silence, wrong keys -----------------------------------------------------------------


def test_closed_hours_say_the_hours_offer_a_callback_and_say_goodbye(closed_phone):
    fake = closed_phone.call("silence")
    assert_clean(fake)
    events = closed_phone.events(fake)
    assert last(events, "hours_checked")["open"] is False
    assert last(events, "callback_offered")["where"] == "closed"
    assert last(events, "call_ended")["reason"] == "goodbye"
    assert any("stängd" in p and "i morgon klockan 08:00" in p for p in fake.played)
    assert fake.played[-1] == "Tack för att du ringde Sjöbacka kommun. Hej då."
    assert fake.vars["VAXEL_RESULT"] == "done"
    assert not fake.dialled and not fake.queued


def test_closed_hours_callback_at_the_next_opening(closed_phone):
    fake = closed_phone.call("1", "1")
    assert_clean(fake)
    events = closed_phone.events(fake)
    assert last(events, "callback_requested")["when"] == "next_open"
    assert any(p.startswith("Tack. Vi ringer dig på 070-123 45 67 när vi öppnar") for p in fake.played)


def test_silence_leads_to_the_centre_never_a_drop(phone):
    fake = phone.call("silence", "silence", "silence", "queue:operator")
    assert_clean(fake)
    events = phone.events(fake)
    assert types(events).count("input_timeout") == 3
    assert last(events, "queue_joined")["menu_choice"] == "fallback"
    assert "Vi kopplar dig till kundcenter." in fake.played
    assert [c for c in fake.commands if c.startswith("WAIT FOR DIGIT")] == ["WAIT FOR DIGIT 6000"] * 3


def test_invalid_digits_are_retried_then_the_centre(phone):
    fake = phone.call("7", "*", "5", "queue:operator")
    assert_clean(fake)
    events = phone.events(fake)
    assert [d["digits"] for t, d in events if t == "input_invalid"] == ["7", "*", "5"]
    assert fake.played.count("Det valet finns inte.") == 2
    assert last(events, "queue_left")["reason"] == "answered"


def test_directory_silence_or_no_match_goes_to_the_centre(phone):
    fake = phone.call("1", "silence", "9999#", "queue:operator")
    assert_clean(fake)
    events = phone.events(fake)
    assert last(events, "directory_lookup") == {"query": "9999", "hits": 0, "matched": False, "top": []}
    assert last(events, "queue_left")["reason"] == "answered"


# -- hang-ups ------------------------------------------------------------------------------------


@pytest.mark.parametrize("script, awaiting", [
    (["hangup@prompt"], "menu"),
    (["hangup@listen"], "menu"),
    (["1", "hangup@prompt"], "directory"),
    (["1", "hangup@listen"], "directory"),
    (["1", "4439#", "hangup@prompt"], "transfer"),
    (["1", "4439#", "hangup@dial"], "transfer"),
    (["2", "hangup@queue"], "queue"),
    (["2", "queue:wait", "queue:wait", "hangup@listen"], "queue_offer"),
    (["2", "queue:wait", "queue:wait", "1", "hangup@listen"], "callback_confirm"),
    (["2", "queue:wait", "queue:wait", "1", "2", "hangup@listen"], "callback_enter"),
    (["1", "4439#", "ring:no-answer", "hangup@queue"], "queue"),
])
def test_caller_hangs_up_in_every_state(phone, script, awaiting):
    fake = phone.call(*script)
    assert_clean(fake)
    events = phone.events(fake)
    assert last(events, "call_ended") == {"reason": "caller_hangup", "node": last(events, "call_ended")["node"],
                                          "awaiting": awaiting}
    if awaiting in ("queue", "queue_offer", "callback_confirm", "callback_enter"):
        assert last(events, "queue_left")["reason"] == "abandoned"
    if awaiting == "transfer":
        assert last(events, "transfer_failed")["reason"] == "caller_hangup"
    assert fake.vars["VAXEL_RESULT"] == "hangup"
    # after the hang-up: the inline HANGUP line came, nothing but dead-channel-safe commands followed
    after = fake.transcript[[i for i, (w, line) in enumerate(fake.transcript) if line == "HANGUP"][0]:]
    assert [line for w, line in after if w == "S"][-1] == 'SET VARIABLE VAXEL_RESULT "hangup"'


def test_caller_hangs_up_when_closed(closed_phone):
    fake = closed_phone.call("hangup@listen")
    assert_clean(fake)
    assert last(closed_phone.events(fake), "call_ended")["awaiting"] == "closed_offer"


def test_a_conversation_with_an_operator_ends_completed(phone):
    fake = phone.call("2", "queue:operator:Anna:0")
    assert last(phone.events(fake), "call_ended")["reason"] == "completed"


# -- our own failures ----------------------------------------------------------------------------


def test_internal_error_in_the_flow_sends_the_caller_to_the_centre(phone, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("directory down")

    monkeypatch.setattr("switchboard.call_facts.CallFacts.lookup", broken)
    fake = phone.call("1", "4439#", "queue:operator:Anna:3")
    assert_clean(fake)
    events = phone.events(fake)
    assert last(events, "queue_joined")["fallback"] is True
    assert "Vi kopplar dig till kundcenter." in fake.played
    assert last(events, "queue_left")["reason"] == "answered"


def test_internal_error_in_the_adapter_hands_the_call_to_the_dialplan(phone, monkeypatch):
    def broken(self, transfer):
        raise RuntimeError("bug in the adapter")

    monkeypatch.setattr(AsteriskCall, "transfer", broken)
    fake = phone.call("1", "4439#")
    assert fake.vars["VAXEL_RESULT"] == "fallback"  # extensions_vaxel.conf: not done/hangup -> operators
    assert fake.commands[-1] == 'SET VARIABLE VAXEL_RESULT "fallback"'
    assert not fake.dialled
    # the next call is not affected
    other = phone.call("2", "queue:operator")
    assert other.vars["VAXEL_RESULT"] == "done"


def test_one_failing_call_does_not_touch_calls_running_beside_it(phone, monkeypatch):
    original = AsteriskCall.transfer

    def sometimes(self, transfer):
        if self.channel.env.get("agi_callerid") == "+46701740666":
            raise RuntimeError("only this call breaks")
        return original(self, transfer)

    monkeypatch.setattr(AsteriskCall, "transfer", sometimes)
    results: dict[str, FakeAsterisk] = {}

    def place(name: str, caller: str, script: list[str]) -> None:
        results[name] = phone.call(*script, caller=caller)

    threads = [threading.Thread(target=place, args=(f"ok{i}", f"+4670174060{i}", ["2", "queue:operator"]))
               for i in range(4)]
    threads.append(threading.Thread(target=place, args=("bad", "+46701740666", ["1", "4439#"])))
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["bad"].vars["VAXEL_RESULT"] == "fallback"
    assert all(results[f"ok{i}"].vars["VAXEL_RESULT"] == "done" for i in range(4))


class Broken:
    """A synthesiser that cannot make audio (espeak-ng and sox missing)."""

    def synthesize(self, text, lang, dest):
        raise SynthesisError("espeak-ng and sox not installed")


def test_no_speech_engine_still_runs_the_call(app, tmp_path):
    phone, server = start_phone(app, tmp_path, SteppingClock(TZ, at(OPEN)), synthesizer=Broken())
    try:
        fake = phone.call("2", "queue:operator")
    finally:
        server.stop()
    assert_clean(fake)
    assert fake.played == [] and not any(c.startswith("STREAM FILE") for c in fake.commands)
    assert last(phone.events(fake), "queue_left")["reason"] == "answered"


def test_no_audio_for_the_confirmation_connects_on_answer_rather_than_failing(app, tmp_path):
    phone, server = start_phone(app, tmp_path, SteppingClock(TZ, at(OPEN)), synthesizer=Broken())
    try:
        fake = phone.call("1", "4439#", "ring:answered:20")
    finally:
        server.stop()
    assert_clean(fake)
    assert fake.dialled[0].options == ""  # silence would ask nobody to press 1: every transfer would fail
    assert "transfer_answered" in types(phone.events(fake))


def test_over_capacity_a_call_goes_straight_to_the_operators(app, tmp_path):
    phone, server = start_phone(app, tmp_path, SteppingClock(TZ, at(OPEN)))
    server.stop()
    server = FastAgiServer({"incoming": incoming(phone.services, AudioLibrary(tmp_path, SilenceSynthesizer()))},
                           "127.0.0.1", 0, max_calls=1)
    _, port = server.start()
    try:
        holder = socket.create_connection(("127.0.0.1", port))  # a call that holds the only slot
        holder.sendall(b"agi_network_script: incoming\nagi_uniqueid: 1.1\n\n")
        assert holder.makefile("rb").readline() == b"ANSWER\n"
        second = FakeAsterisk(port, ["2"]).run()
        assert second.vars == {"VAXEL_RESULT": "fallback"}
        holder.close()
    finally:
        server.stop()


def test_unknown_agi_script_goes_to_the_operators(phone):
    fake = FakeAsterisk(phone.port, [], env={"agi_network_script": "nonsense"}).run()
    assert fake.vars == {"VAXEL_RESULT": "fallback"}
