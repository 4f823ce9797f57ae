"""Simultaneous and sequential ringing from directory data (issue 16, item 3): desk and mobile together, or
the desk then the mobile — chosen per person in the directory (admin form, CSV), no dialplan editing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from directory import csv_io
from directory.models import Staff
from ivr.protocol import Transfer
from switchboard.asterisk.mapping import dial_string
from tests.conftest import csrf_token
from tests.test_simulator import call, prompts
from tests.test_twilio_calls import phone  # noqa: F401  (the fixture)


def rings(sessions, external_id: str, how: str | None) -> None:
    with sessions() as session:
        session.scalar(select(Staff).where(Staff.external_id == external_id)).ring = how
        session.commit()
    from directory.index import bump_version

    with sessions() as session:
        bump_version(session)
        session.commit()


def transfers(actions):
    return [a for a in actions if a["action"] == "transfer"]


def test_together_rings_the_desk_and_the_mobile_at_once(runner, sessions):
    rings(sessions, "p039", "together")
    result, actions = call(runner, "1", "say:torghandel", "ring:answered")
    assert result.exit_code == 0, result.output
    (transfer,) = transfers(actions)
    assert transfer["number"] == "+46406280439" and transfer["also"] == ["+46701740631"]


def test_sequential_rings_the_mobile_after_the_desk(runner, sessions):
    rings(sessions, "p039", "sequential")
    result, actions = call(runner, "1", "say:torghandel", "ring:no-answer", "ring:answered")
    assert result.exit_code == 0, result.output
    desk, mobile = transfers(actions)
    assert desk["number"] == "+46406280439" and desk["also"] == []
    assert mobile["number"] == "+46701740631" and mobile["extension"] is None and "Tryck 1" in mobile["whisper"]
    assert "ring_mobile" in prompts(actions) and actions[-1]["action"] == "bridged"


def test_sequential_then_back_to_the_centre_when_the_mobile_fails_too(runner, sessions):
    rings(sessions, "p039", "sequential")
    result, actions = call(runner, "1", "say:torghandel", "ring:no-answer", "ring:machine")
    assert result.exit_code == 0, result.output
    assert len(transfers(actions)) == 2
    enqueue = next(a for a in actions if a["action"] == "enqueue")
    assert enqueue["returned"] is True and enqueue["position"] == 1


def test_by_default_only_the_desk_rings(runner):
    _, actions = call(runner, "1", "say:torghandel", "ring:no-answer")
    (transfer,) = transfers(actions)
    assert transfer["also"] == []


def test_asterisk_joins_the_channels_with_an_ampersand():
    transfer = Transfer("s1", "Sven", "+46406280439", "4439", 25, also=("+46701740631",))
    assert dial_string(transfer, "PJSIP/{extension}", "Local/{number}@vaxel-outbound") == \
        "PJSIP/4439&Local/+46701740631@vaxel-outbound"
    smuggled = Transfer("s1", "Sven", None, "4439", 25, also=("+4670&PJSIP/9999,60",))
    assert dial_string(smuggled, "PJSIP/{extension}", "Local/{number}@vaxel-outbound") == \
        "PJSIP/4439&Local/+4670999960@vaxel-outbound"  # nothing but digits and + from a number


@pytest.mark.parametrize("ring, mobile, problem", [
    ("together", "070-174 06 31", None),
    ("sequential", "", "behöver en mobil"),
    ("sometimes", "070-174 06 31", "ska vara en av desk, together, sequential"),
])
def test_the_csv_column(ring, mobile, problem, app):
    with app.app_context():
        with app.extensions["vaxel"].sessions() as session:
            units = csv_io.units_by_key(session)
    values = {"id": "x1", "name": "X", "unit": "torghandel", "phone": "040-628 04 39", "mobile": mobile,
              "ring": ring}
    row, problems = csv_io.parse_record(values, 2, units)
    if problem is None:
        assert problems == [] and row.ring == ring
    else:
        assert any(problem in p for p in problems), problems


def test_the_entry_form_sets_the_ringing(admin_client, sessions):
    page = admin_client.get("/admin/directory/entries/p039").get_data(as_text=True)
    assert 'name="ring"' in page
    token = csrf_token(admin_client, "/admin/directory/entries/p039")
    with sessions() as session:
        values = csv_io.as_values(session.scalar(select(Staff).where(Staff.external_id == "p039")))
    reply = admin_client.post("/admin/directory/entries/p039", data={**values, "ring": "together",
                                                                     "csrf_token": token})
    assert reply.status_code in (302, 303), reply.get_data(as_text=True)[:500]
    with sessions() as session:
        assert session.scalar(select(Staff).where(Staff.external_id == "p039")).ring == "together"
    exported = admin_client.get("/admin/directory/export.csv").get_data(as_text=True)
    assert ",ring," in exported.splitlines()[0] + ","


def test_twilio_rings_several_numbers_in_one_dial(phone, sessions):
    from tests.test_twilio_calls import reach_transfer, verb

    rings(sessions, "p039", "together")
    dial = verb(reach_transfer(phone()), "Dial")
    numbers = dial.findall("Number")
    assert [n.text for n in numbers] == ["+46406280439", "+46701740631"]
    assert all("/twilio/whisper?" in n.get("url") for n in numbers)  # whoever answers first presses 1


def test_asterisk_rings_desk_and_mobile_together(asterisk_phone, sessions):
    rings(sessions, "p039", "together")
    fake = asterisk_phone.call("1", "4439#", "ring:answered:10")
    assert fake.dialled[0].target == "PJSIP/4439&Local/+46701740631@vaxel-outbound"


@pytest.fixture
def asterisk_phone(app, tmp_path):
    from tests.conftest import at
    from tests.fakes.clock import SteppingClock
    from tests.test_asterisk_calls import OPEN, TZ, start_phone

    phone, server = start_phone(app, tmp_path, SteppingClock(TZ, at(OPEN)))
    yield phone
    server.stop()
