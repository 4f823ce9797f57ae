"""vaxel against a real Asterisk: app_queue, FastAGI and AMI, and a vaxel killed while a caller waits.

Opt-in: these tests need an Asterisk built as ``../shared/REAL-ASTERISK.md`` says and ``ASTERISK_PREFIX``
pointing at it (``ASTERISK_PREFIX=/opt/asterisk pytest tests/test_real_asterisk.py``); without it they skip.

Each test starts a private Asterisk (every directory in ``tmp_path``, AMI on a free loopback port) that loads
the project's ``config/asterisk/`` files unmodified but for the FastAGI port, and ``vaxel serve`` as a real
process on a migrated SQLite database with the demo municipality. Callers are AMI ``Originate``\\s of
``Local/<number>@vaxel-incoming`` whose other half runs a test context that presses keys with ``SendDTMF``.
What happened is read from vaxel's own tables (``call_sessions``, ``queue_entries``, ``call_events``) and
from AMI events. Nothing is left running: Asterisk is stopped with ``core stop now`` (then killed, if it
has to be) and every vaxel process is ended by the fixtures that started it.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from callback.queue import QueueEntry
from ivr.models import CallSession
from stats.models import CallEvent
from tests.test_serve import free_port

PREFIX = os.environ.get("ASTERISK_PREFIX", "")
pytestmark = pytest.mark.skipif(
    not PREFIX, reason="needs a real Asterisk built as ../shared/REAL-ASTERISK.md says; set ASTERISK_PREFIX")

ROOT = Path(__file__).resolve().parent.parent
VAXEL = str(Path(sys.executable).parent / "vaxel")
NOW = datetime.fromisoformat("2026-11-24T10:00:00+01:00")  # a Tuesday morning: the switchboard is open
NUMBER = "+46406280400"  # the municipality's single number (Swedish)
AGI_DEFAULT = "127.0.0.1:4573"
TEST_USER, TEST_SECRET = "vaxeltest", "test-" + uuid.uuid4().hex
VAXEL_SECRET = "vaxel-" + uuid.uuid4().hex

# The people on the line, as dialplan. A citizen is the ;1 half of a Local channel whose ;2 half runs vaxel's
# [vaxel-incoming]: what ;1 plays (SendDTMF) is what the caller presses.
TEST_CONTEXTS = """
[test-caller-press2]
; a citizen who waits for the menu, presses 2 (help with a matter: the centre queue) and stays on the line
exten => s,1,Wait(4)
 same => n,SendDTMF(2)
 same => n,Wait(60)
 same => n,Hangup()

[test-caller-press2-patient]
; the same citizen, patient enough to still be there when the dialplan's fallback takes over
exten => s,1,Wait(4)
 same => n,SendDTMF(2)
 same => n,Wait(150)
 same => n,Hangup()

[test-staff-noanswer]
; VAXEL_ASTERISK_DIAL_TEMPLATE points here: a desk phone that rings and rings
exten => _X.,1,Wait(60)
 same => n,Hangup()

[test-caller-ask-4439]
; a citizen who presses 1 (a person or a matter) and keys Sven Olofsson's extension, then stays on the line
exten => s,1,Wait(4)
 same => n,SendDTMF(1)
 same => n,Wait(3)
 same => n,SendDTMF(4439#)
 same => n,Wait(90)
 same => n,Hangup()

[test-staff-silent]
; staff side that answers (a voicemail, an answering service) and never presses a key
exten => _X.,1,Answer()
 same => n,Wait(40)
 same => n,Hangup()

[test-staff-press1]
; a person who answers, hears the answer confirmation, presses 1, talks a little and hangs up
exten => _X.,1,Answer()
 same => n,Wait(2)
 same => n,SendDTMF(1)
 same => n,Wait(6)
 same => n,Hangup()
"""


# -- a small AMI client of the test's own (vaxel's AmiClient is what is under test) ---------------------------

class Ami:
    """One AMI session: every event kept in order, responses matched by ActionID."""

    def __init__(self, port: int, user: str, secret: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.sock.settimeout(None)
        self.reader = self.sock.makefile("rb")
        self.banner = self.reader.readline().decode().strip()
        self.events: list[dict[str, str]] = []
        self.responses: dict[str, dict[str, str]] = {}
        self.cond = threading.Condition()
        self.closed = False
        self._ids = itertools.count(1)
        threading.Thread(target=self._read, name="test-ami", daemon=True).start()
        reply = self.action("Login", Username=user, Secret=secret)
        assert reply.get("Response") == "Success", reply

    def _read(self) -> None:
        message: dict[str, str] = {}
        try:
            for raw in self.reader:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line:
                    key, _, value = line.partition(":")
                    message.setdefault(key.strip(), value.strip())
                    continue
                if message:
                    with self.cond:
                        message["_t"] = f"{time.monotonic():.3f}"  # when it arrived
                        message["_n"] = str(len(self.events))  # its place in the stream
                        if "Event" in message:
                            self.events.append(message)
                        elif "ActionID" in message:
                            self.responses[message["ActionID"]] = message
                        self.cond.notify_all()
                    message = {}
        except (OSError, ValueError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def action(self, name: str, timeout: float = 10.0, **headers: str) -> dict[str, str]:
        action_id = f"t{next(self._ids)}"
        lines = [f"Action: {name}", f"ActionID: {action_id}", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        with self.cond:
            if not self.cond.wait_for(lambda: action_id in self.responses or self.closed, timeout):
                raise TimeoutError(f"no AMI response to {name} within {timeout} s")
            if action_id not in self.responses:
                raise ConnectionError(f"AMI connection closed while waiting for {name}")
            return self.responses.pop(action_id)

    def listing(self, name: str, timeout: float = 10.0, **headers: str) -> list[dict[str, str]]:
        """A list action's events (CoreShowChannels ...), up to its ...Complete event."""
        action_id = f"t{next(self._ids)}"
        lines = [f"Action: {name}", f"ActionID: {action_id}", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        mine = lambda: [e for e in self.events if e.get("ActionID") == action_id]  # noqa: E731
        with self.cond:
            if not self.cond.wait_for(lambda: any(e.get("EventList") == "Complete" for e in mine()), timeout):
                raise TimeoutError(f"no complete AMI listing for {name} within {timeout} s")
            return [e for e in mine() if e.get("EventList") != "Complete"]

    def channels(self) -> list[dict[str, str]]:
        return [e for e in self.listing("CoreShowChannels") if e.get("Event") == "CoreShowChannel"]

    def wait_event(self, match: Callable[[dict[str, str]], bool], timeout: float, what: str) -> dict[str, str]:
        with self.cond:
            found: list[dict[str, str]] = []

            def seen() -> bool:
                found[:] = [e for e in self.events if match(e)]
                return bool(found)

            if not self.cond.wait_for(seen, timeout):
                raise AssertionError(f"no AMI event {what} within {timeout} s")
            return found[0]

    def close(self) -> None:
        try:
            self.sock.sendall(b"Action: Logoff\r\n\r\n")
        except OSError:
            pass
        self.sock.close()


# -- a private Asterisk -----------------------------------------------------------------------------------------

class Asterisk:
    def __init__(self, base: Path, agi_port: int):
        self.base, self.agi_port = base, agi_port
        self.binary = str(Path(PREFIX) / "sbin" / "asterisk")
        self.conf = base / "asterisk.conf"
        self.etc = base / "etc"
        self.ami_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.out = None
        self.ami: Ami | None = None

    def write_config(self) -> None:
        dirs = {name: self.base / name for name in ("etc", "varlib", "db", "spool", "run", "log", "keys", "agi-bin")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        assert len(str(dirs["run"] / "asterisk.ctl")) < 100, "the control socket path is too long for a socket"
        self.conf.write_text(f"""[directories]
astetcdir => {dirs['etc']}
astmoddir => {PREFIX}/lib/asterisk/modules
astvarlibdir => {dirs['varlib']}
astdbdir => {dirs['db']}
astkeydir => {dirs['keys']}
astdatadir => {PREFIX}/var/lib/asterisk
astagidir => {dirs['agi-bin']}
astspooldir => {dirs['spool']}
astrundir => {dirs['run']}
astlogdir => {dirs['log']}
astsbindir => {PREFIX}/sbin

[options]
verbose = 3
nocolor = yes
""")
        etc = self.etc
        # Only what a call needs; modules without a configuration file decline to load.
        (etc / "modules.conf").write_text("[modules]\nautoload = yes\n")
        (etc / "logger.conf").write_text(
            "[general]\ndateformat = %F %T.%3q\n[logfiles]\nmessages.log => notice,warning,error,dtmf,verbose(3)\n")
        shipped = ROOT / "config" / "asterisk"
        dialplan = (shipped / "extensions_vaxel.conf").read_text()
        assert f"agi://{AGI_DEFAULT}/" in dialplan
        (etc / "extensions_vaxel.conf").write_text(dialplan.replace(AGI_DEFAULT, f"127.0.0.1:{self.agi_port}"))
        (etc / "extensions.conf").write_text(
            "[general]\nstatic = yes\nwriteprotect = yes\n\n[globals]\n\n"
            "#include extensions_vaxel.conf\n" + TEST_CONTEXTS)
        (etc / "queues_vaxel.conf").write_text((shipped / "queues_vaxel.conf").read_text())
        (etc / "queues.conf").write_text("[general]\npersistentmembers = no\n\n#include queues_vaxel.conf\n")
        manager = (shipped / "manager_vaxel.conf").read_text()
        assert "replace-with-a-long-random-secret" in manager
        (etc / "manager_vaxel.conf").write_text(manager.replace("replace-with-a-long-random-secret", VAXEL_SECRET))
        (etc / "manager.conf").write_text(f"""[general]
enabled = yes
port = {self.ami_port}
bindaddr = 127.0.0.1

[{TEST_USER}]
secret = {TEST_SECRET}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = all
write = all

#include manager_vaxel.conf
""")

    def start(self, timeout: float = 120.0) -> None:
        self.write_config()
        # -f: no fork, so this Popen is the Asterisk process and the finaliser can always account for it
        self.out = open(self.base / "stdout.log", "wb")
        self.proc = subprocess.Popen([self.binary, "-f", "-C", str(self.conf)], stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        ctl = self.base / "run" / "asterisk.ctl"
        while not ctl.exists():
            assert self.proc.poll() is None, f"asterisk exited with {self.proc.returncode}\n{self.logs()}"
            assert time.monotonic() < deadline, f"no {ctl} within {timeout} s\n{self.logs()}"
            time.sleep(0.1)
        self.ami = Ami(self.ami_port, TEST_USER, TEST_SECRET, timeout=max(1.0, deadline - time.monotonic()))
        self.ami.wait_event(lambda e: e.get("Event") == "FullyBooted", max(1.0, deadline - time.monotonic()),
                            "FullyBooted")
        for needed in ("app_queue", "res_agi", "format_wav", "pbx_config", "app_senddtmf"):
            shown = self.rx(f"module show like {needed}")
            assert f"{needed}.so" in shown, f"module {needed} not loaded:\n{shown}"

    def rx(self, command: str, timeout: float = 30.0) -> str:
        done = subprocess.run([self.binary, "-C", str(self.conf), "-rx", command], capture_output=True, text=True,
                              timeout=timeout)
        return done.stdout + done.stderr

    def stop(self) -> None:
        if self.ami is not None:
            self.ami.close()
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.rx("core stop now", timeout=20)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.out is not None:
            self.out.close()

    def logs(self, lines: int = 250) -> str:
        out = []
        for path in (self.base / "stdout.log", self.base / "log" / "messages.log"):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()
                out.append(f"---- {path} (last {lines} lines) ----\n" + "\n".join(text[-lines:]))
        return "\n".join(out)

    def originate(self, context: str, other_id: str, caller: str = "+46701234567") -> dict[str, str]:
        """A citizen calling the municipal number; ``other_id`` becomes the uniqueid vaxel sees (``ast-<id>``).
        ``/n``: the Local channel is never optimised away (README, "Run on Asterisk"). Asterisk compares
        uniqueids by prefix, so the ;1 half's id must not start with ``other_id``."""
        reply = self.ami.action("Originate", Channel=f"Local/{NUMBER}@vaxel-incoming/n", Context=context, Exten="s",
                                Priority="1", CallerID=f'"Medborgare" <{caller}>', Timeout="20000", Async="true",
                                ChannelId=f"orig-{other_id}", OtherChannelId=other_id)
        assert reply.get("Response") == "Success", reply
        return reply

    def queue_join(self, uniqueid: str, timeout: float) -> dict[str, str]:
        return self.ami.wait_event(lambda e: e.get("Event") == "QueueCallerJoin" and e.get("Uniqueid") == uniqueid,
                                   timeout, f"QueueCallerJoin of {uniqueid}")


# -- vaxel serve as a real process ------------------------------------------------------------------------------

class Vaxel:
    """``vaxel serve`` processes, one after another, on the same ports and database."""

    def __init__(self, base: Path, env: dict[str, str]):
        self.base, self.env = base, env
        self.web = int(env["VAXEL_SERVICE_PORT"])
        self.proc: subprocess.Popen | None = None
        self.runs = 0
        self.first_start: float | None = None
        self.out = None

    def cli(self, *args: str) -> str:
        done = subprocess.run([VAXEL, *args], env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"vaxel {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def log_path(self, run: int) -> Path:
        return self.base / f"vaxel-serve-{run}.log"

    def start(self, timeout: float = 60.0) -> None:
        env = dict(self.env)
        if self.first_start is None:
            self.first_start = time.monotonic()
        else:
            # VAXEL_NOW starts the service clock at that instant in *each* process: a restarted service given the
            # same VAXEL_NOW would be behind the times it wrote itself. A real clock runs on; so does this one.
            env["VAXEL_NOW"] = (NOW + timedelta(seconds=time.monotonic() - self.first_start)).isoformat()
        self.runs += 1
        self.out = open(self.log_path(self.runs), "wb")
        self.proc = subprocess.Popen([VAXEL, "serve"], env=env, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"vaxel serve exited with {self.proc.returncode}\n{self.logs()}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.web}/healthz", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, f"vaxel serve not up within {timeout} s\n{self.logs()}"
                time.sleep(0.2)
        out = self.log_path(self.runs).read_text(errors="replace")
        assert f"vaxel FastAGI on agi://127.0.0.1:{self.env['VAXEL_ASTERISK_AGI_PORT']}/incoming" in out, out
        assert "AMI: connecting to 127.0.0.1" in out, out

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL
        self.out.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.out is not None:
            self.out.close()

    def logs(self) -> str:
        return "\n".join(f"---- {self.log_path(n)} ----\n{self.log_path(n).read_text(errors='replace')}"
                         for n in range(1, self.runs + 1) if self.log_path(n).exists())


# -- fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sounds(tmp_path_factory) -> Path:
    """The default flow's prompts as audio, built once (espeak-ng and sox): a caller's keys land in a prompt,
    not in a synthesis pause."""
    root = tmp_path_factory.mktemp("sounds")
    env = {**_clean_environ(), "VAXEL_ASTERISK_SOUNDS_DIR": str(root),
           "VAXEL_DATABASE_URL": f"sqlite:///{root / 'unused.db'}"}
    done = subprocess.run([VAXEL, "prompts", "build", "--flow-file", str(ROOT / "config" / "flows" / "default.toml")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def _clean_environ() -> dict[str, str]:
    """The test's environment without any VAXEL_* setting of the developer's own shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VAXEL_")}


@pytest.fixture
def pbx(request, tmp_path, sounds):
    """A private Asterisk and ``vaxel serve`` on a fresh database; everything they started is ended.
    Parametrised indirectly, ``request.param`` overrides vaxel's environment (the staff a transfer rings)."""
    agi_port, web_port = free_port(), free_port()
    asterisk = Asterisk(tmp_path / "ast", agi_port)
    vaxel = Vaxel(tmp_path, {
        **_clean_environ(),
        "PYTHONUNBUFFERED": "1",  # what vaxel said is in its log even after kill -9
        "VAXEL_DATABASE_URL": f"sqlite:///{tmp_path / 'vaxel.db'}",
        "VAXEL_NOW": NOW.isoformat(),
        "VAXEL_SERVICE_PORT": str(web_port),
        "VAXEL_ASTERISK_AGI_PORT": str(agi_port),
        "VAXEL_ASTERISK_SOUNDS_DIR": str(sounds),
        "VAXEL_ASTERISK_DIAL_TEMPLATE": "Local/{extension}@test-staff-noanswer",
        "VAXEL_ASTERISK_OUTBOUND_TEMPLATE": "Local/{number}@test-staff-noanswer",
        "VAXEL_AMI_HOST": "127.0.0.1",
        "VAXEL_AMI_PORT": str(asterisk.ami_port),
        "VAXEL_AMI_USER": "vaxel",  # the user of the shipped manager_vaxel.conf, with its permissions
        "VAXEL_AMI_SECRET": VAXEL_SECRET,
        "VAXEL_RECONCILE_INTERVAL_SECONDS": "1",
        "VAXEL_RECONCILE_STALE_SECONDS": "5",
        "VAXEL_RECONCILE_HEARTBEAT_SECONDS": "1",
        **getattr(request, "param", {}),
    })
    engine = None
    try:
        vaxel.cli("db", "upgrade")
        vaxel.cli("demo", "load")
        asterisk.start()
        vaxel.start()
        engine = create_engine(vaxel.env["VAXEL_DATABASE_URL"])
        yield asterisk, vaxel, engine
    finally:
        try:
            vaxel.stop()
        finally:
            asterisk.stop()
        # printed always; pytest shows it only when the test failed
        print(vaxel.logs())
        print(asterisk.logs())
        if asterisk.ami is not None:
            print("---- AMI events (calls) ----")
            for e in asterisk.ami.events:
                if e.get("Event") in ("Newchannel", "Hangup", "QueueCallerJoin", "QueueCallerLeave",
                                      "QueueCallerAbandon", "AGIExecStart", "AGIExecEnd", "OriginateResponse",
                                      "Newexten", "SuccessfulAuth", "FailedACL", "InvalidPassword"):
                    print(json.dumps(e, ensure_ascii=False))
        if engine is not None:
            print("---- vaxel's database ----")
            print(_dump(engine))
            engine.dispose()


# -- reading vaxel's books --------------------------------------------------------------------------------------

def _dump(engine) -> str:
    with Session(engine) as s:
        lines = [f"call {c.call_id} started={c.started_at} updated={c.updated_at} alive={c.alive_at} "
                 f"ended={c.ended_at}" for c in s.scalars(select(CallSession))]
        lines += [f"queue entry {q.id} {q.call_id} {q.queue} pos={q.position_at_join} joined={q.joined_at} "
                  f"left={q.left_at} outcome={q.outcome}" for q in s.scalars(select(QueueEntry))]
        lines += [f"event {e.call_id} #{e.step}.{e.seq} {e.at} {e.type} {json.dumps(e.data, ensure_ascii=False)}"
                  for e in s.scalars(select(CallEvent).order_by(CallEvent.call_id, CallEvent.step, CallEvent.seq))]
    return "\n".join(lines)


def entries(engine, call_id: str) -> list[QueueEntry]:
    with Session(engine) as s:
        return list(s.scalars(select(QueueEntry).where(QueueEntry.call_id == call_id)))


def open_entries(engine) -> list[QueueEntry]:
    with Session(engine) as s:
        return list(s.scalars(select(QueueEntry).where(QueueEntry.left_at.is_(None))))


def events(engine, call_id: str, kind: str | None = None) -> list[CallEvent]:
    with Session(engine) as s:
        query = select(CallEvent).where(CallEvent.call_id == call_id)
        if kind:
            query = query.where(CallEvent.type == kind)
        return list(s.scalars(query.order_by(CallEvent.step, CallEvent.seq)))


def call(engine, call_id: str) -> CallSession | None:
    with Session(engine) as s:
        return s.get(CallSession, call_id)


def eventually(check: Callable[[], object], timeout: float, what: str, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(every)


def heard(asterisk: Asterisk, uniqueid: str) -> list[str]:
    """The texts Asterisk played to this channel, in order: each ``STREAM FILE``'s file and the text beside it."""
    texts = []
    for e in list(asterisk.ami.events):
        if e.get("Event") == "AGIExecStart" and e.get("Uniqueid") == uniqueid \
                and e.get("Command", "").upper().startswith("STREAM FILE"):
            name = shlex.split(e["Command"])[2]
            txt = Path(name + ".txt")
            texts.append(txt.read_text(encoding="utf-8").strip() if txt.exists() else f"<{name}>")
    return texts


def position_heard(texts: list[str]) -> str | None:
    """The number said after the last "Du är nummer" (the queue message is played in pieces around numbers)."""
    starts = [i for i, text in enumerate(texts) if text == "Du är nummer"]
    return texts[starts[-1] + 1] if starts and starts[-1] + 1 < len(texts) else None


def new_uniqueid() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 100000}"


# -- the tests --------------------------------------------------------------------------------------------------

def test_a_citizen_presses_2_and_waits_in_the_real_centre_queue(pbx):
    asterisk, vaxel, engine = pbx
    uid = new_uniqueid()
    call_id = f"ast-{uid}"
    asterisk.originate("test-caller-press2", uid)

    joined = asterisk.queue_join(uid, timeout=45)
    assert joined["Queue"] == "vaxel-centre"
    asterisk.ami.wait_event(lambda e: e.get("Event") == "AGIExecStart" and e.get("Uniqueid") == uid
                            and e.get("Command", "").startswith("EXEC Queue"), 5, "EXEC Queue over FastAGI")

    waiting = eventually(lambda: [q for q in entries(engine, call_id) if q.left_at is None], 10,
                         "an open queue entry in vaxel's books")
    assert len(waiting) == 1 and waiting[0].queue == "centre" and waiting[0].position_at_join == 1
    choice = events(engine, call_id, "menu_choice")
    assert [(e.data["digit"], e.data["option"]) for e in choice] == [("2", "case")]
    (join,) = events(engine, call_id, "queue_joined")
    assert join.data["position"] == 1
    row = call(engine, call_id)
    assert row.channel == "asterisk" and row.ended_at is None and row.called == NUMBER
    texts = heard(asterisk, uid)
    assert texts[0] == "Välkommen till Sjöbacka kommun.", texts
    assert position_heard(texts) == "1", texts
    # the FastAGI process beats for the call while Asterisk runs Queue
    eventually(lambda: call(engine, call_id).alive_at is not None, 5, "a heartbeat (alive_at) for the call")

    shown = json.loads(vaxel.cli("calls", "show", call_id, "--json"))
    assert shown["channel"] == "asterisk" and shown["status"] == "queue" and shown["menu_choice"] == "case"

    # the caller hangs up in the queue: Queue returns, vaxel closes the entry as abandoned
    asterisk.ami.action("Hangup", Channel=joined["Channel"])
    gone = eventually(lambda: [q for q in entries(engine, call_id) if q.left_at is not None], 15,
                      "the entry closed after the caller hung up")
    assert gone[0].outcome == "abandoned"
    assert call(engine, call_id).ended_at is not None
    assert open_entries(engine) == []


def test_b_killed_vaxel_leaves_no_ghost_in_the_queue(pbx):
    asterisk, vaxel, engine = pbx
    uid = new_uniqueid()
    call_id = f"ast-{uid}"
    asterisk.originate("test-caller-press2-patient", uid)
    joined = asterisk.queue_join(uid, timeout=45)
    eventually(lambda: [q for q in entries(engine, call_id) if q.left_at is None], 10, "an open queue entry")
    eventually(lambda: call(engine, call_id).alive_at is not None, 5, "a heartbeat (alive_at) for the call")

    vaxel.kill9()
    killed = time.monotonic()
    # Asterisk keeps the caller: the FastAGI socket is dead, but Queue runs on until its slice ends
    assert any(c.get("Uniqueid") == uid for c in asterisk.ami.channels())
    (entry,) = entries(engine, call_id)
    assert entry.left_at is None  # the ghost: a queue entry nobody will ever close ...

    vaxel.start()  # ... unless the next vaxel does: same ports, same database
    closed = eventually(lambda: [q for q in entries(engine, call_id) if q.left_at is not None],
                        max(1.0, 30 - (time.monotonic() - killed)), "the old queue entry closed by the reconciler")
    print(f"ghost closed {time.monotonic() - killed:.1f} s after kill -9")
    assert closed[0].outcome == "handed_off"  # the caller is still on the line: not a lost call
    row = call(engine, call_id)
    assert row.ended_at is not None
    assert [e.data["reason"] for e in events(engine, call_id, "call_ended")] == ["handed_to_pbx"]
    (reconciled,) = events(engine, call_id, "reconciled")
    assert reconciled.data["platform"] == "asterisk"
    why = reconciled.data["why"]
    assert "no vaxel process holds its FastAGI connection" in why
    # the caller never hung up, so AMI still shows the channel: the dialplan's fallback has (or will have) it
    assert "Asterisk still has the channel" in why, why
    assert open_entries(engine) == []

    # a new caller is first in line: no ghost in front
    uid2 = new_uniqueid()
    asterisk.originate("test-caller-press2", uid2)
    asterisk.queue_join(uid2, timeout=45)
    waiting = eventually(lambda: [q for q in entries(engine, f"ast-{uid2}") if q.left_at is None], 10,
                         "the new caller's open queue entry")
    assert waiting[0].position_at_join == 1
    (join,) = events(engine, f"ast-{uid2}", "queue_joined")
    assert join.data["position"] == 1
    texts = heard(asterisk, uid2)
    assert position_heard(texts) == "1", texts
    assert [q.call_id for q in open_entries(engine)] == [f"ast-{uid2}"]

    # and the first caller was never dropped: when Queue's slice ends, the dead FastAGI session ends and the
    # dialplan takes the caller to the operators ([vaxel-operators], straight into the centre queue)
    fallback = asterisk.ami.wait_event(
        lambda e: e.get("Event") == "Newexten" and e.get("Uniqueid") == uid and e.get("Context") == "vaxel-operators",
        max(1.0, 80 - (time.monotonic() - float(joined["_t"]))), "the first caller in [vaxel-operators]")
    asterisk.ami.wait_event(lambda e: e.get("Event") == "QueueCallerJoin" and e.get("Uniqueid") == uid
                            and int(e["_n"]) > int(fallback["_n"]), 10, "the first caller back in vaxel-centre")
    # vaxel's books are not reopened by it
    assert call(engine, call_id).ended_at is not None
    assert [q.call_id for q in open_entries(engine)] == [f"ast-{uid2}"]


def test_c_caller_gone_while_vaxel_was_down_is_closed_as_gone(pbx):
    asterisk, vaxel, engine = pbx
    uid = new_uniqueid()
    call_id = f"ast-{uid}"
    asterisk.originate("test-caller-press2", uid)
    joined = asterisk.queue_join(uid, timeout=45)
    eventually(lambda: call(engine, call_id).alive_at is not None, 10, "a heartbeat (alive_at) for the call")

    vaxel.kill9()
    killed = time.monotonic()
    asterisk.ami.action("Hangup", Channel=joined["Channel"])  # the caller gives up while nobody runs the call
    asterisk.ami.wait_event(lambda e: e.get("Event") == "Hangup" and e.get("Uniqueid") == uid, 10, "the hang-up")
    assert not any(uid in (c.get("Uniqueid"), c.get("Linkedid")) for c in asterisk.ami.channels())

    vaxel.start()
    closed = eventually(lambda: [q for q in entries(engine, call_id) if q.left_at is not None],
                        max(1.0, 30 - (time.monotonic() - killed)), "the old queue entry closed by the reconciler")
    assert closed[0].outcome in ("reconciled", "abandoned")
    (reconciled,) = events(engine, call_id, "reconciled")
    assert reconciled.data["platform"] == "asterisk"
    assert reconciled.data["why"] == ("no vaxel process holds its FastAGI connection and Asterisk has no such "
                                      "channel"), reconciled.data
    assert call(engine, call_id).ended_at is not None and open_entries(engine) == []


# -- answer confirmation: a voicemail is not a person reached (issue 16) ---------------------------------------

def _transfer_to_sven(pbx) -> tuple[str, str]:
    """A citizen asks for extension 4439; returns their uniqueid and vaxel's call id once the transfer rings."""
    asterisk, _, engine = pbx
    uid = new_uniqueid()
    asterisk.originate("test-caller-ask-4439", uid)
    eventually(lambda: events(engine, f"ast-{uid}", "transfer_started"), 45, "the transfer to Sven Olofsson")
    dial = asterisk.ami.wait_event(lambda e: e.get("Event") == "AGIExecStart" and e.get("Uniqueid") == uid
                                   and e.get("Command", "").startswith("EXEC Dial"), 10, "EXEC Dial over FastAGI")
    assert "U(vaxel-confirm^" in dial["Command"], dial["Command"]
    return uid, f"ast-{uid}"


@pytest.mark.parametrize("pbx", [{"VAXEL_ASTERISK_DIAL_TEMPLATE": "Local/{extension}@test-staff-silent"}],
                         indirect=True)
def test_d_staff_side_answers_and_presses_nothing_the_caller_is_back_in_the_queue(pbx):
    asterisk, vaxel, engine = pbx
    uid, call_id = _transfer_to_sven(pbx)
    # the staff leg ran vaxel-confirm: it heard the whisper and Read timed out
    asterisk.ami.wait_event(lambda e: e.get("Event") == "Newexten" and e.get("Context") == "vaxel-confirm"
                            and e.get("Application") == "Read", 20, "vaxel-confirm's Read on the staff leg")
    joined = asterisk.queue_join(uid, timeout=40)
    assert joined["Queue"] == "vaxel-centre"
    (failed,) = events(engine, call_id, "transfer_failed")
    assert failed.data["reason"] == "not-accepted" and failed.data["target"] == "Sven Olofsson"
    assert [e.data["reason"] for e in events(engine, call_id, "returned_to_queue")] == ["not-accepted"]
    assert events(engine, call_id, "transfer_answered") == []
    (join,) = events(engine, call_id, "queue_joined")
    assert join.data["returned"] is True and join.data["position"] == 1
    assert any("svarar inte just nu" in text for text in heard(asterisk, uid)), heard(asterisk, uid)
    # the staff leg was hung up by app_dial (GOSUB_RESULT=CONTINUE), not left talking to nobody
    assert not any("test-staff-silent" in c.get("Channel", "") for c in asterisk.ami.channels())
    asterisk.ami.action("Hangup", Channel=joined["Channel"])


@pytest.mark.parametrize("pbx", [{"VAXEL_ASTERISK_DIAL_TEMPLATE": "Local/{extension}@test-staff-press1"}],
                         indirect=True)
def test_e_staff_side_presses_1_and_the_caller_is_bridged(pbx):
    asterisk, vaxel, engine = pbx
    uid, call_id = _transfer_to_sven(pbx)
    asterisk.ami.wait_event(lambda e: e.get("Event") == "BridgeEnter" and e.get("Uniqueid") == uid, 30,
                            "the caller in a bridge with the staff leg")
    answered = eventually(lambda: events(engine, call_id, "transfer_answered"), 30,
                          "transfer_answered once the talk is over")
    assert answered[0].data["target"] == "Sven Olofsson"
    assert events(engine, call_id, "transfer_failed") == []
    assert events(engine, call_id, "queue_joined") == []
    ended = eventually(lambda: events(engine, call_id, "call_ended"), 15, "the call ended")
    assert ended[0].data["reason"] == "completed"
