"""Rotas for functions (issue 16, item 4): "Bygglov – dagens handläggare" rings whoever is on the rota today —
by weekday, a date beating its weekday — unless that person cannot answer; then the function's own number."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import select

from core.clock import Clock
from directory import presence, rota, rota_ical
from directory.models import RotaEntry, Staff
from directory.search import entry
from tests.conftest import TZ, at, csrf_token
from tests.test_simulator import call

TUESDAY = date(2026, 11, 24)  # the tests' today
ROTA = "function,when,person\nf001,mån,p017\nf001,tis,p018\nf001,2026-11-24,p019\n"


def load(sessions, text: str = ROTA) -> int:
    with sessions() as session:
        written = rota.import_csv(session, text)
        session.commit()
    return written


def staff_id(sessions, external_id: str) -> int:
    with sessions() as session:
        return session.scalar(select(Staff.id).where(Staff.external_id == external_id))


@pytest.mark.parametrize("text, when", [
    ("mån", (0, None)), ("Tisdag", (1, None)), ("fri", (4, None)), ("sön.", (6, None)),
    ("2026-12-24", (None, date(2026, 12, 24))),
])
def test_when_is_a_weekday_or_a_date(text, when):
    assert rota.parse_when(text) == when
    assert rota.parse_when(rota.when_text(*when)) == when


@pytest.mark.parametrize("text", ["ibland", "2026-13-01", "", "24/12"])
def test_a_bad_when_says_what_it_should_be(text):
    with pytest.raises(ValueError, match="varken en veckodag"):
        rota.parse_when(text)


@pytest.mark.parametrize("day, person", [
    (date(2026, 11, 23), 17),  # Monday: the weekday entry
    (date(2026, 11, 24), 19),  # Tuesday with a date entry: the date wins
    (date(2026, 12, 1), 18),   # the next Tuesday: the weekday again
    (date(2026, 11, 25), None),  # Wednesday: nobody on the rota
])
def test_the_date_beats_the_weekday(day, person):
    assert rota.on_duty({0: 17, 1: 18}, {date(2026, 11, 24): 19}, day) == person


def test_the_person_on_duty_is_rung_and_shown(app, sessions):
    assert load(sessions) == 3
    svc = app.extensions["vaxel"]
    with sessions() as session:
        today = entry(session, "f001", svc.clock.now(), TZ)
        assert today.on_duty.id == "p019" and today.on_duty.status == "available"
        assert (today.dial, today.dial_extension) == ("+46406280419", "4419")  # Aleksandra Nowak, by date
        assert today.extension == "4459"  # the function's own extension is still what people see
        shown = today.to_dict()["on_duty"]
        assert shown["name"] == "Aleksandra Nowak" and "number" not in shown
        monday = entry(session, "f001", at("2026-11-23T10:00"), TZ)
        assert (monday.on_duty.id, monday.dial) == ("p017", "+46406280417")
        wednesday = entry(session, "f001", at("2026-11-25T10:00"), TZ)
        assert wednesday.on_duty is None and (wednesday.dial, wednesday.dial_extension) == ("+46406280459", "4459")


def test_an_absent_person_on_duty_leaves_the_function_number(app, sessions):
    load(sessions)
    now = app.extensions["vaxel"].clock.now()
    with sessions() as session:
        presence.set_status(session, staff_id(sessions, "p019"), "absent", by="test", now=now, reason="sjuk")
        session.commit()
        found = entry(session, "f001", now, TZ)
    assert found.on_duty.id == "p019" and found.on_duty.status == "absent"
    assert (found.dial, found.dial_extension) == ("+46406280459", "4459")


def test_outside_their_working_time_the_function_number_rings(app, sessions):
    from directory import working_time
    from directory.index import bump_version

    load(sessions)
    with sessions() as session:
        session.get(Staff, staff_id(sessions, "p019")).working_hours = working_time.parse("mån 08:00-16:00")
        bump_version(session)
        session.commit()
        found = entry(session, "f001", app.extensions["vaxel"].clock.now(), TZ)
    assert found.on_duty.status == "absent" and found.dial == "+46406280459"


def test_the_ivr_rings_the_person_on_duty(runner, sessions):
    load(sessions)
    result, actions = call(runner, "1", "say:dagens handläggare bygglov", "ring:answered")
    assert result.exit_code == 0, result.output
    transfer = next(a for a in actions if a["action"] == "transfer")
    assert transfer["number"] == "+46406280419"
    without = call(runner, "1", "say:dagens handläggare bygglov", "ring:answered",
                   at="2026-11-25T10:00:00+01:00")[1]
    assert next(a for a in without if a["action"] == "transfer")["number"] == "+46406280459"


def test_the_directory_api_shows_who_is_on_duty(operator_client, sessions):
    load(sessions)
    found = operator_client.get("/api/directory/entries/f001").get_json()
    assert found["on_duty"]["name"] == "Aleksandra Nowak" and found["on_duty"]["status"] == "available"
    hits = operator_client.get("/api/directory/search?q=dagens+handläggare").get_json()["results"]
    assert next(h for h in hits if h["id"] == "f001")["on_duty"]["id"] == "p019"


def test_a_bad_file_changes_nothing_and_lists_every_line(sessions):
    load(sessions)
    bad = "function,when,person\nf001,mån,p018\np017,tis,p018\nf001,ibland,p018\nf001,ons,f002\nf001,mån,p019\n"
    with sessions() as session:
        with pytest.raises(rota.RotaRejected) as caught:
            rota.import_csv(session, bad)
    assert [e.split(":")[0] for e in caught.value.errors] == ["rad 3", "rad 4", "rad 5", "rad 6"]
    assert "”p017” är ingen funktion" in caught.value.errors[0]
    assert "varken en veckodag" in caught.value.errors[1]
    assert "”f002” är ingen person" in caught.value.errors[2]
    assert "två gånger" in caught.value.errors[3]
    with sessions() as session:
        assert rota.export_csv(session) == ROTA  # unchanged, in the export's order


def test_a_file_replaces_the_rota_of_the_functions_it_names(sessions):
    load(sessions)
    assert load(sessions, "function;when;person\nf001;fre;p020\n") == 1  # a semicolon file, as Excel writes
    with sessions() as session:
        assert rota.export_csv(session) == "function,when,person\nf001,fre,p020\n"
    with sessions() as session:
        with pytest.raises(rota.RotaRejected, match="rubrikraden saknar kolumnen/kolumnerna when"):
            rota.import_csv(session, "function,person\nf001,p020\n")


def test_admin_form_and_csv_upload(admin_client, sessions):
    token = csrf_token(admin_client, "/admin/directory/entries/f001")
    page = admin_client.get("/admin/directory/entries/f001").get_data(as_text=True)
    assert "Schema: vem tar samtalen" in page
    reply = admin_client.post("/admin/directory/entries/f001/rota",
                              data={"rota": "mån p017\n\n2026-12-24 p018\n", "csrf_token": token})
    assert reply.status_code in (302, 303)
    with sessions() as session:
        assert rota.form_text(session, staff_id(sessions, "f001")) == "mån p017\n2026-12-24 p018"
    refused = admin_client.post("/admin/directory/entries/f001/rota",
                                data={"rota": "mån p017\nsöndag nobody\n", "csrf_token": token},
                                follow_redirects=True)
    assert "rad 2: ”nobody” är ingen person" in refused.get_data(as_text=True)
    with sessions() as session:
        assert len(session.scalars(select(RotaEntry)).all()) == 2  # nothing changed
    assert "'f001'" not in admin_client.get("/admin/directory/entries/p017").get_data(as_text=True)
    assert "Schema: vem tar samtalen" not in admin_client.get("/admin/directory/entries/p017").get_data(as_text=True)

    token = csrf_token(admin_client, "/admin/directory")
    uploaded = admin_client.post("/admin/directory/rota.csv", data={
        "file": (BytesIO(ROTA.encode()), "schema.csv"), "csrf_token": token}, content_type="multipart/form-data",
        follow_redirects=True)
    assert "3 schemarader sparade." in uploaded.get_data(as_text=True)
    exported = admin_client.get("/admin/directory/rota.csv").get_data(as_text=True)
    assert exported == ROTA


def test_the_console_transfer_rings_the_person_on_duty(app, sessions):
    """The console transfers through ``directory.search.entry``: the function's target is the person on duty."""
    load(sessions)
    svc = app.extensions["vaxel"]
    svc.clock = Clock(TZ, start=datetime.fromisoformat("2026-11-30T10:00:00+01:00"))  # a Monday: Emma
    with sessions() as session:
        found = entry(session, "f001", svc.clock.now(), TZ)
    assert (found.dial, found.dial_extension, found.ring) == ("+46406280417", "4417", "desk")
    assert found.on_duty.id == "p017" and svc.clock.now().date() - TUESDAY == timedelta(days=6)


# -- iCalendar ------------------------------------------------------------------------------------------------

ICS = Path(__file__).parent / "data" / "dagens-handlaggare.ics"  # as Exchange 2010+ publishes a calendar


def duty_on(sessions, day: str) -> str | None:
    with sessions() as session:
        found = entry(session, "f001", at(f"{day}T10:00"), TZ)
    return found.on_duty.id if found.on_duty else None


def test_an_exchange_calendar_becomes_the_rota(sessions):
    """A weekly RRULE with an EXDATE (attendee's e-mail), an all-day event over two days (a name), a timed one
    (an id) on the excluded Monday; a weekday entry stays, a date before the window is not read."""
    load(sessions, "function,when,person\nf001,ons,p020\nf001,2026-11-23,p020\n")
    with sessions() as session:
        function = session.scalar(select(Staff).where(Staff.external_id == "f001"))
        days = rota_ical.import_ics(session, function, ICS.read_bytes(), TUESDAY, TZ)
        session.commit()
    assert days == 6  # 24, 25 Nov (all day); 30 Nov, 14, 21 Dec (weekly, 7 Dec excluded); 7 Dec (p019, timed)
    assert [duty_on(sessions, d) for d in ("2026-11-24", "2026-11-25", "2026-11-30", "2026-12-07", "2026-12-14",
                                           "2026-12-21", "2026-12-28", "2026-12-02", "2026-11-23")] == [
        "p018", "p018", "p017", "p019", "p017", "p017", None, "p020", "p020"]


def test_a_calendar_naming_nobody_or_two_people_a_day_changes_nothing(sessions):
    text = ICS.read_text()
    nobody = text.replace("SUMMARY:p019", "SUMMARY:Semester")
    twice = text.replace("DTSTART;TZID=W. Europe Standard Time:20261207T100000",
                         "DTSTART;TZID=W. Europe Standard Time:20261130T100000").replace(
        "DTEND;TZID=W. Europe Standard Time:20261207T120000", "DTEND;TZID=W. Europe Standard Time:20261130T120000")
    load(sessions)
    with sessions() as session:
        function = session.scalar(select(Staff).where(Staff.external_id == "f001"))
        with pytest.raises(rota.RotaRejected, match="”Semester” 2026-12-07: ingen person"):
            rota_ical.import_ics(session, function, nobody.encode(), TUESDAY, TZ)
        with pytest.raises(rota.RotaRejected, match="2026-11-30: två personer i tjänst"):
            rota_ical.import_ics(session, function, twice.encode(), TUESDAY, TZ)
        with pytest.raises(rota.RotaRejected, match="filen är ingen kalender"):
            rota_ical.import_ics(session, function, b"function,when,person\n", TUESDAY, TZ)
    with sessions() as session:
        assert rota.export_csv(session) == ROTA


def test_the_calendar_upload_on_the_function_page(admin_client, sessions):
    token = csrf_token(admin_client, "/admin/directory/entries/f001")
    assert "Läs in kalendern" in admin_client.get("/admin/directory/entries/f001").get_data(as_text=True)
    reply = admin_client.post("/admin/directory/entries/f001/rota.ics", data={
        "file": (BytesIO(ICS.read_bytes()), "bygglov.ics"), "csrf_token": token}, content_type="multipart/form-data",
        follow_redirects=True)
    assert "6 dagar ur kalendern sparade i schemat." in reply.get_data(as_text=True)
    with sessions() as session:
        assert rota.form_text(session, staff_id(sessions, "f001")).splitlines()[:2] == ["2026-11-24 p018",
                                                                                     "2026-11-25 p018"]
