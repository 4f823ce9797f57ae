"""Console push latency: how long from a call event to every operator's browser, with 50 operators connected.

    .venv/bin/python benchmarks/console.py [--operators 50] [--events 20]

Starts the service (waitress, real HTTP) on a fresh SQLite database with the
demo municipality, logs in N operators, opens N server-sent-event streams
(/console/stream) and then, one at a time, puts simulated calls in the queue
through the call runner. For every (event, operator) pair it records the time
from the moment the call joined the queue to the moment that operator's stream
delivered a snapshot containing it. Prints JSON. Target: p95 under 500 ms.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/directory.py would shadow the directory package: keep this folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import http.client
import json
import re
import statistics
import tempfile
import threading
import time
import urllib.parse
from datetime import timedelta


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def session_cookie(reply) -> str:
    return next(c.split(";")[0] for c in reply.headers.get_all("Set-Cookie") if c.startswith("session="))


def log_in(port: int, username: str, password: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/login")
    reply = conn.getresponse()
    page = reply.read().decode()
    cookie = session_cookie(reply)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    reply = conn.getresponse()
    reply.read()
    if reply.status != 302:
        raise SystemExit(f"login failed for {username}: {reply.status}")
    return session_cookie(reply)


def listen(port: int, cookie: str, seen: dict[str, float], ready: threading.Event, stop: threading.Event) -> None:
    """One operator's browser: read the stream, note when each call id first appears."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/console/stream", headers={"Cookie": cookie, "Accept": "text/event-stream"})
    reply = conn.getresponse()
    ready.set()
    buffer = b""
    while not stop.is_set():
        chunk = reply.read1(65536)
        if not chunk:
            break
        buffer += chunk
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            if not frame.startswith(b"event: snapshot"):
                continue
            arrived = time.perf_counter()
            data = json.loads(frame.split(b"data: ", 1)[1])
            for item in data["queue"]:
                seen.setdefault(item["call_id"], arrived)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operators", type=int, default=50)
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()

    import waitress

    from ivr.protocol import Digits
    from switchboard import db, demo
    from switchboard.app import create_app
    from switchboard.auth import add_user
    from switchboard.calls import CallRunner
    from core.clock import Clock
    from switchboard.seed import ensure_defaults
    from core.settings import CONFIG_DIR
    from zoneinfo import ZoneInfo
    from datetime import datetime

    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'console-bench.db'}"
    db.upgrade(url)
    threads = args.operators + 16
    app = create_app({"database": {"url": url}, "service": {"threads": threads}})
    svc = app.extensions["vaxel"]
    tz = ZoneInfo("Europe/Stockholm")
    svc.clock = Clock(tz, start=datetime(2026, 11, 24, 10, 0, tzinfo=tz))
    with svc.sessions() as session:
        ensure_defaults(session, svc.settings)
        demo.load(session, str(CONFIG_DIR / "demo" / "municipality.toml"))
        for i in range(args.operators):
            add_user(session, f"op{i}", "operator", "bench-password-1")
        session.commit()
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads,
                                    connection_limit=args.operators + 50)
    port = server.effective_port
    threading.Thread(target=server.run, daemon=True).start()

    stop = threading.Event()
    seen_by: list[dict[str, float]] = []
    readies = []
    for i in range(args.operators):
        cookie = log_in(port, f"op{i}", "bench-password-1")
        seen: dict[str, float] = {}
        ready = threading.Event()
        threading.Thread(target=listen, args=(port, cookie, seen, ready, stop), daemon=True).start()
        seen_by.append(seen)
        readies.append(ready)
    for ready in readies:
        ready.wait(10)
    time.sleep(1.0)

    runner = CallRunner(svc.sessions, svc.settings, channel="benchmark")
    sent: dict[str, float] = {}
    for n in range(args.events):
        call_id = f"bench-{n}"
        now = svc.clock.now()
        runner.start(call_id, now, caller="+46701740640")
        runner.handle(call_id, Digits("2"), now + timedelta(seconds=1))
        sent[call_id] = time.perf_counter()  # the call is committed to the queue now
        time.sleep(0.5)
    time.sleep(2.0)
    stop.set()
    latencies = [(seen[c] - t) * 1000 for c, t in sent.items() for seen in seen_by if c in seen]
    missed = sum(1 for c in sent for seen in seen_by if c not in seen)
    print(json.dumps({
        "benchmark": "console",
        "operators": args.operators,
        "events": args.events,
        "deliveries": len(latencies),
        "missed": missed,
        "latency_ms": {"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1),
                       "max": round(max(latencies), 1), "mean": round(statistics.fmean(latencies), 1)},
        "target": {"p95_ms": 500},
    }))
    server.close()


if __name__ == "__main__":
    main()
