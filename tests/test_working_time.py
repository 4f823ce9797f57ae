"""Working time (issue 16, item 4, in part): a part-time worker ("Deltid mån–ons") is not rung on a Thursday —
outside their working time they count as absent, and the caller hears when they are back."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from directory import csv_io, working_time
from directory.models import Staff
from directory.presence import AVAILABLE, Effective
from core.clock import Clock
from tests.conftest import TZ, at
from tests.test_simulator import call

THURSDAY = "2026-11-26T10:00:00+01:00"


def part_time(sessions, external_id: str = "p040", text: str = "mån–ons 08:00-16:30") -> None:
    from directory.index import bump_version

    with sessions() as session:
        session.scalar(select(Staff).where(Staff.external_id == external_id)).working_hours = working_time.parse(text)
        bump_version(session)
        session.commit()


@pytest.mark.parametrize("text, weekly", [
    ("mån–ons 08:00-16:30", {"mon": ["08:00-16:30"], "tue": ["08:00-16:30"], "wed": ["08:00-16:30"]}),
    ("mån-ons 08:00-16:30; tor 08:00-12:00, 13:00-15:00",
     {"mon": ["08:00-16:30"], "tue": ["08:00-16:30"], "wed": ["08:00-16:30"], "thu": ["08:00-12:00", "13:00-15:00"]}),
    ("Monday-Friday 09:00-17:00", {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}),
    ("mån, ons 08:00-12:00", {"mon": ["08:00-12:00"], "wed": ["08:00-12:00"]}),
    ("", None),
])
def test_parse_and_write_back(text, weekly):
    assert working_time.parse(text) == weekly
    assert working_time.parse(working_time.text_of(weekly)) == weekly


@pytest.mark.parametrize("text, message", [
    ("ons-mån 08:00-12:00", "går baklänges"),
    ("funday 08:00-12:00", "är ingen veckodag"),
    ("mån 12:00-08:00", "ends before it starts"),
    ("mån", "är inte dagar och tider"),
    ("mån 08:00-12:00; mån 13:00-14:00", "står två gånger"),
])
def test_bad_working_time_is_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match=message):
        working_time.parse(text)


def test_outside_working_time_is_absent_until_the_next_start():
    weekly = working_time.parse("mån–ons 08:00-16:30")
    away = working_time.adjust(AVAILABLE, weekly, at("2026-11-26T10:00"), TZ)
    assert (away.status, away.reason, away.until) == ("absent", "arbetar inte nu", at("2026-11-30T08:00"))
    assert working_time.adjust(AVAILABLE, weekly, at("2026-11-24T10:00"), TZ) == AVAILABLE
    sick = Effective("closed", "sjuk")
    assert working_time.adjust(sick, weekly, at("2026-11-26T10:00"), TZ) == sick  # what people set stays


def test_the_directory_shows_a_part_timer_as_absent_on_thursday(operator_client, sessions, app):
    part_time(sessions)
    app.extensions["vaxel"].clock = Clock(TZ, start=datetime.fromisoformat(THURSDAY))
    entry = operator_client.get("/api/directory/entries/p040").get_json()
    assert entry["status"] == "absent" and entry["status_reason"] == "arbetar inte nu"
    assert datetime.fromisoformat(entry["status_until"]) == at("2026-11-30T08:00")


def test_the_ivr_says_when_they_are_back_and_offers_a_callback(runner, sessions):
    from tests.test_colleague_offer import away

    part_time(sessions)
    away(sessions, "p039", until="2026-11-30T08:00")  # Sven Olofsson, her colleague, is away too: nobody to offer
    result, actions = call(runner, "1", "say:nadia karimi", at=THURSDAY)
    assert result.exit_code == 0, result.output
    assert not any(a["action"] == "transfer" for a in actions)
    said = next(a for a in actions if a["action"] == "say" and a["prompt"] == "target_away")
    assert said["text"] == "Nadia Karimi arbetar inte just nu och är tillbaka måndag 30 november klockan 08:00."
    assert any(a["action"] == "say" and a["prompt"] == "unavailable_offer" for a in actions)
    on_tuesday = call(runner, "1", "say:nadia karimi", "ring:answered")[1]
    assert any(a["action"] == "transfer" for a in on_tuesday)


def test_the_csv_column_and_the_entry_form(admin_client, sessions):
    from tests.conftest import csrf_token

    with admin_client.application.app_context():
        with admin_client.application.extensions["vaxel"].sessions() as session:
            units = csv_io.units_by_key(session)
    row, problems = csv_io.parse_record({"id": "x", "name": "X", "unit": "torghandel",
                                         "working_hours": "tis–tor 08:00-12:00"}, 2, units)
    assert problems == [] and row.working_hours == {"tue": ["08:00-12:00"], "wed": ["08:00-12:00"],
                                                    "thu": ["08:00-12:00"]}
    _, problems = csv_io.parse_record({"id": "x", "name": "X", "unit": "torghandel", "working_hours": "ibland"}, 2,
                                      units)
    assert problems and problems[0].startswith("working_hours: ")

    token = csrf_token(admin_client, "/admin/directory/entries/p040")
    with sessions() as session:
        values = csv_io.as_values(session.scalar(select(Staff).where(Staff.external_id == "p040")))
    reply = admin_client.post("/admin/directory/entries/p040",
                              data={**values, "working_hours": "mån–ons 08:00-16:30", "csrf_token": token})
    assert reply.status_code in (302, 303)
    exported = admin_client.get("/admin/directory/export.csv").get_data(as_text=True)
    assert "mån-ons 08:00-16:30" in next(line for line in exported.splitlines() if line.startswith("p040,"))
