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
"""

from __future__ import annotations

import logging
import re
import socket
from dataclasses import dataclass, field

from asterisk.agi import AGI, AGIAppError, AGIHangup, AGIInvalidCommand, AGIUnknownError, AGIUsageError

__all__ = ["AgiChannel", "ChannelHungUp", "Reply", "parse_reply", "quote", "arg",  # pyst2's errors, re-exported:
           "AGIAppError", "AGIInvalidCommand", "AGIUsageError", "AGIUnknownError"]

log = logging.getLogger(__name__)

ENV_TIMEOUT = 10.0  # seconds Asterisk has to send the agi_* block
ALL_KEYS = "0123456789*#"
DEAD_REPLY = 511


class ChannelHungUp(AGIHangup):
    """The caller is gone: Asterisk said ``HANGUP``/``511``, or closed the socket."""


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
    """pyst2's AGI on a FastAGI socket: thread-safe construction, bytes, escaping, HANGUP and 511."""

    def __init__(self, sock: socket.socket, env_timeout: float = ENV_TIMEOUT):  # noqa: super() not called on purpose
        self.sock = sock
        self._rfile = sock.makefile("rb")
        self.hung_up = False
        self._got_sighup = False  # pyst2 reads this; no signal ever sets it here
        self.env: dict[str, str] = {}
        sock.settimeout(env_timeout)
        self._read_env()
        sock.settimeout(None)  # commands such as EXEC Dial or Queue may run for a long conversation

    # -- wire --------------------------------------------------------------------------------

    def _readline(self) -> str:
        try:
            raw = self._rfile.readline()
        except (OSError, ValueError) as exc:
            self.hung_up = True
            raise ChannelHungUp(f"connection lost: {exc}") from None
        if not raw:
            self.hung_up = True
            raise ChannelHungUp("Asterisk closed the connection")
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    def _read_env(self) -> None:
        """The ``agi_*`` block; it ends with an empty line."""
        while True:
            line = self._readline()
            if line == "":
                break
            key, _, value = line.partition(":")
            if key.strip():
                self.env[key.strip()] = value.strip()

    def send_command(self, command: str, *args) -> None:
        line = " ".join([command.strip(), *(str(a) for a in args)]).strip()
        line = line.replace("\r", " ").replace("\n", " ")
        log.debug("AGI >> %s", line)
        try:
            self.sock.sendall(line.encode("utf-8") + b"\n")
        except OSError as exc:
            self.hung_up = True
            raise ChannelHungUp(f"connection lost: {exc}") from None

    def read_reply(self) -> Reply:
        while True:
            line = self._readline()
            if line == "HANGUP":  # inline notice: the caller hung up; the reply still follows
                self.hung_up = True
                continue
            if not line:
                continue
            break
        log.debug("AGI << %s", line)
        if line.startswith("520-"):
            lines = [line]
            while not lines[-1].startswith("520 "):
                lines.append(self._readline())
            return Reply(520, text="\n".join(lines))
        return parse_reply(line)

    def command(self, command: str, *args) -> Reply:
        """Send one command (arguments already quoted as needed) and read its reply; raise on 510/511/520."""
        self.send_command(command, *args)
        reply = self.read_reply()
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
        for closing in (self._rfile.close, lambda: self.sock.shutdown(socket.SHUT_RDWR), self.sock.close):
            try:
                closing()
            except OSError:
                pass
