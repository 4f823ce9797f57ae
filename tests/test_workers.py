"""Several serving processes on one database: any process may answer any webhook, and all agree at once.

Real ``vaxel serve`` processes over real HTTP, on the test database (SQLite, or PostgreSQL under
``make test-postgres``): a call whose webhooks alternate between two processes ends right; a flow published
through one process is what the other plays to the very next caller; ``--workers 2`` runs two workers on one
port, worker 0 alone doing the once-only work, and stops them all on SIGTERM.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from callback.queue import QueueEntry
from ivr.models import CallSession
from stats.models import CallEvent
from tests.conftest import ADMIN_PASSWORD

VAXEL = str(Path(sys.executable).parent / "vaxel")
TOKEN = "workers-test-token"
NOW = "2026-11-24T10:00:00+01:00"  # a Tuesday morning: open


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, proc: subprocess.Popen) -> None:
    for _ in range(300):
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError("vaxel serve did not come up")


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read().decode(errors="replace")


@pytest.fixture
def serve(app, database_url, tmp_path):
    """Start ``vaxel serve`` processes on the test database (demo data loaded); all stopped afterwards."""
    procs = []

    def start(*extra: str, port: int | None = None) -> tuple[int, subprocess.Popen]:
        port = port or free_port()
        env = {**os.environ, "VAXEL_DATABASE_URL": database_url, "VAXEL_NOW": NOW, "VAXEL_TWILIO_ENABLED": "true",
               "TWILIO_AUTH_TOKEN": TOKEN, "VAXEL_SERVICE_SECRET_KEY": "workers-test-secret-key-" + "x" * 20,
               "VAXEL_ASTERISK_SOUNDS_DIR": str(tmp_path / "sounds"), "VAXEL_RECONCILE_INTERVAL_SECONDS": "3600"}
        proc = subprocess.Popen([VAXEL, "serve", "--port", str(port), "--agi-port", "0", *extra], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(proc)
        wait_up(port, proc)
        return port, proc

    yield start
    for proc in procs:
        stop(proc)


class Twilio:
    """Signed webhooks as Twilio sends them; each request goes to the next of ``ports`` in turn."""

    def __init__(self, ports: list[int]):
        self.ports, self.turn = ports, 0
        self.sid = "CA" + uuid.uuid4().hex

    def post(self, url: str, **extra: str) -> ET.Element:
        port = self.ports[self.turn % len(self.ports)]
        self.turn += 1
        path = re.sub(r"^https?://[^/]+", "", url)
        url = f"http://127.0.0.1:{port}{path}"
        params = {"AccountSid": "AC" + "1" * 32, "CallSid": self.sid, "From": "+46701740699", "To": "+46406280400",
                  "CallStatus": "in-progress", **extra}
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        reply = requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
        assert reply.status_code == 200, reply.text
        return ET.fromstring(reply.text)


def test_a_call_whose_webhooks_alternate_between_two_processes_ends_right(serve, sessions):
    a, _ = serve()
    b, _ = serve()
    call = Twilio([a, b])
    doc = call.post("/twilio/voice", CallStatus="ringing")                                      # a
    doc = call.post(doc.find("Gather").get("action"), Digits="1")                                 # b
    doc = call.post(doc.find("Gather").get("action"), SpeechResult="torghandel", Confidence="0.9")  # a
    dial = doc.find("Dial")
    assert dial is not None, ET.tostring(doc)
    doc = call.post(dial.get("action"), DialCallStatus="no-answer")                               # b: comes back
    enqueue = doc.find("Enqueue")
    assert enqueue is not None, ET.tostring(doc)
    call.post(enqueue.get("waitUrl"), QueuePosition="1", CurrentQueueSize="1", QueueTime="5")     # a
    call.post("/twilio/dequeued?op=centre")                                                       # b
    call.post(enqueue.get("action"), QueueResult="bridged", QueueTime="20")                       # a
    call.post("/twilio/status", CallStatus="completed")                                           # b

    with sessions() as session:
        row = session.get(CallSession, call.sid)
        events = [e.type for e in session.scalars(select(CallEvent).where(CallEvent.call_id == call.sid)
                                                  .order_by(CallEvent.step, CallEvent.seq))]
        places = session.scalars(select(QueueEntry).where(QueueEntry.call_id == call.sid)).all()
    assert row.ended_at is not None
    assert events.index("transfer_failed") < events.index("returned_to_queue") < events.index("queue_left")
    assert events[-1] == "call_ended"
    assert [p.returned_from is not None for p in places] == [True] and places[0].left_at is not None


def test_a_flow_published_through_one_process_is_played_by_the_other_at_the_next_call(serve, app):
    from switchboard.auth import add_user

    with app.extensions["vaxel"].sessions() as session:
        add_user(session, "chefen", "admin", ADMIN_PASSWORD, "Cecilia Chef")
        session.commit()
    a, _ = serve()
    b, _ = serve()
    before = Twilio([b]).post("/twilio/voice", CallStatus="ringing")  # b reads the flow in force now
    assert "Ny hälsning" not in ET.tostring(before, encoding="unicode")

    admin = requests.Session()
    page = admin.get(f"http://127.0.0.1:{a}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    admin.post(f"http://127.0.0.1:{a}/login", data={"username": "chefen", "password": ADMIN_PASSWORD,
                                                     "csrf_token": token}, allow_redirects=False)
    editor = admin.get(f"http://127.0.0.1:{a}/admin/flow").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', editor).group(1)
    saved = admin.post(f"http://127.0.0.1:{a}/admin/flow/draft", data={
        "csrf_token": token, "prompt__greeting__sv": "Ny hälsning från Sjöbacka kommun."}, allow_redirects=False)
    assert saved.status_code == 302, saved.text
    published = admin.post(f"http://127.0.0.1:{a}/admin/flow/publish", data={"csrf_token": token},
                           allow_redirects=False)
    assert published.status_code == 302, published.text

    after = Twilio([b]).post("/twilio/voice", CallStatus="ringing")  # the very next caller, on the other process
    assert "Ny hälsning från Sjöbacka kommun." in ET.tostring(after, encoding="unicode")


def test_two_workers_answer_on_one_port_and_stop_together(serve):
    port, parent = serve("--workers", "2")
    seen = {}
    deadline = time.monotonic() + 60  # the second worker may still be starting when the first answers
    while time.monotonic() < deadline:  # new connections: the kernel hands them to either worker
        health = requests.get(f"http://127.0.0.1:{port}/healthz", headers={"Connection": "close"}, timeout=5).json()
        seen[health["worker"]["index"]] = health["worker"]["pid"]
        if len(seen) == 2:
            break
        time.sleep(0.05)
    assert set(seen) == {0, 1} and parent.pid not in seen.values()

    out = stop(parent)
    assert parent.returncode == 0
    for pid in seen.values():  # no worker outlives the parent
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert "reconciling calls" in out and out.count("reconciling calls") == 1  # once-only work: worker 0 alone
    assert "(worker 0)" in out and "(worker 1)" in out


def test_a_console_on_one_process_sees_a_call_that_another_process_queued(serve):
    """The console's push reads the database each tick: a caller queued through process B shows in the stream
    an operator has open on process A, within the push latency (well under 2 s here)."""
    a, _ = serve()
    b, _ = serve()
    console = requests.Session()
    page = console.get(f"http://127.0.0.1:{a}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    console.post(f"http://127.0.0.1:{a}/login", data={"username": "operator", "password": "demo-operator-2026",
                                                       "csrf_token": token}, allow_redirects=False)
    stream = console.get(f"http://127.0.0.1:{a}/console/stream", stream=True, timeout=30)
    assert stream.status_code == 200
    lines = stream.iter_lines(decode_unicode=True)
    first = next(line for line in lines if line.startswith("data:"))
    assert '"queue": []' in first

    call = Twilio([b])
    doc = call.post("/twilio/voice", CallStatus="ringing")
    call.post(doc.find("Gather").get("action"), Digits="2")  # into the queue, through process B
    queued = time.monotonic()
    for line in lines:
        if line.startswith("data:") and call.sid in line:
            break
    assert time.monotonic() - queued < 2.0
    stream.close()
