"""What one call step costs the database: statements per webhook and per AGI step, counted, never timed.

Each statement is a round trip on PostgreSQL and a good part of a step's CPU on
either database (issue 19), so the counts below are ceilings a change must not
raise without a reason. The statistics fold a call when it ends, not at every
step: a call in progress is in the event log, and in the facts once it is over.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from ivr.protocol import Digits, Tick
from stats.models import CallEvent, CallFact
from switchboard.calls import CallRunner
from tests.conftest import at
from tests.test_twilio_calls import phone, queued, wait_url  # noqa: F401 (phone: a fixture)

pytestmark = pytest.mark.db


@contextmanager
def counted(app):
    """The SQL statements the service sends meanwhile (pool pings and BEGIN/COMMIT of the driver excluded)."""
    statements: list[str] = []
    engine = app.extensions["vaxel"].engine

    def count(conn, cursor, statement, *_args):
        statements.append(" ".join(statement.split())[:60])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_webhook_is_one_short_transaction(app, phone, sessions):
    queued(phone, app)  # the first call reads the flow, the hours and the queues into memory
    caller = phone()
    with counted(app) as voice:
        menu = caller.call()
    with counted(app) as press:
        doc = caller.press(menu, "2")  # phone hours, the queue place, its position and expected wait
    with counted(app) as poll:
        caller.wait(wait_url(doc), position=1, waited=10)
    # the claim, the call (new) asked for with the cache tokens, the events of both steps in one insert, the
    # call row, the answer; no savepoint around the step, no re-read of the call just started, no statistics
    # fold while the call goes on; the tokens ride on the statement that reads (or looks for) the call
    assert len(voice) <= 6, voice
    assert len(press) <= 10, press
    assert len(poll) <= 5, poll
    assert not any(s.startswith("SELECT cache_versions") for s in voice + press + poll), voice + press + poll
    assert sum("INSERT INTO call_events" in s for s in voice) == 1, voice
    assert not any("call_facts" in s or "stats_days" in s for s in voice + press + poll)


def test_the_statistics_fold_a_call_when_it_ends(app, phone, sessions):
    caller, doc = queued(phone, app)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CallEvent).where(
            CallEvent.call_id == caller.call_sid)) >= 3
        assert session.get(CallFact, caller.call_sid) is None  # in progress: not yet a fact
    caller.queue_left(doc, "hangup", waited=30)
    with sessions() as session:
        fact = session.get(CallFact, caller.call_sid)
        assert fact is not None and fact.ended_at is not None
        assert (fact.menu_choice, fact.queued, fact.abandoned) == ("case", 1, 1)


def test_an_agi_step_reads_the_call_once_and_acts_on_the_state_it_committed(app):
    svc = app.extensions["vaxel"]
    runner = CallRunner(svc.sessions, svc.settings, channel="asterisk")
    now = at("2026-11-24T10:00")
    runner.start("agi-0", now, "+46701740601", "+46406280400")  # the flow and the hours into memory
    runner.handle("agi-0", Digits("2"), now)
    runner.start("agi-1", now, "+46701740601", "+46406280400")
    with counted(app) as step:
        runner.handle("agi-1", Digits("2"), now)
        state = runner.state_after("agi-1")  # what perform() asks next: no second read
    assert state.awaiting == "queue"
    assert sum(s.startswith("SELECT call_sessions") for s in step) == 1, step
    assert len(step) <= 11, step
    with counted(app) as again:
        assert runner.state_after("agi-1").awaiting == "queue"  # taken once: the next ask reads the row
    assert any(s.startswith("SELECT call_sessions") for s in again)


def test_a_step_commits_without_waiting_for_the_disk_unless_it_books_a_callback(app, sessions):
    """PostgreSQL: a call step's commit does not wait for the disk (synchronous_commit off for that transaction);
    one that books a callback, and every other transaction, does. SQLite is left as it is (WAL, NORMAL)."""
    from sqlalchemy import text

    from core.db import begin_step, durable

    postgres = app.extensions["vaxel"].engine.dialect.name == "postgresql"
    with sessions() as session:
        begin_step(session)
        if postgres:
            assert session.scalar(text("SHOW synchronous_commit")) == "off"
            durable(session)
            assert session.scalar(text("SHOW synchronous_commit")) == "on"
        session.commit()
        if postgres:
            assert session.scalar(text("SHOW synchronous_commit")) == "on"  # only for that transaction
    svc = app.extensions["vaxel"]
    runner, t0 = CallRunner(svc.sessions, svc.settings, channel="asterisk"), at("2026-11-24T10:00")
    runner.start("cb", t0, "+46701740610", "+46406280400")
    runner.handle("cb", Digits("2"), t0 + timedelta(seconds=2))
    runner.handle("cb", Tick(), t0 + timedelta(seconds=125))  # the callback offer
    runner.handle("cb", Digits("1"), t0 + timedelta(seconds=127))  # taken: the number is read back
    with counted(app) as booked:
        assert [a.kind for a in runner.handle("cb", Digits("1"), t0 + timedelta(seconds=130))][0] == "callback"
    relaxed = [s for s in booked if "synchronous_commit" in s]
    assert relaxed == (["SET LOCAL synchronous_commit TO off", "SET LOCAL synchronous_commit TO on"]
                       if postgres else []), booked
