"""Issue 14, privacy: hidden numbers stay hidden, transcripts follow retention, personal figures for chosen roles,
personal exports are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from directory.index import bump_version
from directory.models import Staff
from directory.search import search
from stats import report, retention
from stats.definitions import Definitions
from stats.models import CallEvent, CallFact
from switchboard.auth import add_user
from tests.conftest import TZ, at, login
from tests.test_stats_history import Call, write
from tests.test_stats_report import history

NOW = at("2026-11-24T10:30")
Q = "from=2026-11-24&to=2026-11-24"
KEY = "a-test-key-of-enough-length"


# --- 1. reverse search never confirms a hidden number ------------------------------------------------


def _hide(sessions, name: str) -> Staff:
    with sessions() as session:
        staff = session.scalars(select(Staff).where(Staff.name == name)).one()
        staff.hidden_number = True
        bump_version(session)
        session.commit()
        return staff


@pytest.mark.parametrize("query", ["070-174 06 05", "0701740605", "+46701740605", "+46 70 174 06 05",
                                   "070 174 06 05", "46701740605", "070174"])
def test_reverse_search_never_matches_a_hidden_number(app, sessions, query):
    with sessions() as session:
        assert "Karin Lindström" in [r.name for r in search(session, query, NOW, TZ)]  # visible: found
    _hide(sessions, "Karin Lindström")
    with sessions() as session:
        assert "Karin Lindström" not in [r.name for r in search(session, query, NOW, TZ)]
        assert "Karin Lindström" not in [r.name for r in search(session, query, NOW, TZ, mode="keypad")]
        found = search(session, "Karin Lindström", NOW, TZ)[0]  # still found by name, without the numbers
        assert found.name == "Karin Lindström" and found.mobile is None and found.phone is None


def test_a_hidden_entry_is_still_found_by_its_extension(app, sessions):
    with sessions() as session:
        sven = session.scalars(select(Staff).where(Staff.name == "Sven Olofsson")).one()
        extension = sven.extension
    _hide(sessions, "Sven Olofsson")
    with sessions() as session:
        assert [r.name for r in search(session, extension, NOW, TZ)][:1] == ["Sven Olofsson"]
        for query in ("040-628 04 39", "+46406280439", "0406280439"):
            assert "Sven Olofsson" not in [r.name for r in search(session, query, NOW, TZ)]


# --- 2. transcripts follow the retention of caller numbers --------------------------------------------


@pytest.fixture
def old_queries(app, sessions, monkeypatch):
    monkeypatch.setenv(retention.KEY_ENV, KEY)
    now = at("2026-11-24T12:00:00")

    def asked(call_id, days_ago, query):
        c = Call(call_id, now - timedelta(days=days_ago)).hours().choose("person").lookup(query, False)
        return c.queue(choice="person").leave(10, "answered", "anna").end("completed", 30, talk=30)

    write(sessions, asked("old", 100, "Min granne Per Persson"), asked("new", 10, "hundskatt"))
    return now


def _queries(sessions):
    with sessions() as session:
        events = {e.call_id: e.data.get("query") for e in session.scalars(
            select(CallEvent).where(CallEvent.type == "directory_lookup"))}
        facts = {f.call_id: f.unmatched_query for f in session.scalars(select(CallFact))}
    return events, facts


def test_purge_deletes_old_directory_queries_and_keeps_the_counts(sessions, old_queries):
    f = report.Filters(old_queries.date() - timedelta(days=120), old_queries.date())
    with sessions() as session:
        before = report.build(session, f, Definitions())["directory"]
    assert {q["query"] for q in before["top_unmatched"]} == {"min granne per persson", "hundskatt"}
    with sessions() as session:
        dry = retention.purge(session, old_queries, 90, None, dry_run=True)
    assert dry.queries == 2 and _queries(sessions)[0]["old"] == "Min granne Per Persson"
    with sessions() as session:
        done = retention.purge(session, old_queries, 90, retention.key_from())
    assert done.queries == 2
    events, facts = _queries(sessions)
    assert events == {"old": None, "new": "hundskatt"} and facts == {"old": None, "new": "hundskatt"}
    with sessions() as session:
        after = report.build(session, f, Definitions())["directory"]
        assert session.scalars(select(CallEvent).where(CallEvent.call_id == "old",
                                                       CallEvent.type == "directory_lookup")).one().data["hits"] == 0
    assert (after["lookups"], after["unmatched"]) == (before["lookups"], before["unmatched"])
    assert after["top_unmatched"] == [{"query": "hundskatt", "calls": 1}]


def test_the_purge_command_deletes_old_queries(runner, sessions, old_queries):
    assert runner.invoke(args=["stats", "purge"]).exit_code == 0
    assert _queries(sessions)[1] == {"old": None, "new": "hundskatt"}


# --- 3. personal figures only for stats.personal_roles ------------------------------------------------


@pytest.fixture
def day(app, sessions):
    write(sessions, *history())
    return sessions


def _admin(client, sessions):
    with sessions() as session:
        add_user(session, "chef", "admin", "chef-password-1")
        session.commit()
    assert login(client, "chef", "chef-password-1").status_code == 302
    return client


PERSONAL = ("Sven Olofsson", "hundskatt", 'id="operators"', "bertil")


@pytest.mark.parametrize("username, password", [("operator", "demo-operator-2026"),
                                                ("statistik", "demo-statistik-2026")])
def test_operators_and_the_stats_role_get_no_personal_figures(client, day, username, password):
    assert login(client, username, password).status_code == 302
    html = client.get(f"/stats?{Q}").get_data(as_text=True)
    assert "Tekniska förvaltningen" in html  # the department figures stay
    for text in PERSONAL:
        assert text not in html, text
    if username == "statistik":
        data = client.get(f"/api/stats/report?{Q}").get_json()
        assert data["personal"] is False and data["operators"] == [] and data["directory"]["top_unmatched"] == []
        assert data["directory"]["unmatched"] == 3  # the count is not personal
        text = client.get(f"/api/stats/report?{Q}&format=csv").get_data(as_text=True)
        for word in ("Sven Olofsson", "hundskatt", "bertil"):
            assert word not in text, word


def test_an_administrator_sees_personal_figures(client, day):
    _admin(client, day)
    html = client.get(f"/stats?{Q}").get_data(as_text=True)
    for text in PERSONAL:
        assert text in html, text
    data = client.get(f"/api/stats/report?{Q}").get_json()
    assert data["personal"] is True and {o["operator"] for o in data["operators"]} >= {"anna", "bertil"}
    assert data["directory"]["top_unmatched"][0]["query"] == "hundskatt"


def test_a_site_may_give_personal_figures_to_the_stats_role(app, client, day, monkeypatch):
    monkeypatch.setitem(app.extensions["vaxel"].settings["stats"], "personal_roles", ["admin", "stats"])
    assert login(client, "statistik", "demo-statistik-2026").status_code == 302
    assert "hundskatt" in client.get(f"/stats?{Q}").get_data(as_text=True)
    assert client.get(f"/api/stats/report?{Q}").get_json()["personal"] is True


def test_report_without_personal_stops_the_transfer_tree_at_the_unit(day):
    with day() as session:
        data = report.build(session, report.Filters(at("2026-11-24T12:00").date(), at("2026-11-24T12:00").date()),
                            Definitions(), personal=False)

    def levels(items):
        for x in items:
            yield x["level"]
            yield from levels(x["children"])

    assert "person" not in set(levels(data["transfers"]["by_department"]))


# --- 4. exports of personal data are audited ----------------------------------------------------------


def _audits(sessions):
    with sessions() as session:
        return [(a.user, a.action, a.object_id, a.after) for a in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "stats.personal_export"))]


def test_a_personal_export_over_the_api_is_audited(client, day):
    _admin(client, day)
    assert client.get(f"/api/stats/calls?{Q}").status_code == 200
    assert _audits(day) == []  # the file without personal data is not
    reply = client.get(f"/api/stats/calls?{Q}&personal=1&format=json")
    assert reply.status_code == 200 and "+46701740699" in reply.get_data(as_text=True)
    [(user, _, range_, after)] = _audits(day)
    assert (user, range_) == ("chef", "2026-11-24..2026-11-24")
    assert after["filters"]["start"] == "2026-11-24" and after["format"] == "json" and after["via"] == "api"


def test_a_refused_personal_export_is_not_audited(client, day):
    assert login(client, "statistik", "demo-statistik-2026").status_code == 302
    assert client.get(f"/api/stats/calls?{Q}&personal=1").status_code == 403
    assert _audits(day) == []


def test_a_personal_export_on_the_command_line_is_audited(runner, day):
    args = ["stats", "calls", "--from", "2026-11-24", "--to", "2026-11-24"]
    assert runner.invoke(args=args).exit_code == 0
    assert _audits(day) == []
    result = runner.invoke(args=[*args, "--personal"])
    assert result.exit_code == 0 and "+46701740699" in result.output
    [(user, _, range_, after)] = _audits(day)
    assert user.startswith("cli") and range_ == "2026-11-24..2026-11-24" and after["via"] == "cli"
