"""Reconciliation: ghosts the platforms no longer have are closed — queue places, callbacks and calls come right.

Twilio calls are driven over signed webhooks and their status is asked of a
recording REST client answering as Twilio's Calls endpoint does; Asterisk
calls are judged by the FastAGI heartbeat and AMI's ``CoreShowChannels``.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

from sqlalchemy import func, select
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from callback import places
from callback import queue as centre
from callback.models import CallbackRequest
from core.clock import Clock
from ivr.models import CallSession
from ivr.protocol import Digits, Tick
from stats.events import events_of
from stats.models import CallEvent
from switchboard.asterisk.liveness import AsteriskChannels
from switchboard.calls import CallRunner
from switchboard.reconcile import Reconciler, heartbeat
from switchboard.twilio.liveness import TwilioCalls
from tests.conftest import TZ, at
from tests.test_twilio_calls import ACCOUNT, TOKEN, T0, phone  # noqa: F401  (phone: a fixture)

LATER = T0 + timedelta(minutes=5)


class TwilioCallsApi(HttpClient):
    """Answers ``GET /Calls/{Sid}.json`` as Twilio does, from a table of call statuses; records each request."""

    def __init__(self, statuses: dict[str, str | int]):
        super().__init__(logger=logging.getLogger("test.twilio.http"), is_async=False)
        self.statuses, self.requests = statuses, []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        sid = uri.rsplit("/", 1)[-1].removesuffix(".json")
        self.requests.append((method, sid))
        status = self.statuses.get(sid, 404)
        if isinstance(status, int):
            return Response(status, json.dumps({"code": 20404 if status == 404 else 20500, "message": "nope",
                                                "status": status}))
        body = {"sid": sid, "account_sid": ACCOUNT, "status": status,
                "end_time": "Tue, 24 Nov 2026 09:01:30 +0000" if status == "completed" else None}
        return Response(200, json.dumps(body))


def reconciler(app, platforms, now=LATER):
    svc = app.extensions["vaxel"]
    return Reconciler(svc.sessions, svc.settings, platforms, lambda: now)


def twilio(api: TwilioCallsApi) -> TwilioCalls:
    return TwilioCalls(Client(ACCOUNT, TOKEN, http_client=api))


def open_entries(sessions) -> list[str]:
    with sessions() as session:
        return [e.call_id for e in centre.waiting(session, "centre")]


def test_a_twilio_caller_whose_hang_up_was_never_reported_is_closed_and_stops_inflating_positions(phone, app,
                                                                                                   sessions):
    ghost = phone("+46701740601")
    ghost.press(ghost.call(), "2")  # queued; then the status callback is lost
    api = TwilioCallsApi({ghost.call_sid: "completed"})
    report = reconciler(app, {"twilio": twilio(api)}).run_once()
    assert report.closed == [ghost.call_sid] and ("GET", ghost.call_sid) in api.requests
    assert open_entries(sessions) == []
    with sessions() as session:
        call = session.get(CallSession, ghost.call_sid)
        assert call.ended_at == at("2026-11-24T10:01:30")  # when Twilio says it ended, not when we noticed
        types = [e.type for e in events_of(session, ghost.call_sid)]
        assert types[-3:] == ["reconciled", "queue_left", "call_ended"]
        reconciled = next(e for e in events_of(session, ghost.call_sid) if e.type == "reconciled")
        assert reconciled.data["platform"] == "twilio" and "completed" in reconciled.data["why"]
        assert session.scalars(select(centre.QueueEntry.outcome)).all() == ["abandoned"]
    app.extensions["vaxel"].clock = Clock(TZ, start=LATER)
    newcomer = phone("+46701740602")
    newcomer.press(newcomer.call(), "2")
    with sessions() as session:  # first in line: the ghost no longer counts
        assert centre.placement(session, newcomer.call_sid, "centre", LATER, {**app.extensions["vaxel"].settings[
            "queue"]}).position == 1


def test_a_live_twilio_call_is_left_alone_and_an_unreachable_twilio_changes_nothing(phone, app, sessions):
    alive, unknown = phone("+46701740601"), phone("+46701740602")
    for caller in (alive, unknown):
        caller.press(caller.call(), "2")
    api = TwilioCallsApi({alive.call_sid: "in-progress", unknown.call_sid: 500})
    report = reconciler(app, {"twilio": twilio(api)}).run_once()
    assert (report.alive, report.closed, report.unknown) == (1, [], [unknown.call_sid])
    assert open_entries(sessions) == [alive.call_sid, unknown.call_sid]
    with sessions() as session:
        assert session.get(CallSession, alive.call_sid).alive_at == LATER  # proof renewed: not asked again soon
        assert session.get(CallSession, unknown.call_sid).alive_at is None
    again = reconciler(app, {"twilio": twilio(api)}, now=LATER + timedelta(seconds=10)).run_once()
    assert again.checked == 1  # only the unknown one is still stale
    no_credentials = reconciler(app, {"twilio": TwilioCalls(None)}).run_once()
    assert no_credentials.closed == [] and unknown.call_sid in no_credentials.unknown


def test_a_fresh_call_is_not_even_asked_about(phone, app):
    caller = phone()
    caller.press(caller.call(), "2")
    api = TwilioCallsApi({})
    report = reconciler(app, {"twilio": twilio(api)}, now=T0 + timedelta(seconds=30)).run_once()
    assert report.checked == 0 and api.requests == []


def queued(app, call_id: str, channel: str, when, caller="+46701740650") -> CallRunner:
    svc = app.extensions["vaxel"]
    runner = CallRunner(svc.sessions, svc.settings, channel=channel)
    runner.start(call_id, when, caller=caller)
    runner.handle(call_id, Digits("2"), when)
    return runner


def test_a_callback_behind_a_ghost_is_no_longer_blocked(app, sessions):
    queued(app, "sim-ghost", "simulator", T0)  # e.g. a simulator that died mid-call
    runner = queued(app, "sim-waiter", "simulator", T0 + timedelta(seconds=5), caller="+46701740651")
    later = T0 + timedelta(seconds=130)  # the offer comes after two minutes in the queue: 1, then 1 to confirm
    runner.handle("sim-waiter", Tick(), later)
    runner.handle("sim-waiter", Digits("1"), later)
    runner.handle("sim-waiter", Digits("1"), later)
    with sessions() as session:
        request = session.scalar(select(CallbackRequest))
    assert request is not None and request.kind == "queue"
    with sessions() as session:
        assert places.at_front(session, session.get(CallbackRequest, request.id)) is False  # the ghost is ahead
    report = reconciler(app, {}, now=T0 + timedelta(minutes=10)).run_once()
    assert "sim-ghost" in report.closed
    with sessions() as session:
        assert places.at_front(session, session.get(CallbackRequest, request.id)) is True


def test_asterisk_calls_nobody_holds_are_closed_and_say_what_asterisk_still_has(app, sessions):
    queued(app, "ast-1700000000.1", "asterisk", T0)
    queued(app, "ast-1700000000.2", "asterisk", T0)
    queued(app, "ast-1700000000.3", "asterisk", T0)

    class Ami:
        def channels(self):
            return [{"Channel": "Local/+46406280400@vaxel-incoming-00000001;2", "Uniqueid": "1700000000.2",
                     "Linkedid": "1700000000.2", "Context": "vaxel-operators", "Application": "Queue"}]

    held = {"ast-1700000000.3"}  # this process still holds this one's FastAGI connection
    report = reconciler(app, {"asterisk": AsteriskChannels(Ami(), lambda: held)}).run_once()
    assert sorted(report.closed) == ["ast-1700000000.1", "ast-1700000000.2"] and report.alive == 1
    with sessions() as session:
        why = {e.call_id: e.data["why"] for e in session.scalars(select(CallEvent))
               if e.type == "reconciled"}
    assert "no such channel" in why["ast-1700000000.1"]
    assert "fallback takes it to the operators" in why["ast-1700000000.2"]
    assert open_entries(sessions) == ["ast-1700000000.3"]
    with sessions() as session:  # the caller still on the line is a hand-off, not a lost call
        outcomes = dict(session.execute(select(centre.QueueEntry.call_id, centre.QueueEntry.outcome)).all())
        ended = {e.call_id: e.data["reason"] for e in session.scalars(select(CallEvent)) if e.type == "call_ended"}
    assert outcomes["ast-1700000000.1"] == "abandoned" and ended["ast-1700000000.1"] == "caller_hangup"
    assert outcomes["ast-1700000000.2"] == "handed_off" and ended["ast-1700000000.2"] == "handed_to_pbx"


def test_asterisk_calls_are_closed_even_when_ami_cannot_be_asked(app, sessions):
    queued(app, "ast-1700000000.9", "asterisk", T0)

    class DownAmi:
        def channels(self):
            raise ConnectionError("AMI is not connected")

    report = reconciler(app, {"asterisk": AsteriskChannels(DownAmi(), set)}).run_once()
    assert report.closed == ["ast-1700000000.9"] and open_entries(sessions) == []


def test_the_heartbeat_keeps_held_calls_alive(app, sessions):
    queued(app, "ast-1700000001.1", "asterisk", T0)
    queued(app, "ast-1700000001.2", "asterisk", T0)
    stop = threading.Event()
    beats = threading.Thread(target=heartbeat, args=(sessions, lambda: {"ast-1700000001.1"}, lambda: LATER, stop,
                                                     0.05))
    beats.start()
    try:
        for _ in range(100):
            with sessions() as session:
                if session.get(CallSession, "ast-1700000001.1").alive_at == LATER:
                    break
            stop.wait(0.05)
    finally:
        stop.set()
        beats.join()
    report = reconciler(app, {"asterisk": AsteriskChannels(None, set)}, now=LATER + timedelta(seconds=30)).run_once()
    assert report.closed == ["ast-1700000001.2"]  # the one without a beat
    assert open_entries(sessions) == ["ast-1700000001.1"]


def test_orphan_queue_entries_are_closed(app, sessions):
    with sessions() as session:
        centre.join(session, "nobody-knows-me", "centre", T0, app.extensions["vaxel"].settings["queue"])
        session.commit()
    report = reconciler(app, {}).run_once()
    assert report.orphan_entries == 1 and open_entries(sessions) == []


def test_two_reconcilers_at_once_close_each_ghost_exactly_once(app, sessions):
    for n in range(12):
        queued(app, f"sim-ghost-{n}", "simulator", T0 + timedelta(seconds=n), caller=f"+467017406{n:02d}")
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(reconciler(app, {}).run_once())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.closed) for r in reports) == 12
    with sessions() as session:
        per_call = session.execute(select(CallEvent.call_id, func.count())
                                   .where(CallEvent.type == "reconciled")
                                   .group_by(CallEvent.call_id)).all()
        assert len(per_call) == 12 and all(n == 1 for _, n in per_call)
        assert session.scalar(select(func.count()).select_from(CallSession)
                              .where(CallSession.ended_at.is_(None))) == 0


def test_the_reconcile_command_reports_what_it_closed(app, runner):
    queued(app, "sim-left-behind", "simulator", T0)
    out = runner.invoke(args=["reconcile", "--json", "--at", "2026-11-24T11:00:00+01:00"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["closed_calls"] == ["sim-left-behind"] and report["closed"] == 1


def test_a_refused_duplicate_session_does_not_stop_the_live_calls_heartbeat():
    from switchboard.asterisk.service import HeldCalls

    held, inside, release = HeldCalls(), threading.Event(), threading.Event()

    class Channel:
        env = {"agi_uniqueid": "1700000002.1"}

    def live(channel):
        inside.set()
        release.wait(5)
        return "done"

    first = threading.Thread(target=held.holding(live), args=(Channel(),))
    first.start()
    inside.wait(5)
    assert held.holding(lambda channel: "fallback")(Channel()) == "fallback"  # a second session, refused
    assert held() == {"ast-1700000002.1"}  # the live one is still held
    release.set()
    first.join()
    assert held() == set()
