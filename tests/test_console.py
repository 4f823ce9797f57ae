"""The operator console over real HTTP (Flask's client) on a real database, with simulated calls."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from directory import presence
from ivr.protocol import Digits, TransferEnded
from stats.events import events_of
from core.audit import AuditEntry
from switchboard.calls import CallRunner
from switchboard.console import control
from tests.conftest import csrf_token, login


@pytest.fixture
def calls(app):
    """Simulated calls on a Tuesday morning (the service clock starts there and runs on)."""
    from core.clock import Clock
    from tests.conftest import TZ, at

    svc = app.extensions["vaxel"]
    svc.clock = Clock(TZ, start=at("2026-11-24T10:00"))
    return CallRunner(svc.sessions, svc.settings, channel="simulator")


def queued(app, calls, call_id, caller="+46701740620"):
    now = app.extensions["vaxel"].clock.now()
    calls.start(call_id, now, caller=caller)
    calls.handle(call_id, Digits("2"), now + timedelta(seconds=2))


class Console:
    """An operator's browser, as far as the API is concerned."""

    def __init__(self, client, page="/console"):
        self.client = client
        self.token = csrf_token(client, page)

    def post(self, path, body=None, status=200):
        reply = self.client.post(path, json=body or {}, headers={"X-CSRFToken": self.token})
        assert reply.status_code == status, reply.get_json()
        return reply.get_json()


@pytest.fixture
def console(operator_client):
    c = Console(operator_client)
    c.post("/api/console/state", {"state": "ready"})
    return c


def mine(snapshot, who="operator"):
    return next(o for o in snapshot["operators"] if o["username"] == who)


def test_queue_answer_transfer_no_answer_back_to_the_same_operator_and_wrapup(app, calls, console, sessions):
    queued(app, calls, "c1")
    snap = console.client.get("/api/console/snapshot").get_json()
    assert [q["call_id"] for q in snap["queue"]] == ["c1"] and snap["queue"][0]["caller"] == "070-174 06 20"
    snap = console.post("/api/console/calls/c1/answer")
    assert mine(snap)["call"]["call_id"] == "c1" and snap["queue"] == []

    snap = console.post("/api/console/calls/c1/transfer", {"target_id": "p039"})  # Sven Olofsson
    assert snap["ringing"][0]["target"] == "Sven Olofsson" and snap["ringing"][0]["by"] == "operator"
    assert mine(snap)["call"]["transfer_ringing"] is True

    # the telephony reports that nobody answered: the caller comes back to the same, free operator
    calls.handle("c1", TransferEnded("no-answer"), app.extensions["vaxel"].clock.now())
    snap = console.client.get("/api/console/snapshot").get_json()
    assert snap["returned"][0]["reason"] == "no-answer" and snap["returned"][0]["to"] == "operator"
    assert mine(snap)["call"]["call_id"] == "c1" and not mine(snap)["call"]["transfer_ringing"]

    console.post("/api/console/calls/c1/wrapup", {"outcome": "answered_by_centre"})
    with sessions() as session:
        wrap = [e for e in events_of(session, "c1") if e.type == "operator_wrapup"]
    assert wrap[0].data == {"outcome": "answered_by_centre", "operator": "operator"}
    console.post("/api/console/calls/c1/wrapup", {"outcome": "nonsense"}, status=400)


def test_returned_call_goes_first_in_the_queue_when_the_operator_is_busy(app, calls, console):
    queued(app, calls, "c2")
    queued(app, calls, "c3", caller="+46701740621")
    console.post("/api/console/calls/c2/answer")
    console.post("/api/console/calls/c2/transfer", {"target_id": "p039"})
    console.post("/api/console/state", {"state": "paused", "reason": "rast"})
    calls.handle("c2", TransferEnded("busy"), app.extensions["vaxel"].clock.now())
    snap = console.client.get("/api/console/snapshot").get_json()
    assert [q["call_id"] for q in snap["queue"]] == ["c2", "c3"]
    assert snap["queue"][0]["returned"] and snap["queue"][0]["returned_from"] == "Sven Olofsson"
    assert snap["returned"][0]["to"] == "queue"


def test_closed_extension_needs_a_logged_break_through(app, calls, console, sessions):
    with sessions() as session:
        from directory.models import Staff

        sven = session.scalar(select(Staff.id).where(Staff.external_id == "p039"))
        presence.set_status(session, sven, "closed", by="kollega", now=app.extensions["vaxel"].clock.now(),
                            reason="sjuk")
        session.commit()
    queued(app, calls, "c4")
    console.post("/api/console/calls/c4/answer")
    refused = console.post("/api/console/calls/c4/transfer", {"target_id": "p039"}, status=409)
    assert "break through" in refused["error"]
    console.post("/api/console/calls/c4/transfer", {"target_id": "p039", "break_through": True})
    with sessions() as session:
        logged = session.scalar(select(AuditEntry).where(AuditEntry.action == "console.break_through"))
        assert logged.user == "operator" and logged.after["call_id"] == "c4"


def test_simulated_outcome_hold_queue_and_end(app, calls, console):
    queued(app, calls, "c5")
    console.post("/api/console/calls/c5/answer")
    snap = console.post("/api/console/calls/c5/hold", {"on": True})
    assert mine(snap)["call"]["on_hold"] is True
    console.post("/api/console/calls/c5/hold", {"on": False})
    console.post("/api/console/calls/c5/transfer", {"target_id": "p039"})
    snap = console.post("/api/console/calls/c5/simulate", {"status": "answered"})
    assert mine(snap)["call"] is None and snap["ringing"] == []  # Sven talks to the caller now
    queued(app, calls, "c6")
    console.post("/api/console/calls/c6/answer")
    snap = console.post("/api/console/calls/c6/queue")
    assert [q["call_id"] for q in snap["queue"]] == ["c6"]
    console.post("/api/console/calls/c6/answer")
    console.post("/api/console/calls/c6/end")
    assert calls.state_of("c6").ended


def test_actions_are_checked(app, calls, console, client):
    queued(app, calls, "c7")
    console.post("/api/console/calls/c7/transfer", {"target_id": "p039"}, status=409)  # nobody holds it
    console.post("/api/console/calls/nope/answer", status=404)
    console.post("/api/console/state", {"state": "paused"}, status=400)  # a pause needs a reason
    console.post("/api/console/calls/c7/answer")
    console.post("/api/console/calls/c7/transfer", {"target_id": "nobody"}, status=400)
    assert client.post("/api/console/calls/c7/queue", json={}).status_code == 400  # no CSRF token


def test_operator_state_drives_queue_membership(app, console):
    recorded = control.simulated().log
    recorded.clear()
    console.post("/api/console/state", {"state": "paused", "reason": "möte"})
    assert ("operator", "operator", "paused") in recorded
    snap = console.client.get("/api/console/snapshot").get_json()
    assert mine(snap)["state"] == "paused" and mine(snap)["reason"] == "möte"


def test_the_stream_sends_a_snapshot_and_then_changes(app, calls, console):
    reply = console.client.get("/console/stream", buffered=False)
    assert reply.mimetype == "text/event-stream"
    chunks = iter(reply.response)
    assert next(chunks).startswith(b"retry:")
    first = json.loads(next(chunks).decode().split("data: ", 1)[1])
    assert first["queue"] == []
    queued(app, calls, "c8")
    for _ in range(20):  # counters (waited seconds) also change the picture; read on until the call shows
        frame = next(chunks).decode()
        if frame.startswith("event: snapshot") and '"c8"' in frame:
            break
    else:
        pytest.fail("the new call never reached the stream")
    assert [q["call_id"] for q in json.loads(frame.split("data: ", 1)[1])["queue"]] == ["c8"]
    reply.close()


def test_anonymous_and_stats_readers_get_no_console(client, app):
    assert client.get("/console").status_code == 302
    assert client.get("/api/console/snapshot").status_code == 401
    login(client, "statistik", "demo-statistik-2026")
    assert client.get("/api/console/snapshot").status_code == 403


def test_asterisk_agent_connect_puts_the_call_with_the_operator_at_once(app, calls, sessions):
    from switchboard.asterisk.pbx_events import PbxEvent
    from switchboard.asterisk.service import operator_answers
    from switchboard.console import operators as ops

    svc = app.extensions["vaxel"]
    ast = CallRunner(svc.sessions, svc.settings, channel="asterisk")
    now = svc.clock.now()
    ast.start("ast-1795469729.1", now, caller="+46701234567")
    ast.handle("ast-1795469729.1", Digits("2"), now)
    with sessions() as session:
        ops.set_state(session, "olle", "ready", now).endpoint = "PJSIP/100"
        session.commit()
    operator_answers(svc)(PbxEvent("operator_answered", "1795469729.1", "Local/x", {"member": "PJSIP/100"}))
    state = ast.state_of("ast-1795469729.1")
    assert state.awaiting == "bridged" and state.party == "olle"
    # the queue's own report after the conversation changes nothing, then the hang-up ends it
    from ivr.protocol import Hangup, OperatorAnswered

    assert ast.handle("ast-1795469729.1", OperatorAnswered("PJSIP/100"), now) == []
    ast.handle("ast-1795469729.1", Hangup(), now)
    assert ast.state_of("ast-1795469729.1").ended


def test_console_streams_never_take_the_threads_calls_need(app, console):
    app.extensions["vaxel"].settings["service"]["threads"] = 9  # room for exactly one console
    first = console.client.get("/console/stream", buffered=False)
    assert first.status_code == 200
    next(iter(first.response))  # the stream is open and counted
    assert console.client.get("/console/stream").status_code == 503
    first.close()


def test_a_consultation_can_be_cancelled_and_the_caller_comes_back(app, calls, console):
    queued(app, calls, "c9")
    console.post("/api/console/calls/c9/answer")
    snap = console.post("/api/console/calls/c9/transfer", {"target_id": "p039", "attended": True})
    assert mine(snap)["call"]["transfer_ringing"]
    console.post("/api/console/calls/c10/cancel", status=409)  # not a consultation of theirs
    snap = console.post("/api/console/calls/c9/cancel")
    assert mine(snap)["call"]["call_id"] == "c9" and not mine(snap)["call"]["transfer_ringing"]
    assert snap["returned"][0]["reason"] == "canceled" and snap["returned"][0]["to"] == "operator"


def test_the_console_shows_numbers_as_people_read_them_and_withheld_ones_in_words(app, calls, console):
    queued(app, calls, "uk", caller="+447700900123")
    queued(app, calls, "anon", caller="anonymous")
    queued(app, calls, "se", caller="+46701740620")
    snap = console.client.get("/api/console/snapshot").get_json()
    assert {q["call_id"]: q["caller"] for q in snap["queue"]} == {
        "uk": "+44 7700 900123", "anon": "dolt nummer", "se": "070-174 06 20"}


def test_a_transferred_call_that_is_answered_waits_for_its_wrapup_and_keeps_its_bounces(app, calls, console):
    queued(app, calls, "tw")
    console.post("/api/console/calls/tw/answer")
    sven = console.client.get("/api/directory/search?q=torghandel").get_json()["results"][0]["id"]
    console.post("/api/console/calls/tw/transfer", {"target_id": sven})
    snap = console.client.get("/api/console/snapshot").get_json()
    assert mine(snap)["call"]["transfer"]["target"] == "Sven Olofsson"
    assert mine(snap)["call"]["transfer"]["attended"] is False
    calls.handle("tw", TransferEnded("no-answer"), app.extensions["vaxel"].clock.now())
    console.post("/api/console/calls/tw/transfer", {"target_id": sven, "attended": True})
    snap = console.client.get("/api/console/snapshot").get_json()
    assert mine(snap)["call"]["transfer"]["attended"] is True
    assert [b["reason"] for b in mine(snap)["call"]["bounces"]] == ["no-answer"]
    calls.handle("tw", TransferEnded("answered"), app.extensions["vaxel"].clock.now())
    snap = console.client.get("/api/console/snapshot").get_json()
    assert mine(snap)["call"] is None  # Sven has the caller now …
    due = mine(snap)["to_wrap_up"]
    assert [(d["call_id"], d["transferred_to"]) for d in due] == [("tw", "Sven Olofsson")]  # … the wrap-up waits
    console.post("/api/console/calls/tw/wrapup", {"outcome": "transferred"})
    assert mine(console.client.get("/api/console/snapshot").get_json())["to_wrap_up"] == []


def test_closures_and_crisis_messages_are_in_the_snapshot(app, console):
    from ivr.models import Closure

    svc = app.extensions["vaxel"]
    now = svc.clock.now()
    with svc.sessions() as session:
        session.add_all([
            Closure(kind="crisis", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
                    message_sv="Stormen: skolorna är stängda.", created_at=now),
            Closure(kind="closure", starts_at=now + timedelta(hours=2), ends_at=now + timedelta(hours=3),
                    message_sv="Personalmöte.", created_at=now),
            Closure(kind="closure", starts_at=now - timedelta(hours=3), ends_at=now - timedelta(hours=2),
                    message_sv="Över.", created_at=now),
            Closure(kind="closure", starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=4),
                    message_sv="Långt fram.", created_at=now)])
        session.commit()
    notices = console.client.get("/api/console/snapshot").get_json()["notices"]
    assert [(n["kind"], n["message"], n["active"]) for n in notices] == [
        ("crisis", "Stormen: skolorna är stängda.", True), ("closure", "Personalmöte.", False)]


def test_api_errors_are_in_swedish_and_in_english_on_request(app, calls, console):
    queued(app, calls, "e1")
    queued(app, calls, "e2")
    console.post("/api/console/calls/e1/answer")
    refused = console.post("/api/console/calls/e2/answer", status=409)
    assert refused["error"] == "Du har redan ett samtal. Avsluta eller koppla det först."
    console.client.get("/console?lang=en")  # the choice is kept in a cookie
    refused = console.post("/api/console/calls/e2/answer", status=409)
    assert refused["error"] == "You already have a call. End or transfer it first."


def test_an_operator_whose_every_console_closed_leaves_the_queue():
    """Away: a closed browser takes the operator out of the queue after the grace; a reload does not."""
    import threading

    from switchboard.console.stream import Away

    gone = []
    left = threading.Event()
    away = Away(lambda user: (gone.append(user), left.set()), grace=0.2)

    def console_stream():
        yield "snapshot"

    reload_ = away.watch("olle", console_stream())
    assert list(reload_) == ["snapshot"]  # the browser reloads: the stream closes …
    again = away.watch("olle", iter(["snapshot"]))
    next(again)  # … and a new one is open within the grace
    threading.Event().wait(0.4)
    assert gone == [] and away.open_consoles("olle") == 1
    again.close()  # the browser closes
    assert left.wait(2) and gone == ["olle"]


def test_a_console_that_reconnected_to_another_process_keeps_the_operator_in_the_queue():
    """Several serving processes: the stream closes in one and opens in another (a reload the kernel gave to
    the other worker). The first process must not take the operator out; once the last one closes, one does."""
    import threading
    import time

    from switchboard.console.stream import Away

    seen_at: dict[str, float] = {}  # what the database holds: the last time any process saw a console open

    def seen(users):
        for user in users:
            seen_at[user] = time.monotonic()

    def open_elsewhere(user, grace):
        return user in seen_at and time.monotonic() - seen_at[user] < grace

    gone, left = [], threading.Event()
    first = Away(lambda user: (gone.append(("first", user)), left.set()), grace=0.3, seen=seen,
                 open_elsewhere=open_elsewhere)
    second = Away(lambda user: (gone.append(("second", user)), left.set()), grace=0.3, seen=seen,
                  open_elsewhere=open_elsewhere)
    second.HEARTBEAT = first.HEARTBEAT = 0.05
    closed = first.watch("olle", iter(["snapshot"]))
    assert list(closed) == ["snapshot"]  # closed in the first process …
    reopened = second.watch("olle", iter(["snapshot", "snapshot"]))
    next(reopened)  # … and open in the second
    time.sleep(0.6)
    assert gone == []  # the first one's check found the console open elsewhere
    reopened.close()
    assert left.wait(2) and gone == [("second", "olle")]


def test_closing_the_browser_takes_the_operator_out_of_the_queue(app, console):
    """Over real HTTP: the operator is ready, their only console stream closes, and after the grace they are
    offline (the platform is told too); while a console is open nothing changes."""
    import http.client
    import threading
    import time

    from werkzeug.serving import make_server

    from switchboard.console import views

    with app.app_context():
        views.away().grace = 0.3
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cookie = console.client.get_cookie("session").value
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        from importlib.metadata import version

        agent = f"Werkzeug/{version('werkzeug')}"  # the session is bound to the browser it was made in
        conn.request("GET", "/console/stream", headers={"Cookie": f"session={cookie}", "User-Agent": agent})
        reply = conn.getresponse()
        assert reply.status == 200 and reply.readline()  # the stream is open
        time.sleep(0.6)
        snap = console.client.get("/api/console/snapshot").get_json()
        assert mine(snap)["state"] == "ready"  # longer than the grace, but a console is open
        reply.close()  # the browser closes
        conn.close()
        for _ in range(100):  # the server notices at its next write (a snapshot within ~0.2 s, or a keepalive)
            if mine(console.client.get("/api/console/snapshot").get_json())["state"] == "offline":
                break
            time.sleep(0.1)
        assert mine(console.client.get("/api/console/snapshot").get_json())["state"] == "offline"
    finally:
        server.shutdown()
