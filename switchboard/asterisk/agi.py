"""One FastAGI socket, spoken exactly as Asterisk's res_agi speaks it.

pyst2's ``asterisk.agi.AGI`` is the base: its helpers (``answer``, ``set_variable``,
``get_variable``, ``appexec``, ``channel_status`` ...) and its exception types are
reused. What it gets wrong on Python 3.11 in a threaded FastAGI server is
overridden here (checked against the real sessions in ``tests/fakes/wire/``):

* its ``__init__`` installs a SIGHUP handler (``ValueError`` outside the main
  thread) and reads stdin; ours reads the ``agi_*`` block from the socket and
  installs nothing;
* it writes ``str``; we write UTF-8 bytes on the socket, one line per command;
* its ``_quote`` does not escape; res_agi's ``parse_args`` reads ``\\"`` and
  ``\\\\``, so we escape both (``"say \\"hej\\" to åsa"`` in the capture);
* its ``get_result`` knows neither the inline ``HANGUP`` line (it can arrive
  between a command and its reply) nor ``511``; both mark the channel dead and
  a 511 raises :class:`ChannelHungUp`. ``result=-1`` is *not* an exception here:
  after ``EXEC Dial`` it means "answered and over", so the caller judges it.

Nothing waits for ever (:class:`AgiBounds`, the ``[asterisk] agi_*_seconds`` settings): the ``agi_*``
block and every reply have a *deadline* — a total time that does not restart with each byte, so a
peer trickling one byte a second is cut off like a silent one — and a size limit. Commands that
legitimately run long (``EXEC Dial``/``Queue``, a prompt) get the long bound; ``WAIT FOR DIGIT`` and
``GET DATA`` get their own timeout on top of the ordinary one. A peer past a bound gets one log line
and its connection closed (:class:`AgiBoundExceeded`, a :class:`ChannelHungUp`): the call code
leaves as on a hang-up and the dialplan's fallback (``VAXEL_RESULT`` unset) takes the caller.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Mapping

from asterisk.agi import AGI, AGIAppError, AGIHangup, AGIInvalidCommand, AGIUnknownError, AGIUsageError

__all__ = ["AgiBounds", "AgiBoundExceeded", "AgiChannel", "ChannelHungUp", "Heard", "Reply", "parse_heard",
           "parse_reply", "quote", "arg",
           "reply_bound",  # pyst2's errors, re-exported:
           "AGIAppError", "AGIInvalidCommand", "AGIUsageError", "AGIUnknownError"]

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"
DEAD_REPLY = 511
RECV_SIZE = 4096


class ChannelHungUp(AGIHangup):
    """The caller is gone: Asterisk said ``HANGUP``/``511``, or closed the socket."""


class AgiBoundExceeded(ChannelHungUp):
    """The peer broke a bound (too slow, too much): it was logged once and the connection is closed."""


@dataclass(frozen=True)
class AgiBounds:
    """How long and how much one FastAGI peer may take. The times are ``[asterisk]`` settings
    (:meth:`from_settings`; keep these defaults equal to ``core.settings.DEFAULTS``)."""

    env_seconds: float = 10  # the whole agi_* block, from connect to its blank line
    reply_seconds: float = 60  # the whole reply to an ordinary command (and to send a command)
    long_command_seconds: float = 4 * 3600  # EXEC (Dial, Queue, MusicOnHold ...), STREAM FILE and other prompts
    env_max_bytes: int = 64 * 1024  # the agi_* block, all lines
    env_max_lines: int = 200
    env_max_line_bytes: int = 8 * 1024  # one line of the agi_* block
    reply_max_bytes: int = 256 * 1024  # one reply, all its lines (a GET VARIABLE value, a 520 usage text)

    @classmethod
    def from_settings(cls, asterisk: Mapping) -> "AgiBounds":
        """From the ``[asterisk]`` section: ``agi_env_seconds``, ``agi_reply_seconds``, ``agi_long_command_seconds``."""
        return cls(env_seconds=float(asterisk["agi_env_seconds"]), reply_seconds=float(asterisk["agi_reply_seconds"]),
                   long_command_seconds=float(asterisk["agi_long_command_seconds"]))


# Commands whose reply comes only when audio has played or an application has returned: no bound of their own.
LONG_COMMANDS = ("EXEC", "STREAM FILE", "CONTROL STREAM FILE", "GET OPTION", "SAY ", "RECORD FILE",
                 "SPEECH RECOGNIZE")
_INT = re.compile(r"^-?\d+$")


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split() if _INT.match(t)]


def reply_bound(bounds: AgiBounds, line: str) -> float:
    """Seconds the reply to the command ``line`` may take, all of it.

    ``WAIT FOR DIGIT <ms>`` and ``GET DATA "" <ms> <max>`` (no prompt) wait for keys by their own timeout,
    as res_agi runs them (``ast_app_getdata``: the first key within the timeout, each next one within it
    too; timeout 0 = 6 s first, 2 s between), plus the ordinary bound; a negative timeout waits for ever
    and gets the long bound, as do prompts and applications (:data:`LONG_COMMANDS`).
    """
    text = " ".join(line.split())
    upper = text.upper()
    if upper.startswith("WAIT FOR DIGIT"):
        ms = (_ints(text[len("WAIT FOR DIGIT"):]) or [-1])[0]
        return bounds.long_command_seconds if ms < 0 else bounds.reply_seconds + ms / 1000
    if upper.startswith("GET DATA"):
        rest = text[len("GET DATA"):].strip()
        if not rest.startswith('""'):
            return bounds.long_command_seconds  # a prompt plays first
        numbers = _ints(rest[2:])
        timeout = numbers[0] if numbers else 0
        most = numbers[1] if len(numbers) > 1 else 1024
        if timeout < 0:
            return bounds.long_command_seconds
        first, each = (6.0, 2.0) if timeout == 0 else (timeout / 1000, timeout / 1000)
        return bounds.reply_seconds + first + each * max(most, 0)
    if upper.startswith(LONG_COMMANDS):
        return bounds.long_command_seconds
    return bounds.reply_seconds


_NAMED = ("GET FULL VARIABLE", "GET VARIABLE", "SET VARIABLE", "CHANNEL STATUS", "WAIT FOR DIGIT", "GET DATA",
          "CONTROL STREAM FILE", "STREAM FILE", "GET OPTION", "RECORD FILE", "SPEECH RECOGNIZE", "SAY ")


def _label(line: str) -> str:
    """What a log line may say about a command: its name (and the application of EXEC), never its arguments."""
    words = line.split()
    if not words:
        return "?"
    if words[0].upper() == "EXEC":
        return " ".join(words[:2])
    text = " ".join(words)
    name = next((c for c in _NAMED if text.upper().startswith(c)), None)
    return " ".join(words[:len(name.split()) + (name == "SAY ")]) if name else words[0]


@dataclass(frozen=True)
class Reply:
    """One reply: ``200 result=50 endpos=13600`` → code 200, result "50", extras {"endpos": "13600"}."""

    code: int
    result: str = ""
    data: str | None = None  # the text in parentheses: "(NOANSWER)", "(timeout)"
    extras: dict[str, str] = field(default_factory=dict)
    text: str = ""  # the whole reply (several lines for 520)

    @property
    def number(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None


_HEAD = re.compile(r"^(\d{3})([ -])?(.*)$")
_RESULT = re.compile(r"^result=(\S*)\s*(.*)$")


def parse_reply(line: str) -> Reply:
    """Parse the first line of a reply (res_agi's format); a 520 usage block is joined by the reader."""
    m = _HEAD.match(line)
    if not m:
        raise AGIUnknownError(line, "not an AGI reply")
    code, rest = int(m.group(1)), m.group(3)
    if code != 200:
        return Reply(code, text=line)
    r = _RESULT.match(rest)
    if not r:
        return Reply(code, text=line)
    result, tail = r.group(1), r.group(2)
    data = None
    if tail.startswith("("):
        end = tail.rfind(")")
        data, tail = (tail[1:end], tail[end + 1:]) if end > 0 else (tail[1:], "")
    extras = dict(part.split("=", 1) for part in tail.split() if "=" in part)
    return Reply(code, result, data, extras, line)


@dataclass(frozen=True)
class Heard:
    """What ``SPEECH RECOGNIZE`` heard: ``kind`` speech | digit | timeout | hangup | failed."""

    kind: str
    text: str = ""  # the best result's text (speech)
    score: int = 0  # the engine's score of it, 0-100 for UniMRCP and most engines
    digit: str = ""  # the key that stopped it (digit)


_SPEECH_RESULT = re.compile(r'score(\d+)=(-?\d+) text\1="([^"]*)" grammar\1=(\S*)')


def parse_heard(reply: Reply) -> Heard:
    """res_agi's replies to ``SPEECH RECOGNIZE``::

        200 result=1 (speech) endpos=0 results=1 score0=87 text0="sven olofsson" grammar0=vaxel-directory
        200 result=1 (digit) digit=4 endpos=0
        200 result=1 (timeout) endpos=0      200 result=1 (hangup) endpos=0
        200 result=0 endpos=0                (failed, or no speech object: "200 result=0")

    Results come best first; speech with ``results=0`` (nothing matched the grammar) is a timeout.
    """
    if reply.result != "1":
        return Heard("failed")
    if reply.data == "digit":
        return Heard("digit", digit=reply.extras.get("digit", "")[:1])
    if reply.data == "speech":
        found = _SPEECH_RESULT.findall(reply.text)
        if not found or not found[0][2].strip():
            return Heard("timeout")
        _, score, text, _ = found[0]
        return Heard("speech", text=text.strip(), score=int(score))
    return Heard(reply.data if reply.data in ("timeout", "hangup") else "failed")


def quote(value: object) -> str:
    """One argument as res_agi's parse_args reads it back: quoted, ``\\`` and ``"`` escaped, one line."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_BARE = re.compile(r"^[^\s\"\\]+$")


def arg(value: object) -> str:
    """A name or file argument: bare when it needs no quoting (``DIALSTATUS``), else :func:`quote`."""
    text = str(value)
    return text if _BARE.match(text) else quote(text)


class AgiChannel(AGI):
    """pyst2's AGI on a FastAGI socket: thread-safe construction, bytes, escaping, HANGUP and 511, bounds."""

    def __init__(self, sock: socket.socket, bounds: AgiBounds | None = None):  # noqa: super() not called on purpose
        self.sock = sock
        self.bounds = bounds or AgiBounds()
        self._buffer = bytearray()
        self.hung_up = False
        self.broken = False  # a bound was broken: the connection is closed, nothing more is sent or read
        self._got_sighup = False  # pyst2 reads this; no signal ever sets it here
        self.env: dict[str, str] = {}
        try:
            host, port = sock.getpeername()[:2]
            self.peer = f"{host}:{port}"
        except (OSError, ValueError):
            self.peer = "?"
        self._read_env()

    # -- wire --------------------------------------------------------------------------------

    def _give_up(self, why: str) -> AgiBoundExceeded:
        """One line in the log, the connection closed: Asterisk's AGI returns and its dialplan takes the caller."""
        uniqueid = self.env.get("agi_uniqueid")
        log.warning("FastAGI %s%s: %s; connection closed, the dialplan sends the caller to the operators",
                    self.peer, f" (agi_uniqueid {uniqueid})" if uniqueid else "", why)
        self.broken = self.hung_up = True
        self.close()
        return AgiBoundExceeded(why)

    def _readline(self, deadline: float, limit: int, waiting_for: str, within: float) -> bytes:
        """One line without its end: all of it by ``deadline`` (time.monotonic, never moved by a byte arriving),
        at most ``limit`` bytes. ``waiting_for`` and ``within`` only word the log line."""
        if self.broken:
            raise ChannelHungUp("the connection was closed")
        while True:
            end = self._buffer.find(b"\n")
            if end > limit or (end < 0 and len(self._buffer) > limit):
                raise self._give_up(f"a line over {limit} bytes in the {waiting_for}")
            if end >= 0:
                raw = bytes(self._buffer[:end])
                del self._buffer[:end + 1]
                return raw.rstrip(b"\r")
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                self.sock.settimeout(remaining)
                chunk = self.sock.recv(RECV_SIZE)
            except TimeoutError:
                raise self._give_up(f"no complete {waiting_for} within {within:g} s") from None
            except (OSError, ValueError) as exc:  # a reset, or TCP keepalive finding the link dead
                self.hung_up = True
                raise ChannelHungUp(f"connection lost: {exc}") from None
            if not chunk:
                self.hung_up = True
                raise ChannelHungUp("Asterisk closed the connection")
            self._buffer += chunk

    def _read_env(self) -> None:
        """The ``agi_*`` block; it ends with an empty line. All of it within ``env_seconds`` and the size limits."""
        b = self.bounds
        deadline = time.monotonic() + b.env_seconds
        size, lines = 0, 0
        while True:
            raw = self._readline(deadline, b.env_max_line_bytes, "agi_* block", b.env_seconds)
            size += len(raw) + 1
            if size > b.env_max_bytes:
                raise self._give_up(f"an agi_* block over {b.env_max_bytes} bytes")
            if not raw:
                break
            lines += 1
            if lines > b.env_max_lines:
                raise self._give_up(f"an agi_* block over {b.env_max_lines} lines")
            key, _, value = raw.decode("utf-8", errors="replace").partition(":")
            if key.strip():
                self.env[key.strip()] = value.strip()

    def send_command(self, command: str, *args) -> None:
        line = " ".join([command.strip(), *(str(a) for a in args)]).strip()
        line = line.replace("\r", " ").replace("\n", " ")
        if self.broken:
            raise ChannelHungUp("the connection was closed")
        log.debug("AGI >> %s", line)
        try:
            self.sock.settimeout(self.bounds.reply_seconds)  # a peer that reads nothing cannot block us either
            self.sock.sendall(line.encode("utf-8") + b"\n")
        except TimeoutError:
            raise self._give_up(f"{_label(line)} not taken within {self.bounds.reply_seconds:g} s") from None
        except OSError as exc:
            self.hung_up = True
            raise ChannelHungUp(f"connection lost: {exc}") from None

    def read_reply(self, within: float | None = None, command: str = "") -> Reply:
        """The reply to ``command``: all of it (inline HANGUP, a 520 block) within ``within`` seconds
        (default ``reply_seconds``) and ``reply_max_bytes``."""
        within = self.bounds.reply_seconds if within is None else within
        deadline = time.monotonic() + within
        left = self.bounds.reply_max_bytes
        waiting_for = f"reply to {_label(command)}" if command else "reply"

        def line() -> str:
            nonlocal left
            raw = self._readline(deadline, left, waiting_for, within)
            left -= len(raw) + 1
            if left < 0:
                raise self._give_up(f"a {waiting_for} over {self.bounds.reply_max_bytes} bytes")
            return raw.decode("utf-8", errors="replace")

        while True:
            text = line()
            if text == "HANGUP":  # inline notice: the caller hung up; the reply still follows
                self.hung_up = True
                continue
            if not text:
                continue
            break
        log.debug("AGI << %s", text)
        if text.startswith("520-"):
            lines = [text]
            while not lines[-1].startswith("520 "):
                lines.append(line())
            return Reply(520, text="\n".join(lines))
        return parse_reply(text)

    def command(self, command: str, *args) -> Reply:
        """Send one command (arguments already quoted as needed) and read its reply; raise on 510/511/520.

        The reply may take :func:`reply_bound` seconds: long for applications and prompts, the command's
        own timeout for keys, ``reply_seconds`` for the rest."""
        line = " ".join([command.strip(), *(str(a) for a in args)])
        self.send_command(command, *args)
        reply = self.read_reply(reply_bound(self.bounds, line), line)
        if reply.code == 200:
            return reply
        if reply.code == DEAD_REPLY:
            self.hung_up = True
            raise ChannelHungUp(reply.text)
        if reply.code == 510:
            raise AGIInvalidCommand(reply.text)
        if reply.code == 520:
            raise AGIUsageError(reply.text)
        raise AGIUnknownError(reply.code, reply.text)

    # -- pyst2 plumbing, fixed ---------------------------------------------------------------

    def _quote(self, string) -> str:
        return quote(string)

    def test_hangup(self) -> None:
        if self.hung_up:
            raise ChannelHungUp("the caller hung up")

    def execute(self, command, *args):
        """pyst2's entry point for its helpers; returns its dict shape ``{'result': (value, data)}``."""
        reply = self.command(command, *args)
        result = {"result": (reply.result, reply.data or "")}
        result.update({k: (v, "") for k, v in reply.extras.items()})
        return result

    def get_result(self, stdin=None):
        reply = self.read_reply()
        return {"result": (reply.result, reply.data or "")}

    # -- what a call needs -------------------------------------------------------------------

    def stream(self, filename: str, escape_digits: str = "") -> Reply:
        """``STREAM FILE``: result is the ASCII code of a key that stopped it, 0 at the end, -1 on failure."""
        return self.command("STREAM FILE", arg(filename), quote(escape_digits))

    def wait_digit(self, timeout_ms: int) -> Reply:
        """``WAIT FOR DIGIT``: the ASCII code of the key, 0 on timeout, -1 on failure or hang-up."""
        return self.command("WAIT FOR DIGIT", int(timeout_ms))

    def read_digits(self, timeout_ms: int, max_digits: int) -> Reply:
        """``GET DATA`` with no prompt (prompts were streamed before): the digits themselves; ``#`` ends them."""
        return self.command("GET DATA", quote(""), int(timeout_ms), int(max_digits))

    # -- speech recognition (res_speech: the AGI SPEECH commands) -----------------------------

    def speech_create(self, engine: str) -> bool:
        """``SPEECH CREATE <engine>``: result 1 when Asterisk has that engine, 0 when not (or one exists)."""
        return self.command("SPEECH CREATE", arg(engine)).result == "1"

    def speech_load_grammar(self, name: str, path: str) -> bool:
        """``SPEECH LOAD GRAMMAR <name> <path>``: result 1 when the engine loaded the file."""
        return self.command("SPEECH LOAD GRAMMAR", arg(name), quote(path)).result == "1"

    def speech_activate_grammar(self, name: str) -> bool:
        return self.command("SPEECH ACTIVATE GRAMMAR", arg(name)).result == "1"

    def speech_recognize(self, prompt: str, timeout_s: int) -> "Heard":
        """``SPEECH RECOGNIZE <prompt> <timeout>``: speech, a key, a timeout or a hang-up (:func:`parse_heard`).

        The timeout is in whole seconds and starts when the prompt has played (no prompt: at once)."""
        return parse_heard(self.command("SPEECH RECOGNIZE", quote(prompt), int(timeout_s)))

    def speech_destroy(self) -> None:
        """``SPEECH DESTROY`` (allowed on a dead channel too)."""
        self.command("SPEECH DESTROY")

    def run_app(self, application: str, data: str) -> int:
        """``EXEC app "data"``: the application's return (-1 hang-up or, after Dial, an answered call; -2 unknown)."""
        reply = self.command("EXEC", application, quote(data))
        return reply.number if reply.number is not None else -1

    def var(self, name: str) -> str | None:
        """``GET VARIABLE``: None when unset (``result=0``); works on a dead channel too."""
        reply = self.command("GET VARIABLE", arg(name))
        return reply.data if reply.result == "1" else None

    def set_var(self, name: str, value: str) -> None:
        self.command("SET VARIABLE", arg(name), quote(value))

    def alive(self) -> bool:
        """Is the caller still there? ``CHANNEL STATUS`` is refused with 511 on a dead channel."""
        if self.hung_up:
            return False
        try:
            self.command("CHANNEL STATUS")
        except ChannelHungUp:
            return False
        return not self.hung_up

    def close(self) -> None:
        for closing in (lambda: self.sock.shutdown(socket.SHUT_RDWR), self.sock.close):
            try:
                closing()
            except OSError:
                pass
