"""The call simulator: one call through the published flow with no telephony at all.

A script is a list of tokens, one per thing the caller (or the world) does:

    2, 123#         keys pressed (DTMF)
    silence         no input until the timeout
    say:TEXT        a speech result
    ring:answered   how the transfer now ringing ends (also ring:no-answer, ring:busy, ring:failed, and
                    ring:machine: a voicemail answers and nobody presses 1 — not reached, unless the
                    unit turned answer confirmation off, when the voicemail takes the call)
    wait:SECONDS    time passes while queued (or while talking)
    operator        an operator answers the queued call
    hangup          the caller hangs up

When the script runs out the caller stays silent and patient: menus time out
(and so reach the centre), a ringing transfer is answered, a queued call is
answered by an operator, a bridged call ends. So every run ends with a hang-up
or a bridged call, as a real call would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, Iterator, Protocol

from core.text import N_
from ivr.engine import LISTENING, CallState
from ivr.protocol import (
    Action, Digits, Gather, Hangup, Input, NoInput, OperatorAnswered, Speech, Tick, Transfer, TransferEnded,
)

RING_OUTCOMES = ("answered", "no-answer", "busy", "failed", "machine")
MACHINE_SECONDS = 10  # a voicemail picks up, then the answer confirmation waits for a key that never comes
TICK_SECONDS = 5
KEY_SECONDS = 2
ANSWER_SECONDS = 4
GATHERING = LISTENING
MAX_AUTO_STEPS = 50


class ScriptError(ValueError):
    """A token the simulator cannot use; the message names the token and says why."""


@dataclass(frozen=True)
class Wait:
    seconds: int


Token = Input | Wait


def parse_token(token: str, index: int) -> Token:
    where = dict(index=index, token=token)
    if re.fullmatch(r"[0-9*#]+", token):
        return Digits(token)
    if token == "silence":
        return NoInput()
    if token == "operator":
        return OperatorAnswered()
    if token == "hangup":
        return Hangup()
    if token.startswith("say:"):
        text = token[4:].strip()
        if not text:
            raise ScriptError(N_("Inmatning %(index)s ”%(token)s”: say: behöver orden, t.ex. say:torghandel", **where))
        return Speech(text, 0.9)
    if token.startswith("ring:"):
        outcome = token[5:]
        if outcome not in RING_OUTCOMES:
            raise ScriptError(N_("Inmatning %(index)s ”%(token)s”: en koppling slutar som en av %(outcomes)s",
                                  outcomes=", ".join("ring:" + o for o in RING_OUTCOMES), **where))
        return TransferEnded("not-accepted" if outcome == "machine" else outcome)
    if token.startswith("wait:"):
        if not re.fullmatch(r"\d{1,6}", token[5:]) or int(token[5:]) == 0:
            raise ScriptError(N_("Inmatning %(index)s ”%(token)s”: wait: tar ett helt antal sekunder, t.ex. wait:90",
                                  **where))
        return Wait(int(token[5:]))
    raise ScriptError(N_("Inmatning %(index)s ”%(token)s”: förstods inte; använd siffror (2, 123#), silence, say:TEXT, "
                         "ring:answered|no-answer|busy|failed|machine, wait:SEKUNDER, operator eller hangup", **where))


def parse_script(tokens: Iterable[str]) -> list[Token]:
    return [parse_token(t, i) for i, t in enumerate(tokens, start=1)]


class CallPort(Protocol):
    """What the simulator needs from the service: the same calls every adapter makes."""

    def start(self, call_id: str, now: datetime, caller: str | None = None, called: str | None = None,
              lang: str | None = None) -> list[Action]: ...

    def handle(self, call_id: str, inp: Input, now: datetime) -> list[Action]: ...

    def state_of(self, call_id: str) -> CallState | None: ...


@dataclass(frozen=True)
class Emitted:
    at: datetime
    action: Action


class Simulation:
    def __init__(self, port: CallPort, call_id: str, at: datetime, caller: str | None, called: str | None,
                 lang: str | None = None):
        self.port, self.call_id, self.now = port, call_id, at
        self.caller, self.called, self.lang = caller, called, lang
        self.last_gather: Gather | None = None
        self.last_transfer: Transfer | None = None

    @property
    def awaiting(self) -> str:
        state = self.port.state_of(self.call_id)
        return state.awaiting if state else ""

    def _emit(self, actions: list[Action]) -> Iterator[Emitted]:
        for action in actions:
            if isinstance(action, Gather):
                self.last_gather = action
            if isinstance(action, Transfer):
                self.last_transfer = action
            yield Emitted(self.now, action)

    def _send(self, inp: Input) -> Iterator[Emitted]:
        yield from self._emit(self.port.handle(self.call_id, inp, self.now))

    def start(self) -> Iterator[Emitted]:
        yield from self._emit(self.port.start(self.call_id, self.now, self.caller, self.called, self.lang))

    def feed(self, token: Token, index: int, text: str) -> Iterator[Emitted]:
        awaiting = self.awaiting
        if not awaiting:
            raise ScriptError(N_("Inmatning %(index)s ”%(token)s”: samtalet har redan slutat", index=index, token=text))
        if isinstance(token, Wait):
            yield from self._wait(token.seconds)
            return
        if isinstance(token, Hangup):
            yield from self._send(token)
            return
        if isinstance(token, TransferEnded):
            if awaiting != "transfer":
                raise ScriptError(N_("Inmatning %(index)s ”%(token)s”: ingen koppling ringer (samtalet är vid %(awaiting)s)",
                                     index=index, token=text, awaiting=awaiting))
            ring = self.last_transfer.ring_timeout if self.last_transfer else 0
            if token.status == "not-accepted" and not (self.last_transfer and self.last_transfer.whisper):
                token = TransferEnded("answered")  # nothing asks for a key: the voicemail takes the call
            if token.status == "not-accepted":
                ring = MACHINE_SECONDS
            self.now += timedelta(seconds=ANSWER_SECONDS if token.status == "answered" else ring)
            yield from self._send(token)
            return
        if isinstance(token, OperatorAnswered):
            if awaiting not in {"queue", "queue_offer"}:
                raise ScriptError(N_("Inmatning %(index)s ”%(token)s”: den som ringer står inte i en kö (samtalet är vid "
                                     "%(awaiting)s)", index=index, token=text, awaiting=awaiting))
            yield from self._send(token)
            return
        if awaiting not in GATHERING | {"queue"}:
            raise ScriptError(N_("Inmatning %(index)s ”%(token)s”: samtalet lyssnar inte efter knappar eller tal (det är "
                                 "vid %(awaiting)s)", index=index, token=text, awaiting=awaiting))
        if isinstance(token, NoInput):
            self.now += timedelta(seconds=self.last_gather.timeout if self.last_gather else 5)
        else:
            self.now += timedelta(seconds=KEY_SECONDS)
        yield from self._send(token)

    def _wait(self, seconds: int) -> Iterator[Emitted]:
        """Let time pass in steps; an offer made before the wait is over goes unanswered."""
        end = self.now + timedelta(seconds=seconds)
        while self.now < end and self.awaiting:
            awaiting = self.awaiting
            if awaiting in {"queue", "queue_offer"}:
                step = min(TICK_SECONDS, int((end - self.now).total_seconds()))
                if awaiting == "queue_offer" and self.last_gather:
                    step = min(self.last_gather.timeout, int((end - self.now).total_seconds()))
                    self.now += timedelta(seconds=step)
                    if self.now < end:
                        yield from self._send(NoInput())
                    continue
                self.now += timedelta(seconds=step)
                yield from self._send(Tick())
            elif awaiting in GATHERING:
                self.now += timedelta(seconds=self.last_gather.timeout if self.last_gather else 5)
                yield from self._send(NoInput())
            else:
                self.now = end

    def finish(self) -> Iterator[Emitted]:
        """The script is over: the caller stays silent and patient until the call ends or is bridged."""
        for _ in range(MAX_AUTO_STEPS):
            awaiting = self.awaiting
            if awaiting in {"", "bridged"}:
                break
            if awaiting == "transfer":
                self.now += timedelta(seconds=ANSWER_SECONDS)
                yield from self._send(TransferEnded("answered"))
            elif awaiting in {"queue", "queue_offer"}:
                yield from self._send(OperatorAnswered())
            else:
                self.now += timedelta(seconds=self.last_gather.timeout if self.last_gather else 5)
                yield from self._send(NoInput())
        if self.awaiting == "bridged":
            self.port.handle(self.call_id, Hangup(), self.now)

    def run(self, script: list[str], ask: Callable[[str], str | None] | None = None,
            finish: bool = True) -> Iterator[Emitted]:
        """Run a scripted call; with ``ask``, tokens are read one by one (interactive).

        ``finish=False`` stops where the script stops (the admin's test-call panel goes on key by key).
        """
        yield from self.start()
        tokens = parse_script(script) if ask is None else None
        index = 0
        while True:
            if ask is None:
                if index >= len(tokens):
                    break
                token, text = tokens[index], script[index]
            else:
                if not self.awaiting:
                    break
                text = ask(self.awaiting)
                if text is None:
                    break
                text = text.strip() or "silence"
                try:
                    token = parse_token(text, index + 1)
                except ScriptError as exc:
                    yield Emitted(self.now, _Note(str(exc)))
                    continue
            index += 1
            try:
                yield from self.feed(token, index, text)
            except ScriptError as exc:
                if ask is None:
                    raise
                yield Emitted(self.now, _Note(str(exc)))
        if finish:
            yield from self.finish()


@dataclass(frozen=True)
class _Note(Action):
    """A message to the interactive user; never sent to telephony."""

    kind = "note"
    text: str = ""
