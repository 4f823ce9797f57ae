"""`vaxel stats ...`, `vaxel demo traffic` and retention (pseudonymised caller numbers), end to end."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ivr.models import CallSession
from stats import retention
from stats.models import CallEvent, CallFact
from tests.test_stats_history import Call, at, write
from tests.test_stats_report import history

KEY = "a-test-key-of-enough-length"
ARGS = ["--from", "2026-11-24", "--to", "2026-11-24"]


@pytest.fixture
def day(app, sessions):
    write(sessions, *history())
    return sessions


def test_report_as_table_json_and_csv(runner, day):
    table = runner.invoke(args=["stats", "report", *ARGS])
    assert table.exit_code == 0, table.output
    assert "Växeln: svar inom 15 s" in table.output and "57.1 %" in table.output and "[Målet ej nått]" in table.output
    assert "erbjudna i kö 11: besvarade 8, tappade 2" in table.output and "hundskatt" in table.output
    data = json.loads(runner.invoke(args=["stats", "report", *ARGS, "--format", "json"]).output)
    assert data["calls"]["total"] == 15 and data["transfers"]["attempted"] == 3
    rows = list(csv.reader(io.StringIO(runner.invoke(args=["stats", "report", *ARGS, "--format", "csv"]).output)))
    assert ["calls", "short_abandoned", "1"] in rows


def test_report_filters_and_errors(runner, day):
    data = json.loads(runner.invoke(args=["stats", "report", *ARGS, "--hours", "14-16", "--format", "json"]).output)
    assert data["calls"]["total"] == 4
    data = json.loads(runner.invoke(args=["stats", "report", "--from", "2026-11-24", "--to", "2026-11-25",
                                          "--weekday", "wed", "--format", "json"]).output)
    assert data["calls"]["total"] == 1
    bad = runner.invoke(args=["stats", "report", "--from", "2026-11-25", "--to", "2026-11-24"])
    assert bad.exit_code == 2 and "innan den börjar" in bad.output


def test_raw_file_to_a_file_with_and_without_personal_data(runner, day, tmp_path):
    out = tmp_path / "radata.csv"
    assert runner.invoke(args=["stats", "calls", *ARGS, "-o", str(out)]).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 15 and "caller" not in rows[0]
    personal = runner.invoke(args=["stats", "calls", *ARGS, "--personal"]).output
    assert "+46701740699" in personal
    data = json.loads(runner.invoke(args=["stats", "calls", *ARGS, "--format", "json"]).output)
    assert {r["call_id"] for r in data} >= {"a1", "tr", "closed"}


def test_rebuild(runner, day):
    result = runner.invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0 and "rebuilt the facts of 16 calls" in result.output


def test_a_test_call_is_not_counted_in_the_report_nor_by_a_rebuild(runner, day):
    """`vaxel call` runs through the real call path (its events are logged) but is no traffic: the report is the
    same before and after it, and after `vaxel stats rebuild`."""
    def report() -> dict:
        return json.loads(runner.invoke(args=["stats", "report", *ARGS, "--format", "json"]).output)["calls"]

    before = report()
    with day() as session:
        events = session.scalar(select(func.count()).select_from(CallEvent))
    call = runner.invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "--json", "2", "wait:20", "hangup"])
    assert call.exit_code == 0, call.output
    with day() as session:
        assert session.scalar(select(func.count()).select_from(CallEvent)) > events  # the call did happen
        assert session.scalar(select(func.count()).select_from(CallFact).where(
            CallFact.call_id.like("sim-%"))) == 0
    assert report() == before
    assert runner.invoke(args=["stats", "rebuild"]).exit_code == 0
    assert report() == before


# --- retention --------------------------------------------------------------------------------------


@pytest.fixture
def old_and_new(app, sessions, monkeypatch):
    """Two calls 100 and 95 days old, one 10 days old; the clock says 2026-11-24."""
    monkeypatch.setenv(retention.KEY_ENV, KEY)
    now = at("2026-11-24T12:00:00")
    start = now - timedelta(days=100)
    calls = [Call.answered(f"r{i}", start + timedelta(days=d), wait=10, caller="+46701740612")
             for i, d in enumerate((0, 5, 90))]
    write(sessions, *calls)
    with sessions() as session:
        from switchboard.seed import published_flow

        version = published_flow(session).id
        for i, d in enumerate((0, 5, 90)):
            t = start + timedelta(days=d)
            session.add(CallSession(call_id=f"r{i}", channel="test", flow_version_id=version,
                                    caller="+46701740612", called="+46406280400", started_at=t, updated_at=t,
                                    step=6, state={"caller": "+46701740612", "awaiting": ""}))
        session.commit()
    return now


def _callers(sessions):
    with sessions() as session:
        events = {e.call_id: e.data["caller"] for e in session.scalars(
            select(CallEvent).where(CallEvent.type == "call_started"))}
        calls = {c.call_id: (c.caller, c.state["caller"]) for c in session.scalars(select(CallSession))}
    return events, calls


def test_purge_pseudonymises_old_numbers_only_and_counts_stay(app, sessions, old_and_new):
    from stats import report
    from stats.definitions import Definitions

    def figures():
        with sessions() as session:
            r = report.build(session, report.Filters(old_and_new.date() - timedelta(days=100), old_and_new.date()),
                             Definitions())
        return r["calls"], r["tiles"]

    before = figures()
    with sessions() as session:
        dry = retention.purge(session, old_and_new, 90, None, dry_run=True)
    assert (dry.events, dry.sessions, dry.dry_run) == (2, 2, True)
    assert _callers(sessions)[0]["r0"] == "+46701740612"  # a dry run changes nothing
    with sessions() as session:
        done = retention.purge(session, old_and_new, 90, retention.key_from())
    assert (done.events, done.sessions) == (2, 2)
    events, calls = _callers(sessions)
    hidden = retention.pseudonym("+46701740612", KEY.encode())
    assert hidden.startswith("ps:") and len(hidden) <= 32
    assert events == {"r0": hidden, "r1": hidden, "r2": "+46701740612"}  # the same caller, the same pseudonym
    assert calls == {"r0": (hidden, hidden), "r1": (hidden, hidden), "r2": ("+46701740612", "+46701740612")}
    assert figures() == before
    with sessions() as session:
        again = retention.purge(session, old_and_new, 90, retention.key_from())
    assert (again.events, again.sessions) == (0, 0)  # nothing twice
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CallFact)) == 3


def test_the_pseudonym_needs_the_key():
    assert retention.pseudonym("+46701740612", b"k" * 16) != retention.pseudonym("+46701740612", b"j" * 16)
    with pytest.raises(retention.RetentionError, match=retention.KEY_ENV):
        retention.key_from({})
    with pytest.raises(retention.RetentionError):
        retention.key_from({retention.KEY_ENV: "short"})


def _clock_at(app, moment) -> None:
    from core.clock import Clock

    services = app.extensions["vaxel"]
    services.clock = Clock(services.clock.tz, moment)


def test_purge_command(app, runner, old_and_new, monkeypatch):
    _clock_at(app, old_and_new)
    dry = runner.invoke(args=["stats", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would pseudonymise the caller numbers of 2 call event(s) and 2 call(s)" in dry.output
    done = runner.invoke(args=["stats", "purge"])
    assert "pseudonymised the caller numbers of 2 call event(s) and 2 call(s)" in done.output
    monkeypatch.delenv(retention.KEY_ENV)
    refused = runner.invoke(args=["stats", "purge"])
    assert refused.exit_code == 2 and retention.KEY_ENV in refused.output


def test_the_scheduled_job_purges_and_survives_errors(app, sessions, old_and_new, monkeypatch, caplog):
    settings = app.extensions["vaxel"].settings
    retention.job(sessions, settings, lambda: old_and_new)()
    assert _callers(sessions)[0]["r0"].startswith("ps:")
    monkeypatch.delenv(retention.KEY_ENV)
    retention.job(sessions, settings, lambda: old_and_new)()  # logs, does not raise
    assert "purge failed" in caplog.text


def test_the_job_goes_on_a_scheduler(app, sessions, old_and_new):
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler()
    retention.schedule(scheduler, sessions, app.extensions["vaxel"].settings, lambda: old_and_new)
    assert scheduler.get_job("stats_retention") is not None


# --- demo traffic ----------------------------------------------------------------------------------


def test_demo_traffic_goes_through_the_engine(app, runner, sessions):
    _clock_at(app, at("2026-11-25T08:00:00"))
    result = runner.invoke(args=["demo", "traffic", "--days", "2", "--per-day", "12"])
    assert result.exit_code == 0, result.output
    assert "demo traffic:" in result.output
    with sessions() as session:
        channels = set(session.scalars(select(CallFact.channel)))
        n = session.scalar(select(func.count()).select_from(CallFact))
        sessions_n = session.scalar(select(func.count()).select_from(CallSession))
    assert channels == {"demo"} and n == sessions_n and n > 10
    again = runner.invoke(args=["demo", "traffic", "--days", "2", "--per-day", "12"])
    assert "demo traffic: 0 calls" in again.output  # the same days are not made twice
    data = json.loads(runner.invoke(args=["stats", "report", "--from", "2026-11-23", "--to", "2026-11-24",
                                          "--format", "json"]).output)
    assert data["calls"]["total"] == n and data["calls"]["answered"] > 0
