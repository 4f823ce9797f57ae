"""The call-flow engine as tables: (state reached by inputs, input, time) -> actions, request and events.

The engine is pure, so these tests play the runner's part by hand: when it asks
for phone hours, a lookup or a queue place, the next input is the answer.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ivr import flow as flows
from ivr.engine import CallState, step
from ivr.protocol import (
    CallbackStored, Digits, Hangup, HoursChecked, LookupResult, Match, NoInput, NumberChecked, OperatorAnswered,
    QueuePlace, Speech, Start, Tick, TransferEnded,
)
from core.settings import CONFIG_DIR
from tests.conftest import at

FLOW = flows.Flow.from_document(flows.load_file(CONFIG_DIR / "flows" / "default.toml"), version=1)
T0 = at("2026-11-24T10:00")
WEEK = {"mon": ["08:00-17:00"], "tue": ["08:00-17:00"], "wed": ["08:00-17:00"], "thu": ["08:00-17:00"],
        "fri": ["08:00-16:00"]}
OPEN = HoursChecked(open=True, weekly=WEEK)
SVEN = Match(id="p031", name="Sven Olofsson", unit="Marknad och torghandel", number="+46406280439",
             extension="4439")
CALLER = "+46701740699"


def summary(result) -> list[str]:
    """Actions (and the request, if any) as short words: 'say:menu', 'gather', 'transfer:Sven Olofsson', ..."""
    words = []
    for a in result.actions:
        if a.kind == "say":
            words.append(f"say:{a.prompt}")
        elif a.kind == "transfer":
            words.append(f"transfer:{a.name}:{a.ring_timeout}")
        elif a.kind == "enqueue":
            words.append(f"enqueue:{a.queue}:{a.position}" + (":returned" if a.returned else ""))
        elif a.kind == "bridged":
            words.append(f"bridged:{a.party}")
        elif a.kind == "hangup":
            words.append(f"hangup:{a.reason}")
        else:
            words.append(a.kind)
    if result.request is not None:
        words.append(f"ask:{result.request.kind}")
    return words


def play(inputs, caller=CALLER):
    """Run Start then each (input, seconds after T0); return every step."""
    steps = [step(FLOW, None, Start(caller, "+46406280400"), T0)]
    for inp, seconds in inputs:
        steps.append(step(FLOW, steps[-1].state, inp, T0 + timedelta(seconds=seconds)))
    return steps


def events(steps) -> list[str]:
    return [e.type for s in steps for e in s.events]


MENU = ["say:greeting", "say:menu", "gather"]
TO_QUEUE = [(OPEN, 0)]

# id, inputs after Start, expected summary of the LAST step, what the call then awaits
TABLE = [
    ("start asks for hours", [], ["ask:check_hours"], "hours"),
    ("open: greeting and menu", TO_QUEUE, MENU, "menu"),
    ("2 queues at the centre", TO_QUEUE + [(Digits("2"), 3)], ["ask:join_queue"], "queue_join"),
    ("queue place is told", TO_QUEUE + [(Digits("2"), 3), (QueuePlace(3, 240), 3)],
     ["say:queue_position", "enqueue:centre:3"], "queue"),
    ("invalid key repeats the menu", TO_QUEUE + [(Digits("7"), 3)], ["say:invalid"] + MENU[1:], "menu"),
    ("silence repeats the menu", TO_QUEUE + [(NoInput(), 6)], ["say:no_input"] + MENU[1:], "menu"),
    ("third wrong key goes to the centre, never a hang-up",
     TO_QUEUE + [(Digits("7"), 3), (Digits("7"), 6), (Digits("7"), 9)], ["say:to_centre", "ask:join_queue"],
     "queue_join"),
    ("three silences go to the centre",
     TO_QUEUE + [(NoInput(), 6), (NoInput(), 12), (NoInput(), 18)], ["say:to_centre", "ask:join_queue"],
     "queue_join"),
    ("mixed wrong key and silence count together",
     TO_QUEUE + [(Digits("5"), 3), (NoInput(), 9), (Digits("#"), 12)], ["say:to_centre", "ask:join_queue"],
     "queue_join"),
    ("9 switches to English and replays the menu", TO_QUEUE + [(Digits("9"), 3)], ["say:menu", "gather"], "menu"),
    ("1 asks who the caller wants", TO_QUEUE + [(Digits("1"), 3)], ["say:ask_person", "gather"], "directory"),
    ("speech is looked up", TO_QUEUE + [(Digits("1"), 3), (Speech("torghandel"), 6)], ["ask:lookup"], "lookup"),
    ("a hit is announced and rung", TO_QUEUE + [(Digits("1"), 3), (Speech("torghandel"), 6),
                                                (LookupResult("torghandel", (SVEN,)), 6)],
     ["say:connecting", "transfer:Sven Olofsson:25"], "transfer"),
    ("no hit goes to the centre", TO_QUEUE + [(Digits("1"), 3), (Speech("xyzzy"), 6), (LookupResult("xyzzy"), 6)],
     ["say:no_match", "ask:join_queue"], "queue_join"),
    ("silence at the directory twice goes to the centre",
     TO_QUEUE + [(Digits("1"), 3), (NoInput(), 11), (NoInput(), 19)], ["say:to_centre", "ask:join_queue"],
     "queue_join"),
    ("an extension keyed is looked up", TO_QUEUE + [(Digits("1"), 3), (Digits("4439#"), 8)], ["ask:lookup"],
     "lookup"),
]


@pytest.mark.parametrize("inputs, expected, awaiting", [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_engine_table(inputs, expected, awaiting):
    last = play(inputs)[-1]
    assert summary(last) == expected
    assert last.state.awaiting == awaiting


RING = TO_QUEUE + [(Digits("1"), 3), (Speech("torghandel"), 6), (LookupResult("torghandel", (SVEN,)), 6)]


@pytest.mark.parametrize("status, prompt", [
    ("no-answer", "say:transfer_no_answer"),
    ("busy", "say:transfer_busy"),
    ("failed", "say:transfer_failed"),
    ("canceled", "say:transfer_failed"),
])
def test_failed_transfer_returns_caller_to_queue_ahead_of_new_callers(status, prompt):
    steps = play(RING + [(TransferEnded(status), 31)])
    assert summary(steps[-1]) == [prompt, "ask:join_queue"]
    assert steps[-1].request.returned_from == "Sven Olofsson"
    assert [e.type for e in steps[-1].events] == ["transfer_failed", "returned_to_queue"]
    assert steps[-1].events[0].data["reason"] == status
    queued = step(FLOW, steps[-1].state, QueuePlace(1, 60), T0 + timedelta(seconds=31))
    assert summary(queued) == ["say:queue_position", "enqueue:centre:1:returned"]
    assert queued.events[0].data["returned"] is True


def test_answered_transfer_bridges_and_hangup_ends_with_talk_time():
    steps = play(RING + [(TransferEnded("answered"), 10), (Hangup(), 190)])
    assert summary(steps[-2]) == ["bridged:Sven Olofsson"]
    assert steps[-1].state.ended
    ended = steps[-1].events[-1]
    assert (ended.type, ended.data["reason"], ended.data["talk_seconds"]) == ("call_ended", "completed", 180)


QUEUED = TO_QUEUE + [(Digits("2"), 0), (QueuePlace(2, 180), 0)]


@pytest.mark.parametrize("seconds, expected", [
    (30, []),                       # nothing to say yet: the adapter keeps the hold music on
    (60, ["ask:queue_status"]),     # a position message is due
    (59, []),
])
def test_queue_ticks(seconds, expected):
    assert summary(play(QUEUED + [(Tick(), seconds)])[-1]) == expected


def test_position_update_then_callback_offer_after_two_minutes():
    steps = play(QUEUED + [(Tick(), 60), (QueuePlace(1, 90), 60)])
    assert summary(steps[-1]) == ["say:queue_position"]  # 60 s: position only, no offer yet
    steps = play(QUEUED + [(Tick(), 60), (QueuePlace(1, 90), 60), (Tick(), 120), (QueuePlace(1, 60), 120)])
    assert summary(steps[-1]) == ["say:queue_position", "say:callback_offer", "gather"]
    assert steps[-1].state.awaiting == "queue_offer"
    assert "callback_offered" in events(steps)


OFFERED = QUEUED + [(Tick(), 60), (QueuePlace(1, 90), 60), (Tick(), 120), (QueuePlace(1, 60), 120)]


def test_callback_from_queue_confirms_only_after_it_is_stored():
    steps = play(OFFERED + [(Digits("1"), 125)])
    assert summary(steps[-1]) == ["ask:check_number"] and steps[-1].request.number == CALLER
    steps = play(OFFERED + [(Digits("1"), 125), (NumberChecked(True, CALLER, "070-174 06 99"), 125)])
    assert summary(steps[-1]) == ["say:callback_confirm_number", "gather"]
    assert "070-174 06 99" in steps[-1].actions[0].text
    steps = play(OFFERED + [(Digits("1"), 125), (NumberChecked(True, CALLER, "070-174 06 99"), 125),
                            (Digits("1"), 128)])
    assert summary(steps[-1]) == ["ask:store_callback"]  # nothing said before the store answers
    assert not any(a.kind == "say" for a in steps[-1].actions)
    done = step(FLOW, steps[-1].state, CallbackStored(True, request_id=7), T0 + timedelta(seconds=128))
    assert summary(done) == ["callback", "say:callback_confirmed_queue", "hangup:callback_requested"]
    assert [e.type for e in done.events] == ["callback_requested", "queue_left", "call_ended"]
    assert done.events[1].data == {"queue": "centre", "reason": "callback", "waited": 128}


def test_callback_store_failure_keeps_the_caller_in_the_queue():
    steps = play(OFFERED + [(Digits("1"), 125), (NumberChecked(True, CALLER, "070-174 06 99"), 125),
                            (Digits("1"), 128), (CallbackStored(False, reason="error"), 128)])
    assert summary(steps[-1]) == ["say:callback_error", "say:back_in_queue"]
    assert steps[-1].state.awaiting == "queue"
    assert "queue_left" not in events(steps)


def test_hidden_caller_is_asked_to_key_a_number_and_a_premium_number_is_refused():
    steps = play(OFFERED + [(Digits("1"), 125), (NumberChecked(False, reason="hidden"), 125)], caller="anonymous")
    assert summary(steps[-1]) == ["say:callback_refused", "say:callback_enter_number", "gather"]
    assert steps[-1].actions[0].text == "Det numret kan vi tyvärr inte ringa upp: vi ser inte ditt nummer."
    steps = play(OFFERED + [(Digits("1"), 125), (NumberChecked(False, reason="hidden"), 125),
                            (Digits("0900123456#"), 135), (NumberChecked(False, reason="not_allowed"), 135)],
                 caller="anonymous")
    assert summary(steps[-1]) == ["say:callback_refused", "say:callback_enter_number", "gather"]
    assert "fast- och mobilnummer" in steps[-1].actions[0].text


def test_declining_the_offer_keeps_waiting():
    steps = play(OFFERED + [(NoInput(), 125)])
    assert steps[-1].state.awaiting == "queue" and summary(steps[-1]) == []


@pytest.mark.parametrize("inputs, reasons", [
    (QUEUED + [(Hangup(), 45)], ["queue_left:abandoned", "call_ended:caller_hangup"]),
    (TO_QUEUE + [(Hangup(), 2)], ["call_ended:caller_hangup"]),
    (RING + [(Hangup(), 12)], ["transfer_failed:caller_hangup", "call_ended:caller_hangup"]),
])
def test_hangup_mid_flow_is_logged_where_it_happened(inputs, reasons):
    last = play(inputs)[-1]
    assert [f"{e.type}:{e.data['reason']}" for e in last.events] == reasons
    assert last.state.ended and last.actions == []


def test_operator_answers_queued_call():
    last = play(QUEUED + [(OperatorAnswered("centre"), 75)])[-1]
    assert summary(last) == ["bridged:centre"]
    assert last.events[0].data == {"queue": "centre", "reason": "answered", "waited": 75, "operator": "centre"}


def test_closed_line_tells_hours_and_next_opening_and_offers_callback():
    closed = HoursChecked(open=False, reason="after_hours", weekly=WEEK, next_open=at("2026-11-30T08:00").isoformat())
    first = play([(closed, 0)])[-1]
    assert summary(first) == ["say:closed", "say:closed_callback_offer", "gather"]
    text = first.actions[0].text
    assert "måndag till torsdag 08:00–17:00, fredag 08:00–16:00" in text
    assert "måndag 30 november klockan 08:00" in text
    bye = play([(closed, 0), (NoInput(), 5)])[-1]
    assert summary(bye) == ["say:goodbye", "hangup:goodbye"]


def test_holiday_and_closure_and_crisis_messages():
    holiday = HoursChecked(open=False, reason="holiday", holiday="Julafton", weekly=WEEK,
                           next_open=at("2026-12-28T08:00").isoformat())
    assert "I dag är det Julafton" in play([(holiday, 0)])[-1].actions[0].text
    closure = HoursChecked(open=False, reason="closure", weekly=WEEK, closure={"sv": "Vi har personalmöte."},
                           next_open=at("2026-11-24T13:00").isoformat())
    assert play([(closure, 0)])[-1].actions[0].text == "Vi har personalmöte. Vi öppnar igen i dag klockan 13:00."
    crisis = HoursChecked(open=True, weekly=WEEK, crisis={"sv": "Stormen har slagit ut elen i Norrby."})
    assert summary(play([(crisis, 0)])[-1]) == ["say:crisis"] + MENU


def test_english_menu_speaks_english_from_then_on():
    steps = play(TO_QUEUE + [(Digits("9"), 3), (Digits("2"), 5), (QueuePlace(1, 60), 5)])
    assert steps[-1].state.lang == "en"
    assert steps[-1].actions[0].text == "You are number 1 in the queue. The expected wait is about 1 minute."


def test_state_survives_json_and_the_engine_does_not_mutate_its_input():
    steps = play(QUEUED)
    before = steps[-1].state.to_dict()
    step(FLOW, CallState.from_dict(before), Hangup(), T0 + timedelta(seconds=30))
    assert steps[-1].state.to_dict() == before


def test_input_after_the_call_ended_is_refused():
    last = play(QUEUED + [(Hangup(), 5)])[-1]
    with pytest.raises(ValueError):
        step(FLOW, last.state, Digits("1"), T0)


@pytest.mark.parametrize("called, lang, expected", [
    ("+46406280400", None, "sv"),   # the single number
    ("+46406280499", None, "sv"),   # the old switchboard number, during the transition
    ("+46406280498", None, "en"),   # the English line
    ("+46406280400", "en", "en"),   # an adapter that knows better (e.g. --lang en)
    ("+46406280400", "fi", "sv"),   # a language the flow does not have
    (None, None, "sv"),
])
def test_language_follows_the_number_dialled(called, lang, expected):
    first = step(FLOW, None, Start(CALLER, called, lang), T0)
    assert first.state.lang == expected
    assert step(FLOW, first.state, OPEN, T0).actions[0].lang == expected


# --- an operator holds the call: transfer followed, back to the same operator or first in the queue ---------

from ivr.protocol import OperatorFree, OperatorToQueue, OperatorTransfer  # noqa: E402

HELD = QUEUED + [(OperatorAnswered("olle"), 30)]
NADIA = Match(id="p040", name="Nadia Karimi", unit="Marknad och torghandel", number="+46406280440")


def test_operator_transfer_rings_the_target_and_is_followed():
    steps = play(HELD + [(OperatorTransfer(NADIA, "olle", 20), 60)])
    transfer = steps[-1].actions[0]
    assert (transfer.kind, transfer.name, transfer.by, transfer.ring_timeout) == ("transfer", "Nadia Karimi", "olle", 20)
    assert steps[-1].state.awaiting == "transfer" and steps[-1].state.transfer_by == "olle"
    assert steps[-1].events[0].data["by"] == "olle"


@pytest.mark.parametrize("status, free, expected, awaiting", [
    ("no-answer", True, ["say:returned_to_operator", "bridged:olle"], "bridged"),
    ("busy", True, ["say:returned_to_operator", "bridged:olle"], "bridged"),
    ("canceled", True, ["say:returned_to_operator", "bridged:olle"], "bridged"),  # a consult the operator ended
    ("no-answer", False, ["say:transfer_no_answer", "ask:join_queue"], "queue_join"),
    ("failed", False, ["say:transfer_failed", "ask:join_queue"], "queue_join"),
])
def test_a_failed_operator_transfer_comes_back_to_the_same_operator_if_free(status, free, expected, awaiting):
    steps = play(HELD + [(OperatorTransfer(NADIA, "olle"), 60), (TransferEnded(status), 85)])
    assert summary(steps[-1]) == ["ask:check_operator"] and steps[-1].request.operator == "olle"
    back = step(FLOW, steps[-1].state, OperatorFree("olle", free), T0 + timedelta(seconds=85))
    assert summary(back) == expected and back.state.awaiting == awaiting
    returned = back.events[0]
    assert returned.type == "returned_to_queue" and returned.data["to"] == ("operator" if free else "queue")
    if not free:
        assert back.request.returned_from == "Nadia Karimi"  # first in the queue, ahead of new callers


def test_operator_transfer_answered_and_caller_hangup_while_ringing():
    answered = play(HELD + [(OperatorTransfer(NADIA, "olle"), 60), (TransferEnded("answered"), 70)])[-1]
    assert summary(answered) == ["bridged:Nadia Karimi"] and answered.state.party == "Nadia Karimi"
    gone = play(HELD + [(OperatorTransfer(NADIA, "olle"), 60), (Hangup(), 65)])[-1]
    assert [f"{e.type}:{e.data['reason']}" for e in gone.events] == ["transfer_failed:caller_hangup",
                                                                     "call_ended:caller_hangup"]


def test_operator_puts_the_call_back_in_the_queue():
    back = play(HELD + [(OperatorToQueue("olle"), 90)])[-1]
    assert summary(back) == ["say:to_queue", "ask:join_queue"] and back.request.returned_from is None


def test_operator_inputs_are_refused_when_nobody_holds_the_call():
    with pytest.raises(ValueError):
        play(QUEUED + [(OperatorTransfer(NADIA, "olle"), 60)])


def test_a_call_the_operator_does_not_take_back_stays_ahead_of_new_callers():
    steps = play(HELD + [(OperatorTransfer(NADIA, "olle"), 60), (TransferEnded("no-answer"), 85)])
    back = step(FLOW, steps[-1].state, OperatorFree("olle", True), T0 + timedelta(seconds=85))
    missed = step(FLOW, back.state, OperatorToQueue("olle", returned=True), T0 + timedelta(seconds=105))
    assert summary(missed) == ["say:to_queue", "ask:join_queue"]
    assert missed.request.returned_from == "Nadia Karimi"
