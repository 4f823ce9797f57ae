"""The report engine on a real database: a day of calls written by hand, every figure asserted.

Runs on SQLite and (``make test-postgres``) on PostgreSQL with the same
expectations, which is how "identical results on both" is checked.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from ivr.protocol import Digits, Hangup, OperatorAnswered, Speech, TransferEnded
from stats import facts, report, rollup
from stats.definitions import Definitions
from stats.models import CallEvent, CallFact, HourRollup, RollupDay, TransferFact
from switchboard.calls import CallRunner
from tests.test_stats_history import ENTRY, TZ, UTC, Call, at, write

DAY = date(2026, 11, 24)  # a Tuesday
OLD_NUMBER = "+46406280100"


def history() -> list[Call]:
    """Fifteen calls on Tuesday 24 November 2026 and one on the Wednesday."""
    tr = Call("tr", at("2026-11-24T14:00:00")).hours().choose("person").lookup("torghandel", True)
    tr.transfer("p039", "Sven Olofsson", "Marknad och torghandel", "no-answer", 25)
    tr.queue(returned=True, choice="person").leave(20, "answered", "bertil").end("completed", 90, talk=90)
    ta = Call("ta", at("2026-11-24T14:30:00")).hours().choose("person").lookup("johan berglund", True)
    ta.transfer("p003", "Johan Berglund", "Kansli och registratur", "answered", 8).end("completed", 60, talk=60)
    tb = Call("tb", at("2026-11-24T15:00:00")).hours().choose("person").lookup("torghandel", True)
    tb.transfer("p039", "Sven Olofsson", "Marknad och torghandel", "busy", 2)
    tb.queue(returned=True, choice="person").leave(50, "abandoned").end("caller_hangup")
    cb = Call("cb", at("2026-11-24T13:00:00")).hours().choose("case").queue(choice="case")
    cb.add("callback_offered", 120, where="queue", waited=120).callback_requested("queue", after=15)
    cb.leave(0, "callback").end("callback_requested", 3)
    cb.callback_attempt(1, "no-answer", 600).callback_attempt(2, "answered", 900)
    cb.callback_closed("callback_completed", attempts=2, waited=1515)

    def unmatched(call_id, start, query, wait, talk):
        c = Call(call_id, at(start)).hours().choose("person").lookup(query, False).queue(choice="person")
        return c.leave(wait, "answered", "anna").end("completed", talk, talk=talk)

    return [
        Call.answered("a1", at("2026-11-24T09:05:00"), wait=10, talk=100, operator="anna")
        .wrapup("answered_by_centre", "anna", seconds=20),
        Call.answered("a2", at("2026-11-24T09:20:00"), wait=400, talk=200, operator="bertil")
        .wrapup("transferred", "bertil", seconds=40),
        Call.answered("a3", at("2026-11-24T10:00:00"), wait=12, talk=60, option="person", operator="anna"),
        Call.answered("a4", at("2026-11-24T10:30:00"), wait=30, talk=50, option="person", operator="bertil"),
        Call.abandoned("ab4", at("2026-11-24T11:00:00"), wait=4),
        Call.abandoned("ab6", at("2026-11-24T11:10:00"), wait=6),
        cb, tr, ta, tb,
        Call("ivr", at("2026-11-24T15:30:00")).hours().add("input_invalid", 5, node="menu", digits="7")
        .end("caller_hangup", 5),
        Call("closed", at("2026-11-24T18:30:00")).hours(False).end("goodbye", 20),
        unmatched("um", "2026-11-24T16:00:00", "Hundskatt", 5, 30),
        unmatched("um2", "2026-11-24T16:10:00", "hundskatt", 14, 40),
        unmatched("um3", "2026-11-24T16:20:00", "vigsel", 15, 20),  # 15 s: exactly within "three rings"
        Call.answered("d2", at("2026-11-25T09:00:00"), wait=20, talk=60, operator="anna", called=OLD_NUMBER),
    ]


@pytest.fixture
def day(app, sessions):
    write(sessions, *history())
    return sessions


def build(sessions, start=DAY, end=None, d=None, **filters):
    with sessions() as session:
        return report.build(session, report.Filters(start, end or start, **filters), d or Definitions())


def tile(r, key):
    return next(t for t in r["tiles"] if t["key"] == key)


def test_every_figure_of_a_day(day):
    r = build(day)
    assert r["calls"] == dict(total=15, closed=1, ivr_exits=1, reached_by_transfer=1, transfer_hangups=0, queued=12,
                              short_abandoned=1, offered=11, answered=8, abandoned=2, callbacks_from_queue=1,
                              returned_to_queue=2, unfinished=0, english=0)
    sw, cs = tile(r, "switchboard"), tile(r, "service")
    # switchboard: a3 12 s, a4 30 s, tr 20 s, um 5 s, um2 14 s, um3 15 s answered; tb abandoned -> 4 of 7
    assert (sw["within"], sw["answered"], sw["abandoned"], sw["offered"]) == (4, 6, 1, 7)
    assert sw["value"] == pytest.approx(400 / 7) and sw["light"]["state"] == "red"
    assert sw["asa_p90"] == 30 and sw["seconds"] == 15
    # customer service: a1 10 s within, a2 400 s not, ab6 abandoned, ab4 short (neither), cb callback (neither)
    assert (cs["within"], cs["answered"], cs["abandoned"], cs["offered"]) == (1, 2, 1, 4)
    assert cs["value"] == pytest.approx(100 / 3) and cs["asa_p90"] == 400
    lost = tile(r, "lost")
    assert (lost["abandoned"], lost["offered"]) == (2, 11) and lost["value"] == pytest.approx(200 / 11)
    assert lost["light"] == {"state": "red", "text": "Målet ej nått", "text_en": "Target missed"}
    wait = tile(r, "queue_wait")
    assert wait["value"] == pytest.approx(506 / 8) and wait["light"]["state"] == "green"
    resolved = tile(r, "resolved")
    assert (resolved["resolved"], resolved["wrapups"], resolved["value"]) == (1, 2, 50.0)
    reach = tile(r, "reach")
    assert (reach["answered"], reach["attempted"]) == (1, 3) and reach["value"] == pytest.approx(100 / 3)

    s = r["speed"]
    assert s["asa"] == pytest.approx(63.25) and s["asa_p90"] == 400 and s["longest_wait"] == 400
    assert s["talk_mean"] == pytest.approx(590 / 8) and s["handle_mean"] == pytest.approx(650 / 8)
    # KKiK, first ring to a person including transfers: a1 17, a2 407, a3 19, a4 37, tr 58, ta 20, um 17, 26, 27
    assert s["reach_mean"] == pytest.approx(628 / 9)

    t = r["transfers"]
    assert (t["attempted"], t["answered"], t["returned"]) == (3, 1, 2)
    assert t["failed"] == {"busy": 1, "no-answer": 1}
    assert t["by_origin"]["ivr"] == dict(attempted=3, answered=1, returned=2, reach_rate=pytest.approx(100 / 3))
    tek, kk = t["by_department"]
    assert (tek["key"], tek["name"], tek["attempted"], tek["answered"], tek["returned"]) == \
        ("tekniska-forvaltningen", "Tekniska förvaltningen", 2, 0, 2)
    assert tek["reach_rate"] == 0.0 and tek["failed"] == {"busy": 1, "no-answer": 1}
    [torg] = tek["children"]
    assert (torg["level"], torg["name"]) == ("enhet", "Marknad och torghandel")
    [sven] = torg["children"]
    assert (sven["level"], sven["key"], sven["name"], sven["attempted"]) == ("person", "p039", "Sven Olofsson", 2)
    assert (kk["key"], kk["attempted"], kk["answered"], kk["reach_rate"]) == ("kommunkontoret", 1, 1, 100.0)
    [kansli] = kk["children"]
    assert (kansli["level"], kansli["name"], kansli["children"][0]["name"]) == \
        ("avdelning", "Kansli och registratur", "Johan Berglund")

    assert r["resolved"]["by_outcome"] == {"answered_by_centre": 1, "transferred": 1, "referred_to_phone_hours": 0,
                                           "message_taken": 0}
    assert r["callbacks"] == dict(requested=1, from_queue=1, completed=1, failed=0, cancelled=0, pending=0,
                                  attempts=2, attempts_per_completion=2.0, contact_mean_seconds=1515.0)
    m = r["menu"]
    assert m["calls"] == 14 and m["choices"] == {"case": 5, "none": 1, "person": 8}
    assert m["invalid_rate"] == pytest.approx(100 / 14) and m["no_input_rate"] == 0.0
    assert r["directory"] == dict(lookups=6, matched=3, unmatched=3,
                                  top_unmatched=[{"query": "hundskatt", "calls": 2}, {"query": "vigsel", "calls": 1}])
    tuesday = [row[1] for row in r["heatmap"]["calls"]]
    assert {h: n for h, n in enumerate(tuesday) if n} == {9: 2, 10: 2, 11: 2, 13: 1, 14: 2, 15: 2, 16: 3, 18: 1}
    assert sum(sum(row) for row in r["heatmap"]["calls"]) == 15
    ops = {o["operator"]: o for o in r["operators"]}
    assert (ops["anna"]["answered"], ops["anna"]["asa"], ops["anna"]["talk_mean"], ops["anna"]["handle_mean"]) == \
        (5, 11.2, 50.0, 54.0)
    assert (ops["anna"]["wrapups"], ops["anna"]["resolved_share"]) == (1, 100.0)
    assert (ops["bertil"]["answered"], ops["bertil"]["asa"], ops["bertil"]["resolved_share"]) == (3, 150.0, 0.0)
    [row] = r["by_day"]
    assert row["period"] == "2026-11-24" and (row["calls"], row["offered"], row["answered"], row["abandoned"]) == \
        (15, 11, 8, 2)
    assert row["service_level_switchboard"] == pytest.approx(400 / 7)
    assert row["service_level_service"] == pytest.approx(100 / 3) and row["lost_percent"] == pytest.approx(200 / 11)
    assert [w["period"] for w in r["by_week"]] == ["2026-W48"] and r["by_month"][0]["period"] == "2026-11"
    assert r["entries"] == [{"called": "+46406280400", "calls": 15}]


def test_two_days_by_day_week_and_entry_number(day):
    r = build(day, DAY, DAY + timedelta(days=1))
    assert r["calls"]["total"] == 16 and r["calls"]["answered"] == 9
    assert [(x["period"], x["calls"]) for x in r["by_day"]] == [("2026-11-24", 15), ("2026-11-25", 1)]
    assert [(x["period"], x["calls"]) for x in r["by_week"]] == [("2026-W48", 16)]
    assert r["entries"] == [{"called": OLD_NUMBER, "calls": 1}, {"called": "+46406280400", "calls": 15}]
    assert r["heatmap"]["calls"][9][2] == 1  # Wednesday 09-10


def test_the_abandon_threshold_and_the_denominator_are_configurable(day):
    strict = build(day, d=Definitions(short_abandon_seconds=0))  # every hang-up in the queue is lost
    assert strict["calls"]["short_abandoned"] == 0 and strict["calls"]["abandoned"] == 3
    assert strict["calls"]["offered"] == 12 and tile(strict, "lost")["value"] == 25.0
    assert tile(strict, "service")["value"] == 25.0  # 1 of (2 answered + 2 abandoned)
    three = build(day, d=Definitions(short_abandon_seconds=3))
    assert three["calls"]["short_abandoned"] == 0 and three["calls"]["abandoned"] == 3  # 4 s is no longer short
    answered_only = build(day, d=Definitions(abandoned_in_denominator=False))
    assert tile(answered_only, "switchboard")["value"] == pytest.approx(400 / 6)
    assert tile(answered_only, "service")["value"] == 50.0
    back = build(day)
    assert back["calls"]["short_abandoned"] == 1 and tile(back, "lost")["value"] == pytest.approx(200 / 11)


@pytest.mark.parametrize("filters, calls, answered", [
    (dict(weekdays=(2,)), 15, 8),
    (dict(weekdays=(3,)), 1, 1),
    (dict(weekdays=(1, 4, 5, 6, 7)), 0, 0),
    (dict(hour_from=14, hour_to=16), 4, 1),  # tr, ta, tb, ivr
    (dict(hour_from=9, hour_to=10), 3, 3),  # a1, a2 and the Wednesday call
    (dict(called=(OLD_NUMBER,)), 1, 1),
    (dict(queue="centre"), 13, 9),
    (dict(department="tekniska-forvaltningen"), 2, 1),  # tr and tb, by their transfer
    (dict(department="torghandel"), 2, 1),
    (dict(department="kansli"), 1, 0),  # ta, answered by the person it was transferred to
    (dict(department="kommunkontoret"), 1, 0),
])
def test_filters(day, filters, calls, answered):
    r = build(day, DAY, DAY + timedelta(days=1), **filters)
    assert (r["calls"]["total"], r["calls"]["answered"]) == (calls, answered)
    assert sum(sum(row) for row in r["heatmap"]["calls"]) == calls


def test_department_filter_keeps_its_transfers_only(day):
    r = build(day, department="kansli")
    assert r["transfers"]["attempted"] == 1 and r["transfers"]["by_department"][0]["key"] == "kommunkontoret"
    assert r["speed"]["asa"] is None and r["operators"] == []


def test_an_empty_range_has_no_figures_and_no_division_by_zero(day):
    r = build(day, date(2027, 1, 1), date(2027, 1, 31))
    assert r["calls"]["total"] == 0 and r["calls"]["offered"] == 0
    for t in r["tiles"]:
        assert t["value"] is None, t["key"]
        assert t["light"]["state"] in ("none", "info")
    assert r["speed"] == dict(asa=None, asa_p90=None, longest_wait=None, talk_mean=None, handle_mean=None,
                              reach_mean=None)
    assert r["callbacks"]["attempts_per_completion"] is None and r["callbacks"]["contact_mean_seconds"] is None
    assert r["menu"]["invalid_rate"] is None and r["transfers"]["reach_rate"] is None
    assert r["by_day"] == [] and r["directory"]["top_unmatched"] == [] and r["operators"] == []


def test_a_retried_webhook_counts_once(day):
    write(day, Call.answered("a1", at("2026-11-24T09:05:00"), wait=10, talk=100, operator="anna"))
    assert build(day)["calls"]["total"] == 15


def test_rollups_follow_new_events_and_equal_the_facts(day):
    first = build(day)
    write(day, Call.abandoned("late", at("2026-11-24T20:00:00"), wait=30))
    again = build(day)
    assert again["calls"]["total"] == first["calls"]["total"] + 1
    assert again["calls"]["abandoned"] == first["calls"]["abandoned"] + 1
    d = Definitions()
    with day() as session:
        assert rollup.stale_days(session, DAY, DAY, d) == []
        direct = sorted((tuple(r) for r in session.execute(rollup.hour_select(d, CallFact.local_date == DAY))), key=repr)
        stored = sorted((tuple(r) for r in session.execute(
            select(*[getattr(HourRollup, k) for k in (*rollup.HOUR_KEYS, *rollup.HOUR_MEASURES, "longest_wait")])
            .where(HourRollup.local_date == DAY))), key=repr)
        assert direct == stored
        day_row = session.get(RollupDay, DAY)
        assert day_row.built_changes == day_row.changes and day_row.built_for == rollup.fingerprint(d)


def test_a_late_callback_outcome_updates_its_day(day):
    build(day)
    c = Call("cb2", at("2026-11-24T16:58:00")).hours().choose("case").queue(choice="case")
    c.callback_requested("queue", after=130).leave(0, "callback").end("callback_requested")
    write(day, c)
    assert build(day)["callbacks"]["pending"] == 1
    c.events = []
    c.t = at("2026-11-25T09:30:00")
    write(day, c.callback_attempt(1, "answered", 0).callback_closed("callback_completed", 1))
    cb = build(day)["callbacks"]
    assert (cb["requested"], cb["completed"], cb["pending"], cb["attempts"]) == (2, 2, 0, 3)


def test_rebuild_from_the_event_log_gives_the_same_report(day):
    before = build(day, DAY, DAY + timedelta(days=1))
    with day() as session:
        session.execute(delete(TransferFact))
        session.execute(delete(CallFact))
        session.commit()
    assert facts.rebuild(day, batch=4, definitions=Definitions()) == 16
    assert build(day, DAY, DAY + timedelta(days=1)) == before


def test_facts_are_written_in_the_transaction_of_their_events(app, sessions):
    c = Call.answered("tx", at("2026-11-24T10:00:00"), wait=10)
    with sessions() as session:
        c.write(session)
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CallFact)) == 0
        assert session.scalar(select(func.count()).select_from(CallEvent)) == 0
    write(sessions, c)
    with sessions() as session:
        assert session.get(CallFact, "tx").answered == 1


def test_every_new_session_factory_writes_facts_even_at_a_freed_factorys_address(app):
    """A factory made after another was freed often gets its address; SQLAlchemy's ``event.contains`` then said
    "installed" and that factory's commits wrote no facts (a CI failure, one run in about twenty)."""
    import gc

    from core.db import make_sessionmaker

    engine = app.extensions["vaxel"].engine
    for n in range(20):
        factory = make_sessionmaker(engine)
        facts.install(factory, "Europe/Stockholm")
        write(factory, Call.answered(f"f{n}", at("2026-11-24T10:00:00"), wait=10))
        with factory() as session:
            assert session.get(CallFact, f"f{n}") is not None, f"factory {n} wrote no facts"
        del factory
        gc.collect()


def test_a_statistics_failure_never_breaks_the_call(app, sessions, monkeypatch, caplog):
    def broken(*_a, **_k):
        raise RuntimeError("bug in the fold")

    monkeypatch.setattr(facts, "fold", broken)
    write(sessions, Call.answered("bug", at("2026-11-24T10:00:00"), wait=10))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CallEvent).where(CallEvent.call_id == "bug")) == 6
        assert session.get(CallFact, "bug") is None
    assert "could not update its statistics facts" in caplog.text
    monkeypatch.undo()
    assert facts.rebuild(sessions) == 1  # and the repair


def test_operator_wrapups_written_by_hand_make_resolved_at_the_centre(app, sessions):
    calls = [Call.answered(f"w{i}", at("2026-11-24T10:00:00") + timedelta(minutes=i), wait=10, operator="anna")
             .wrapup(outcome, "anna", seconds=30)
             for i, outcome in enumerate(["answered_by_centre"] * 7 + ["transferred", "referred_to_phone_hours",
                                                                        "message_taken"])]
    write(sessions, *calls)
    r = build(sessions)
    t = tile(r, "resolved")
    assert (t["resolved"], t["wrapups"], t["value"]) == (7, 10, 70.0)
    assert t["light"]["state"] == "red"  # 70 % is more than 10 % below the 80 % target
    assert build(sessions, d=Definitions(resolved_target_percent=70))["tiles"][4]["light"]["state"] == "green"
    assert r["resolved"]["by_outcome"] == {"answered_by_centre": 7, "transferred": 1, "referred_to_phone_hours": 1,
                                           "message_taken": 1}
    assert r["speed"]["handle_mean"] == pytest.approx(120 + 30)


def test_calls_through_the_engine_are_counted(app, sessions):
    """A transfer nobody answers, back to the centre, answered there — driven through the call runner."""
    settings = app.extensions["vaxel"].settings
    runner = CallRunner(sessions, settings, channel="test")
    t = at("2026-11-24T10:00:00")
    runner.start("eng", t, "+46701740699", "+46406280400")
    for dt, inp in ((5, Digits("1")), (6, Speech("torghandel", 0.9)), (25, TransferEnded("no-answer")),
                    (40, OperatorAnswered("cecilia")), (120, Hangup())):
        t += timedelta(seconds=dt)
        runner.handle("eng", inp, t)
    r = build(sessions)
    assert (r["calls"]["total"], r["calls"]["answered"], r["calls"]["returned_to_queue"]) == (1, 1, 1)
    assert (r["transfers"]["attempted"], r["transfers"]["returned"], r["transfers"]["failed"]) == \
        (1, 1, {"no-answer": 1})
    assert r["transfers"]["by_department"][0]["key"] == "tekniska-forvaltningen"
    assert tile(r, "switchboard")["answered"] == 1 and r["speed"]["asa"] == 40.0
    assert r["operators"][0]["operator"] == "cecilia" and r["speed"]["talk_mean"] == 120.0
    with sessions() as session:
        fact = session.get(CallFact, "eng")
        assert (fact.outcome, fact.answered_by, fact.channel, fact.menu_choice) == ("answered", "centre", "test",
                                                                                    "person")


def test_boundaries_are_the_same_in_sql_as_in_the_definitions(app, sessions):
    """4 and 5 s hang-ups are short, 6 s is lost; 15 s is within three rings, 16 s not; 300 s within 5 min."""
    t = at("2026-11-24T10:00:00")
    write(sessions, *[Call.abandoned(f"ab{w}", t + timedelta(minutes=w), wait=w) for w in (4, 5, 6)],
          *[Call.answered(f"sw{w}", t + timedelta(minutes=10 + w), wait=w, option="person") for w in (15, 16)],
          *[Call.answered(f"cs{w}", t + timedelta(minutes=20 + w), wait=w) for w in (300, 301)])
    r = build(sessions)
    assert (r["calls"]["short_abandoned"], r["calls"]["abandoned"], r["calls"]["offered"]) == (2, 1, 5)
    assert (tile(r, "switchboard")["within"], tile(r, "service")["within"]) == (1, 1)
    with sessions() as session:
        from stats import export

        rows = {x["call_id"]: x for x in export.raw_rows(session, report.Filters(DAY, DAY), Definitions())}
    assert [rows[f"ab{w}"]["short_abandon"] for w in (4, 5, 6)] == [1, 1, 0]
    assert [rows[k]["answered_within_target"] for k in ("sw15", "sw16", "cs300", "cs301")] == [1, 0, 1, 0]


def test_an_operators_transfer_through_the_engine(app, sessions):
    """The console's followed transfer: answered from the queue, transferred by the operator, nobody answers."""
    from ivr.protocol import Match, OperatorTransfer

    runner = CallRunner(sessions, app.extensions["vaxel"].settings, channel="test")
    t = at("2026-11-24T10:00:00")
    runner.start("op", t, "+46701740699", "+46406280400")
    target = Match(id="p003", name="Johan Berglund", unit="Kansli och registratur", number="+46406280403")
    for dt, inp in ((5, Digits("2")), (30, OperatorAnswered("anna")), (60, OperatorTransfer(target, "anna")),
                    (25, TransferEnded("no-answer"))):
        t += timedelta(seconds=dt)
        runner.handle("op", inp, t)
    state = runner.state_of("op")
    if state.awaiting in ("queue", "queue_offer"):  # the operator was not free: first in the queue, answered
        t += timedelta(seconds=10)
        runner.handle("op", OperatorAnswered("anna"), t)
    t += timedelta(seconds=40)
    runner.handle("op", Hangup(), t)
    r = build(sessions)
    assert (r["calls"]["answered"], r["calls"]["abandoned"], r["speed"]["asa"]) == (1, 0, 30.0)
    assert r["transfers"]["by_origin"] == {"ivr": dict(attempted=0, answered=0, returned=0, reach_rate=None),
                                           "operator": dict(attempted=1, answered=0, returned=1, reach_rate=0.0)}
    kk = r["transfers"]["by_department"][0]
    assert (kk["key"], kk["failed"]) == ("kommunkontoret", {"no-answer": 1})
    assert r["speed"]["talk_mean"] == 60 + 40  # before the transfer, and after it came back


def test_midnight_and_dst_in_the_report(app, sessions):
    """Counted on the local day and hour each call started: past midnight, and on both DST nights."""
    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    late = Call("late", at("2026-11-24T23:59:30")).hours().choose("case").queue(choice="case")
    late.leave(45, "answered", "anna").end("completed", 120, talk=120)  # answered and ended after midnight
    spring = Call.abandoned("spring", utc("2026-03-29T01:00:00"), wait=30)  # 03:00 CEST
    autumn1 = Call.abandoned("autumn1", utc("2026-10-25T00:30:00"), wait=30)  # 02:30 CEST
    autumn2 = Call.abandoned("autumn2", utc("2026-10-25T01:30:00"), wait=30)  # 02:30 CET
    write(sessions, late, spring, autumn1, autumn2)
    r = build(sessions, date(2026, 3, 1), date(2026, 11, 30))
    assert [(x["period"], x["calls"]) for x in r["by_day"]] == [("2026-03-29", 1), ("2026-10-25", 2),
                                                                 ("2026-11-24", 1)]
    assert r["heatmap"]["calls"][3][6] == 1 and r["heatmap"]["calls"][2][6] == 2  # Sundays 03-04 and 02-03
    assert r["heatmap"]["calls"][23][1] == 1 and r["heatmap"]["calls"][0][2] == 0  # Tuesday 23-24, not Wednesday
    nov = build(sessions, date(2026, 11, 25), date(2026, 11, 25))
    assert nov["calls"]["total"] == 0  # the late call is not the next day's
    assert build(sessions)["speed"]["talk_mean"] == 120.0
    assert [m["period"] for m in r["by_month"]] == ["2026-03", "2026-10", "2026-11"]


def test_a_transfer_keeps_the_department_it_had_when_the_call_was_made(app, sessions):
    """A reorganisation later must not move last year's transfers: the event carries the departments."""
    from directory.index import bump_version
    from directory.models import Staff, Unit
    from stats import facts
    from stats.models import TransferFact
    from tests.test_call_facts import live_call

    actions, _ = live_call(app, "2026-11-24T10:00:00+01:00", ["1", "say:torghandel", "ring:no-answer"])
    started = [a for a in actions if a["action"] == "transfer"][0]
    assert started["name"] == "Sven Olofsson"
    with sessions() as session:
        sven = session.scalar(select(Staff).where(Staff.external_id == "p039"))
        sven.unit = session.scalar(select(Unit).where(Unit.slug == "bygglov"))  # he moves to bygglov
        bump_version(session)
        session.commit()
    facts.rebuild(sessions)
    with sessions() as session:
        row = session.scalar(select(TransferFact).where(TransferFact.target_id == "p039"))
        assert (row.forvaltning, row.enhet or row.avdelning) == ("tekniska-forvaltningen", "torghandel")


def generated(n: int, seed: int) -> list[Call]:
    """``n`` calls of every kind over three weeks of November 2026, seeded: menu, lookups, transfers, queue waits
    (short and long abandons, callbacks), wrap-ups, both entry numbers, some after hours and on weekends."""
    import random

    rng = random.Random(seed)
    calls = []
    for i in range(n):
        start = datetime(2026, 11, 2, tzinfo=UTC) + timedelta(days=rng.randrange(21), hours=rng.randrange(5, 20),
                                                              seconds=rng.randrange(3600))
        c = Call(f"g{i}", start.astimezone(TZ), called=rng.choice([ENTRY, OLD_NUMBER]))
        if rng.random() < 0.1:
            calls.append(c.hours(False).end("goodbye", 20))
            continue
        c.hours()
        if rng.random() < 0.05:
            calls.append(c.add("input_invalid", 5, node="menu", digits="7").end("caller_hangup", 5))
            continue
        choice = rng.choice(["person", "case"])
        c.choose(choice)
        returned = False
        if choice == "person":
            if rng.random() < 0.3:
                c.lookup(rng.choice(["hundskatt", "vigsel", "torghandel"]), False)
            else:
                who = rng.choice(["p003", "p039"])
                c.lookup("namn", True).transfer(who, f"Person {who}", "Kansli och registratur",
                                                rng.choice(["answered", "no-answer", "busy"]), rng.randint(2, 25))
                if c.events[-1].type == "transfer_answered":
                    calls.append(c.end("completed", rng.randint(10, 300), talk=60))
                    continue
                returned = True
        c.queue(returned=returned, choice=choice)
        r = rng.random()
        if r < 0.15:
            c.leave(rng.randint(1, 90), "abandoned").end("caller_hangup")
        elif r < 0.2:
            c.callback_requested("queue", after=rng.randint(20, 200)).leave(0, "callback").end("callback_requested")
        else:
            operator = rng.choice(["anna", "bertil", "cecilia"])
            talk = rng.randint(20, 400)
            c.leave(rng.randint(0, 400), "answered", operator).end("completed", talk, talk=talk)
            if rng.random() < 0.7:
                c.wrapup(rng.choice(["answered_by_centre", "transferred", "message_taken"]), operator,
                         seconds=rng.randint(5, 60))
        calls.append(c)
    return calls


@pytest.mark.parametrize("filters", [
    {},
    {"weekdays": (1, 2, 3, 4), "hour_from": 8, "hour_to": 12},
    {"called": (OLD_NUMBER,)},
    {"queue": "centre", "hour_from": 9, "hour_to": 16},
    {"weekdays": (6, 7)},
], ids=["all", "mon-thu-8-12", "old-number", "queue-hours", "weekend"])
def test_rollups_and_facts_give_the_same_report(app, sessions, filters):
    """Every figure summed from the rollups equals the same figure summed from the facts themselves."""
    write(sessions, *generated(300, seed=19))
    f = report.Filters(date(2026, 11, 1), date(2026, 11, 30), **filters)
    d = Definitions()
    with sessions() as session:
        from_rollups = report.build(session, f, d)
        from_facts = report.build(session, f, d, rollups=False)
    assert from_rollups["calls"]["total"] > 20 and from_rollups["speed"]["asa_p90"] is not None
    assert json.dumps(from_rollups, sort_keys=True, default=str) == json.dumps(from_facts, sort_keys=True,
                                                                              default=str)
