"""Whole Twilio calls over real HTTP against `vaxel serve`, side by side with the floor, printed as JSON.

    .venv/bin/python benchmarks/webhooks.py                                  # SQLite, 1 process
    .venv/bin/python benchmarks/webhooks.py --database postgresql --workers 1 2
    .venv/bin/python benchmarks/webhooks.py --calls 1 30 100 --seconds 20 --open-seconds 60
    PYTHONPATH=../old-checkout .venv/bin/python benchmarks/webhooks.py --no-floor   # another version's code

The floor is a bare Flask app under waitress (32 threads and 1000 connections, as `vaxel serve`)
answering a small TwiML document: what any Python webhook service costs on
this machine. The skeleton is the floor that keeps a call: it checks the
Twilio signature and, in one transaction on the same database as vaxel (its
engine, pool and call-step transaction: `core.db`), locks the call's row,
writes it back and appends an event, then answers the same document — the
least any service that remembers its calls costs on this stack. All three are
driven by the same client: every call is a sequence of signed POSTs as Twilio
makes them, each URL taken from the TwiML answered before — the menu (option
1 or 2), the directory by speech, a transfer that is accepted with a key or
not answered and comes back first in line, waitUrl polls in the queue, an
operator taking the caller (``<Queue url>``), the queue's end and the status
callback. The floor and the skeleton get the same number of requests per
call, each answered and parsed.

Closed loop: ``--calls`` callers at once, each starting its next request as
soon as the last answered, for ``--seconds``. Open loop: one new call every
``1/--rate`` seconds with a caller's think times between steps (listening to a
prompt, ringing, waiting), divided by ``--compress``, for ``--open-seconds``;
it reports latency per step. A request slower than 15 s is counted as a
Twilio timeout. The service is started fresh for each database and number of
processes (``vaxel serve --workers N``) on a migrated database with the demo
municipality; PostgreSQL runs in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

# benchmarks/directory.py would shadow the directory package: keep this folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
ROOT = Path(__file__).resolve().parent.parent
VAXEL = str(Path(sys.executable).parent / "vaxel")
ACCOUNT, TOKEN = "AC" + "b" * 32, "webhooks-benchmark-token"
START = "2026-11-24T09:00:00+01:00"  # a Tuesday morning: the switchboard and the units are open
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TWILIO_TIMEOUT = 15.0
FLOOR_TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" action="/floor" method="POST">'
               '<Say language="sv-SE">Välkommen till kommunen.</Say></Gather><Redirect method="POST">/floor'
               '</Redirect></Response>')
# a caller's think time before each kind of request, in seconds (divided by --compress in the open loop)
THINK = {"voice": 0.0, "step": 6.0, "dial": 15.0, "whisper": 3.0, "whisper/answer": 2.0, "wait": 8.0,
         "dequeued": 4.0, "queue-result": 0.5, "status": 60.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(message: str) -> None:
    print(f"[webhooks] {message}", file=sys.stderr, flush=True)


# -- the floor ------------------------------------------------------------------------------------------------


def serve_floor(port: int) -> None:
    import waitress
    from flask import Flask, Response

    app = Flask("floor")

    @app.post("/<path:anything>")
    def answer(anything: str):
        return Response(FLOOR_TWIML, mimetype="text/xml")

    # as `vaxel serve` (service.threads, service.connections): waitress's default of 100 connections would leave
    # two of 100 callers unanswered for the whole run
    waitress.serve(app, host="127.0.0.1", port=port, threads=32, connection_limit=1000, _quiet=True)


def serve_skeleton(port: int, url: str, raw: bool = False) -> None:
    """The floor plus what keeping a call costs at the least: signature, one locked row, one event, a commit.

    ``raw``: the same statements through the DB-API connection itself (SQLAlchemy only hands it out of its
    pool): what SQLAlchemy's Core adds to a transaction, measured."""
    import waitress
    from flask import Flask, Response, request
    from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, insert, select, update
    from sqlalchemy.orm import Session
    from twilio.request_validator import RequestValidator

    from core.db import begin_step, make_engine

    tables = MetaData()
    calls = Table("skeleton_calls", tables, Column("sid", String(64), primary_key=True),
                  Column("step", Integer, nullable=False), Column("state", JSON, nullable=False))
    events = Table("skeleton_events", tables, Column("sid", String(64), primary_key=True),
                   Column("step", Integer, primary_key=True), Column("data", JSON, nullable=False))
    engine = make_engine(url, pool_size=32, max_overflow=8)
    tables.drop_all(engine)
    tables.create_all(engine)
    postgresql = engine.dialect.name == "postgresql"
    load = select(calls.c.step, calls.c.state).where(calls.c.sid == bindparam("sid"))
    if postgresql:
        load = load.with_for_update()
    store = update(calls).where(calls.c.sid == bindparam("key")).values(step=bindparam("step"),
                                                                        state=bindparam("state"))
    validator = RequestValidator(TOKEN)
    writer = threading.Lock()  # raw SQLite: the writers of a process take turns, as core.db has them do

    def step_raw(sid: str, anything: str, form: dict) -> None:
        mark = "%s" if postgresql else "?"
        dbapi = engine.raw_connection()
        try:
            with contextlib.nullcontext() if postgresql else writer:
                cursor = dbapi.cursor()
                cursor.execute("SET LOCAL synchronous_commit TO off" if postgresql else "BEGIN IMMEDIATE")
                cursor.execute(f"SELECT step, state FROM skeleton_calls WHERE sid = {mark}"
                               + (" FOR UPDATE" if postgresql else ""), (sid,))
                row = cursor.fetchone()
                step = row[0] + 1 if row else 1
                before = {} if row is None else row[1] if isinstance(row[1], dict) else json.loads(row[1])
                state = json.dumps({**before, "route": anything})  # psycopg reads JSON as a dict, sqlite3 as text
                cursor.execute(f"UPDATE skeleton_calls SET step = {mark}, state = {mark} WHERE sid = {mark}"
                               if row else f"INSERT INTO skeleton_calls (step, state, sid) VALUES ({mark}, {mark}, "
                               f"{mark})", (step, state, sid))
                cursor.execute(f"INSERT INTO skeleton_events (sid, step, data) VALUES ({mark}, {mark}, {mark})",
                               (sid, step, json.dumps(form)))
                dbapi.commit()
        finally:
            dbapi.close()

    def step_core(sid: str, anything: str, form: dict) -> None:
        with Session(engine) as session:
            begin_step(session)
            row = session.execute(load, {"sid": sid}).first()
            if row is None:
                step, state = 1, {"route": anything}
                session.execute(insert(calls), {"sid": sid, "step": step, "state": state})
            else:
                step, state = row.step + 1, {**row.state, "route": anything}
                session.execute(store, {"key": sid, "step": step, "state": state})
            session.execute(insert(events), {"sid": sid, "step": step, "data": form})
            session.commit()

    app = Flask("skeleton")

    @app.post("/<path:anything>")
    def answer(anything: str):
        form = request.form.to_dict()
        if not validator.validate(request.url, form, request.headers.get("X-Twilio-Signature", "")):
            return Response("forbidden", 403)
        (step_raw if raw else step_core)(form["CallSid"], anything, form)
        return Response(FLOOR_TWIML, mimetype="text/xml")

    @app.get("/healthz")
    def healthz():
        return "ok"

    waitress.serve(app, host="127.0.0.1", port=port, threads=32, connection_limit=1000, _quiet=True)


# -- the client -----------------------------------------------------------------------------------------------


class Client:
    """One caller's connection; records (route, seconds, ok) for every request."""

    def __init__(self, port: int, record):
        self.port, self.record = port, record
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.base = f"http://127.0.0.1:{port}"

    def post(self, url: str, sid: str, route: str | None = None, **extra: str) -> ET.Element | None:
        url = url if url.startswith("http") else self.base + url
        params = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": sid, "From": "+46701740699",
                  "To": "+46406280400", "Direction": "inbound", "CallStatus": "in-progress", **extra}
        from twilio.request_validator import RequestValidator

        headers = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, params),
                   "Content-Type": "application/x-www-form-urlencoded"}
        parts = urllib.parse.urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        route = route or parts.path.removeprefix("/twilio/")
        started = time.perf_counter()
        ok, doc = False, None
        try:
            self.conn.request("POST", path, body=urllib.parse.urlencode(params), headers=headers)
            reply = self.conn.getresponse()
            body = reply.read()
            ok = reply.status == 200
            doc = ET.fromstring(body) if ok else None
        except (OSError, http.client.HTTPException, ET.ParseError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.record(route, time.perf_counter() - started, ok)
        return doc


def _find(doc: ET.Element | None, path: str) -> ET.Element | None:
    return doc.find(path) if doc is not None else None


def vaxel_call(client: Client, rng: random.Random, think) -> None:
    """One citizen's whole call, as Twilio plays it: every request follows the TwiML answered before.

    The caller presses 1 or 2; for 1 says a subject; a transfer is accepted with a key or not answered;
    in the queue a few waitUrl polls, then an operator takes the caller. Whatever else comes (a question,
    a "try again" redirect, the apology and the queue) is followed as Twilio would, silence for questions."""
    sid = "CA" + uuid.uuid4().hex
    option = "1" if rng.random() < 0.5 else "2"
    doc = client.post("/twilio/voice", sid, CallStatus="ringing")
    menus = 0
    for _ in range(25):
        if doc is None:
            break
        gather, dial, enqueue, redirect = (doc.find(tag) for tag in ("Gather", "Dial", "Enqueue", "Redirect"))
        if gather is not None:
            think("step")
            menus += 1
            said = {"Digits": option} if menus == 1 else (
                {"SpeechResult": rng.choice(["torghandel", "bygglov"]), "Confidence": "0.92"}
                if menus == 2 and option == "1" and "speech" in gather.get("input", "") else {})
            doc = client.post(gather.get("action") if said else redirect.text, sid, **said)
        elif dial is not None:
            doc = _transfer(client, sid, dial, rng, think)
        elif enqueue is not None:
            _queue(client, sid, enqueue, rng, think)
            break
        elif redirect is not None:
            doc = client.post(redirect.text, sid)
        else:
            break
    think("status")
    client.post("/twilio/status", sid, CallStatus="completed")


def _transfer(client: Client, sid: str, dial: ET.Element, rng: random.Random, think) -> ET.Element | None:
    """The staff leg rings: accepted with 1 (the whisper) and talked, or not answered."""
    number = dial.find("Number")
    accepted = rng.random() < 0.5
    if accepted and number is not None and number.get("url"):
        think("whisper")
        whisper = client.post(number.get("url"), "CA" + uuid.uuid4().hex, route="whisper")
        answer = _find(whisper, "Gather")
        if answer is not None:
            think("whisper/answer")
            client.post(answer.get("action"), "CA" + uuid.uuid4().hex, route="whisper/answer", Digits="1")
    think("dial")
    if accepted:
        return client.post(dial.get("action"), sid, DialCallStatus="completed", DialCallDuration="40")
    return client.post(dial.get("action"), sid, DialCallStatus="no-answer")


def _queue(client: Client, sid: str, enqueue: ET.Element, rng: random.Random, think) -> None:
    """A few waitUrl polls (silent at a callback offer), then an operator's ``<Queue url>`` and the end."""
    wait_url = enqueue.get("waitUrl")
    for n in range(rng.randint(1, 3)):
        think("wait")
        doc = client.post(wait_url, sid, QueuePosition="1", CurrentQueueSize="3", QueueTime=str(10 * (n + 1)))
        redirect = _find(doc, "Redirect")
        if redirect is not None and "/wait" in redirect.text:
            wait_url = redirect.text
    think("dequeued")
    client.post("/twilio/dequeued?op=centre", sid)
    think("queue-result")
    client.post(enqueue.get("action"), sid, QueueResult="bridged", QueueTime="30")


def floor_call(client: Client, rng: random.Random, think) -> None:
    """The same number of requests as :func:`vaxel_call` makes on average, to the floor."""
    sid = "CA" + uuid.uuid4().hex
    for route in ("voice", "step", "step", "dial", "wait", "wait", "dequeued", "queue-result", "status"):
        if route != "voice":
            think(route)
        client.post("/floor", sid, route=route)


# -- running a load -------------------------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: list[tuple[str, float, bool]] = []

    def __call__(self, route: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.samples.append((route, seconds, ok))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def summary(rec: Recorder, seconds: float) -> dict:
    latencies = [s for _, s, _ in rec.samples]
    routes = sorted({r for r, _, _ in rec.samples})
    return {
        "requests": len(latencies),
        "webhooks_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(pct(latencies, 50) * 1000, 2),
        "p95_ms": round(pct(latencies, 95) * 1000, 2),
        "p99_ms": round(pct(latencies, 99) * 1000, 2),
        "errors": sum(1 for _, _, ok in rec.samples if not ok),
        "twilio_timeouts": sum(1 for _, s, _ in rec.samples if s > TWILIO_TIMEOUT),
        "per_route": {r: {"n": len(v), "p50_ms": round(pct(v, 50) * 1000, 2), "p95_ms": round(pct(v, 95) * 1000, 2)}
                      for r in routes for v in [[s for rr, s, _ in rec.samples if rr == r]]},
    }


def closed_loop(port: int, call, callers: int, seconds: float) -> dict:
    rec = Recorder()
    stop = time.monotonic() + seconds

    def caller(n: int) -> None:
        client, rng = Client(port, rec), random.Random(n)
        while time.monotonic() < stop:
            call(client, rng, lambda _route: None)
        client.conn.close()  # not left for the next run's connections to count against the server's limit

    threads = [threading.Thread(target=caller, args=(n,), daemon=True) for n in range(callers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"mode": "closed", "calls_at_once": callers, **summary(rec, time.monotonic() - started)}


def open_loop(port: int, call, rate: float, seconds: float, compress: float) -> dict:
    rec = Recorder()
    threads = []
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        rng = random.Random(10_000 + n)

        def think(route: str, rng=rng) -> None:
            time.sleep(rng.uniform(0.5, 1.5) * THINK.get(route, 1.0) / compress)

        t = threading.Thread(target=lambda rng=rng, think=think: call(Client(port, rec), rng, think), daemon=True)
        t.start()
        threads.append(t)
        n += 1
        time.sleep(max(0.0, started + n / rate - time.monotonic()))
    for t in threads:
        t.join()
    return {"mode": "open", "new_calls_per_s": rate, "calls": n, "compress": compress,
            **summary(rec, time.monotonic() - started)}


# -- the services ---------------------------------------------------------------------------------------------


def wait_until_up(port: int, proc: subprocess.Popen, what: str, path: str = "/healthz") -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Vaxel:
    """`vaxel serve` on a fresh database with the demo municipality."""

    def __init__(self, database: str, workers: int, workdir: Path):
        self.database, self.workers, self.workdir = database, workers, workdir
        self.schema = f"bench_webhooks_{os.getpid()}"
        if database == "sqlite":
            self.url = f"sqlite:///{workdir / 'vaxel.db'}"
        else:
            self.url = f"{PG_URL}?options=-csearch_path%3D{self.schema}"
        self.port, self.agi_port = free_port(), free_port()
        self.env = {**os.environ, "VAXEL_DATABASE_URL": self.url, "VAXEL_NOW": START,
                    "VAXEL_PUBLIC_URL": f"http://127.0.0.1:{self.port}", "VAXEL_TWILIO_ENABLED": "true",
                    "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN, "VAXEL_LOG_LEVEL": "WARNING",
                    "VAXEL_ASTERISK_SOUNDS_DIR": str(workdir / "sounds")}
        self.proc: subprocess.Popen | None = None

    def _pg(self, sql: str) -> None:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
            conn.execute(sql)

    def __enter__(self) -> "Vaxel":
        if self.database == "postgresql":
            self._pg(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE; CREATE SCHEMA {self.schema}")
        for args in (["db", "upgrade"], ["demo", "load", "--if-empty"]):
            subprocess.run([VAXEL, *args], env=self.env, check=True, capture_output=True, timeout=300)
        log = open(self.workdir / f"serve-{self.database}-{self.workers}.log", "w")
        several = ["--workers", str(self.workers)] if self.workers > 1 else []
        self.proc = subprocess.Popen([VAXEL, "serve", "--port", str(self.port), "--agi-port", str(self.agi_port),
                                      *several], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until_up(self.port, self.proc, "vaxel serve")
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc)
        if self.database == "postgresql":
            self._pg(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def check(self) -> dict:
        """Correctness after the load: every call ended, no queue place left open."""
        from sqlalchemy import create_engine, func, select
        from sqlalchemy.orm import Session

        from callback.queue import QueueEntry
        from ivr.models import CallSession

        engine = create_engine(self.url)
        try:
            with Session(engine) as session:
                calls = session.scalar(select(func.count()).select_from(CallSession))
                open_calls = session.scalar(select(func.count()).select_from(CallSession)
                                            .where(CallSession.ended_at.is_(None)))
                open_places = session.scalar(select(func.count()).select_from(QueueEntry)
                                             .where(QueueEntry.left_at.is_(None)))
        finally:
            engine.dispose()
        return {"calls_stored": calls, "calls_not_ended": open_calls, "queue_places_open": open_places}


def run(server: str, port: int, args, call) -> list[dict]:
    results = []
    for callers in args.calls:
        say(f"{server}: closed loop, {callers} calls at once, {args.seconds} s")
        results.append({"server": server, **closed_loop(port, call, callers, args.seconds)})
    if args.open_seconds > 0:
        say(f"{server}: open loop, {args.rate} new calls/s, {args.open_seconds} s")
        results.append({"server": server, **open_loop(port, call, args.rate, args.open_seconds, args.compress)})
    return results


def reference(server: str, flag: list[str], health: str, args) -> list[dict]:
    """The floor or the skeleton, in a process of its own, driven as vaxel is (with :func:`floor_call`)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, flag[0], str(port), *flag[1:]], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until_up(port, proc, f"the {server}", path=health)
        return run(server, port, args, floor_call)
    finally:
        stop(proc)


def compare(runs: list[dict]) -> None:
    """Each vaxel run (and skeleton run) as a fraction of the floor's and the skeleton's same run."""
    def key(r: dict, database: bool) -> tuple:
        return r["mode"], r.get("calls_at_once"), r.get("database") if database else None

    floors = {key(r, False): r for r in runs if r["server"] == "floor"}
    skeletons = {key(r, True): r for r in runs if r["server"] == "skeleton"}
    for r in runs:
        for name, ref in (("vs_floor", floors.get(key(r, False))),
                          ("vs_skeleton", skeletons.get(key(r, True)) if r["server"] == "vaxel" else None)):
            if r["server"] != "floor" and ref:
                r[name] = {"throughput": round(r["webhooks_per_s"] / ref["webhooks_per_s"], 3),
                           "p95": round(r["p95_ms"] / ref["p95_ms"], 2) if ref["p95_ms"] else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1])
    parser.add_argument("--calls", nargs="+", type=int, default=[1, 30, 100])
    parser.add_argument("--seconds", type=float, default=15.0, help="each closed-loop run")
    parser.add_argument("--open-seconds", type=float, default=60.0, help="the open-loop run (0: none)")
    parser.add_argument("--rate", type=float, default=1.0, help="new calls per second in the open loop")
    parser.add_argument("--compress", type=float, default=10.0, help="think times divided by this")
    parser.add_argument("--no-floor", action="store_true", help="only vaxel (e.g. to compare two versions)")
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--raw-skeleton", action="store_true",
                        help="also the skeleton through the DB-API itself, without SQLAlchemy's Core")
    parser.add_argument("--skeleton-server", nargs=3, metavar=("PORT", "URL", "RAW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_server:
        serve_floor(args.floor_server)
        return
    if args.skeleton_server:
        serve_skeleton(int(args.skeleton_server[0]), args.skeleton_server[1], args.skeleton_server[2] == "raw")
        return

    out = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()}, "runs": []}
    if not args.no_floor:
        out["runs"] += reference("floor", ["--floor-server"], "/", args)
    workdir = Path(tempfile.mkdtemp(prefix="vaxel-webhooks-"))
    try:
        for database in args.database:
            for workers in args.workers:
                with Vaxel(database, workers, workdir) as vaxel:
                    if not args.no_floor and workers == args.workers[0]:  # on vaxel's database, vaxel idle
                        for server, how in [("skeleton", "core")] + [("skeleton-raw", "raw")] * args.raw_skeleton:
                            out["runs"] += [{**r, "database": database, "workers": 1} for r in reference(
                                server, ["--skeleton-server", vaxel.url, how], "/healthz", args)]
                    for result in run("vaxel", vaxel.port, args, vaxel_call):
                        out["runs"].append({**result, "database": database, "workers": workers})
                    out["runs"][-1]["after"] = vaxel.check()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    compare(out["runs"])
    out["machine"]["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
