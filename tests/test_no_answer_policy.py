"""A unit's no-answer policy (issue 16, item 2): back to the centre first in line (the default), the next free
colleague with the same keyword, the unit's function number or its voicemail — with the caller told which."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from directory import promises
from directory.models import Unit
from tests.conftest import csrf_token
from tests.test_simulator import as_traffic, call, prompts


def choose(sessions, policy: str, number: str | None = None, slug: str = "torghandel") -> None:
    with sessions() as session:
        unit = session.scalar(select(Unit).where(Unit.slug == slug))
        unit.no_answer, unit.no_answer_number = policy, number
        session.commit()


def transfers(actions):
    return [a for a in actions if a["action"] == "transfer"]


def test_by_default_the_caller_goes_back_to_the_centre_first_in_line(runner):
    result, actions = call(runner, "1", "say:torghandel", "ring:no-answer")
    assert result.exit_code == 0, result.output
    assert len(transfers(actions)) == 1
    enqueue = next(a for a in actions if a["action"] == "enqueue")
    assert enqueue["returned"] is True and enqueue["position"] == 1


def test_colleague_rings_a_free_colleague_with_the_same_keyword(runner, sessions):
    choose(sessions, "colleague")
    result, actions = call(runner, "1", "say:torghandel", "ring:no-answer", "ring:answered")
    assert result.exit_code == 0, result.output
    first, second = transfers(actions)
    assert first["name"] == "Sven Olofsson" and second["name"] == "Nadia Karimi"  # both "torghandel"
    assert second["number"] == "+46406280440" and "Tryck 1" in second["whisper"]
    told = next(a for a in actions if a["action"] == "say" and a["prompt"] == "no_answer_colleague")
    assert told["text"] == "Sven Olofsson svarar inte just nu. Vi kopplar dig till en kollega, Nadia Karimi."
    assert any(a["action"] == "bridged" for a in actions)
    record = json.loads(runner.invoke(args=["calls", "show", "--last", "--json"]).output)
    policy = next(e["data"] for e in record["events"] if e["type"] == "no_answer_policy")
    assert policy["policy"] == "colleague" and policy["reason"] == "no-answer"


def test_function_number_then_the_centre_if_that_fails_too(runner, sessions):
    choose(sessions, "function", "+46406280460")
    result, actions = call(runner, "1", "say:torghandel", "ring:machine", "ring:no-answer")
    assert result.exit_code == 0, result.output
    first, second = transfers(actions)
    assert second["number"] == "+46406280460" and second["whisper"]  # a person answers the function number
    assert "no_answer_function" in prompts(actions)
    enqueue = next(a for a in actions if a["action"] == "enqueue")  # once only: then the centre, first in line
    assert enqueue["returned"] is True and enqueue["position"] == 1


def test_voicemail_takes_a_message_and_is_not_counted_as_reached(runner, sessions):
    choose(sessions, "voicemail", "+46406280461")
    result, actions = call(runner, "1", "say:torghandel", "ring:no-answer", "ring:answered")
    assert result.exit_code == 0, result.output
    _, second = transfers(actions)
    assert second["number"] == "+46406280461" and second["whisper"] == ""  # the voicemail must take it
    told = next(a for a in actions if a["action"] == "say" and a["prompt"] == "no_answer_voicemail")
    assert "röstbrevlådan för Marknad och torghandel" in told["text"]
    assert actions[-1]["action"] == "bridged" and actions[-1]["via"] == "voicemail"
    as_traffic(sessions)
    report = json.loads(runner.invoke(args=["stats", "report", "--from", "2026-11-24", "--to", "2026-11-24",
                                            "--format", "json"]).output)
    assert report["transfers"]["attempted"] == 1 and report["transfers"]["answered"] == 0


def test_the_choice_is_inherited_from_the_unit_above(sessions):
    with sessions() as session:
        unit = session.scalar(select(Unit).where(Unit.slug == "torghandel"))
        assert promises.no_answer_for(unit).policy == "centre"
        unit.parent.no_answer, unit.parent.no_answer_number = "voicemail", "+46406280461"
        assert promises.no_answer_for(unit) == promises.NoAnswer("voicemail", "+46406280461", unit.parent.name)


@pytest.mark.parametrize("policy, number, expected", [
    ("", "", (None, None)),
    ("centre", "", ("centre", None)),
    ("colleague", "", ("colleague", None)),
    ("voicemail", "040-628 04 61", ("voicemail", "+46406280461")),
    ("function", "+46 40 628 04 60", ("function", "+46406280460")),
])
def test_parse_no_answer(policy, number, expected):
    assert promises.parse_no_answer(policy, number) == expected


@pytest.mark.parametrize("policy, number, message", [
    ("voicemail", "", "behöver numret att ringa"),
    ("function", "ring mig på mobilen", "numret när ingen svarar"),
    ("kanske", "", "ska vara en av centre, colleague, function, voicemail"),
    ("centre", "040-628 04 61", "hör bara till function eller voicemail"),
])
def test_parse_no_answer_refuses_with_a_clear_error(policy, number, message):
    with pytest.raises(ValueError, match=message):
        promises.parse_no_answer(policy, number)


def test_the_admin_form_and_the_csv_set_the_policy(admin_client, sessions):
    token = csrf_token(admin_client, "/admin/directory")
    with sessions() as session:
        parent = session.scalar(select(Unit).where(Unit.slug == "torghandel")).parent.slug
    form = {"csrf_token": token, "slug": "torghandel", "name": "Marknad och torghandel", "kind": "enhet",
            "parent": parent, "keywords": "torghandel", "answered_by": "", "promise_days": "", "email": "",
            "confirm_answer": "", "no_answer": "voicemail", "no_answer_number": "040-628 04 61"}
    assert admin_client.post("/admin/directory/units", data=form).status_code == 302
    with sessions() as session:
        unit = session.scalar(select(Unit).where(Unit.slug == "torghandel"))
        assert (unit.no_answer, unit.no_answer_number) == ("voicemail", "+46406280461")  # stored in E.164
    admin_client.post("/admin/directory/units", data={**form, "no_answer_number": "ring mig på mobilen"})
    page = admin_client.get("/admin/directory").get_data(as_text=True)
    assert "Enheten sparades inte: numret när ingen svarar" in page
    assert "inget svar: enhetens röstbrevlåda (040-628 04 61)" in page  # the stored choice, in national form

    exported = admin_client.get("/admin/directory/units.csv").get_data(as_text=True)
    row = next(r for r in csv.DictReader(io.StringIO(exported)) if r["id"] == "torghandel")
    assert (row["no_answer"], row["no_answer_number"]) == ("voicemail", "+46406280461")
    line = next(x for x in exported.splitlines() if x.startswith("torghandel,"))
    edited = exported.replace(line, "torghandel,Marknad och torghandel,,,,,colleague,")
    reply = admin_client.post("/admin/directory/units.csv", data={"csrf_token": token,
                              "file": (io.BytesIO(edited.encode()), "enheter.csv")})
    assert reply.status_code == 302
    with sessions() as session:
        unit = session.scalar(select(Unit).where(Unit.slug == "torghandel"))
        assert (unit.no_answer, unit.no_answer_number) == ("colleague", None)
