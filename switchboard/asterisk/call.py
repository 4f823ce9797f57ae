"""One Asterisk call: the engine's actions become AGI commands, what the caller does becomes its next input.

``runner.start`` gives actions; they are performed on the channel (prompts as
files, keys read, staff dialled, the centre queue waited in) until they yield
one input — keys, silence, how a transfer ended, a queue tick, a hang-up — which
goes to ``runner.handle``, and so on until the engine ends the call or a
conversation with a person is over.

Never silence, never a drop: if anything here fails, ``VAXEL_RESULT=fallback``
is set and the script returns; the dialplan (``config/asterisk``) then queues
the caller for the operators. A hang-up anywhere (the inline ``HANGUP``, a 511,
a closed socket) is told to the engine as ``Hangup()``, so the call is logged
as abandoned at the step where it happened.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable

from directory import numbers
from ivr.engine import CallState
from ivr.flow import QUEUE_DEFAULTS
from ivr.models import CallSession
from ivr.protocol import Action, Digits, Gather, Hangup, Input, NoInput, Say, Speech, Transfer, TransferEnded
from switchboard.asterisk.agi import ALL_KEYS, AgiBoundExceeded, AgiChannel, ChannelHungUp
from switchboard.asterisk.audio import AudioLibrary
from switchboard.asterisk.mapping import (
    called_of, caller_of, dial_args, dial_string, gosub_safe, interruptible, key_of, transfer_input,
)
from switchboard.asterisk.prompts import pieces
from switchboard.asterisk.queueing import wait_in_queue
from switchboard.asterisk.speech import open_recogniser
from switchboard.calls import CallRunner, flow_of
from switchboard.metrics import AGI_STEP_SECONDS

log = logging.getLogger(__name__)

MAX_DIGITS = 32  # a Gather "until #": an extension, a name spelled on the keypad, a phone number
Step = tuple[Input, datetime]


def flow_queue_of(sessions, call_id: str) -> dict:
    """The queue settings (announce_every, callback_after, ...) of the flow version this call runs."""
    with sessions() as session:  # the parsed flow is kept in memory (flow_of): no flow document read per call
        call = session.get(CallSession, call_id)
        flow = flow_of(session, call.flow_version_id) if call and call.flow_version_id else None
        return flow.queue if flow else dict(QUEUE_DEFAULTS)


class _Running:
    """The call ids an ``incoming`` session runs in this process now: a second session with the same
    ``agi_uniqueid`` is refused before it can touch the first call (even while the first is still starting)."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, call_id: str) -> bool:
        with self._lock:
            if call_id in self._ids:
                return False
            self._ids.add(call_id)
            return True

    def release(self, call_id: str) -> None:
        with self._lock:
            self._ids.discard(call_id)


RUNNING = _Running()


class AsteriskCall:
    def __init__(self, channel: AgiChannel, runner: CallRunner, clock, audio: AudioLibrary, asterisk: dict,
                 flow_queue: Callable[[str], dict], grammar: Callable[[], str | None] | None = None):
        self.channel, self.runner, self.clock, self.audio = channel, runner, clock, audio
        self.dial_template = asterisk["dial_template"]
        self.outbound_template = asterisk["outbound_template"]
        self.flow_queue = flow_queue
        self.call_id = f"ast-{channel.env.get('agi_uniqueid') or uuid.uuid4().hex[:12]}"
        self._queue_settings: dict | None = None
        self.speech_engine = asterisk.get("speech_engine", "")
        self.speech_seconds = int(asterisk.get("speech_seconds", 6))
        self.grammar = grammar or (lambda: None)
        self.speech = False  # a recogniser is open on this call (``open_recogniser``)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> str:
        """Run the call; returns what the dialplan is told in VAXEL_RESULT: done, hangup or fallback."""
        if not RUNNING.claim(self.call_id):
            self._duplicate("is still running in this process")
            try:
                self.channel.set_var("VAXEL_RESULT", "fallback")
            except Exception:  # the socket may be gone; the dialplan's default is the operators
                pass
            return "fallback"
        try:
            return self._run()
        finally:
            RUNNING.release(self.call_id)

    def _duplicate(self, why: str) -> None:
        """A second session for a call we know: refused without touching the call (its state, its queue place);
        this session is told ``fallback``, so the dialplan sends that channel to the operators."""
        log.warning("call %s: refused a second AGI session with agi_uniqueid %s: the call %s; this session goes "
                    "to the operators, the call itself is left as it is", self.call_id,
                    self.channel.env.get("agi_uniqueid"), why)

    def _run(self) -> str:
        result, started = "fallback", False
        try:
            self.channel.answer()
            if self.speech_engine:
                self.speech = open_recogniser(self.channel, self.speech_engine, self.grammar(), self.call_id)
            with AGI_STEP_SECONDS.labels("start").time():  # the adapter boundary: what the caller waits for
                actions = self.runner.start(self.call_id, self.clock.now(), caller_of(self.channel.env),
                                            called_of(self.channel.env), speech=self.speech)
            if not actions:  # already in our books: another process runs it, or it is over
                self._duplicate("already exists")
                return result  # fallback, told in finally; nothing recorded: started is False
            started = True
            step = self.perform(actions)
            while step is not None:
                if self.channel.hung_up and self.console_took_over():
                    return "console"
                inp, at = step
                with AGI_STEP_SECONDS.labels(inp.kind).time():
                    actions = self.runner.handle(self.call_id, inp, at)
                step = self.perform(actions)
            result = "hangup" if self.channel.hung_up else "done"
        except AgiBoundExceeded:  # Asterisk stopped answering, not the caller: the dialplan's fallback has them
            if started:
                try:
                    self.runner.handed_off(self.call_id, self.clock.now(), "FastAGI peer past its bounds")
                except Exception:
                    log.exception("call %s: could not record the hand-off", self.call_id)
        except ChannelHungUp:
            if self.console_took_over():
                return "console"
            result = "hangup"
            if started:
                self._tell_hangup()
        except Exception:
            log.exception("call %s: the Asterisk adapter failed; the dialplan sends the caller to the operators",
                          self.call_id)
            if started:
                try:
                    self.runner.handed_off(self.call_id, self.clock.now(), "asterisk adapter error")
                except Exception:
                    log.exception("call %s: could not record the hand-off", self.call_id)
        finally:
            if self.speech:
                try:
                    self.channel.speech_destroy()
                except Exception:  # the socket may be gone; Asterisk frees the recogniser with the AGI anyway
                    pass
            try:
                self.channel.set_var("VAXEL_RESULT", result)
            except Exception:  # the socket may be gone; the dialplan's default is the operators
                pass
        return result

    def console_took_over(self) -> bool:
        """Did the channel leave this script because the console redirected it (``control.py``), not a hang-up?"""
        try:
            return bool(self.channel.var("VAXEL_CONSOLE"))
        except Exception:
            return False

    def _tell_hangup(self) -> None:
        try:
            self.runner.handle(self.call_id, Hangup(), self.clock.now())
        except Exception:
            log.exception("call %s: could not record the hang-up", self.call_id)

    def perform(self, actions: list[Action]) -> Step | None:
        """Do the actions; return the input they lead to, or None when the engine is done with the call."""
        pressed = None
        for action, cut in zip(actions, interruptible(actions)):
            if isinstance(action, Say):
                if pressed and cut:
                    continue  # the caller already answered: the rest of the prompt is not played
                key = self.say(action, ALL_KEYS if cut else "")
                pressed = pressed or (key if cut else None)
            elif isinstance(action, Gather):
                return self.gather(action, pressed), self.clock.now()
            elif isinstance(action, Transfer):
                return self.transfer(action)
            # Enqueue, Bridged, Callback and HangUp need nothing on the wire: the state says what follows.
        state = self.runner.state_after(self.call_id)
        awaiting = state.awaiting if state else ""
        if awaiting == "":
            return None
        if awaiting == "bridged":  # Dial and Queue return only when that conversation is over
            return Hangup(), self.clock.now()
        if awaiting == "queue":
            return self.wait_in_queue(state)
        raise RuntimeError(f"call {self.call_id}: nothing to do on Asterisk while awaiting {awaiting!r}")

    # -- actions ------------------------------------------------------------------------------

    def _ensure_alive(self) -> None:
        if not self.channel.alive():
            raise ChannelHungUp("the caller hung up")

    def say(self, say: Say, escape: str) -> str | None:
        """Play the text's files; returns a key that cut it short (only when ``escape`` allows keys)."""
        for text in pieces(say):
            name = self.audio.file_for(text, say.lang)
            if name is None:
                continue  # no audio for this text: logged by the library; go on with the call
            reply = self.channel.stream(name, escape)
            if reply.number is None or reply.number < 0:
                self._ensure_alive()
                log.warning("call %s: Asterisk could not play %s", self.call_id, name)
                continue
            key = key_of(reply.number)
            if key and escape:
                return key
        return None

    def gather(self, gather: Gather, pressed: str | None) -> Input:
        if "speech" in gather.input and self.speech and not pressed:
            heard = self.channel.speech_recognize("", self.speech_seconds)
            if heard.kind == "speech":
                return Speech(heard.text, min(1.0, max(0.0, heard.score / 100)))
            if heard.kind in ("hangup", "failed"):
                self._ensure_alive()
            if heard.kind == "failed":  # the recogniser broke: this call goes on with keys
                log.warning("call %s: SPEECH RECOGNIZE failed; reading keys instead", self.call_id)
                self.speech = False
            elif heard.kind == "digit" and heard.digit:
                pressed = heard.digit  # keys after all: the rest is read as keys
            else:
                return NoInput()
        if gather.max_digits == 1:
            if pressed:
                return Digits(pressed)
            reply = self.channel.wait_digit(gather.timeout * 1000)
            if reply.number is None or reply.number < 0:
                self._ensure_alive()
            key = key_of(reply.number)
            return Digits(key) if key else NoInput()
        if pressed and pressed in (gather.finish_on_key or "#"):
            return Digits(pressed)
        prefix = pressed or ""
        room = (gather.max_digits or MAX_DIGITS) - len(prefix)
        digits = ""
        if room > 0:
            reply = self.channel.read_digits(gather.timeout * 1000, room)
            if reply.result == "-1":
                self._ensure_alive()
            else:
                digits = "".join(c for c in reply.result if c in ALL_KEYS)
        typed = prefix + digits
        return Digits(typed) if typed else NoInput()

    def transfer(self, transfer: Transfer) -> Step:
        """``EXEC Dial "<string>,<ring timeout>"``, then ``DIALSTATUS`` says how it ended.

        A number the number policy refuses is never dialled (nor filled into the dial template): with no extension
        left either, the transfer fails as any other failed transfer.
        """
        if transfer.number and not numbers.dialable(transfer.number, numbers.Policy.from_settings(
                self.runner.settings), f"call {self.call_id}"):
            transfer = replace(transfer, number=None)
        policy = numbers.Policy.from_settings(self.runner.settings)
        transfer = replace(transfer, also=tuple(n for n in transfer.also
                                                if numbers.dialable(n, policy, f"call {self.call_id}")))
        target = dial_string(transfer, self.dial_template, self.outbound_template)
        if target is None:
            log.warning("call %s: %s has no extension or number to dial", self.call_id, transfer.name)
            return TransferEnded("failed"), self.clock.now()
        whisper = self._whisper_file(transfer)
        seconds = 0
        if whisper:
            self.channel.set_var("GOSUB_RETVAL", "")  # the subroutine's answer comes back in it
            seconds = int(self.runner.settings["transfers"]["confirm_seconds"])
        returned = self.channel.run_app("Dial", dial_args(target, transfer.ring_timeout, whisper, seconds))
        status = self.channel.var("DIALSTATUS")
        inp = transfer_input(status, (self.channel.var("GOSUB_RETVAL") == "accepted") if whisper else None)
        now = self.clock.now()
        if not status and returned < 0 and not self.channel.alive():
            return Hangup(), now
        if isinstance(inp, TransferEnded) and inp.status == "answered":
            talked = self.channel.var("ANSWEREDTIME")
            if talked and talked.strip().isdigit():
                return inp, now - timedelta(seconds=int(talked))
        return inp, now

    def _whisper_file(self, transfer: Transfer) -> str | None:
        """The audio of the answer confirmation ("... tryck 1 för att ta samtalet"), or None to connect on answer:
        without audio whoever answers could not know to press 1, so a broken synthesiser never fails a transfer."""
        if not transfer.whisper:
            return None
        name = self.audio.file_for(transfer.whisper, "sv")
        if not gosub_safe(name):
            log.warning("call %s: no usable audio for the answer confirmation (%r); %s is connected on answer",
                        self.call_id, name, transfer.name)
            return None
        return name

    def wait_in_queue(self, state: CallState) -> Step:
        if self._queue_settings is None:
            self._queue_settings = self.flow_queue(self.call_id)
        inp, at = wait_in_queue(self.channel, state, self._queue_settings, self.clock)
        if self.channel.hung_up and not isinstance(inp, Hangup):
            raise ChannelHungUp("the caller hung up while queued")
        return inp, at
