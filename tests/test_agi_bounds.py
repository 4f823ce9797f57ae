"""Bounded FastAGI: no peer holds a call slot for ever, and a second session never disturbs a live call.

Real loopback TCP against the real FastAgiServer, with the bounds shortened to about a second. Each
misbehaving peer — silent, trickling, oversized, stopping mid-call — must give its slot back within its
bound, get one log line (no traceback) and its connection closed; then the next real call (the fake
Asterisk of tests/fakes, faithful to the captured sessions) is served, not sent to the fallback. With one
slot only, a slot that did not come back would send that next call to the operators.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest

from core.settings import DEFAULTS, load_settings
from switchboard.asterisk.agi import AgiBounds, reply_bound
from switchboard.asterisk.audio import AudioLibrary, SilenceSynthesizer
from switchboard.asterisk.server import FastAgiServer
from switchboard.asterisk.service import incoming
from switchboard.calls import CallRunner
from tests.conftest import TZ, at
from tests.fakes.captures import agi_env
from tests.fakes.clock import SteppingClock
from tests.fakes.fake_asterisk import FakeAsterisk
from tests.test_asterisk_calls import OPEN, Phone

BOUND = 1.0  # every time bound in these tests
SLACK = 1.5  # scheduling, the accept loop, the database of the call being closed
SHORT = AgiBounds(env_seconds=BOUND, reply_seconds=BOUND, long_command_seconds=BOUND)
SIZE_ONLY = AgiBounds(env_seconds=30, reply_seconds=BOUND, long_command_seconds=BOUND)  # time cannot be why


@pytest.fixture
def serve(app, tmp_path):
    """Start a FastAGI server (one slot unless told) on the test app; every server is checked to be idle after."""
    services = app.extensions["vaxel"]
    services.clock = SteppingClock(TZ, at(OPEN))
    audio = AudioLibrary(tmp_path / "sounds", SilenceSynthesizer())
    servers: list[FastAgiServer] = []

    def start(bounds: AgiBounds = SHORT, max_calls: int = 1) -> tuple[FastAgiServer, Phone]:
        server = FastAgiServer({"incoming": incoming(services, audio), "probe": probe}, "127.0.0.1", 0,
                               max_calls=max_calls, bounds=bounds)
        _, port = server.start()
        servers.append(server)
        return server, Phone(services, port, services.clock)

    yield start
    try:
        for server in servers:
            assert wait_released(server, BOUND + SLACK) is not None, f"{server.in_use} slot(s) still held"
    finally:
        for server in servers:
            server.stop()


PROBED: list[dict[str, int]] = []


def probe(channel) -> str:
    """A script that reports the socket options of its own connection."""
    sock = channel.sock
    options = {"SO_KEEPALIVE": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)}
    for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"):
        if hasattr(socket, name):
            options[name] = sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name))
    PROBED.append(options)
    channel.set_var("VAXEL_RESULT", "done")
    return "done"


def wait_until(condition, within: float) -> float | None:
    """Seconds until ``condition()`` holds, or None if it did not within ``within``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            return None
        time.sleep(0.01)
    return time.monotonic() - start


def wait_released(server: FastAgiServer, within: float) -> float | None:
    return wait_until(lambda: server.in_use == 0, within)


def held(server: FastAgiServer) -> None:
    assert wait_until(lambda: server.in_use == 1, 3) is not None, "the connection never got a slot"


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Does the server close this connection (EOF or reset) within ``within`` seconds?"""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def block(uniqueid: str | None = None) -> bytes:
    """The agi_* block of the captured session, as Asterisk sends it."""
    env = agi_env(agi_network_script="incoming",
                  agi_uniqueid=uniqueid or f"1795469729.{uuid.uuid4().int % 10**6}")
    return ("".join(f"{k}: {v}\n" for k, v in env.items()) + "\n").encode()


def one_clear_line(caplog, words: str) -> None:
    """Exactly one warning (or worse) from vaxel, saying ``words``, without a traceback; the over-capacity
    refusal some tests provoke on purpose is not counted."""
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("switchboard")
             and "calls already running" not in r.getMessage()]
    assert [words in r.getMessage() for r in lines] == [True], [r.getMessage() for r in lines]
    assert lines[0].exc_info is None and "operators" in lines[0].getMessage()


def served(phone: Phone) -> FakeAsterisk:
    """A real call placed now is run by vaxel (not refused for want of a slot)."""
    fake = phone.call("2", "queue:operator:Anna:5")
    assert fake.errors == [] and fake.vars["VAXEL_RESULT"] == "done", fake.transcript[-6:]
    return fake


# -- the agi_* block ---------------------------------------------------------------------------------


def test_a_peer_that_sends_nothing_loses_its_slot_and_the_next_call_is_served(serve, caplog):
    server, phone = serve()
    with socket.create_connection(("127.0.0.1", server.address[1])) as silent:
        held(server)
        asked = time.monotonic()
        over = FakeAsterisk(server.address[1], ["2"]).run(timeout=5)  # meanwhile: over capacity ...
        assert over.vars == {"VAXEL_RESULT": "fallback"} and time.monotonic() - asked < BOUND  # ... told at once
        assert wait_released(server, BOUND + SLACK) is not None
        assert closed_by_server(silent, 1)
    one_clear_line(caplog, "agi_* block")
    served(phone)


def test_a_peer_trickling_its_block_is_cut_off_at_the_deadline_not_per_byte(serve, caplog):
    server, phone = serve()
    data = block()
    sent = []

    def trickle(sock: socket.socket) -> None:
        try:
            for byte in data:  # ~700 bytes at 5 a second: over two minutes, each byte well within the bound
                sock.sendall(bytes([byte]))
                sent.append(byte)
                time.sleep(0.2)
        except OSError:
            pass

    with socket.create_connection(("127.0.0.1", server.address[1])) as slow:
        threading.Thread(target=trickle, args=(slow,), daemon=True).start()
        held(server)
        took = wait_released(server, BOUND + SLACK)
        assert took is not None, "a trickle of bytes kept the slot"
        assert len(sent) < len(data) // 4
    one_clear_line(caplog, f"no complete agi_* block within {BOUND:g} s")
    served(phone)


def oversized(kind: str) -> bytes:
    if kind == "bytes":  # lines within the line limit, under 200 lines, 70 KiB in all
        return b"".join(f"agi_arg_{i}: {'x' * 7000}\n".encode() for i in range(10)) + b"\n"
    if kind == "lines":
        return block()[:-1] + b"".join(f"agi_arg_{i}: 1\n".encode() for i in range(1, 201)) + b"\n"
    return b"agi_request: agi://127.0.0.1/" + b"x" * (9 * 1024)  # one line over 8 KiB, no end in sight


@pytest.mark.parametrize("kind, words", [
    ("bytes", f"over {64 * 1024} bytes"), ("lines", "over 200 lines"), ("line", f"a line over {8 * 1024} bytes"),
])
def test_an_oversized_block_is_refused_at_once(serve, caplog, kind, words):
    server, phone = serve(SIZE_ONLY)
    with socket.create_connection(("127.0.0.1", server.address[1])) as big:
        try:
            big.sendall(oversized(kind))
        except OSError:
            pass  # the server may close before all of it is sent
        assert closed_by_server(big, SLACK)  # at once: the time bound is 30 s
        assert wait_released(server, SLACK) is not None
    one_clear_line(caplog, words)
    served(phone)


# -- replies -----------------------------------------------------------------------------------------


def test_no_reply_to_the_first_command_frees_the_slot(serve, caplog):
    server, phone = serve()
    with socket.create_connection(("127.0.0.1", server.address[1])) as hung:
        hung.sendall(block())
        reader = hung.makefile("rb")
        assert reader.readline() == b"ANSWER\n"  # ... and Asterisk never answers
        started = time.monotonic()
        assert wait_released(server, BOUND + SLACK) is not None
        assert closed_by_server(hung, 1)
        assert time.monotonic() - started >= BOUND * 0.9  # it was given its bound first
    one_clear_line(caplog, f"no complete reply to ANSWER within {BOUND:g} s")
    served(phone)


@dataclass
class GoesSilent(FakeAsterisk):
    """Asterisk that stops answering at one command (a hung Asterisk, a link gone half-open)."""

    silent_at: str = ""
    silent_since: float | None = None

    def replies(self, line: str) -> list[str]:
        if self.silent_since is None and line.upper().startswith(self.silent_at.upper()):
            self.silent_since = time.monotonic()
        if self.silent_since is not None:
            return []
        return super().replies(line)


@pytest.mark.parametrize("command, script", [
    ("STREAM FILE", []),  # the greeting
    ("EXEC Queue", ["2"]),  # waiting for an operator
    ("EXEC Dial", ["1", "4439#"]),  # ringing staff
])
def test_a_peer_that_stops_answering_mid_call_frees_the_slot_and_the_call_is_closed(serve, caplog, command, script):
    server, phone = serve()
    uid = f"1795469729.{uuid.uuid4().int % 10**6}"
    fake = GoesSilent(server.address[1], script, clock=phone.clock, env={"agi_uniqueid": uid}, silent_at=command)
    fake.run(timeout=BOUND + SLACK + 3)  # returns when the server closes the connection
    assert fake.silent_since is not None, fake.transcript[-6:]
    assert BOUND * 0.9 <= time.monotonic() - fake.silent_since <= BOUND + SLACK
    assert wait_released(server, SLACK) is not None
    one_clear_line(caplog, f"no complete reply to {command} within {BOUND:g} s")
    fake.call_id = f"ast-{uid}"
    assert "call_ended" in [t for t, _ in phone.events(fake)]  # not left waiting in our books or queue
    served(phone)


def test_reply_bounds_follow_the_command():
    b = AgiBounds(env_seconds=10, reply_seconds=60, long_command_seconds=14400)
    assert reply_bound(b, "ANSWER") == reply_bound(b, 'SET VARIABLE VAXEL_RESULT "done"') == 60
    assert reply_bound(b, "GET VARIABLE DIALSTATUS") == reply_bound(b, "CHANNEL STATUS") == 60
    assert reply_bound(b, 'EXEC Dial "PJSIP/4439,25"') == reply_bound(b, 'EXEC Queue "vaxel-centre,,,,60"') == 14400
    assert reply_bound(b, 'STREAM FILE vaxel-welcome "0123456789*#"') == 14400
    assert reply_bound(b, "WAIT FOR DIGIT 6000") == 66 and reply_bound(b, "WAIT FOR DIGIT -1") == 14400
    assert reply_bound(b, 'GET DATA "" 6000 4') == 60 + 6 + 6 * 4  # first key, then each next, by the timeout
    assert reply_bound(b, "GET DATA vaxel-welcome 4000 1") == 14400  # a prompt plays first


def test_the_bounds_are_settings():
    assert AgiBounds.from_settings(DEFAULTS["asterisk"]) == AgiBounds()
    assert AgiBounds() == AgiBounds(env_seconds=10, reply_seconds=60, long_command_seconds=4 * 3600)
    settings = load_settings(environ={"VAXEL_ASTERISK_AGI_REPLY_SECONDS": "30",
                                      "VAXEL_ASTERISK_AGI_LONG_COMMAND_SECONDS": "7200",
                                      "VAXEL_ASTERISK_AGI_ENV_SECONDS": "5"})
    assert AgiBounds.from_settings(settings["asterisk"]) == AgiBounds(5, 30, 7200)


def test_the_service_gives_its_fastagi_server_the_bounds_of_the_settings(app):
    from switchboard.asterisk.service import agi_server

    services = app.extensions["vaxel"]
    services.settings["asterisk"]["agi_reply_seconds"] = 7
    assert agi_server(services, "127.0.0.1", 0).bounds.reply_seconds == 7


def test_every_connection_has_tcp_keepalive(serve):
    server, _ = serve()
    PROBED.clear()
    fake = FakeAsterisk(server.address[1], [], env={"agi_network_script": "probe"}).run(timeout=5)
    assert fake.vars == {"VAXEL_RESULT": "done"}
    assert PROBED[0]["SO_KEEPALIVE"] != 0
    expected = {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 6}
    assert {k: v for k, v in PROBED[0].items() if k in expected} == {k: v for k, v in expected.items()
                                                                      if hasattr(socket, k)}


# -- a second session with the same agi_uniqueid ------------------------------------------------------


@dataclass
class Thinking(FakeAsterisk):
    """A caller who takes their time at the menu: WAIT FOR DIGIT returns only when ``go`` is set."""

    listening: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)

    def wait_digit(self, timeout_ms: int) -> str:
        self.listening.set()
        self.go.wait(20)
        return super().wait_digit(timeout_ms)


def test_a_second_session_with_the_uniqueid_of_a_live_call_is_refused_and_the_call_goes_on(serve, caplog):
    server, phone = serve(AgiBounds(env_seconds=10, reply_seconds=10, long_command_seconds=10), max_calls=4)
    uid = f"1795469729.{uuid.uuid4().int % 10**6}"
    first = Thinking(server.address[1], ["2", "queue:operator:Anna:5"], clock=phone.clock,
                     env={"agi_uniqueid": uid})
    first.call_id = f"ast-{uid}"
    worker = threading.Thread(target=first.run, kwargs={"timeout": 30})
    worker.start()
    try:
        assert first.listening.wait(10)
        runner = CallRunner(phone.services.sessions, phone.services.settings, channel="asterisk")
        before = (phone.events(first), runner.state_of(first.call_id))
        assert before[1].awaiting == "menu"

        second = FakeAsterisk(server.address[1], ["2"], env={"agi_uniqueid": uid}).run(timeout=10)
        assert (phone.events(first), runner.state_of(first.call_id)) == before  # the first call untouched
        assert second.vars == {"VAXEL_RESULT": "fallback"}  # the dialplan sends it to the operators
        assert second.commands == ['SET VARIABLE VAXEL_RESULT "fallback"']  # nothing else done to that channel
        one_clear_line(caplog, "second AGI session")
    finally:
        first.go.set()
        worker.join(30)
    assert first.errors == [] and first.vars["VAXEL_RESULT"] == "done"
    events = phone.events(first)
    assert [d["reason"] for t, d in events if t == "call_ended"] == ["completed"]
    assert [d["reason"] for t, d in events if t == "queue_left"] == ["answered"]


def test_a_session_for_a_call_already_in_the_books_does_not_touch_it(serve, caplog):
    """The call runs elsewhere (another vaxel process) or is over: refused without a trace in its events."""
    server, phone = serve(max_calls=2)
    uid = f"1795469729.{uuid.uuid4().int % 10**6}"
    call_id = f"ast-{uid}"
    runner = CallRunner(phone.services.sessions, phone.services.settings, channel="asterisk")
    assert runner.start(call_id, phone.clock.now(), "+46701234567", "+46406280400")
    fake = FakeAsterisk(server.address[1], ["2"], env={"agi_uniqueid": uid})
    fake.call_id = call_id
    before = (phone.events(fake), runner.state_of(call_id))
    fake.run(timeout=10)
    assert fake.vars == {"VAXEL_RESULT": "fallback"}
    assert (phone.events(fake), runner.state_of(call_id)) == before
    assert before[1].awaiting == "menu" and not before[1].ended
    one_clear_line(caplog, "already exists")
