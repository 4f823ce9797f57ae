"""The right reason when closed (issue 16, item 6): eve, special day, closure with its own text, holiday and
outside hours each have their own words and the next opening — for the line and for a person asked for."""

from __future__ import annotations

from datetime import date

import pytest

from ivr import hours
from ivr.models import Closure, SpecialDay
from tests.conftest import at
from tests.test_simulator import call, prompts


def first_said(runner, moment: str, *tokens: str) -> dict:
    result, actions = call(runner, *tokens, at=moment)
    assert result.exit_code == 0, result.output
    return next(a for a in actions if a["action"] == "say")


def test_valborg_eve_after_the_early_close_says_it_is_an_eve_not_the_weekly_hours(runner):
    said = first_said(runner, "2026-04-30T15:30:00+02:00")
    assert said["prompt"] == "closed_eve"
    assert said["text"] == ("I dag är det dag före Första maj och kommunens växel har kortare telefontid, "
                            "08:00–15:00. Vi öppnar igen måndag 4 maj klockan 08:00.")
    assert "måndag till torsdag" not in said["text"]


def test_a_special_day_says_the_days_own_hours(runner, sessions):
    with sessions() as session:
        session.add(SpecialDay(scope="switchboard", day=date(2026, 11, 24), intervals=["08:00-12:00"],
                               note="personaldag"))
        session.commit()
    said = first_said(runner, "2026-11-24T13:00:00+01:00")
    assert said["prompt"] == "closed_special"
    assert said["text"] == ("I dag har kommunens växel ändrade telefontider: 08:00–12:00. "
                            "Vi öppnar igen i morgon klockan 08:00.")


def test_a_special_day_closed_all_day(runner, sessions):
    with sessions() as session:
        session.add(SpecialDay(scope="*", day=date(2026, 11, 24), intervals=[], note="klämdag"))
        session.commit()
    said = first_said(runner, "2026-11-24T10:00:00+01:00")
    assert said["prompt"] == "closed_special" and "ändrade telefontider: stängt" in said["text"]


def test_a_closure_says_its_own_text(runner, sessions):
    with sessions() as session:
        session.add(Closure(scope="switchboard", kind="closure", starts_at=at("2026-11-24T09:00"),
                            ends_at=at("2026-11-24T12:00"), message_sv="Växeln är stängd för brandövning.",
                            message_en="", created_at=at("2026-11-24T08:00")))
        session.commit()
    said = first_said(runner, "2026-11-24T10:00:00+01:00")
    assert said["prompt"] == "closure"
    assert said["text"] == "Växeln är stängd för brandövning. Vi öppnar igen i dag klockan 12:00."


def test_a_holiday_and_outside_hours(runner):
    assert first_said(runner, "2026-12-25T10:00:00+01:00")["prompt"] == "closed_holiday"
    evening = first_said(runner, "2026-11-24T18:00:00+01:00")
    assert evening["prompt"] == "closed" and "måndag till torsdag 08:00–17:00" in evening["text"]


def test_a_unit_closure_is_said_when_the_caller_asks_for_that_unit(runner, sessions):
    with sessions() as session:
        session.add(Closure(scope="unit:bygglov", kind="closure", starts_at=at("2026-11-24T09:00"),
                            ends_at=at("2026-11-24T23:00"), message_sv="Bygglov har utbildningsdag i dag.",
                            message_en="", created_at=at("2026-11-24T08:00")))
        session.commit()
    result, actions = call(runner, "1", "say:bygglov", "2")
    assert result.exit_code == 0, result.output
    said = [a for a in actions if a["action"] == "say" and a["prompt"].startswith("target_")]
    assert said and said[0]["prompt"] == "target_closure"
    assert "Bygglov har utbildningsdag i dag." in said[0]["text"]
    assert "Nästa telefontid börjar i morgon klockan 10:00" in said[0]["text"]


@pytest.mark.parametrize("moment, why", [
    ("2026-04-30T15:30", "eve"),
    ("2026-04-30T07:00", "eve"),  # before opening on an eve: today's short hours are what matters
    ("2026-12-24T10:00", "holiday"),
    ("2026-11-24T18:00", "hours"),
    ("2026-11-28T10:00", "hours"),  # a Saturday
])
def test_why_closed_table(moment, why):
    schedule = hours.Schedule(key="switchboard", name="Växeln", weekly=hours.parse_weekly(hours.SWITCHBOARD_DEFAULT))
    st = hours.status(schedule, at(moment))
    assert not st.open and st.why_closed() == why
    if why == "eve":
        assert st.eve_of == "Första maj" and hours.span_texts(st.today) == ["08:00-15:00"]
