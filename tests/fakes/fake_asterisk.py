"""A fake Asterisk for the FastAGI tests: it connects over real TCP as res_agi does and answers as the captures show.

It plays one caller, from a script read in order as the call asks for input:

    "2", "4439#"          keys pressed when the call listens (WAIT FOR DIGIT takes the first, GET DATA up to #)
    "early:2"             a key pressed during the next prompt that allows keys (STREAM FILE's escape digits)
    "silence"             no key until the timeout
    "hangup"              the caller hangs up during the next command that waits (prompt, listening, Dial, Queue)
    "hangup@listen"       ... during the next WAIT FOR DIGIT/GET DATA/SPEECH RECOGNIZE (also @prompt, @dial, @queue)
    "say:Sven Olofsson"   what the caller says while SPEECH RECOGNIZE listens ("say:text@40": the engine's score);
                          keys there stop it with the first key (``(digit) digit=4``), the rest stay for GET DATA
    "ring:answered:40"    how the Dial now ringing ends (also ring:no-answer, ring:busy, ring:chanunavail,
                          ring:congestion); the number is the talk time in seconds. With the answer confirmation
                          (Dial option ``U(vaxel-confirm^...)``) "answered" means 1 was pressed (GOSUB_RETVAL
                          accepted); "ring:machine" is a voicemail that answers and presses nothing: app_dial
                          reports ANSWER, the subroutine's CONTINUE returns 0 and GOSUB_RETVAL=not-accepted —
                          without the option the voicemail takes the call, as "answered"
    "queue:wait"          a slice in app_queue passes (QUEUESTATUS=TIMEOUT)
    "queue:hold:30"       ... after 30 s of real time (the fault benchmark kills vaxel meanwhile)
    "queue:operator:Anna:20"  an operator answers after 20 s in this slice, then the conversation ends

When the script runs out the caller is silent and patient: prompts play out, listening times out, a
ringing Dial is answered, an operator answers in the queue — as the simulator does.

The replies follow ``wire/agi-*.txt``: keys as ASCII codes, ``GET DATA`` digits as themselves,
``200 result=-1`` for the command the caller hung up in, then the inline ``HANGUP`` line before the next
reply, ``511`` for channel commands on the dead channel, ``200`` for variables, ``EXEC Dial`` -1 with
``DIALSTATUS=CANCEL``; ``510`` for an unknown command, a multi-line ``520`` for bad usage. Arguments are
read back with res_agi's own ``parse_args`` rules, so the server's quoting is checked on every command.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.captures import agi_env

DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
USAGE = {  # res_agi's usage text, shortened
    "GET VARIABLE": "Usage: GET VARIABLE <variablename>\n Returns 0 if <variablename> is not set.",
    "STREAM FILE": "Usage: STREAM FILE <filename> <escape_digits> [sample offset]",
    "WAIT FOR DIGIT": "Usage: WAIT FOR DIGIT <timeout>",
    "GET DATA": "Usage: GET DATA <file to be streamed> [timeout] [max digits]",
    "SET VARIABLE": "Usage: SET VARIABLE <variablename> <value>",
    "EXEC": "Usage: EXEC <application> <options>",
    "SPEECH CREATE": "Usage: SPEECH CREATE <engine>",
    "SPEECH SET": "Usage: SPEECH SET <name> <value>",
    "SPEECH LOAD GRAMMAR": "Usage: SPEECH LOAD GRAMMAR <grammar name> <path to grammar>",
    "SPEECH UNLOAD GRAMMAR": "Usage: SPEECH UNLOAD GRAMMAR <grammar name>",
    "SPEECH ACTIVATE GRAMMAR": "Usage: SPEECH ACTIVATE GRAMMAR <grammar name>",
    "SPEECH DEACTIVATE GRAMMAR": "Usage: SPEECH DEACTIVATE GRAMMAR <grammar name>",
    "SPEECH RECOGNIZE": "Usage: SPEECH RECOGNIZE <prompt> <timeout> [<offset>]",
}
COMMANDS = ("GET FULL VARIABLE", "GET VARIABLE", "SET VARIABLE", "STREAM FILE", "WAIT FOR DIGIT", "GET DATA",
            "CHANNEL STATUS", "SAY NUMBER", "ANSWER", "EXEC", "NOOP", "HANGUP", "VERBOSE", "SPEECH CREATE",
            "SPEECH SET", "SPEECH DESTROY", "SPEECH LOAD GRAMMAR", "SPEECH UNLOAD GRAMMAR", "SPEECH ACTIVATE GRAMMAR",
            "SPEECH DEACTIVATE GRAMMAR", "SPEECH RECOGNIZE")
# res_agi's table: commands without its "dead" flag get 511 on a hung-up channel (SPEECH DESTROY/UNLOAD may run)
ALIVE_ONLY = {"ANSWER", "STREAM FILE", "WAIT FOR DIGIT", "GET DATA", "CHANNEL STATUS", "SAY NUMBER", "SPEECH CREATE",
              "SPEECH SET", "SPEECH LOAD GRAMMAR", "SPEECH ACTIVATE GRAMMAR", "SPEECH DEACTIVATE GRAMMAR",
              "SPEECH RECOGNIZE"}
MAX_COMMANDS = 600


def parse_args(line: str) -> list[str]:
    """res_agi's parse_args: spaces split, double quotes group, backslash escapes the next character."""
    args: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                args.append("")
                whitespace = False
            continue
        if ch in " \t" and not quoted and not escaped:
            if not whitespace:
                args[-1] = "".join(cur)
                cur = []
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            args.append("")
            whitespace = False
        cur.append(ch)
        escaped = False
    if args and not whitespace:
        args[-1] = "".join(cur)
    return args


@dataclass
class Dialled:
    target: str
    ring_timeout: int
    outcome: str
    options: str = ""  # Dial's third argument, e.g. U(vaxel-confirm^/path/vaxel-ab12^6)


@dataclass
class FakeAsterisk:
    port: int
    script: list[str] = field(default_factory=list)
    clock: object | None = None  # something with advance(seconds), to let time pass as on a real call
    env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    sounds_dir: Path | None = None  # where relative file names are found, as Asterisk's sounds directory
    prompt_seconds: int = 3
    commands: list[str] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)
    played: list[str] = field(default_factory=list)  # the texts (or files) heard, in order
    vars: dict[str, str] = field(default_factory=dict)
    dialled: list[Dialled] = field(default_factory=list)
    queued: list[dict[str, str]] = field(default_factory=list)  # QUEUE_PRIO and Queue() data per slice
    errors: list[str] = field(default_factory=list)
    speech_engines: tuple[str, ...] = ()  # res_speech engines this Asterisk has (none: SPEECH CREATE says 0)
    recogniser: dict | None = None  # the channel's speech object: engine, grammars {name: path}, active names
    heard: list[str] = field(default_factory=list)  # what the caller said to the recogniser
    dead: bool = False
    _hangup_line_due: bool = False

    # -- the connection ----------------------------------------------------------------------

    def run(self, timeout: float = 30.0) -> "FakeAsterisk":
        env = agi_env(agi_request=f"agi://{self.host}:{self.port}/incoming", agi_network_script="incoming")
        env.update(self.env)
        self.env = env
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            reader = sock.makefile("rb")
            block = "".join(f"{k}: {v}\n" for k, v in env.items()) + "\n"
            sock.sendall(block.encode("utf-8"))
            while True:
                raw = reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8").rstrip("\n")
                self.commands.append(line)
                self.transcript.append(("S", line))
                if len(self.commands) > MAX_COMMANDS:
                    self.errors.append("too many commands: the call does not end")
                    break
                for reply in self.replies(line):
                    self.transcript.append(("A", reply))
                    sock.sendall((reply + "\n").encode("utf-8"))
        return self

    def replies(self, line: str) -> list[str]:
        out = []
        if self._hangup_line_due:  # Asterisk's inline notice comes before the next reply
            out.append("HANGUP")
            self._hangup_line_due = False
        name = next((c for c in COMMANDS if line.upper() == c or line.upper().startswith(c + " ")), None)
        if name is None:
            return out + ["510 Invalid or unknown command"]
        args = parse_args(line[len(name):].strip())
        if self.dead and name in ALIVE_ONLY:
            return out + [DEAD]
        try:
            return out + self.answer(name, args)
        except IndexError:
            usage = USAGE.get(name, f"Usage: {name}")
            return out + ["520-Invalid command syntax.  Proper usage follows:", *usage.splitlines(),
                          "520 End of proper usage."]

    # -- the caller ---------------------------------------------------------------------------

    def _pass(self, seconds: float) -> None:
        if seconds > 0 and hasattr(self.clock, "advance"):  # a plain Clock runs on by itself
            self.clock.advance(seconds)

    def _next(self) -> str | None:
        return self.script[0] if self.script else None

    def _take(self) -> str | None:
        return self.script.pop(0) if self.script else None

    def _hang_up(self) -> None:
        self.dead = True
        self._hangup_line_due = True

    def _hangs_up_in(self, where: str) -> bool:
        """Does the caller hang up during this command (``where``: prompt, listen, dial, queue)?"""
        if self._next() in ("hangup", f"hangup@{where}"):
            self._take()
            self._hang_up()
            return True
        return False

    def _expect(self, kinds: tuple[str, ...], command: str) -> str | None:
        token = self._next()
        if token is None or token.startswith(kinds):
            return self._take()
        self.errors.append(f"{command}: the script has {token!r} next")
        self.script.clear()
        self._hang_up()
        return "hangup"

    # -- commands -----------------------------------------------------------------------------

    def answer(self, name: str, args: list[str]) -> list[str]:
        if name in ("ANSWER", "NOOP", "VERBOSE"):
            return ["200 result=0" if name != "VERBOSE" else "200 result=1"]
        if name == "CHANNEL STATUS":
            return ["200 result=6"]
        if name == "SET VARIABLE":
            self.vars[args[0]] = args[1]
            return ["200 result=1"]
        if name == "GET VARIABLE":
            value = self.vars.get(args[0])
            return [f"200 result=1 ({value})"] if value is not None else ["200 result=0"]
        if name == "GET FULL VARIABLE":
            known = {"CALLERID(num)": self.env.get("agi_callerid", ""), **self.vars}
            text = re.sub(r"\$\{([^}]+)\}", lambda m: known.get(m.group(1), ""), args[0])
            return [f"200 result=1 ({text})"]
        if name == "HANGUP":
            self._hang_up()
            return ["200 result=1"]
        if name == "SAY NUMBER":
            return ["200 result=-1"]  # no core sound files (the capture's server had none either)
        if name == "STREAM FILE":
            return [self.stream(args[0], args[1])]
        if name == "WAIT FOR DIGIT":
            return [self.wait_digit(int(args[0]))]
        if name == "GET DATA":
            return [self.get_data(args[0], int(args[1]), int(args[2]) if len(args) > 2 else 1024)]
        if name == "EXEC":
            return [self.exec(args[0], args[1] if len(args) > 1 else "")]
        if name.startswith("SPEECH "):
            return [self.speech(name[7:], args)]
        raise AssertionError(name)

    # -- res_speech through res_agi (handle_speech* in res_agi.c) ------------------------------

    def speech(self, command: str, args: list[str]) -> str:
        counts = {"SET": 2, "LOAD GRAMMAR": 2, "UNLOAD GRAMMAR": 1, "ACTIVATE GRAMMAR": 1, "DEACTIVATE GRAMMAR": 1}
        if command in counts and len(args) != counts[command] or command == "RECOGNIZE" and len(args) < 2:
            raise IndexError(command)  # RESULT_SHOWUSAGE: the 520 block
        rec = self.recogniser
        if command == "CREATE":
            if rec is not None or args[0] not in self.speech_engines:
                return "200 result=0"
            self.recogniser = {"engine": args[0], "grammars": {}, "active": set()}
            return "200 result=1"
        if command == "DESTROY":
            self.recogniser = None
            return f"200 result={int(rec is not None)}"
        if rec is None:
            return "200 result=0"
        if command == "SET":
            return "200 result=1"
        if command == "LOAD GRAMMAR":
            if not Path(args[1]).is_file():
                return "200 result=0"  # the engine could not load it
            rec["grammars"][args[0]] = args[1]
            return "200 result=1"
        if command == "UNLOAD GRAMMAR":
            return f"200 result={int(rec['grammars'].pop(args[0], None) is not None)}"
        if command == "ACTIVATE GRAMMAR":
            if args[0] not in rec["grammars"]:
                return "200 result=0"
            rec["active"].add(args[0])
            return "200 result=1"
        if command == "DEACTIVATE GRAMMAR":
            if args[0] not in rec["active"]:
                return "200 result=0"
            rec["active"].discard(args[0])
            return "200 result=1"
        return self.recognize(args[0], int(args[1]))

    def recognize(self, prompt: str, timeout_s: int) -> str:
        if prompt:
            self.played.append(prompt)
        if self._hangs_up_in("listen"):
            return "200 result=1 (hangup) endpos=0"
        token = self._expect(("silence", "say:") + tuple("0123456789*#"), "SPEECH RECOGNIZE")
        if token == "hangup":
            return "200 result=1 (hangup) endpos=0"
        if token is None or token == "silence":
            self._pass(timeout_s)
            return "200 result=1 (timeout) endpos=0"
        if not token.startswith("say:"):
            if token[1:]:
                self.script.insert(0, token[1:])  # the rest of the keys, for the GET DATA that follows
            self._pass(1)
            return f"200 result=1 (digit) digit={token[0]} endpos=0"
        text, _, score = token[4:].partition("@")
        self.heard.append(text)
        self._pass(2 + len(text) // 10)
        if not self.recogniser["active"]:
            return "200 result=1 (speech) endpos=0 results=0 "  # no grammar active: the engine matched nothing
        grammar = sorted(self.recogniser["active"])[0]
        return (f'200 result=1 (speech) endpos=0 results=1 score0={int(score or 87)} text0="{text}" '
                f"grammar0={grammar}")

    def stream(self, filename: str, escape: str) -> str:
        wav = Path(filename + ".wav")
        if not wav.is_absolute() and self.sounds_dir is not None:
            wav = self.sounds_dir / wav
        if not wav.exists():
            return "200 result=-1 endpos=0"  # res_agi when the file cannot be opened
        text = wav.with_suffix(".txt")
        self.played.append(text.read_text(encoding="utf-8").strip() if text.exists() else filename)
        if self._hangs_up_in("prompt"):
            return "200 result=-1 endpos=6400"
        token = self._next()
        if token and token.startswith("early:") and token[6:7] and token[6] in escape:
            self._take()
            rest = token[7:]
            if rest:
                self.script.insert(0, rest)
            self._pass(1)
            return f"200 result={ord(token[6])} endpos=13600"
        self._pass(self.prompt_seconds)
        return "200 result=0 endpos=25633"

    def wait_digit(self, timeout_ms: int) -> str:
        if self._hangs_up_in("listen"):
            return "200 result=-1"
        token = self._expect(("silence",) + tuple("0123456789*#"), "WAIT FOR DIGIT")
        if token == "hangup":
            return "200 result=-1"
        if token is None or token == "silence":
            self._pass(timeout_ms / 1000)
            return "200 result=0"
        self._pass(1)
        return f"200 result={ord(token[0])}"

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        if prompt:
            self.played.append(prompt)
        if self._hangs_up_in("listen"):
            return "200 result=-1"
        token = self._expect(("silence",) + tuple("0123456789*#"), "GET DATA")
        if token == "hangup":
            return "200 result=-1"
        if token is None or token == "silence":
            self._pass(timeout_ms / 1000)
            return "200 result= (timeout)"
        self._pass(len(token))
        if "#" in token:
            return f"200 result={token[:token.index('#')][:max_digits]}"
        if len(token) >= max_digits:
            return f"200 result={token[:max_digits]}"
        self._pass(timeout_ms / 1000)
        return f"200 result={token} (timeout)"

    def exec(self, app: str, data: str) -> str:
        if app == "Dial":
            return self.dial(data)
        if app == "Queue":
            return self.queue(data)
        if app in ("MusicOnHold", "Wait"):
            if self.dead:
                return "200 result=-1"
            seconds = int(data.split(",")[-1] or 0)
            self._pass(seconds)
            return "200 result=0"
        if app in ("Playback", "NoOp", "Set"):
            return "200 result=0" if not self.dead else "200 result=-1"
        return "200 result=-2"  # no such application

    def dial(self, data: str) -> str:
        target, _, ring = data.partition(",")
        ring_timeout, _, options = ring.partition(",")
        ring_timeout = int(ring_timeout or 0)
        confirm = options.startswith("U(vaxel-confirm^")
        if self.dead:
            self.vars["DIALSTATUS"] = "CANCEL"
            self.dialled.append(Dialled(target, ring_timeout, "cancel"))
            return "200 result=-1"
        hung_up = self._hangs_up_in("dial")
        token = "hangup" if hung_up else self._expect(("ring:",), "EXEC Dial") or "ring:answered:30"
        if token == "hangup":
            self._pass(ring_timeout / 2)
            self.vars["DIALSTATUS"] = "CANCEL"
            self.dialled.append(Dialled(target, ring_timeout, "cancel"))
            return "200 result=-1"
        parts = token.split(":")
        outcome = parts[1]
        if outcome == "machine" and not confirm:
            outcome = "answered"  # nothing asks for a key: the voicemail takes the call
        self.dialled.append(Dialled(target, ring_timeout, outcome, options))
        if outcome == "machine":
            self._pass(3 + 10)
            self.vars.update(DIALSTATUS="ANSWER", GOSUB_RETVAL="not-accepted")
            self.vars.pop("ANSWEREDTIME", None)
            return "200 result=0"  # GOSUB_RESULT=CONTINUE: the staff leg is hung up, the caller goes on
        if outcome == "answered":
            if confirm:
                self.vars["GOSUB_RETVAL"] = "accepted"
            talk = int(parts[2]) if len(parts) > 2 else 30
            self._pass(3 + talk)
            self.vars.update(DIALSTATUS="ANSWER", ANSWEREDTIME=str(talk), DIALEDTIME=str(3 + talk))
            return "200 result=-1"  # an answered, completed call (wire/agi-answered-caller.txt)
        self._pass(ring_timeout if outcome == "no-answer" else 1)
        self.vars["DIALSTATUS"] = {"no-answer": "NOANSWER", "busy": "BUSY", "chanunavail": "CHANUNAVAIL",
                                   "congestion": "CONGESTION"}[outcome]
        self.vars.pop("ANSWEREDTIME", None)
        return "200 result=0"

    def queue(self, data: str) -> str:
        parts = data.split(",")
        seconds = int(parts[4]) if len(parts) > 4 and parts[4] else 0
        self.queued.append({"queue": parts[0], "timeout": str(seconds), "prio": self.vars.get("QUEUE_PRIO", "")})
        if self.dead:
            return "200 result=-1"
        hung_up = self._hangs_up_in("queue")
        token = "hangup" if hung_up else self._expect(("queue:",), "EXEC Queue") or "queue:operator:Operatör:5"
        if token == "hangup":
            self._pass(seconds / 2)
            return "200 result=-1"
        parts = token.split(":")
        if parts[1] == "wait":
            self._pass(seconds)
            self.vars["QUEUESTATUS"] = "TIMEOUT"
            return "200 result=0"
        if parts[1] == "hold":  # real time passes in app_queue (a fault test kills vaxel meanwhile)
            time.sleep(float(parts[2]))
            self.vars["QUEUESTATUS"] = "TIMEOUT"
            return "200 result=0"
        name = parts[2] if len(parts) > 2 else "Operatör"
        hold = int(parts[3]) if len(parts) > 3 else 5
        self._pass(hold + 60)
        self.vars.update(MEMBERINTERFACE="PJSIP/4400", MEMBERNAME=name, QEHOLDTIME=str(hold))
        return "200 result=-1"  # the operator hung up after the conversation
