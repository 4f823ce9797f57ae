"""The dispatcher on a real database: order and brief, retries and final failure, events, leases, retention,
two dispatchers racing over 500 requests, and a dispatcher killed mid-run.

In-process tests drive :class:`Dispatcher.tick` with a clock they control and a recording dialer. The
process tests run the real ``vaxel callbacks run`` command as separate processes, with
``callback.dialer`` pointing at :func:`recording_dialer` below (a dialer that writes what it dialled to a
file and reports "answered").
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from callback import claims, operators, outcomes
from callback.dialer import CallbackCall, DialError
from callback.dispatcher import Dispatcher
from callback.models import CallbackAttempt, CallbackRequest
from ivr.models import CallSession, PhoneHours
from stats.events import events_of
from switchboard.seed import published_flow
from tests.conftest import at

REPO = Path(__file__).resolve().parent.parent
T0 = at("2026-11-24T10:00")  # a Tuesday, open 08-17


class Clock:
    def __init__(self, start: datetime):
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def set(self, text: str) -> None:
        self.t = at(text)

    def advance(self, **kwargs) -> None:
        self.t += timedelta(**kwargs)


class RecordingDialer:
    """Remembers every call; reports the outcome ``script`` gives for (request, attempt), or nothing yet."""

    name = "recording"

    def __init__(self, script=None):
        self.calls: list[CallbackCall] = []
        self.script = script or (lambda call: None)
        self.on_outcome = None

    def place(self, call: CallbackCall) -> str:
        self.calls.append(call)
        outcome = self.script(call)
        if isinstance(outcome, Exception):
            raise outcome
        if outcome is not None:
            self.on_outcome(call.request_id, call.attempt, outcome)
        return f"rec-{call.request_id}-{call.attempt}"


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def make_dispatcher(app, clock):
    svc = app.extensions["vaxel"]

    def make(dialer, worker="w1", **overrides):
        settings = {**svc.settings, "callback": {**svc.settings["callback"], **overrides}}
        dialer.on_outcome = outcomes.handler(svc.sessions, settings, clock)
        return Dispatcher(svc.sessions, settings, dialer, clock, worker=worker)

    return make


def add_request(session, call_id, *, number="+46701740660", kind="next_open", due_at=None, requested_at=T0,
                menu_choice="case"):
    request = CallbackRequest(call_id=call_id, number=number, requested_at=requested_at, kind=kind, due_at=due_at,
                              queue="centre", queue_position=None, menu_choice=menu_choice)
    session.add(request)
    session.commit()
    return request.id


def attempts_of(session, request_id):
    return session.scalars(select(CallbackAttempt).where(CallbackAttempt.request_id == request_id)
                           .order_by(CallbackAttempt.attempt)).all()


# --- order, brief, states --------------------------------------------------------------------------------


def test_operator_first_brief_and_main_number(sessions, make_dispatcher):
    with sessions() as session:
        rid = add_request(session, "op1", number="+46701740661")
    dialer = RecordingDialer()
    report = make_dispatcher(dialer).tick()
    assert report.dialled == [(rid, 1)]
    call = dialer.calls[0]
    assert (call.request_id, call.attempt, call.number, call.present_as, call.operator) == (
        rid, 1, "+46701740661", "+46406280400", "centre")
    assert "070-174 06 61" in call.brief and "ärende" in call.brief and "Försök 1 av 3" in call.brief
    with sessions() as session:
        request = session.get(CallbackRequest, rid)
        assert (request.status, request.attempts, request.claimed_by) == ("dialling", 1, "w1")
        (attempt,) = attempts_of(session, rid)
        assert (attempt.worker, attempt.dial_order, attempt.operator, attempt.platform_id, attempt.outcome) == (
            "w1", "operator_first", "centre", f"rec-{rid}-1", None)


def test_citizen_first_is_configurable(sessions, make_dispatcher):
    with sessions() as session:
        add_request(session, "cf1")
    dialer = RecordingDialer()
    make_dispatcher(dialer, order="citizen_first").tick()
    assert dialer.calls[0].operator is None


def test_an_unknown_order_is_refused(make_dispatcher):
    with pytest.raises(ValueError, match="operator_first, citizen_first"):
        make_dispatcher(RecordingDialer(), order="whoever")


def test_answered_completes_once_even_if_reported_twice(sessions, make_dispatcher, clock, app):
    with sessions() as session:
        rid = add_request(session, "ans1")
    dialer = RecordingDialer(lambda call: "answered")
    make_dispatcher(dialer).tick()
    settings = app.extensions["vaxel"].settings
    with sessions() as session:  # the adapter repeats itself (a retried webhook)
        assert outcomes.report(session, rid, 1, "answered", clock(), settings) is False
        assert outcomes.report(session, rid, 1, "no-answer", clock(), settings) is False
    with sessions() as session:
        request = session.get(CallbackRequest, rid)
        assert (request.status, request.closed_by, request.attempts) == ("done", "dispatcher", 1)
        events = [(e.step, e.type, e.data.get("outcome")) for e in events_of(session, "ans1")]
        assert events == [(100010, "callback_attempt", "answered"), (100011, "callback_completed", None)]
    clock.advance(minutes=30)
    assert make_dispatcher(RecordingDialer()).tick().dialled == []


# --- retries and final failure ---------------------------------------------------------------------------


def test_three_attempts_ten_minutes_apart_then_failed_and_visible(sessions, make_dispatcher, clock, app):
    with sessions() as session:
        rid = add_request(session, "retry1")
    outcomes_by_attempt = {1: "no-answer", 2: "busy", 3: "no-answer"}
    dialer = RecordingDialer(lambda call: outcomes_by_attempt[call.attempt])
    dispatcher = make_dispatcher(dialer)
    seen = []
    for minute in range(0, 41):
        clock.t = T0 + timedelta(minutes=minute)
        seen += [(minute, attempt) for _, attempt in dispatcher.tick().dialled]
    assert seen == [(0, 1), (10, 2), (20, 3)]
    with sessions() as session:
        request = session.get(CallbackRequest, rid)
        assert (request.status, request.attempts, request.closed_at) == ("failed", 3, T0 + timedelta(minutes=20))
        assert [a.outcome for a in attempts_of(session, rid)] == ["no-answer", "busy", "no-answer"]
        events = [(e.step, e.type) for e in events_of(session, "retry1")]
        assert events == [(100010, "callback_attempt"), (100020, "callback_attempt"), (100030, "callback_attempt"),
                          (100031, "callback_failed")]
        assert events_of(session, "retry1")[0].data["retry_at"] == (T0 + timedelta(minutes=10)).isoformat()
        assert all("+4670" not in str(e.data) for e in events_of(session, "retry1"))  # no numbers in events
        rows = operators.rows(session, clock(), app.extensions["vaxel"].settings)
        assert (rows[0].id, rows[0].status, rows[0].last_outcome) == (rid, "failed", "no-answer")


def test_retries_happen_only_within_phone_hours(sessions, make_dispatcher, clock):
    clock.set("2026-11-26T16:55")  # Thursday, closes 17:00
    with sessions() as session:
        add_request(session, "late1", requested_at=clock())
    dialer = RecordingDialer(lambda call: "no-answer")
    dispatcher = make_dispatcher(dialer)
    times = []
    for moment in ["2026-11-26T16:55", "2026-11-26T17:05", "2026-11-26T23:00", "2026-11-27T07:59",
                   "2026-11-27T08:00", "2026-11-27T08:05", "2026-11-27T08:10"]:
        clock.set(moment)
        if dispatcher.tick().dialled:
            times.append(moment)
    assert times == ["2026-11-26T16:55", "2026-11-27T08:00", "2026-11-27T08:10"]


def test_a_platform_that_refuses_counts_as_a_failed_attempt(sessions, make_dispatcher, clock):
    with sessions() as session:
        rid = add_request(session, "err1")
    dialer = RecordingDialer(lambda call: DialError("Twilio is down") if call.attempt == 1 else "answered")
    dispatcher = make_dispatcher(dialer)
    dispatcher.tick()
    with sessions() as session:
        (attempt,) = attempts_of(session, rid)
        assert (attempt.outcome, attempt.note) == ("failed", "dial error: Twilio is down")
        assert session.get(CallbackRequest, rid).status == "pending"
    clock.advance(minutes=10)
    assert dispatcher.tick().dialled == [(rid, 2)]


def test_a_placed_call_whose_outcome_never_comes_fails_after_the_timeout(sessions, make_dispatcher, clock):
    with sessions() as session:
        rid = add_request(session, "silent1")
    dispatcher = make_dispatcher(RecordingDialer(), outcome_timeout_seconds=600)
    dispatcher.tick()
    clock.advance(seconds=599)
    assert dispatcher.tick().expired == []
    clock.advance(seconds=2)
    report = dispatcher.tick()
    assert report.expired == [rid]
    with sessions() as session:
        (attempt,) = attempts_of(session, rid)
        assert (attempt.outcome, attempt.note) == ("failed", "no outcome reported in time")
        assert session.get(CallbackRequest, rid).status == "pending"  # retried in 10 minutes


# --- due times: queue place, opening, call now -----------------------------------------------------------


def test_nothing_is_dialled_while_closed_but_an_operators_call_now_is(sessions, make_dispatcher, clock, app):
    clock.set("2026-11-28T11:00")  # Saturday
    with sessions() as session:
        rid = add_request(session, "sat1", due_at=at("2026-11-30T08:00"), requested_at=clock())
    dialer = RecordingDialer()
    dispatcher = make_dispatcher(dialer)
    assert dispatcher.tick().dialled == []
    with sessions() as session:
        operators.call_now(session, rid, "operator", clock())
    assert dispatcher.tick().dialled == [(rid, 1)]


# --- leases: a dead dispatcher's claim -------------------------------------------------------------------


def test_an_expired_claim_is_dialled_again_under_the_same_attempt(sessions, make_dispatcher, clock):
    with sessions() as session:
        rid = add_request(session, "lease1")
        claim = claims.claim_next(session, [rid], "dead-worker", clock(), 60, "operator_first", "centre")
        assert claim.attempt == 1
    dialer = RecordingDialer(lambda call: "answered")
    dispatcher = make_dispatcher(dialer, worker="w2")
    clock.advance(seconds=59)
    assert dispatcher.tick().dialled == []  # the lease still holds
    clock.advance(seconds=2)
    report = dispatcher.tick()
    assert report.released == [rid] and report.dialled == [(rid, 1)]
    with sessions() as session:
        (attempt,) = attempts_of(session, rid)
        assert (attempt.worker, attempt.outcome, attempt.note) == ("w2", "answered",
                                                                  "re-dialled after an expired claim")


def test_a_claim_cannot_be_won_twice(sessions, clock):
    with sessions() as session:
        rid = add_request(session, "twice1")
    with sessions() as one, sessions() as two:
        first = claims.claim_next(one, [rid], "a", clock(), 60, "operator_first", "centre")
        second = claims.claim_next(two, [rid], "b", clock(), 60, "operator_first", "centre")
    assert first is not None and second is None


# --- retention -------------------------------------------------------------------------------------------


def test_numbers_are_purged_after_retention_and_counts_stay(sessions, runner, app, clock):
    # `purge --at` may not run ahead of the real clock (it would delete numbers early): times here are real ones
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with sessions() as session:
        old = add_request(session, "old1", number="+46701740670", requested_at=now - timedelta(days=32))
        recent = add_request(session, "new1", number="+46701740671", requested_at=now - timedelta(days=32))
        open_ = add_request(session, "open1", number="+46701740672", requested_at=now - timedelta(days=32))
        session.add(CallSession(call_id="old1", channel="simulator", flow_version_id=published_flow(session).id,
                                started_at=T0,
                                updated_at=T0, step=3, state={"callback": {"number": "+46701740670",
                                                                          "spoken": "070-174 06 70"}}))
        session.commit()
    with sessions() as session:
        operators.cancel(session, old, "operator", now - timedelta(days=31), "medborgaren ringde själv")
        operators.mark_done(session, recent, "operator", now - timedelta(days=26))
    result = runner.invoke(args=["callbacks", "purge", "--at", now.isoformat()])
    assert result.exit_code == 0, result.output
    assert "purged the numbers of 1 request(s) closed more than 30 days ago" in result.output
    with sessions() as session:
        purged = session.get(CallbackRequest, old)
        assert (purged.number, purged.note, purged.status) == (None, None, "cancelled")
        assert purged.purged_at is not None
        assert session.get(CallSession, "old1").state["callback"] == {"number": None, "spoken": None}
        assert session.get(CallbackRequest, recent).number == "+46701740671"
        assert session.get(CallbackRequest, open_).number == "+46701740672"  # open requests are never purged
        assert session.scalar(select(func.count()).select_from(CallbackRequest)) == 3  # counts stay
        assert [e.type for e in events_of(session, "old1")] == ["callback_cancelled"]


def test_run_without_a_dialer_says_how_to_configure_one(runner):
    result = runner.invoke(args=["callbacks", "run", "--once"])
    assert result.exit_code == 2
    assert "callback.dialer" in result.output and "--dry-run" in result.output


# --- separate processes ------------------------------------------------------------------------------------


class FileRecordingDialer:
    """For ``vaxel callbacks run`` in a subprocess: writes "request attempt" per dial to a file of its own."""

    name = "file-recording"

    def __init__(self, on_outcome):
        self.on_outcome = on_outcome
        self.dir = Path(os.environ["VAXEL_TEST_RECORD_DIR"])
        self.hang_after = int(os.environ.get("VAXEL_TEST_HANG_AFTER", "-1"))
        self.delay = float(os.environ.get("VAXEL_TEST_DIAL_DELAY", "0"))
        self.placed = 0
        barrier = os.environ.get("VAXEL_TEST_BARRIER")
        deadline = time.monotonic() + 60
        while barrier and not Path(barrier).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.out = open(self.dir / f"{os.getpid()}.log", "a", buffering=1)

    def place(self, call: CallbackCall) -> str:
        if self.placed == self.hang_after:  # "crash" while dialling: hang until killed
            (self.dir / f"{os.getpid()}.hung").write_text(f"{call.request_id} {call.attempt}")
            time.sleep(3600)
        time.sleep(self.delay)
        self.out.write(f"{call.request_id} {call.attempt}\n")
        self.placed += 1
        self.on_outcome(call.request_id, call.attempt, "answered")
        return f"file-{os.getpid()}-{call.request_id}-{call.attempt}"


def recording_dialer(settings, on_outcome):
    """The ``callback.dialer`` factory the subprocesses load."""
    return FileRecordingDialer(on_outcome)


def always_open(session) -> None:
    """The process tests run on the real clock: open the switchboard around the clock, holidays included."""
    session.execute(update(PhoneHours).where(PhoneHours.key == "switchboard").values(
        weekly={day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        observe_holidays=False))
    session.commit()


def add_due(session, count: int) -> list[int]:
    now = datetime.now(timezone.utc)
    rows = [CallbackRequest(call_id=f"bulk-{i}", number=f"+4670174{i:04d}", requested_at=now - timedelta(minutes=5),
                            kind="next_open", due_at=now - timedelta(minutes=1), queue="centre", menu_choice="case")
            for i in range(count)]
    session.add_all(rows)
    session.commit()
    return [r.id for r in rows]


def dispatcher_process(database_url, tmp_path, name, *extra, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("VAXEL_NOW", "VAXEL_CONFIG")}
    environ.update(VAXEL_DATABASE_URL=database_url, PYTHONPATH=str(REPO),
                   VAXEL_CALLBACK_DIALER="tests.test_callbacks_dispatch:recording_dialer",
                   VAXEL_CALLBACK_FREE_OPERATORS="",  # these test claims and leases, not pacing: no console here
                   VAXEL_TEST_RECORD_DIR=str(tmp_path), **{k: str(v) for k, v in env.items()})
    vaxel = Path(sys.executable).parent / "vaxel"
    out = open(tmp_path / f"{name}.out", "w")
    return subprocess.Popen([str(vaxel), "callbacks", "run", *extra], cwd=REPO, env=environ, stdout=out,
                            stderr=subprocess.STDOUT)


def recorded(tmp_path) -> list[tuple[int, int]]:
    lines = []
    for path in tmp_path.glob("*.log"):
        lines += [tuple(map(int, line.split())) for line in path.read_text().splitlines() if line.strip()]
    return lines


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def first_attempts(session):
    return session.execute(select(CallbackAttempt.request_id, CallbackAttempt.worker)
                           .where(CallbackAttempt.attempt == 1)).all()


def test_two_dispatchers_on_500_due_requests_make_exactly_500_first_attempts(database_url, sessions, tmp_path,
                                                                              app):
    with sessions() as session:
        always_open(session)
        ids = add_due(session, 500)
    if database_url.startswith("postgresql"):
        barrier = tmp_path / "go"
        procs = [dispatcher_process(database_url, tmp_path, f"d{i}", "--once", VAXEL_TEST_BARRIER=barrier,
                                    VAXEL_TEST_DIAL_DELAY=0.005) for i in range(2)]
        time.sleep(0.5)
        barrier.write_text("go")
        for proc in procs:
            assert proc.wait(timeout=180) == 0, (tmp_path / "d0.out").read_text() + (tmp_path / "d1.out").read_text()
        dials = recorded(tmp_path)
        per_worker = Counter(path.name for path in tmp_path.glob("*.log") if path.read_text().strip())
        assert len(per_worker) == 2, "both processes should have dialled some"
    else:
        # SQLite runs one dispatcher in production (README); the claim is the same conditional UPDATE, so two
        # threads with their own connections must still never both win a request.
        svc = app.extensions["vaxel"]
        dialers = [RecordingDialer(lambda call: "answered") for _ in range(2)]
        dispatchers = []
        for i, dialer in enumerate(dialers):
            dialer.on_outcome = outcomes.handler(svc.sessions, svc.settings, lambda: datetime.now(timezone.utc))
            dispatchers.append(Dispatcher(svc.sessions, svc.settings, dialer, lambda: datetime.now(timezone.utc),
                                          worker=f"t{i}"))
        threads = [threading.Thread(target=d.tick) for d in dispatchers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        dials = [(c.request_id, c.attempt) for d in dialers for c in d.calls]
    assert len(dials) == 500 and set(dials) == {(i, 1) for i in ids}  # none twice, none missed
    with sessions() as session:
        firsts = first_attempts(session)
        assert len(firsts) == 500 and {r for r, _ in firsts} == set(ids)
        assert session.scalar(select(func.count()).select_from(CallbackAttempt)) == 500
        assert session.scalar(select(func.count()).select_from(CallbackRequest)
                              .where(CallbackRequest.status == "done")) == 500


def test_a_dispatcher_killed_mid_run_loses_nothing(database_url, sessions, tmp_path):
    with sessions() as session:
        always_open(session)
        ids = add_due(session, 6)
    lease = 3
    first = dispatcher_process(database_url, tmp_path, "first", VAXEL_TEST_HANG_AFTER=3,
                               VAXEL_CALLBACK_LEASE_SECONDS=lease, VAXEL_CALLBACK_POLL_SECONDS=1)
    try:
        wait_for(lambda: list(tmp_path.glob("*.hung")), what="the first dispatcher to hang while dialling")
        hung_id = int(next(tmp_path.glob("*.hung")).read_text().split()[0])
        with sessions() as session:
            hung = session.get(CallbackRequest, hung_id)
            assert hung.status == "claimed"
            lease_end = hung.claimed_until
            statuses = Counter(session.scalars(select(CallbackRequest.status)))
            assert statuses == {"done": 3, "claimed": 1, "pending": 2}
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    second = dispatcher_process(database_url, tmp_path, "second", VAXEL_CALLBACK_LEASE_SECONDS=lease,
                                VAXEL_CALLBACK_POLL_SECONDS=1)
    try:
        def all_done():
            with sessions() as session:
                return session.scalar(select(func.count()).select_from(CallbackRequest)
                                      .where(CallbackRequest.status == "done")) == 6
        wait_for(all_done, what="the second dispatcher to finish: " + str(tmp_path / "second.out"))
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, (tmp_path / "second.out").read_text()
    dials = recorded(tmp_path)
    assert sorted(dials) == sorted((i, 1) for i in ids)  # each request dialled once to the end, none lost
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CallbackAttempt)) == 6
        redialled = attempts_of(session, hung_id)
        assert len(redialled) == 1 and redialled[0].note == "re-dialled after an expired claim"
        assert redialled[0].started_at >= lease_end  # not before the dead process's lease ran out
        assert redialled[0].outcome == "answered"
