"""The pure translations between the engine and Asterisk, as tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ivr.protocol import (
    Bridged, Enqueue, Gather, HangUp, Hangup, OperatorAnswered, Say, Tick, Transfer, TransferEnded,
)
from switchboard.asterisk.dialer import dial_end_outcome, originate_outcome
from switchboard.asterisk.mapping import (
    PRIO_CLASS, app_queue_name, called_of, caller_of, dial_string, interruptible, key_of, queue_prio, queue_wait,
    transfer_input,
)
from switchboard.asterisk.pbx_events import (
    call_event, device_pattern, extension_of_device, presence_of_device, presence_of_extension,
)
from switchboard.asterisk.prompts import pieces
from switchboard.asterisk.queueing import queue_input
from tests.fakes.captures import ami_messages

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def transfer(extension=None, number=None) -> Transfer:
    return Transfer("p039", "Sven Olofsson", number, extension, 25)


@pytest.mark.parametrize("t, template, expected", [
    (transfer("4439", "+46406280439"), "PJSIP/{extension}", "PJSIP/4439"),
    (transfer("4439"), "SIP/{extension}", "SIP/4439"),
    (transfer("4439"), "Local/{extension}@vaxel-transfer", "Local/4439@vaxel-transfer"),
    (transfer(None, "+46701740631"), "PJSIP/{extension}", "Local/+46701740631@vaxel-outbound"),  # forwarded mobile
    (transfer("44,39&PJSIP/1"), "PJSIP/{extension}", "PJSIP/4439PJSIP1"),  # no Dial options or extra channels
    (transfer(None, None), "PJSIP/{extension}", None),
    (transfer("", "+46 70-174 06 31"), "PJSIP/{extension}", "Local/+46701740631@vaxel-outbound"),
])
def test_dial_string(t, template, expected):
    assert dial_string(t, template, "Local/{number}@vaxel-outbound") == expected


@pytest.mark.parametrize("dialstatus, expected", [
    ("ANSWER", TransferEnded("answered")),
    ("NOANSWER", TransferEnded("no-answer")),
    ("BUSY", TransferEnded("busy")),
    ("CHANUNAVAIL", TransferEnded("failed")),
    ("CONGESTION", TransferEnded("failed")),
    ("INVALIDARGS", TransferEnded("failed")),
    ("", TransferEnded("failed")),
    (None, TransferEnded("failed")),
    ("CANCEL", Hangup()),
    ("cancel", Hangup()),
])
def test_dialstatus_to_input(dialstatus, expected):
    assert transfer_input(dialstatus) == expected


def test_queue_prio_keeps_the_database_order_across_reentries():
    """Returned callers first, then earlier joins; values fit app_queue's int."""
    early, late = T0, T0 + timedelta(minutes=3)
    order = sorted([(False, late), (True, late), (False, early), (True, early)],
                   key=lambda c: -queue_prio(*c))
    assert order == [(True, early), (True, late), (False, early), (False, late)]
    assert queue_prio(True, T0) < 2**31 - 1 and queue_prio(False, T0) >= 0
    assert queue_prio(True, T0) >= PRIO_CLASS > queue_prio(False, T0)
    assert queue_prio(False, early) > queue_prio(False, early + timedelta(seconds=1))


FLOW_QUEUE = {"announce_every": 60, "callback": True, "callback_after": 120}


@pytest.mark.parametrize("joined, last, offered, now, expected", [
    (0, 0, False, 0, 60),     # next: the position message a minute after joining
    (0, 0, False, 15, 45),    # the joining message took 15 s
    (0, 60, False, 60, 60),   # message at 60, offer due at 120 = next message
    (0, 60, False, 100, 20),
    (0, 100, False, 100, 20),  # a late message: the offer (120) comes first
    (0, 120, True, 130, 50),  # offered already: only messages
    (0, 0, False, 300, 1),    # overdue: come back at once (at least a second)
    (0, -1000, True, 0, 1),
])
def test_queue_wait_is_the_time_until_the_engine_speaks(joined, last, offered, now, expected):
    queue = {"joined_at": (T0 + timedelta(seconds=joined)).isoformat(),
             "last_announce": (T0 + timedelta(seconds=last)).isoformat(), "offered": offered}
    assert queue_wait(queue, FLOW_QUEUE, T0 + timedelta(seconds=now)) == expected


def test_queue_wait_without_callbacks_waits_for_messages_only():
    queue = {"joined_at": T0.isoformat(), "last_announce": T0.isoformat(), "offered": False}
    assert queue_wait(queue, {"announce_every": 90, "callback": False, "callback_after": 10}, T0) == 90


@pytest.mark.parametrize("returned, status, member, name, hold, expected", [
    (0, "TIMEOUT", None, None, None, (Tick(), 30)),
    (-1, None, None, None, None, (Hangup(), 30)),
    (-1, None, "PJSIP/4400", "Anna", "12", (OperatorAnswered("Anna"), 12)),
    (0, None, "PJSIP/4400", "", "", (OperatorAnswered("PJSIP/4400"), 30)),
    (-1, None, "PJSIP/4400", "Anna", "999", (OperatorAnswered("Anna"), 30)),  # never after now
    (0, "JOINEMPTY", None, None, None, (None, 30)),
    (0, "FULL", None, None, None, (None, 30)),
    (0, "UNKNOWN", None, None, None, (None, 30)),  # no such queue: hold, do not spin
    (0, "", None, None, None, (Tick(), 30)),
])
def test_queue_slice_to_input(returned, status, member, name, hold, expected):
    inp, at = queue_input(returned, status, member, name, hold, T0, T0 + timedelta(seconds=30))
    assert (inp, int((at - T0).total_seconds())) == expected


def say(prompt="greeting", text="Hej.") -> Say:
    return Say(prompt, text, "sv")


@pytest.mark.parametrize("actions, expected", [
    ([say(), say(), Gather()], [True, True, False]),
    ([say(), Enqueue("centre", 1, 60)], [False, False]),
    ([say(), Transfer("p", "n", None, "1", 25)], [False, False]),
    ([say(), Enqueue("centre", 1, 60), say(), Gather()], [False, False, True, False]),
    ([say(), HangUp("goodbye")], [False, False]),
    ([Bridged("Anna", "queue")], [False]),
    ([], []),
])
def test_which_prompts_a_key_may_cut_short(actions, expected):
    assert interruptible(actions) == expected


@pytest.mark.parametrize("code, key", [(50, "2"), (49, "1"), (35, "#"), (42, "*"), (0, None), (-1, None),
                                       (None, None), (120, None)])
def test_keys_arrive_as_ascii_codes(code, key):
    assert key_of(code) == key


@pytest.mark.parametrize("env, caller, called", [
    ({"agi_callerid": "+46701234567", "agi_extension": "4646355000"}, "+46701234567", "+4646355000"),
    ({"agi_callerid": "anonymous", "agi_extension": "s", "agi_arg_1": "+46406280400"}, "anonymous", "+46406280400"),
    ({"agi_callerid": "0701234567", "agi_extension": "s", "agi_arg_1": "0406280499"}, "0701234567", "+46406280499"),
    ({"agi_callerid": "", "agi_extension": "s", "agi_arg_1": "", "agi_dnid": "unknown"}, None, None),
    ({"agi_extension": "4400"}, None, "4400"),
])
def test_caller_and_called_from_the_env_block(env, caller, called):
    assert (caller_of(env), called_of(env)) == (caller, called)


@pytest.mark.parametrize("prompt, text, expected", [
    ("queue_position", "Du är nummer 3 i kön. Beräknad väntetid är ungefär 5 minuter.",
     ["Du är nummer", "3", "i kön. Beräknad väntetid är ungefär", "5", "minuter."]),
    ("queue_position", "Du är nummer 12 i kön. Beräknad väntetid är mindre än en minut.",
     ["Du är nummer", "12", "i kön. Beräknad väntetid är mindre än en minut."]),
    ("connecting", "Du kopplas nu till Sven Olofsson, Torghandel.", ["Du kopplas nu till Sven Olofsson, Torghandel."]),
    ("closed", "Våra telefontider är måndag 08:00–17:00.", ["Våra telefontider är måndag 08:00–17:00."]),
    ("greeting", "  ", []),
])
def test_what_is_played_for_a_text(prompt, text, expected):
    assert pieces(Say(prompt, text, "sv")) == expected


def test_app_queue_name():
    assert app_queue_name("centre") == "vaxel-centre"


@pytest.mark.parametrize("response, reason, outcome", [
    ("Success", "4", "answered"), ("Failure", "5", "busy"), ("Failure", "3", "no-answer"),
    ("Failure", "1", "no-answer"), ("Failure", "8", "failed"), ("Failure", "0", "failed"), (None, None, "failed"),
])
def test_originate_outcomes(response, reason, outcome):
    assert originate_outcome(response, reason) == outcome


@pytest.mark.parametrize("status, outcome", [("ANSWER", "answered"), ("NOANSWER", "no-answer"), ("BUSY", "busy"),
                                             ("CHANUNAVAIL", "failed"), ("CANCEL", "failed"), (None, "failed")])
def test_callback_dial_end_outcomes(status, outcome):
    assert dial_end_outcome(status) == outcome


@pytest.mark.parametrize("state, presence", [
    ("NOT_INUSE", "available"), ("INUSE", "busy"), ("BUSY", "busy"), ("RINGING", "busy"), ("RINGINUSE", "busy"),
    ("ONHOLD", "busy"), ("UNAVAILABLE", "unavailable"), ("INVALID", "unavailable"), ("UNKNOWN", None), ("", None),
])
def test_device_state_to_presence(state, presence):
    assert presence_of_device(state) == presence


@pytest.mark.parametrize("status, presence", [
    ("0", "available"), ("1", "busy"), ("2", "busy"), ("8", "busy"), ("9", "busy"), ("16", "busy"),
    ("4", "unavailable"), ("-1", "unavailable"), ("-2", "unavailable"), ("x", None),
])
def test_extension_status_to_presence(status, presence):
    assert presence_of_extension(status) == presence


@pytest.mark.parametrize("template, device, extension", [
    ("PJSIP/{extension}", "PJSIP/4439", "4439"),
    ("PJSIP/{extension}", "PJSIP/4439-0000001", None),
    ("PJSIP/{extension}", "Queue:vaxel-centre", None),
    ("SIP/{extension}", "PJSIP/4439", None),
    ("Local/{extension}@vaxel-transfer", "Local/4439@vaxel-transfer", "4439"),
    ("Local/{extension}@staff-answer", "Local/200@staff-answer", "200"),  # as in the capture
])
def test_device_to_extension(template, device, extension):
    assert extension_of_device(device, device_pattern(template)) == extension


def test_captured_events_become_call_events():
    events = [h for sent, h in ami_messages() if not sent and "Event" in h]
    kinds = [e.kind for e in map(call_event, events) if e is not None]
    for kind in ("dial_begin", "dial_end", "hangup", "queue_join", "queue_leave", "queue_abandon",
                 "operator_no_answer"):
        assert kind in kinds, kind
    noanswer = next(call_event(e) for e in events if e.get("Event") == "DialEnd" and e.get("DialStatus") == "NOANSWER")
    assert noanswer.uniqueid == "1795469729.1" and noanswer.data["status"] == "NOANSWER"
    join = next(call_event(e) for e in events if e.get("Event") == "QueueCallerJoin")
    assert join.data == {"queue": "centre", "position": 1, "count": 1}
    assert call_event({"Event": "VarSet"}) is None


def test_unusable_dial_templates_are_named():
    from switchboard.asterisk.mapping import template_problems

    assert template_problems({"dial_template": "PJSIP/{extension}", "outbound_template": "Local/{number}@x"}) == []
    problems = template_problems({"dial_template": "PJSIP/{ext}", "outbound_template": "Local/{number}@x"})
    assert len(problems) == 1 and "asterisk.dial_template" in problems[0]
