"""`vaxel call` and `vaxel calls`: the simulator end to end on a real database, as a newcomer runs them."""

from __future__ import annotations

import json

import pytest

from stats.models import CallEvent
from sqlalchemy import func, select


def call(runner, *tokens, at="2026-11-24T10:00:00+01:00", extra=()):
    result = runner.invoke(args=["call", "--at", at, "--json", *extra, *tokens])
    return result, [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def as_traffic(sessions) -> None:
    """The simulated calls so far counted as if they had come in by phone (a `vaxel call` itself never counts)."""
    from sqlalchemy import update

    from stats import facts

    with sessions() as session:
        session.execute(update(CallEvent).where(CallEvent.channel == "simulator").values(channel="demo"))
        session.commit()
    facts.rebuild(sessions)


def prompts(actions):
    return [a["prompt"] for a in actions if a["action"] == "say"]


def test_option_2_greets_offers_two_options_and_queues_with_a_position(runner):
    result, actions = call(runner, "2")
    assert result.exit_code == 0, result.output
    assert prompts(actions)[:2] == ["greeting", "menu"]
    menu = actions[1]["text"]
    assert "tryck 1" in menu and "tryck 2" in menu
    enqueue = next(a for a in actions if a["action"] == "enqueue")
    assert enqueue["queue"] == "centre" and enqueue["position"] >= 1 and enqueue["estimated_wait"] > 0
    assert actions[-1]["action"] in {"hangup", "bridged"}


@pytest.mark.parametrize("moment, is_open", [
    ("2026-11-28T10:00:00+01:00", False),   # Saturday
    ("2026-12-24T10:00:00+01:00", False),   # julafton
    ("2026-06-19T10:00:00+02:00", False),   # midsommarafton
    ("2026-11-27T16:30:00+01:00", False),   # Friday after 16
    ("2026-11-26T16:30:00+01:00", True),    # Thursday before 17
    ("2026-04-30T14:30:00+02:00", True),    # valborgsmässoafton before the early close
    ("2026-04-30T15:30:00+02:00", False),   # ... and after it
])
def test_phone_hours_decide_what_the_caller_hears(runner, moment, is_open):
    result, actions = call(runner, at=moment)
    assert result.exit_code == 0, result.output
    first = prompts(actions)[0]
    assert (first == "greeting") == is_open
    if not is_open:
        assert first in {"closed", "closed_holiday", "closed_eve"}
        assert "Vi öppnar igen" in actions[0]["text"]


def test_julafton_names_the_holiday_and_the_next_opening(runner):
    _, actions = call(runner, at="2026-12-24T10:00:00+01:00")
    assert actions[0]["text"] == ("I dag är det Julafton och kommunens växel är stängd. "
                                  "Vi öppnar igen måndag 28 december klockan 08:00.")
    assert actions[-1] == {**actions[-1], "action": "hangup", "reason": "goodbye"}


def test_torghandel_no_answer_returns_to_the_centre_queue_ahead_of_others(runner):
    result, actions = call(runner, "1", "say:torghandel", "ring:no-answer")
    assert result.exit_code == 0, result.output
    transfer = next(a for a in actions if a["action"] == "transfer")
    assert transfer["name"] == "Sven Olofsson"  # the main torghandel contact in the demo data
    assert transfer["number"] == "+46406280439" and transfer["ring_timeout"] == 25
    after = actions[actions.index(transfer) + 1:]
    assert prompts(after)[0] == "transfer_no_answer"
    enqueue = next(a for a in after if a["action"] == "enqueue")
    assert enqueue["returned"] is True and enqueue["position"] == 1


def test_three_wrong_keys_end_in_the_centre_queue_not_a_hangup(runner):
    result, actions = call(runner, "7", "7", "7")
    assert result.exit_code == 0
    assert prompts(actions).count("invalid") == 2
    assert any(a["action"] == "enqueue" for a in actions)
    assert not any(a["action"] == "hangup" for a in actions)


def test_callback_request_is_offered_and_confirmed(runner, sessions):
    result, actions = call(runner, "2", "wait:120", "1", "1")
    assert result.exit_code == 0, result.output
    assert "callback_offer" in prompts(actions)
    callback = next(a for a in actions if a["action"] == "callback")
    assert callback["number"] == "+46701740699" and callback["when"] == "queue"
    assert actions[-1]["action"] == "hangup"


def test_every_step_is_in_the_event_log(runner):
    call(runner, "1", "say:torghandel", "ring:busy")
    shown = runner.invoke(args=["calls", "show", "--last", "--json"])
    assert shown.exit_code == 0
    record = json.loads(shown.output)
    types = [e["type"] for e in record["events"]]
    assert types == ["call_started", "hours_checked", "menu_choice", "directory_lookup", "transfer_started",
                     "transfer_failed", "returned_to_queue", "queue_joined", "queue_left", "call_ended"]
    assert record["events"][5]["data"]["reason"] == "busy"
    listed = runner.invoke(args=["calls", "list", "--since", "2026-11-24T00:00:00+01:00", "--json"])
    assert json.loads(listed.output.splitlines()[0])["call_id"] == record["call_id"]


def test_human_output_and_calls_show(runner):
    result = runner.invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "2", "hangup"])
    assert "QUEUE    centre: position 1" in result.output
    shown = runner.invoke(args=["calls", "show", "--last"])
    assert "queue_left" in shown.output and "reason=abandoned" in shown.output


@pytest.mark.parametrize("args, message", [
    (["call", "--json", "2", "ring:maybe"], "ring:answered"),
    (["call", "--json", "bogus"], "förstods inte"),
    (["call", "--json", "wait:soon"], "helt antal sekunder"),
    (["call", "--json", "say:"], "say: behöver orden"),
    (["call", "--at", "tomorrow", "2"], "är ingen tid"),
    (["call", "--at", "9999-12-31T16:55:00+01:00", "2"], "utanför åren"),  # was an OverflowError mid-call
    (["call", "--at", "0001-01-01T10:00:00+01:00", "2"], "utanför åren"),
    (["call", "--from", "x" * 1000, "2"], "is not a phone number"),  # PostgreSQL refused the call row
])
def test_bad_tokens_or_time_give_a_clear_error_and_exit_2(runner, sessions, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 2
    assert message in result.output
    with sessions() as session:  # nothing was started
        assert session.scalar(select(func.count()).select_from(CallEvent)) == 0


def test_a_token_that_does_not_fit_the_call_is_an_error_and_the_call_is_closed(runner):
    result = runner.invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "--json", "ring:busy"])
    assert result.exit_code == 2
    assert "ingen koppling ringer" in result.output
    shown = json.loads(runner.invoke(args=["calls", "show", "--last", "--json"]).output)
    assert shown["events"][-1]["type"] == "call_ended"


def test_interactive_call_reads_tokens_from_the_terminal(runner):
    result = runner.invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00"], input="9\n2\noperator\nhangup\n")
    assert result.exit_code == 0, result.output
    assert "You are number 1 in the queue" in result.output
    assert "BRIDGED" in result.output


def test_anonymous_caller_can_key_a_number_for_a_callback_when_closed(runner):
    result, actions = call(runner, "1", "0701740620#", "1", at="2026-11-28T11:00:00+01:00",
                           extra=("--from", "anonymous"))
    assert result.exit_code == 0, result.output
    assert "callback_enter_number" in prompts(actions)
    callback = next(a for a in actions if a["action"] == "callback")
    assert callback["number"] == "+46701740620" and callback["when"] == "next_open"
    assert callback["due_at"] == "2026-11-30T08:00:00+01:00"


def test_closure_and_crisis_messages_from_the_database(runner, sessions):
    from datetime import datetime, timezone

    from ivr.models import Closure
    from tests.conftest import at

    with sessions() as session:
        session.add_all([
            Closure(scope="switchboard", kind="closure", starts_at=at("2026-11-24T12:00"),
                    ends_at=at("2026-11-24T13:30"), message_sv="Växeln har stängt för personalmöte.",
                    message_en="The switchboard is closed for a staff meeting.", created_at=datetime.now(timezone.utc)),
            Closure(scope="*", kind="crisis", starts_at=at("2026-11-24T06:00"), ends_at=at("2026-11-25T06:00"),
                    message_sv="Stormen har slagit ut vattnet i Norrby. Vi arbetar på det.", message_en="",
                    created_at=datetime.now(timezone.utc)),
        ])
        session.commit()
    _, during = call(runner, at="2026-11-24T12:15:00+01:00")
    assert prompts(during)[:2] == ["crisis", "closure"]
    assert during[1]["text"] == "Växeln har stängt för personalmöte. Vi öppnar igen i dag klockan 13:30."
    _, after = call(runner, "2", at="2026-11-24T13:30:00+01:00")
    assert prompts(after)[:3] == ["crisis", "greeting", "menu"]
    _, english = call(runner, at="2026-11-24T12:15:00+01:00", extra=("--to", "+46406280498"))
    assert english[0]["text"] == "Stormen har slagit ut vattnet i Norrby. Vi arbetar på det."  # no English text: Swedish
    assert english[1]["text"].startswith("The switchboard is closed for a staff meeting. We open again today at 13:30")
