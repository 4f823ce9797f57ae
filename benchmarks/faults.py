"""Faults: calls over both adapters while the service, AMI, AGI peers and the database fail — then the invariants.

On PostgreSQL (a schema of its own, dropped afterwards) this starts ``vaxel serve`` as a real process, beside a
fake Twilio REST API (``GET /Calls/{Sid}``: the statuses this script decides) and a fake AMI (``CoreShowChannels``,
booting until told) on loopback, and drives:

* Twilio calls over real HTTP with signed requests: callers queued whose status callback is then lost (Twilio
  says ``completed``), callers mid-transfer (a ``<Dial>`` ringing) when the service is killed, and callers who stay
  (Twilio says ``in-progress``: they must *not* be closed);
* FastAGI calls over real TCP from the fake Asterisk (``tests/fakes/``), waiting in app_queue in real time when
  the service is killed; afterwards Asterisk still has some (the dialplan's fallback took them to the operators)
  and not others (they hung up);
* AGI peers that connect and go silent, or send half a variable block;
* AMI that logs in before ``FullyBooted``, then is dropped and restored after it;
* ``kill -9`` of the serving process mid-queue and mid-transfer, and a restart;
* a PostgreSQL restart (``pg_ctlcluster ... restart``; skip with ``--no-database-restart``) with a ghost made
  during it.

After each fault it waits for the reconciler and reports the invariants — open queue entries without a live
call, callbacks blocked by them, calls stuck in a state, AGI slots in use with no live peer, live calls closed by
mistake — all must be 0, and how long reconciliation took. One JSON object on stdout; progress on stderr.

    .venv/bin/python benchmarks/faults.py                       # postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/faults.py --database-url URL --no-database-restart
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from callback import queue as centre  # noqa: E402
from callback.models import CallbackRequest  # noqa: E402
from ivr.models import CallSession  # noqa: E402
from ivr.protocol import Digits, Tick  # noqa: E402
from stats import facts  # noqa: E402
from stats.models import CallEvent  # noqa: E402
from switchboard import db  # noqa: E402
from switchboard.calls import CallRunner  # noqa: E402
from core.settings import load_settings  # noqa: E402
from tests.fakes.fake_ami import FakeAmi  # noqa: E402
from tests.fakes.fake_asterisk import FakeAsterisk  # noqa: E402

VAXEL = str(Path(sys.executable).parent / "vaxel")
TZ = ZoneInfo("Europe/Stockholm")
BASE = datetime(2026, 11, 24, 9, 0, tzinfo=TZ)  # a Tuesday morning: the switchboard and bygglov are open
ACCOUNT, TOKEN = "AC" + "f" * 32, "faults-benchmark-token"
RECONCILE = {"VAXEL_RECONCILE_INTERVAL_SECONDS": "1", "VAXEL_RECONCILE_STALE_SECONDS": "4",
             "VAXEL_RECONCILE_HEARTBEAT_SECONDS": "1"}
AGI_BOUNDS = {"VAXEL_ASTERISK_AGI_ENV_SECONDS": "2", "VAXEL_ASTERISK_AGI_REPLY_SECONDS": "5"}


def say(message: str) -> None:
    print(f"[faults] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """One clock for every process: the service is (re)started at BASE + the time this script has run."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def now(self) -> datetime:
        return BASE + timedelta(seconds=time.monotonic() - self.t0)


# -- the fake Twilio REST API ----------------------------------------------------------------------------------


class TwilioRest(ThreadingHTTPServer):
    """``GET /2010-04-01/Accounts/{AC}/Calls/{CA}.json`` answered from ``statuses`` (unknown: 404)."""

    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.asked = 0
        super().__init__(("127.0.0.1", 0), _RestHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RestHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.server.asked += 1
        sid = self.path.rsplit("/", 1)[-1].split("?")[0].removesuffix(".json")
        status = self.server.statuses.get(sid)
        body = ({"sid": sid, "account_sid": ACCOUNT, "status": status, "end_time": None} if status else
                {"code": 20404, "message": f"The requested resource {self.path} was not found", "status": 404})
        data = json.dumps(body).encode()
        self.send_response(200 if status else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


# -- a Twilio caller over real HTTP --------------------------------------------------------------------------


class TwilioCaller:
    """One call as Twilio makes it: signed POSTs, every URL taken from the TwiML we got back."""

    def __init__(self, base: str, caller: str):
        self.base, self.caller = base, caller
        self.sid = "CA" + uuid.uuid4().hex

    def post(self, url: str, **extra: str) -> ET.Element:
        url = url if url.startswith("http") else self.base + url
        params = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": self.sid, "From": self.caller,
                  "To": "+46406280400", "Direction": "inbound", "CallStatus": "in-progress", **extra}
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(),
                                         headers={"X-Twilio-Signature": signature})
        with urllib.request.urlopen(request, timeout=15) as reply:
            return ET.fromstring(reply.read())

    def queue(self) -> None:
        doc = self.post("/twilio/voice", CallStatus="ringing")
        doc = self.post(doc.find("Gather").get("action"), Digits="2")
        assert doc.find("Enqueue") is not None, ET.tostring(doc)

    def transfer(self) -> None:
        doc = self.post("/twilio/voice", CallStatus="ringing")
        doc = self.post(doc.find("Gather").get("action"), Digits="1")
        doc = self.post(doc.find("Gather").get("action"), SpeechResult="torghandel", Confidence="0.9")
        assert doc.find("Dial") is not None, ET.tostring(doc)  # ringing now; the dial action never comes


# -- the service as a real process ----------------------------------------------------------------------------


class Service:
    def __init__(self, url: str, clock: Clock, ami: FakeAmi, rest: TwilioRest, workdir: Path):
        self.url, self.clock, self.ami, self.rest, self.workdir = url, clock, ami, rest, workdir
        self.web, self.agi = free_port(), free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def env(self) -> dict[str, str]:
        return {**os.environ, "VAXEL_DATABASE_URL": self.url, "VAXEL_NOW": self.clock.now().isoformat(),
                "VAXEL_PUBLIC_URL": f"http://127.0.0.1:{self.web}", "VAXEL_TWILIO_ENABLED": "true",
                "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN, "VAXEL_TWILIO_API_URL": self.rest.url,
                "VAXEL_AMI_HOST": "127.0.0.1", "VAXEL_AMI_PORT": str(self.ami.port), "VAXEL_AMI_USER": "vaxel",
                "VAXEL_AMI_SECRET": self.ami.secret, "VAXEL_ASTERISK_SOUNDS_DIR": str(self.workdir / "sounds"),
                **RECONCILE, **AGI_BOUNDS}

    def command(self, *args: str) -> str:
        return subprocess.run([VAXEL, *args], env=self.env(), check=True, capture_output=True, text=True,
                              timeout=300).stdout

    def start(self) -> float:
        """Start and wait until it answers; returns the seconds that took."""
        started = time.monotonic()
        self.starts += 1
        log = open(self.workdir / f"serve-{self.starts}.log", "w")
        self.proc = subprocess.Popen([VAXEL, "serve", "--port", str(self.web), "--agi-port", str(self.agi)],
                                     env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        while time.monotonic() - started < 60:
            if self.health() is not None:
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"vaxel serve did not come up; see {log.name}")

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web}/healthz", timeout=2) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read() or b"{}") or {"status": exc.code}
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- the AGI side ----------------------------------------------------------------------------------------------


class AgiCaller:
    """A caller on the fake Asterisk who presses 2 and then waits in app_queue in real time."""

    def __init__(self, port: int, ami: FakeAmi, n: int):
        self.uniqueid = f"1795469{n:03d}.{n}"
        self.call_id = f"ast-{self.uniqueid}"
        self.fake = FakeAsterisk(port, ["2", "queue:hold:600"], env={"agi_uniqueid": self.uniqueid,
                                                                        "agi_callerid": f"07017406{n:02d}"})
        self.channel = {"Channel": f"Local/+46406280400@vaxel-incoming-{n:08x};2", "Uniqueid": self.uniqueid,
                        "Linkedid": self.uniqueid, "Context": "vaxel-flow", "Application": "AGI",
                        "ChannelStateDesc": "Up"}
        ami.channels.append(self.channel)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.fake.run(timeout=900)
        except OSError:
            pass  # the service was killed under it


def silent_peers(port: int, whole: int, half: int) -> list[socket.socket]:
    """Connections that go silent: some send nothing, some half a variable block."""
    peers = []
    for n in range(whole + half):
        peer = socket.create_connection(("127.0.0.1", port), timeout=5)
        if n >= whole:
            peer.sendall(b"agi_network: yes\nagi_network_script: incoming\nagi_request: agi://127.0.0.1/incoming\n")
        peers.append(peer)
    return peers


# -- the invariants -----------------------------------------------------------------------------------------


def invariants(sessions, live: set[str], health: dict | None, peers: int = 0) -> dict[str, int]:
    """``live``: the calls a platform truly still runs through vaxel; ``peers``: FastAGI callers still connected."""
    with sessions() as session:
        open_entries = session.scalars(select(centre.QueueEntry).where(centre.QueueEntry.left_at.is_(None))).all()
        ghosts = [e for e in open_entries if e.call_id not in live]
        stuck = session.scalars(select(CallSession.call_id).where(CallSession.ended_at.is_(None))).all()
        closed_by_mistake = session.scalar(select(func.count()).select_from(CallSession).where(
            CallSession.call_id.in_(live), CallSession.ended_at.is_not(None))) or 0
        blocked = 0
        for request in session.scalars(select(CallbackRequest).where(CallbackRequest.status == "pending",
                                                                     CallbackRequest.kind == "queue")):
            entry = session.get(centre.QueueEntry, request.queue_entry_id) if request.queue_entry_id else None
            if entry is not None and any((g.priority, -g.joined_at.timestamp()) > (entry.priority,
                                                                                   -entry.joined_at.timestamp())
                                         for g in ghosts):
                blocked += 1
    agi = (health or {}).get("agi") or {}
    return {"open_queue_entries_without_live_call": len(ghosts),
            "callbacks_blocked_by_them": blocked,
            "calls_stuck_in_a_state": len([c for c in stuck if c not in live]),
            "agi_slots_in_use_without_live_peer": max(0, int(agi.get("in_use", 0)) - peers),
            "live_calls_closed_by_mistake": closed_by_mistake}


def settle(sessions, service: Service, live: set[str], agi: list | None = None,
           limit: float = 90.0) -> tuple[dict[str, int], float]:
    """Wait until every invariant is 0 (or ``limit``); returns the invariants and the seconds it took."""
    started = time.monotonic()
    while True:
        peers = sum(1 for caller in agi or () if caller.thread.is_alive())
        found = invariants(sessions, live, service.health(), peers)
        if not any(found.values()) or time.monotonic() - started > limit:
            return found, round(time.monotonic() - started, 2)
        time.sleep(0.25)


def callback_behind(sessions, settings, clock: Clock) -> None:
    """A caller who queues now, takes the callback offer after two minutes and hangs up: a place kept in line."""
    runner = CallRunner(sessions, settings, channel="simulator")
    now, call_id = clock.now(), f"sim-{uuid.uuid4().hex[:12]}"
    runner.start(call_id, now, caller="+46701740690")
    runner.handle(call_id, Digits("2"), now)
    later = now + timedelta(seconds=130)
    for inp in (Tick(), Digits("1"), Digits("1")):
        runner.handle(call_id, inp, later)


# -- the run ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--twilio-calls", type=int, default=4, help="callers per Twilio fault (default 4)")
    parser.add_argument("--agi-calls", type=int, default=4, help="FastAGI callers in app_queue (default 4)")
    parser.add_argument("--no-database-restart", action="store_true")
    args = parser.parse_args()

    schema = f"bench_faults_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database_url, pool_pre_ping=True)  # it outlives the database restart
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.database_url else "?"
    url = f"{args.database_url}{sep}options=-csearch_path%3D{schema}"
    workdir = Path(f"/tmp/{schema}")
    workdir.mkdir()
    clock, ami, rest = Clock(), FakeAmi(secret="faults", booting=True), TwilioRest()
    service = Service(url, clock, ami, rest, workdir)
    engine = create_engine(url, pool_pre_ping=True)
    sessions = sessionmaker(engine, expire_on_commit=False)
    settings = load_settings(environ={}, overrides={"database": {"url": url}})
    facts.install(sessions, settings["service"]["timezone"])
    report: dict = {"benchmark": "faults", "database": "postgresql", "schema": schema, "phases": {}}
    live: set[str] = set()
    try:
        db.import_models()
        service.command("db", "upgrade")
        service.command("demo", "load")
        report["first_start_seconds"] = round(service.start(), 2)
        say(f"vaxel serve up on :{service.web} (AGI :{service.agi}); AMI still booting")

        # 1. traffic, with AMI logged in before FullyBooted
        base = f"http://127.0.0.1:{service.web}"
        lost = [TwilioCaller(base, f"+467017406{n:02d}") for n in range(args.twilio_calls)]
        ringing = [TwilioCaller(base, f"+467017407{n:02d}") for n in range(args.twilio_calls)]
        staying = [TwilioCaller(base, f"+467017408{n:02d}") for n in range(args.twilio_calls)]
        for caller in lost + staying:
            rest.statuses[caller.sid] = "in-progress"
            caller.queue()
        for caller in ringing:
            rest.statuses[caller.sid] = "in-progress"
            caller.transfer()
        live |= {c.sid for c in staying}
        agi = [AgiCaller(service.agi, ami, n) for n in range(args.agi_calls)]
        peers = silent_peers(service.agi, 3, 2)
        callback_behind(sessions, settings, clock)
        time.sleep(2)
        ami.finish_booting()
        say("AMI FullyBooted; dropping it once more after the boot")
        time.sleep(1)
        ami.drop()
        for caller in lost:
            rest.statuses[caller.sid] = "completed"  # they hung up; their status callbacks never arrived
        found, took = settle(sessions, service, live | {a.call_id for a in agi} | {c.sid for c in ringing}, agi)
        report["phases"]["lost_status_callbacks_and_silent_agi_peers"] = {**found, "reconcile_seconds": took}
        say(f"lost status callbacks: {found} in {took} s")

        # 2. kill -9 mid-queue (Twilio and AGI) and mid-transfer, then restart
        service.kill()
        for caller in ringing:
            rest.statuses[caller.sid] = "completed"  # nobody answered; the caller gave up during the outage
        for n, caller in enumerate(agi):
            caller.thread.join(timeout=30)
            if n % 2:  # hung up; the others the dialplan's fallback took to the operators
                ami.channels.remove(caller.channel)
            else:
                caller.channel.update(Context="vaxel-operators", Application="Queue")
        for peer in peers:
            peer.close()
        restarted = service.start()
        found, took = settle(sessions, service, live)
        report["phases"]["kill_9_and_restart"] = {**found, "restart_seconds": round(restarted, 2),
                                                  "reconcile_seconds": took}
        say(f"kill -9 and restart: {found} in {took} s")

        # 3. a database restart, with a ghost made while it happens
        if not args.no_database_restart:
            during = TwilioCaller(base, "+46701740699")
            rest.statuses[during.sid] = "in-progress"
            during.queue()
            cluster = sorted(os.listdir("/etc/postgresql"))[0]
            started = time.monotonic()
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"], check=True,
                           capture_output=True, timeout=120)
            rest.statuses[during.sid] = "completed"
            after = TwilioCaller(base, "+46701740698")
            rest.statuses[after.sid] = "in-progress"
            for _ in range(60):  # the service serves again once the database is back
                try:
                    after.queue()
                    break
                except (OSError, AssertionError):
                    time.sleep(0.5)
            live.add(after.sid)
            found, took = settle(sessions, service, live)
            report["phases"]["database_restart"] = {**found, "database_down_seconds": round(
                time.monotonic() - started - took, 2), "reconcile_seconds": took}
            say(f"database restart: {found} in {took} s")

        final = invariants(sessions, live, service.health())
        with sessions() as session:
            reconciled = session.scalar(select(func.count()).select_from(CallEvent)
                                       .where(CallEvent.type == "reconciled")) or 0
        report.update(invariants=final, all_zero=not any(final.values()), calls_reconciled=reconciled,
                      calls_left_live=len(live), twilio_status_requests=rest.asked,
                      ami_logins=ami.logins)
    finally:
        service.stop()
        ami.close()
        rest.shutdown()
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
