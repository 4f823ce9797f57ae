"""Answer confirmation: whoever answers a transfer hears who calls and why and must press 1; a voicemail that
picks up is not a person reached (issue 16, item 1). The engine, the simulator, the directory's per-unit
choice, statistics, and the Asterisk side through the FastAGI fake (Twilio: tests/test_twilio_calls.py)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from sqlalchemy import select

from directory import promises
from directory.models import Unit
from ivr.engine import step
from ivr.protocol import Digits, HoursChecked, LookupResult, Match, Speech, Start, Transfer, TransferEnded
from switchboard.asterisk.mapping import dial_args, gosub_safe, transfer_input
from tests.conftest import csrf_token
from tests.test_engine import FLOW
from tests.test_simulator import as_traffic, call, prompts

NOW = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
SVEN = Match(id="s1", name="Sven Olofsson", unit="Torghandel", number="+46406280439", score=90.0,
             matched_by="keyword")


def ring(match: Match, said: str = "torghandel"):
    """Option 1, the caller says ``said``, the directory finds ``match``: the step that starts the transfer."""
    flow = FLOW
    s = step(flow, None, Start(caller="+46701740601"), NOW)
    s = step(flow, s.state, HoursChecked(), NOW)
    s = step(flow, s.state, Digits("1"), NOW)
    s = step(flow, s.state, Speech(said, 0.9), NOW)
    s = step(flow, s.state, LookupResult(said, (match,)), NOW)
    return flow, s


def test_the_whisper_says_who_calls_and_about_what():
    _, s = ring(SVEN)
    transfer = next(a for a in s.actions if isinstance(a, Transfer))
    assert transfer.whisper == ("Samtal från växeln, en medborgare söker dig om torghandel. "
                                "Tryck 1 för att ta samtalet.")
    assert next(e for e in s.events if e.type == "transfer_started").data["confirm"] is True


def test_a_person_found_by_name_is_told_it_is_for_them():
    _, s = ring(Match(id="s2", name="Karin Berg", unit="Miljö", number="+46406280440", matched_by="name",
                      score=90.0), said="karin berg")
    assert next(a for a in s.actions if isinstance(a, Transfer)).whisper.startswith("Samtal från växeln till Karin")


def test_a_unit_that_turned_it_off_is_connected_on_answer():
    _, s = ring(Match(**{**SVEN.__dict__, "confirm_answer": False}))
    assert next(a for a in s.actions if isinstance(a, Transfer)).whisper == ""


def test_not_accepted_comes_back_like_no_answer_and_says_why():
    flow, s = ring(SVEN)
    back = step(flow, s.state, TransferEnded("not-accepted"), NOW)
    assert prompts([a.to_dict() for a in back.actions])[0] == "transfer_no_answer"
    failed = next(e for e in back.events if e.type == "transfer_failed")
    assert failed.data["reason"] == "not-accepted"
    assert next(e for e in back.events if e.type == "returned_to_queue").data["reason"] == "not-accepted"
    assert back.request.returned_from == "Sven Olofsson"  # first in line in the centre queue


# -- the simulator, as the "done means" runs it ------------------------------------------------


def test_ring_machine_comes_back_to_the_centre_first_in_line(runner):
    result, actions = call(runner, "1", "say:torghandel", "ring:machine")
    assert result.exit_code == 0, result.output
    transfer = next(a for a in actions if a["action"] == "transfer")
    assert "Tryck 1" in transfer["whisper"]
    enqueue = next(a for a in actions[actions.index(transfer):] if a["action"] == "enqueue")
    assert enqueue["returned"] is True and enqueue["position"] == 1
    record = json.loads(runner.invoke(args=["calls", "show", "--last", "--json"]).output)
    failed = [e["data"] for e in record["events"] if e["type"] == "transfer_failed"]
    assert [f["reason"] for f in failed] == ["not-accepted"]
    assert "transfer_answered" not in [e["type"] for e in record["events"]]


def test_ring_answered_is_a_reached_transfer(runner):
    result, actions = call(runner, "1", "say:torghandel", "ring:answered")
    assert result.exit_code == 0, result.output
    assert any(a["action"] == "bridged" for a in actions)
    record = json.loads(runner.invoke(args=["calls", "show", "--last", "--json"]).output)
    assert "transfer_answered" in [e["type"] for e in record["events"]]


def test_without_confirmation_a_voicemail_takes_the_call(runner, sessions):
    with sessions() as session:
        session.scalar(select(Unit).where(Unit.slug == "torghandel")).confirm_answer = False
        session.commit()
    result, actions = call(runner, "1", "say:torghandel", "ring:machine")
    assert result.exit_code == 0, result.output
    assert next(a for a in actions if a["action"] == "transfer")["whisper"] == ""
    assert any(a["action"] == "bridged" for a in actions)  # exactly the problem the confirmation exists for


def test_reach_rate_counts_only_accepted_transfers(runner, sessions):
    call(runner, "1", "say:torghandel", "ring:machine")
    call(runner, "1", "say:torghandel", "ring:answered")
    as_traffic(sessions)
    report = runner.invoke(args=["stats", "report", "--from", "2026-11-24", "--to", "2026-11-24",
                                 "--format", "json"])
    transfers = json.loads(report.output)["transfers"]
    assert transfers["attempted"] == 2 and transfers["answered"] == 1
    assert transfers["reach_rate"] == 50.0 and transfers["failed"] == {"not-accepted": 1}


# -- the directory: each unit may choose, inherited down the tree ----------------------------------------


@pytest.mark.parametrize("raw, choice", [("", None), ("ja", True), ("NEJ", False), ("yes", True), ("0", False)])
def test_parse_confirm(raw, choice):
    assert promises.parse_confirm(raw) is choice


def test_parse_confirm_refuses_anything_else():
    with pytest.raises(ValueError, match="ska vara ja eller nej"):
        promises.parse_confirm("kanske")


def test_a_unit_inherits_the_choice_and_the_site_decides_at_the_top():
    top = Unit(slug="f", name="F", kind="forvaltning")
    child = Unit(slug="c", name="C", kind="enhet", parent=top)
    assert promises.confirms_answer(child, True) is True and promises.confirms_answer(child, False) is False
    top.confirm_answer = False
    assert promises.confirms_answer(child, True) is False
    child.confirm_answer = True
    assert promises.confirms_answer(child, False) is True


def test_the_admin_form_and_the_csv_set_the_choice(admin_client, sessions):
    token = csrf_token(admin_client, "/admin/directory")
    form = {"csrf_token": token, "slug": "torghandel", "name": "Marknad och torghandel", "kind": "enhet",
            "parent": "", "keywords": "torghandel", "answered_by": "", "promise_days": "", "email": "",
            "confirm_answer": "nej"}
    with sessions() as session:
        form["parent"] = session.scalar(select(Unit).where(Unit.slug == "torghandel")).parent.slug
    assert admin_client.post("/admin/directory/units", data=form).status_code == 302
    with sessions() as session:
        assert session.scalar(select(Unit).where(Unit.slug == "torghandel")).confirm_answer is False
    refused = admin_client.post("/admin/directory/units", data={**form, "confirm_answer": "kanske"})
    assert refused.status_code == 302
    assert "ska vara ja eller nej" in admin_client.get("/admin/directory").get_data(as_text=True)

    exported = admin_client.get("/admin/directory/units.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert next(r for r in rows if r["id"] == "torghandel")["confirm_answer"] == "nej"
    edited = exported.replace(next(line for line in exported.splitlines() if line.startswith("torghandel,")),
                              "torghandel,Marknad och torghandel,,,,ja,,")
    reply = admin_client.post("/admin/directory/units.csv", data={"csrf_token": token,
                              "file": (io.BytesIO(edited.encode()), "enheter.csv")})
    assert reply.status_code == 302
    with sessions() as session:
        assert session.scalar(select(Unit).where(Unit.slug == "torghandel")).confirm_answer is True


# -- Asterisk: the pure translation --------------------------------------------------------------------


@pytest.mark.parametrize("dialstatus, confirmed, expected", [
    ("ANSWER", True, "answered"),
    ("ANSWER", False, "not-accepted"),  # vaxel-confirm returned CONTINUE: app_dial still says ANSWER
    ("ANSWER", None, "answered"),  # no confirmation asked
    ("NOANSWER", False, "no-answer"),
    ("BUSY", False, "busy"),
])
def test_dialstatus_with_the_confirmation(dialstatus, confirmed, expected):
    assert transfer_input(dialstatus, confirmed) == TransferEnded(expected)


def test_dial_args_carry_the_pre_bridge_subroutine():
    assert dial_args("PJSIP/4439", 25, None, 6) == "PJSIP/4439,25"
    assert dial_args("PJSIP/4439", 25, "/var/sounds/sv/vaxel-ab", 6) == \
        "PJSIP/4439,25,U(vaxel-confirm^/var/sounds/sv/vaxel-ab^6)"
    assert not gosub_safe("/var/a,b") and not gosub_safe("/var/a^b") and not gosub_safe(None)
