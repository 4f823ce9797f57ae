"""Engine actions rendered as TwiML: pure tables, no app, no database."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ivr.protocol import Bridged, Callback, Enqueue, Gather, HangUp, Say, Transfer
from switchboard.twilio import twiml
from switchboard.twilio.twiml import Audio, Links, Where

AUDIO = Audio(languages={"sv": "sv-SE", "en": "en-GB"}, voices={"sv": "Polly.Astrid", "en": ""}, hold_seconds=15)
LINKS = Links(step="https://v/twilio/step?s=3", dial="https://v/twilio/dial?s=3", wait="https://v/twilio/wait?s=3&q=3",
              offer="https://v/twilio/offer?s=3&q=3", queue_result="https://v/twilio/queue-result?s=3")
HELLO = Say("greeting", "Välkommen.", "sv")
MENU = Say("menu", "Tryck 1 eller 2.", "sv")


def shape(response) -> list:
    """The TwiML as (tag, key attributes, text or children) tuples, easy to compare."""
    def walk(el):
        attrs = {k: v for k, v in el.attrib.items()}
        children = [walk(c) for c in el]
        return (el.tag, attrs, children or (el.text or ""))
    return [walk(el) for el in ET.fromstring(str(response))]


SV = {"language": "sv-SE", "voice": "Polly.Astrid"}

CALL_TABLE = [
    pytest.param(
        [HELLO, MENU, Gather(timeout=6)], Where("menu"),
        [("Gather", {"input": "dtmf", "action": LINKS.step, "method": "POST", "timeout": "6", "finishOnKey": "",
                     "language": "sv-SE", "numDigits": "1"},
         [("Say", SV, "Välkommen."), ("Say", SV, "Tryck 1 eller 2.")]),
         ("Redirect", {"method": "POST"}, LINKS.step)],
        id="prompts before a gather are nested in it, and a redirect follows for silence"),
    pytest.param(
        [Say("q", "Du är nummer 2.", "sv"), Enqueue("centre", 2, 180)], Where("queue"),
        [("Say", SV, "Du är nummer 2."),
         ("Enqueue", {"waitUrl": LINKS.wait, "waitUrlMethod": "POST", "action": LINKS.queue_result, "method": "POST"},
          "centre")],
        id="a new caller is enqueued in the centre queue"),
    pytest.param(
        [Say("t", "Ingen svarar.", "sv"), Say("q", "Du är nummer 1.", "sv"), Enqueue("centre", 1, 60, returned=True)],
        Where("queue", returned=True),
        [("Say", SV, "Ingen svarar."), ("Say", SV, "Du är nummer 1."),
         ("Enqueue", {"waitUrl": LINKS.wait, "waitUrlMethod": "POST", "action": LINKS.queue_result, "method": "POST"},
          "centre-returned")],
        id="a returned caller waits in the returned queue"),
    pytest.param(
        [Say("c", "Du kopplas.", "sv"), Transfer("s1", "Anna", "+46406280401", "401", 25)], Where("transfer"),
        [("Say", SV, "Du kopplas."),
         ("Dial", {"action": LINKS.dial, "method": "POST", "timeout": "25", "answerOnBridge": "true",
                   "callerId": "+46701740601"}, [("Number", {}, "+46406280401")])],
        id="a transfer dials with ring timeout, answerOnBridge and caller id"),
    pytest.param(
        [Say("b", "Hej då.", "sv"), HangUp("goodbye")], Where(""),
        [("Say", SV, "Hej då."), ("Hangup", {}, "")],
        id="goodbye hangs up"),
    pytest.param(
        [Callback(7, "+46701740601", "queue"), Say("c", "Vi ringer.", "sv"), HangUp("callback_requested")], Where(""),
        [("Say", SV, "Vi ringer."), ("Hangup", {}, "")],
        id="a stored callback is only said"),
    pytest.param(
        [Say("bq", "Du står kvar i kön.", "sv")], Where("queue", "centre", returned=True),
        [("Say", SV, "Du står kvar i kön."),
         ("Enqueue", {"waitUrl": LINKS.wait, "waitUrlMethod": "POST", "action": LINKS.queue_result, "method": "POST"},
          "centre-returned")],
        id="back in the queue after leaving it: enqueued again"),
    pytest.param(
        [Bridged("Anna", "transfer")], Where("bridged"), [("Hangup", {}, "")],
        id="after an answered transfer has ended: hang up"),
    pytest.param(
        [], Where("menu"), [("Redirect", {"method": "POST"}, LINKS.step)],
        id="nothing to say while a gather is due: the step URL times the engine out"),
]


@pytest.mark.parametrize("actions, where, expected", CALL_TABLE)
def test_call_twiml(actions, where, expected):
    assert shape(twiml.call_twiml(actions, where, LINKS, AUDIO, caller_id="+46701740601")) == expected


def test_english_is_said_in_the_configured_english_with_twilios_default_voice():
    response = twiml.call_twiml([Say("menu", "Press 1.", "en"), Gather(lang="en")], Where("menu"), LINKS, AUDIO)
    gather = shape(response)[0]
    assert gather[1]["language"] == "en-GB"
    assert gather[2] == [("Say", {"language": "en-GB"}, "Press 1.")]


def test_directory_gather_takes_speech_with_hints_and_a_hash_key():
    action = Gather(input="dtmf speech", max_digits=None, finish_on_key="#", timeout=8, hints=("bygglov",))
    (gather, redirect) = shape(twiml.call_twiml([action], Where("directory"), LINKS, AUDIO,
                                                hints=["torghandel", "Bygglov", "Anna Ek"]))
    assert gather[1] == {"input": "dtmf speech", "action": LINKS.step, "method": "POST", "timeout": "8",
                         "finishOnKey": "#", "language": "sv-SE", "hints": "bygglov,torghandel,Anna Ek"}
    assert redirect == ("Redirect", {"method": "POST"}, LINKS.step)


def test_whisper_goes_on_the_staff_leg_only_when_configured():
    links = Links(dial=LINKS.dial, whisper="https://v/twilio/whisper?c=CA1&s=3")
    (dial,) = shape(twiml.call_twiml([Transfer("s1", "Anna", "+46406280401", None, 25)], Where("transfer"), links,
                                     AUDIO))
    assert dial[2] == [("Number", {"url": links.whisper, "method": "POST"}, "+46406280401")]


WAIT_TABLE = [
    pytest.param([], [("Pause", {"length": "15"}, ""), ("Redirect", {"method": "POST"}, LINKS.wait)],
                 id="nothing due: hold, then check again"),
    pytest.param([Say("q", "Du är nummer 3.", "sv")],
                 [("Say", SV, "Du är nummer 3."), ("Pause", {"length": "15"}, ""),
                  ("Redirect", {"method": "POST"}, LINKS.wait)],
                 id="a position message, then hold"),
    pytest.param([Say("o", "Tryck 1 för uppringning.", "sv"), Gather(timeout=5)],
                 [("Gather", {"input": "dtmf", "action": LINKS.offer, "method": "POST", "timeout": "5",
                              "finishOnKey": "", "language": "sv-SE", "numDigits": "1"},
                   [("Say", SV, "Tryck 1 för uppringning.")]),
                  ("Redirect", {"method": "POST"}, LINKS.wait)],
                 id="the callback offer gathers in the queue; silence goes back to waiting"),
    pytest.param([Say("f", "Vi kopplar dig.", "sv"), Enqueue("centre", 1, 0)],
                 [("Say", SV, "Vi kopplar dig."), ("Pause", {"length": "15"}, ""),
                  ("Redirect", {"method": "POST"}, LINKS.wait)],
                 id="never an Enqueue inside a queue"),
]


@pytest.mark.parametrize("actions, expected", WAIT_TABLE)
def test_wait_twiml(actions, expected):
    assert shape(twiml.wait_twiml(actions, LINKS, AUDIO)) == expected


def test_hold_music_is_played_when_configured():
    audio = Audio(hold_music_url="https://cdn.example/vanta.mp3")
    assert shape(twiml.hold(LINKS, audio))[0] == ("Play", {}, "https://cdn.example/vanta.mp3")


def test_apology_is_swedish_and_queues_at_the_centre():
    say, enqueue = shape(twiml.apology(LINKS, AUDIO))
    assert say == ("Say", SV, twiml.APOLOGY)
    assert enqueue[0] == "Enqueue" and enqueue[2] == "centre" and enqueue[1]["waitUrl"] == LINKS.wait


def test_operator_dials_the_queue_with_the_dequeue_url():
    (dial,) = shape(twiml.operator_dial("centre-returned", "https://v/twilio/dequeued?op=x", "https://v/next", 20))
    assert dial == ("Dial", {"action": "https://v/next", "method": "POST", "timeout": "20"},
                    [("Queue", {"url": "https://v/twilio/dequeued?op=x", "method": "POST"}, "centre-returned")])


@pytest.mark.parametrize("sources, expected", [
    ([["torghandel", "Torghandel", "bygglov, lov"]], ["torghandel", "bygglov lov"]),
    ([["x" * 101, "  ", "ok"]], ["ok"]),
    ([[f"ord{i}" for i in range(400)], [f"namn{i}" for i in range(400)]], None),
])
def test_hints_stay_within_twilios_limits(sources, expected):
    hints = twiml.hint_list(*sources)
    assert len(hints) <= twiml.MAX_HINTS and all(len(h) <= twiml.MAX_HINT_CHARS and "," not in h for h in hints)
    if expected is not None:
        assert hints == expected
    else:
        assert len(hints) == 500 and hints[0] == "ord0" and hints[-1] == "namn99"
