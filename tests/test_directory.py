"""The directory: search quality on the demo data, presence, CSV import/export, the JSON API, and IVR option 1."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from directory import csv_io, presence
from directory.index import DirectoryIndex, keypad
from directory.models import PresenceChange, Staff
from directory.search import search
from tests.conftest import TZ, at, csrf_token

NOW = at("2026-11-24T10:30")  # a Tuesday: bygglov's phone time (10–12) is open


def names(session, query, now=NOW, **kwargs):
    return [r.name for r in search(session, query, now, TZ, **kwargs)]


def staff_id(session, external_id):
    return session.scalar(select(Staff.id).where(Staff.external_id == external_id))


@pytest.mark.parametrize("query, expected_first, also", [
    ("torghandel", "Sven Olofsson", ["Nadia Karimi"]),          # the main contact first, the other too
    ("bygglov", "Bygglov – dagens handläggare", ["Emma Söderlund", "Erik Nilsson", "Henrik Dahl"]),
    ("Söderlund", "Emma Söderlund", []),
    ("soderlund", "Emma Söderlund", []),                        # typed without ö
    ("Söderlnd", "Emma Söderlund", []),                         # one letter missing
    ("Lindstrom", "Karin Lindström", []),                       # without ö
    ("Lindstrøm", "Karin Lindström", []),                       # one letter wrong
    ("olof", "Sven Olofsson", []),                              # as you type
    ("sven olofsson", "Sven Olofsson", []),
    ("4439", "Sven Olofsson", []),                              # extension
    ("040-628 04 39", "Sven Olofsson", []),                     # direct number, national format
    ("+46406280439", "Sven Olofsson", []),
    ("070-174 06 05", "Karin Lindström", []),                   # mobile
])
def test_search_on_the_demo_data(app, sessions, query, expected_first, also):
    with sessions() as session:
        found = names(session, query)
    assert found and found[0] == expected_first, found
    assert set(also) <= set(found)


def test_several_words_narrow_the_result(app, sessions):
    with sessions() as session:
        assert len(names(session, "bygglov")) > len(names(session, "bygglov emma")) == 1


def test_exact_letters_rank_above_folded_ones(app, sessions):
    index = DirectoryIndex()
    # an invented pair: 'Åberg' and 'Aberg' — the query 'aberg' finds both, the exact one first
    from directory.models import Unit

    unit = Unit(id=1, slug="u", name="U", kind="enhet", parent_id=None)
    for i, name in enumerate(["Maria Åberg", "Mats Aberg"], start=1):
        index.add(Staff(id=i, external_id=str(i), kind="person", name=name, title="", unit_id=1, keywords=[],
                        numbers=[]), {}, {1: unit})
    index.finish()
    ranked = [index.entries[c.staff_id].name for c in index.search("aberg")]
    assert ranked == ["Mats Aberg", "Maria Åberg"]
    assert [index.entries[c.staff_id].name for c in index.search("åberg")][0] == "Maria Åberg"


def test_keypad_spelling(app, sessions):
    assert keypad("olofsson") == "65637766" and keypad("åberg") == "22374"
    with sessions() as session:
        assert names(session, "656377", mode="keypad")[0] == "Sven Olofsson"
        assert names(session, "4439", mode="keypad") == ["Sven Olofsson"]  # an extension wins over spelling


def test_result_tells_status_hours_and_free_colleagues(app, sessions):
    with sessions() as session:
        first = search(session, "bygglov", NOW, TZ)[0]
        assert first.status == "available" and first.open_now and first.hours_text == "måndag till fredag 10:00–12:00"
        assert first.unit_path == ["Stadsbyggnadskontoret", "Bygglov"]
        assert {c.name for c in first.colleagues} >= {"Emma Söderlund"}
        late = search(session, "bygglov", at("2026-11-24T13:00"), TZ)[0]
        assert not late.open_now and late.opens == "2026-11-25T10:00:00+01:00"


def test_closing_an_extension_ranks_it_after_available_ones_and_is_logged(app, sessions):
    with sessions() as session:
        sven = staff_id(session, "p039") or search(session, "Sven Olofsson", NOW, TZ)[0].staff_id
        presence.set_status(session, sven, "closed", by="operator", now=NOW, reason="sjuk")
        session.commit()
        hits = search(session, "torghandel", NOW, TZ)
        assert [h.name for h in hits] == ["Nadia Karimi", "Sven Olofsson"]
        assert hits[1].status == "closed" and hits[1].status_reason == "sjuk" and hits[1].status_set_by == "operator"
        assert all(c.name != "Sven Olofsson" for c in hits[0].colleagues)
        assert session.scalar(select(func.count()).select_from(PresenceChange)) == 1


@pytest.mark.parametrize("status, line, until, expected", [
    ("available", "unknown", None, "available"),
    ("available", "busy", None, "busy"),
    ("available", "unavailable", None, "absent"),
    ("closed", "busy", None, "closed"),                  # what people set wins over the line
    ("absent", "available", "2026-11-24T10:00", "available"),   # it lapsed at its until-time
    ("absent", "available", "2026-11-24T11:00", "absent"),
    ("forwarded", "available", None, "forwarded"),
])
def test_effective_presence(status, line, until, expected):
    from directory.models import Presence

    row = Presence(staff_id=1, status=status, line=line, until=at(until) if until else None, reason="", set_by="")
    assert presence.effective(row, NOW).status == expected


def test_presence_refuses_nonsense(app, sessions):
    with sessions() as session:
        sid = search(session, "4439", NOW, TZ)[0].staff_id
        for kwargs in ({"status": "gone"}, {"status": "forwarded"}, {"status": "absent", "until": at("2026-11-24T09:00")}):
            with pytest.raises(presence.PresenceError):
                presence.set_status(session, sid, by="op", now=NOW, **kwargs)


CSV_HEADER = "id,kind,name,title,unit,extension,phone,mobile,other_numbers,email,keywords,hidden_number,notes\n"


def test_csv_import_is_idempotent_and_updates_in_place(app, sessions):
    text = CSV_HEADER + (
        "x1,person,Greta Grön,Parkeringshandläggare,gata-och-park,4470,040-628 04 70,,4471|08-465 004 10,"
        "greta@sjobacka.example,parkeringstillstånd|p-tillstånd,no,\n"
        "x2,function,Felanmälan gata,,Gata och park,4472,+46406280472,,,,felanmälan|gatubelysning,yes,Dygnet runt\n")
    with sessions() as session:
        first = csv_io.import_csv(session, text)
        again = csv_io.import_csv(session, text)
        changed = csv_io.import_csv(session, text.replace("Parkeringshandläggare", "Parkeringsansvarig"))
        assert (first.created, again.unchanged, changed.updated) == (2, 2, 1)
        assert names(session, "parkeringstillstånd")[0] == "Greta Grön"
        assert names(session, "08-465 004 10") == ["Greta Grön"]  # another number, reverse lookup
        hidden = search(session, "felanmälan", NOW, TZ)[0]
        assert hidden.kind == "function" and hidden.phone is None and hidden.dial == "+46406280472"


def test_a_bad_csv_imports_nothing_and_names_every_bad_line(app, sessions):
    text = CSV_HEADER + (
        "y1,person,Ok Person,,gata-och-park,4480,,,,,,no,\n"
        "y2,person,,,gata-och-park,4481,,,,,,no,\n"                 # line 3: missing name
        "y3,person,Nils Nobody,,no-such-unit,4482,,,,,,no,\n"       # line 4: unknown unit
        "y4,person,Petra Phone,,gata-och-park,4483,not a number,,,,,no,\n"  # line 5
        "y5,robot,Robbie,,gata-och-park,44,,,,,,maybe,\n"           # line 6: kind, hidden
        "y1,person,Twice,,gata-och-park,4484,,,,,,no,\n")           # line 7: duplicate id
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(Staff))
        with pytest.raises(csv_io.ImportRejected) as rejected:
            csv_io.import_csv(session, text)
        assert session.scalar(select(func.count()).select_from(Staff)) == before
    errors = rejected.value.errors
    assert [e.split(":")[0] for e in errors] == ["rad 3", "rad 4", "rad 5", "rad 6", "rad 7"]
    assert "name saknas" in errors[0] and "okänd enhet ”no-such-unit”" in errors[1]
    assert "går inte att tolka som ett telefonnummer" in errors[2] and "kind ”robot”" in errors[3] and "hidden_number" in errors[3]
    assert "finns redan på rad 2" in errors[4]


def test_csv_header_problems(app, sessions):
    with sessions() as session, pytest.raises(csv_io.ImportRejected, match="problem") as rejected:
        csv_io.import_csv(session, "id,name\n1,Anna\n")
    assert "saknar kolumnen/kolumnerna unit" in rejected.value.errors[0]


def test_export_then_import_round_trips(app, sessions, runner, tmp_path):
    exported = runner.invoke(args=["directory", "export"]).output
    assert exported.startswith("id,kind,name")
    path = tmp_path / "katalog.csv"
    path.write_text(exported)
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code == 0 and "0 new, 0 changed, 61 unchanged" in result.output


def test_cli_import_of_a_bad_file_exits_1_and_lists_lines(runner, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(CSV_HEADER + "z1,person,,,gata-och-park,,,,,,,no,\n")
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code == 1 and "rad 2: name saknas" in result.output and "nothing was imported" in result.output


def test_cli_search(runner):
    result = runner.invoke(args=["directory", "search", "torghandel"])
    assert "Sven Olofsson" in result.output and "Marknad och torghandel" in result.output
    data = json.loads(runner.invoke(args=["directory", "search", "--json", "4439"]).output)
    assert data[0]["name"] == "Sven Olofsson"


def test_api_requires_an_operator(client):
    assert client.get("/api/directory/search?q=torghandel").status_code == 401
    assert client.get("/directory").status_code == 302


def test_api_search_and_status(operator_client):
    data = operator_client.get("/api/directory/search?q=torghandel").get_json()
    assert [r["name"] for r in data["results"]][:2] == ["Sven Olofsson", "Nadia Karimi"]
    sven = data["results"][0]
    assert {"status", "status_label", "open_now", "hours_text", "colleagues", "unit_path"} <= set(sven)
    assert "dial" not in sven
    token = csrf_token(operator_client, "/directory")
    url = f"/api/directory/entries/{sven['id']}/status"
    assert operator_client.post(url, json={"status": "closed"}).status_code == 400  # no CSRF token
    done = operator_client.post(url, json={"status": "closed", "reason": "sjuk"}, headers={"X-CSRFToken": token})
    assert done.status_code == 200 and done.get_json()["status"] == "closed"
    bad = operator_client.post(url, json={"status": "forwarded"}, headers={"X-CSRFToken": token})
    assert bad.status_code == 400 and "hänvisa till" in bad.get_json()["error"]
    assert operator_client.get("/api/directory/entries/nobody").status_code == 404
    assert operator_client.get("/api/directory/search?q=x&limit=many").status_code == 400


def test_ivr_option_1_rings_the_first_free_of_equal_subject_contacts(runner, sessions):
    with sessions() as session:
        sven = search(session, "Sven Olofsson", NOW, TZ)[0].staff_id
        presence.set_status(session, sven, "closed", by="operator", now=NOW)
        session.commit()
    result = runner.invoke(args=["call", "--at", "2026-11-24T10:30:00+01:00", "--json", "1", "say:torghandel",
                                 "ring:answered"])
    transfer = next(json.loads(l) for l in result.output.splitlines() if '"transfer"' in l)
    assert transfer["name"] == "Nadia Karimi"


def test_ivr_option_1_outside_the_units_phone_hours_offers_a_callback(runner):
    result = runner.invoke(args=["call", "--at", "2026-11-24T14:00:00+01:00", "--json", "1", "say:Emma Söderlund",
                                 "1", "1"])
    actions = [json.loads(l) for l in result.output.splitlines()]
    said = [a["prompt"] for a in actions if a["action"] == "say"]
    assert "target_closed_hours" in said and "unavailable_offer" in said
    callback = next(a for a in actions if a["action"] == "callback")
    assert callback["when"] == "next_open" and callback["due_at"] == "2026-11-25T10:00:00+01:00"


def test_ivr_reads_a_choice_when_several_people_share_a_name(runner, sessions):
    with sessions() as session:
        csv_io.import_csv(session, CSV_HEADER + "k1,person,Anna Berg,Handläggare,gata-och-park,4490,,,,,,no,\n"
                                                "k2,person,Lars Berg,Handläggare,bygglov,4491,,,,,,no,\n")
    first = runner.invoke(args=["call", "--at", "2026-11-24T10:30:00+01:00", "--json", "1", "say:berg", "0"])
    choice = next(json.loads(l) for l in first.output.splitlines() if '"directory_choice"' in l)["text"]
    assert choice.startswith("Vi hittade flera.") and choice.endswith("För kundcenter, tryck 0.")
    assert "För Lars Berg, Bygglov, tryck" in choice and "För Anna Berg, Gata och park, tryck" in choice
    key = choice.split("För Lars Berg, Bygglov, tryck ")[1][0]
    picked = runner.invoke(args=["call", "--at", "2026-11-24T10:30:00+01:00", "--json", "1", "say:berg", key])
    assert next(json.loads(l) for l in picked.output.splitlines() if '"transfer"' in l)["name"] == "Lars Berg"


def test_pbx_device_states_feed_the_line_not_what_people_set(app, sessions):
    from switchboard.asterisk.service import presence_writer

    write = presence_writer(app.extensions["vaxel"])
    write("4439", "busy")
    write("9999", "busy")  # an extension nobody has: ignored
    with sessions() as session:
        assert search(session, "4439", NOW, TZ)[0].status == "busy"
        sven = search(session, "4439", NOW, TZ)[0].staff_id
        presence.set_status(session, sven, "closed", by="operator", now=NOW)
        session.commit()
    write("4439", "available")
    with sessions() as session:
        assert search(session, "4439", NOW, TZ)[0].status == "closed"
