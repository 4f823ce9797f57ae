"""Telephony next to the web service: the FastAGI server and, when configured, the AMI connection.

``vaxel serve`` starts both in background threads beside waitress. Without
``VAXEL_AMI_HOST`` the service runs without AMI and says so: calls still flow
over FastAGI, but there is no PBX presence, no Asterisk callbacks and no
operator log-in from vaxel. A FastAGI port that cannot be bound is reported
loudly and does not stop the web views.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from ivr import queues as flow_queues
from switchboard.asterisk.agi import AgiBounds, AgiChannel
from switchboard.asterisk.ami import AmiClient
from switchboard.asterisk.audio import AudioLibrary
from switchboard.asterisk.call import AsteriskCall, flow_queue_of
from switchboard.asterisk.liveness import AsteriskChannels
from switchboard.asterisk.mapping import app_queue_name, template_problems
from switchboard.asterisk.pbx_events import PbxEvent, PbxWatcher
from switchboard.asterisk.prompts import library_from_settings
from switchboard.asterisk.server import FastAgiServer
from switchboard.asterisk.speech import directory_grammar
from switchboard.calls import CallRunner
from switchboard.reconcile import heartbeat

log = logging.getLogger(__name__)


def incoming(services, audio: AudioLibrary | None = None) -> Callable[[AgiChannel], str]:
    """The ``agi://HOST:4573/incoming`` script: the published call flow, as the simulator runs it."""
    audio = audio or library_from_settings(services.settings)

    def run(channel: AgiChannel) -> str:
        runner = CallRunner(services.sessions, services.settings, channel="asterisk")
        call = AsteriskCall(channel, runner, services.clock, audio, services.settings["asterisk"],
                            lambda call_id: flow_queue_of(services.sessions, call_id),
                            grammar=lambda: directory_grammar(services.sessions, services.settings))
        return call.run()

    return run


class HeldCalls:
    """The calls whose FastAGI connection this process holds now: what its heartbeat proves alive."""

    def __init__(self) -> None:
        self._sessions: Counter[str] = Counter()  # a refused duplicate session must not un-hold the live one
        self._lock = threading.Lock()

    def __call__(self) -> set[str]:
        with self._lock:
            return set(self._sessions)

    def holding(self, handler: Callable[[AgiChannel], str]) -> Callable[[AgiChannel], str]:
        def run(channel: AgiChannel) -> str:
            call_id = f"ast-{channel.env.get('agi_uniqueid')}" if channel.env.get("agi_uniqueid") else None
            if call_id:
                with self._lock:
                    self._sessions[call_id] += 1
            try:
                return handler(channel)
            finally:
                if call_id:
                    with self._lock:
                        self._sessions[call_id] -= 1
                        if self._sessions[call_id] <= 0:
                            del self._sessions[call_id]

        return run


def agi_server(services, host: str | None = None, port: int | None = None,
               audio: AudioLibrary | None = None, held: HeldCalls | None = None) -> FastAgiServer:
    ast = services.settings["asterisk"]
    from switchboard.asterisk.control import resume

    held = held or HeldCalls()
    return FastAgiServer({"incoming": held.holding(incoming(services, audio)),
                          "resume": held.holding(resume(services, audio))},
                         host or ast["agi_host"], ast["agi_port"] if port is None else port, ast["agi_max_calls"],
                         bounds=AgiBounds.from_settings(ast))


def ami_client(settings: dict) -> AmiClient | None:
    ami = settings["ami"]
    if not ami.get("host"):
        return None
    return AmiClient(ami["host"], ami["port"], ami["user"], ami.get("secret"))


@dataclass
class Telephony:
    agi: FastAgiServer | None = None
    ami: AmiClient | None = None
    watcher: PbxWatcher | None = None
    notes: list[str] = field(default_factory=list)
    held: HeldCalls = field(default_factory=HeldCalls)
    stopping: threading.Event = field(default_factory=threading.Event)

    def platform(self) -> AsteriskChannels:
        """What the reconciler asks about Asterisk calls."""
        return AsteriskChannels(self.ami, self.held)

    def stop(self) -> None:
        self.stopping.set()
        if self.agi is not None:
            self.agi.stop()
        if self.ami is not None:
            self.ami.stop()


def presence_writer(services) -> Callable[[str, str], None]:
    """Feed the PBX's device states into the directory's presence: the line, never what people set."""
    from directory import presence

    def write(extension: str, state: str) -> None:
        try:
            with services.sessions() as session:
                staff_id = presence.staff_by_extension(session, extension)
                if staff_id is not None:
                    presence.set_line(session, staff_id, state, now=services.clock.now())
                    session.commit()
        except Exception:  # presence is advisory; an AMI event must never take the watcher down
            log.exception("could not record presence %s for extension %s", state, extension)

    return write


def operator_answers(services) -> Callable[[PbxEvent], None]:
    """An operator's phone took a caller from app_queue: the caller is with that operator now, in our books too.

    Without this the engine would learn of the answer only when ``Queue`` returns, after the conversation,
    and the console could not act on the call. The operator is the console user whose endpoint is the
    member's interface (else the member's name).
    """
    from sqlalchemy import select

    from ivr.protocol import OperatorAnswered
    from switchboard.console.models import ConsoleOperator

    def handle(event: PbxEvent) -> None:
        if event.kind != "operator_answered" or not event.uniqueid:
            return
        member = str(event.data.get("member") or "")
        call_id = f"ast-{event.uniqueid}"
        try:
            runner = CallRunner(services.sessions, services.settings, channel="asterisk")
            state = runner.state_of(call_id)
            if state is None or state.awaiting not in ("queue", "queue_offer"):
                return
            with services.sessions() as session:
                operator = session.scalar(select(ConsoleOperator.username)
                                          .where(ConsoleOperator.endpoint == member)) or member
            runner.handle(call_id, OperatorAnswered(operator), services.clock.now())
        except Exception:  # the queue's own return reports the answer too; never take the watcher down
            log.exception("could not record that %s answered call %s", member, call_id)

    return handle


def start(services, agi_host: str | None = None, agi_port: int | None = None,
          on_presence: Callable[[str, str], None] | None = None, say: Callable[[str], None] = log.info,
          shared_port: bool = False, watch_pbx: bool = True) -> Telephony:
    """Start FastAGI (unless its port is 0) and AMI (if a host is set); ``say`` tells the operator what runs.

    ``shared_port``: one of several workers binds the same FastAGI port (``SO_REUSEPORT``); ``watch_pbx``
    False: this AMI connection only acts for the console, another worker follows the PBX's events."""
    telephony = Telephony()
    ast = services.settings["asterisk"]
    for problem in template_problems(ast):
        say(f"ERROR: {problem}; transfers will fail and callers return to the centre queue")
    port = ast["agi_port"] if agi_port is None else agi_port
    if port:
        server = agi_server(services, agi_host, port, held=telephony.held)
        server.reuse_port = shared_port
        try:
            host, bound = server.start()
            telephony.agi = server
            services.health["agi"] = lambda: {"in_use": server.in_use, "max": server.max_calls}
            threading.Thread(target=heartbeat, name="vaxel-agi-heartbeat", daemon=True,
                             args=(services.sessions, telephony.held, services.clock.now, telephony.stopping,
                                   services.settings["reconcile"]["heartbeat_seconds"])).start()
            say(f"vaxel FastAGI on agi://{host}:{bound}/incoming (at most {ast['agi_max_calls']} calls at once)")
        except OSError as exc:
            say(f"ERROR: FastAGI cannot listen on {agi_host or ast['agi_host']}:{port}: {exc}; "
                "Asterisk calls go to the dialplan's operator fallback until this is fixed")
    else:
        say("FastAGI disabled (agi port 0)")
    client = ami_client(services.settings)
    from switchboard.asterisk.control import make_factory
    from switchboard.console.control import register

    register(services, "asterisk", make_factory(client))  # the console acts on Asterisk calls through this AMI client
    if client is None:
        say("AMI not configured (VAXEL_AMI_HOST unset): running without AMI — no PBX presence, "
            "no Asterisk callbacks, no operator queue log-in from vaxel")
    else:
        if watch_pbx:
            with services.sessions() as session:  # every queue of the flow is an app_queue to mirror
                queues = [app_queue_name(q) for q in flow_queues.names(session)]
            watcher = PbxWatcher(ast["dial_template"], queues,
                                 on_presence=on_presence or presence_writer(services),
                                 on_call_event=operator_answers(services))
            watcher.attach(client)
            telephony.watcher = watcher
        services.health["ami"] = lambda: {"connected": client.connected.is_set()}
        client.start()
        telephony.ami = client
        say(f"AMI: connecting to {client.host}:{client.port} as {client.user!r}")
    return telephony
