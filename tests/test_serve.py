"""`vaxel db upgrade`, `vaxel demo load` and `vaxel serve` as real processes, spoken to over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

VAXEL = str(Path(sys.executable).parent / "vaxel")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    env = {**os.environ, "VAXEL_DATABASE_URL": f"sqlite:///{tmp_path / 'vaxel.db'}",
           "VAXEL_NOW": "2026-12-24T10:00:00+01:00"}
    for command in (["db", "upgrade"], ["demo", "load", "--if-empty"]):
        subprocess.run([VAXEL, *command], env=env, check=True, capture_output=True, timeout=60)
    port = free_port()
    proc = subprocess.Popen([VAXEL, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield base, env
    proc.terminate()
    proc.wait(timeout=10)


def test_service_serves_start_page_health_and_hours(served):
    base, _ = served
    health = json.load(urllib.request.urlopen(base + "/healthz"))
    assert health["status"] == "ok" and health["now"].startswith("2026-12-24T10:00")
    assert "vaxel" in urllib.request.urlopen(base + "/").read().decode()
    hours = urllib.request.urlopen(base + "/hours").read().decode()
    assert "Julafton" in hours and "Stängt" in hours  # VAXEL_NOW put the service on julafton


def test_demo_load_is_idempotent_and_call_works_from_the_shell(served):
    _, env = served
    again = subprocess.run([VAXEL, "demo", "load"], env=env, capture_output=True, text=True, timeout=60)
    assert "58 staff" in again.stdout
    out = subprocess.run([VAXEL, "call", "--json", "2"], env=env, capture_output=True, text=True, timeout=60)
    first = json.loads(out.stdout.splitlines()[0])
    assert first["prompt"] == "closed_holiday"  # VAXEL_NOW applies to the simulator too


def test_a_peak_of_open_connections_does_not_leave_the_next_caller_unanswered(served):
    """Twilio, the console's streams and a proxy's kept-alive connections all hold a connection open. Waitress's
    own default accepts 100 (its two internal sockets included) and leaves the next one unanswered — a webhook
    that times out and a caller who hears Twilio's error. `service.connections` (1000) is passed to it."""
    base, _ = served
    port = int(base.rsplit(":", 1)[1])
    held = []
    try:
        for _ in range(150):  # open and idle, as kept-alive connections are between webhooks
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        reply = urllib.request.urlopen(base + "/healthz", timeout=10)  # answered at once, or not until one closes
        assert json.load(reply)["status"] == "ok"
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # the first of them is served too
        assert held[0].recv(64).startswith(b"HTTP/1.1 200")
    finally:
        for s in held:
            s.close()
