"""The Asterisk Manager Interface: pyst2's ``Manager`` behind a client that reconnects and matches replies.

pyst2 0.5.1's ``Manager`` reads the socket and dispatches events in threads;
what it gets wrong is fixed in :class:`_Manager`:

* ``send_action(cdict={})`` updates a mutable default dict, so headers and the
  ActionID of one action leak into the next — ours builds a fresh dict each time;
* it answers each action with whatever response comes next — ours waits for the
  response carrying *its* ActionID (events interleave freely with responses, and
  list actions such as ``QueueStatus`` end with an ``...Complete`` event);
* its reader treats "status will follow" as the start of one huge message,
  swallowing the events that follow — ours frames every message at its blank line;
* its parser calls ``dict.has_key`` on ``ChanVariable`` headers (Python 2);
* its sockets can only connect once and have no timeouts.

:class:`AmiClient` owns one ``_Manager`` at a time: it logs in with the
credentials from settings (the secret only from ``VAXEL_AMI_SECRET``),
reconnects with exponential backoff when the connection drops, and calls every
``on_connect`` hook again after each (re)connection, so state such as queue
members and device states is resynchronised (``QueueStatus``, ``DeviceStateList``).
Events reach subscribers as plain dicts; nothing outside this package sees pyst2.
"""

from __future__ import annotations

import itertools
import logging
import queue
import socket
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Callable

from asterisk.manager import Event, Manager, ManagerMsg

log = logging.getLogger(__name__)

EOL = "\r\n"
EventHandler = Callable[[dict[str, str]], None]


class AmiError(RuntimeError):
    """Asterisk answered ``Response: Error`` (the message says why)."""


class AmiUnavailable(ConnectionError):
    """There is no AMI connection now (not configured, or reconnecting)."""


class _Msg(ManagerMsg):
    """pyst2's message parser without ``dict.has_key``."""

    def parse(self, response):
        data = []
        for n, line in enumerate(response):
            if not line.endswith("\r\n"):
                data.extend(response[n:])
                break
            key, sep, value = line.partition(":")
            if not sep:
                data.extend(response[n:])
                break
            key, value = key.strip(), value.strip()
            if "ChanVariable" in key:
                name, _, var = value.partition("=")
                self.headers.setdefault("ChanVariable", {})[name.strip()] = var.strip()
            else:
                self.headers[key] = value
        self.data = "".join(data)


@dataclass
class _Pending:
    """One action waiting for its response (and, for a list action, its events up to ``...Complete``)."""

    listing: bool
    done: threading.Event = field(default_factory=threading.Event)
    response: dict[str, str] | None = None
    events: list[dict[str, str]] = field(default_factory=list)
    lost: bool = False


class _Manager(Manager):
    """pyst2's Manager with fresh headers per action, replies matched by ActionID, and honest framing."""

    def __init__(self, on_lost: Callable[[], None]):
        with warnings.catch_warnings():  # pyst2 builds its threads with the deprecated setDaemon()
            warnings.simplefilter("ignore", DeprecationWarning)
            super().__init__()
        self._pending: dict[str, _Pending] = {}
        self._write = threading.Lock()
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self._on_lost = on_lost
        self._raw: socket.socket | None = None

    def next_action_id(self) -> str:
        return f"vaxel-{self._prefix}-{next(self._ids)}"

    # -- connecting --------------------------------------------------------------------------

    def connect(self, host, port=5038, timeout: float = 5.0):
        try:
            sock = socket.create_connection((host, int(port)), timeout=timeout)
        except OSError as exc:
            raise AmiUnavailable(f"cannot reach AMI at {host}:{port}: {exc}") from None
        sock.settimeout(None)
        self._raw = sock
        self._sock = sock.makefile(mode="rwb", buffering=0)
        self._connected.set()
        self._running.set()
        self.message_thread.start()
        self.event_dispatch_thread.start()
        try:
            greeting = self._response_queue.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise AmiUnavailable(f"{host}:{port} sent no AMI banner") from None
        if not greeting:
            raise AmiUnavailable(f"{host}:{port} closed the connection")
        return greeting

    # -- sending -----------------------------------------------------------------------------

    def send_action(self, cdict=None, timeout: float = 10.0, listing: bool = False, **kwargs):
        """Send one action (a fresh dict every time) and wait for *its* response."""
        headers = dict(cdict or {})
        headers.update(kwargs)
        action_id = str(headers.setdefault("ActionID", self.next_action_id()))
        if not self._connected.is_set():
            raise AmiUnavailable("not connected to AMI")
        lines = []
        for key, value in headers.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"{key}: {str(item).replace(EOL, ' ')}")
        pending = _Pending(listing=listing)
        self._pending[action_id] = pending
        try:
            with self._write:
                self._sock.write((EOL.join(lines) + EOL + EOL).encode("utf-8"))
                self._sock.flush()
        except OSError as exc:
            self._pending.pop(action_id, None)
            raise AmiUnavailable(f"AMI connection lost: {exc}") from None
        if not pending.done.wait(timeout):
            self._pending.pop(action_id, None)
            raise AmiUnavailable(f"no AMI response to {headers.get('Action')} within {timeout} s")
        self._pending.pop(action_id, None)
        if pending.lost:
            raise AmiUnavailable("AMI connection lost while waiting for a response")
        return pending

    # -- receiving ---------------------------------------------------------------------------

    def _receive_data(self):
        """Frame messages at blank lines; the banner line is the one message without a colon."""
        lines: list[str] = []
        try:
            for raw in self._sock:
                line = raw.decode("utf-8", "replace")
                if not self.title and "/" in line and ":" not in line:
                    self.title, _, self.version = line.strip().partition("/")
                    self._message_queue.put(["Response: Generated Header\r\n", line])
                    continue
                if line in ("\r\n", "\n"):
                    if lines:
                        self._message_queue.put(lines)
                        lines = []
                    continue
                lines.append(line if line.endswith("\r\n") else line.rstrip("\n") + "\r\n")
                if not self._running.is_set():
                    break
        except (OSError, ValueError):
            pass
        self._connected.clear()
        self._message_queue.put(None)

    def message_loop(self):
        reader = threading.Thread(target=self._receive_data, name="vaxel-ami-reader", daemon=True)
        reader.start()
        while True:
            data = self._message_queue.get()
            if not data:
                break
            message = _Msg(data)
            headers = {k: v for k, v in message.headers.items() if isinstance(v, str)}
            action_id = headers.get("ActionID", "")
            pending = self._pending.get(action_id)
            if "Event" in headers:
                if pending is not None and pending.listing:
                    pending.events.append(headers)
                    if headers.get("EventList", "").lower() == "complete" or headers["Event"].endswith("Complete"):
                        pending.done.set()
                self._event_queue.put(Event(message))
            elif "Response" in headers:
                if pending is not None:
                    pending.response = headers
                    failed = headers.get("Response") == "Error"
                    if not pending.listing or failed or headers.get("EventList", "").lower() != "start":
                        pending.done.set()
                elif headers.get("Response") == "Generated Header":
                    self._response_queue.put(message)  # the banner, for connect()
                else:
                    log.debug("AMI response nobody waits for: %s", headers)
        self._connected.clear()
        for pending in list(self._pending.values()):
            pending.lost = True
            pending.done.set()
        self._response_queue.put(None)
        self._event_queue.put(None)
        self._running.clear()
        self._on_lost()

    def event_dispatch(self):
        """pyst2's dispatcher without its deprecated ``isSet()`` polling; ends at the None sentinel."""
        while True:
            event = self._event_queue.get()
            if event is None:
                break
            for callback in self._event_callbacks.get(event.name, []) + self._event_callbacks.get("*", []):
                if callback(event, self):
                    break

    def close(self):
        self._running.clear()
        self._connected.clear()
        if self._raw is not None:
            try:
                self._raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._raw.close()


class AmiClient:
    """A lasting AMI session: login, reconnect with backoff, resync hooks, events as dicts."""

    def __init__(self, host: str, port: int, user: str, secret: str | None, *, timeout: float = 10.0,
                 backoff: tuple[float, float] = (1.0, 60.0)):
        self.host, self.port, self.user, self.secret = host, int(port), user, secret or ""
        self.timeout = timeout
        self.backoff_first, self.backoff_max = backoff
        self.connected = threading.Event()
        self.connections = 0  # successful logins so far (1 + reconnects)
        self._manager: _Manager | None = None
        self._handlers: list[EventHandler] = []
        self._on_connect: list[Callable[["AmiClient"], None]] = []
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def subscribe(self, handler: EventHandler) -> None:
        """``handler(event)`` for every AMI event, from the event thread; exceptions are logged, not raised."""
        self._handlers.append(handler)

    def on_connect(self, hook: Callable[["AmiClient"], None]) -> None:
        """Run after every successful login (the first and each reconnect): resynchronise state here."""
        self._on_connect.append(hook)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name="vaxel-ami", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._lost.set()
        manager = self._manager
        if manager is not None:
            try:
                manager.send_action({"Action": "Logoff"}, timeout=2.0)
            except Exception:
                pass
            manager.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _supervise(self) -> None:
        delay = self.backoff_first
        while not self._stop.is_set():
            try:
                self._connect()
                delay = self.backoff_first
                self._lost.wait()
            except Exception as exc:  # unreachable, refused login, ...: try again later
                log.warning("AMI %s:%s: %s; retrying in %.1f s", self.host, self.port, exc, delay)
                if self._manager is not None:
                    self._manager.close()
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff_max)
            self.connected.clear()

    def _connect(self) -> None:
        self._lost.clear()
        manager = _Manager(on_lost=self._connection_lost)
        manager.register_event("*", self._dispatch)
        self._manager = manager
        manager.connect(self.host, self.port, timeout=self.timeout)
        pending = manager.send_action({"Action": "Login", "Username": self.user, "Secret": self.secret},
                                      timeout=self.timeout)
        if (pending.response or {}).get("Response") != "Success":
            raise AmiError(f"AMI login as {self.user!r} refused: {(pending.response or {}).get('Message')}")
        self.connections += 1
        self.connected.set()
        log.info("AMI connected to %s:%s (%s)", self.host, self.port, manager.title)
        for hook in self._on_connect:
            try:
                hook(self)
            except Exception:
                log.exception("AMI resync hook %r failed", hook)

    def _connection_lost(self) -> None:
        if not self._stop.is_set():
            log.warning("AMI connection to %s:%s lost; reconnecting", self.host, self.port)
        self.connected.clear()
        self._lost.set()

    def _dispatch(self, event, _manager) -> None:
        headers = {k: v for k, v in event.headers.items() if isinstance(v, str)}
        for handler in self._handlers:
            try:
                handler(headers)
            except Exception:
                log.exception("AMI event handler failed on %s", headers.get("Event"))

    # -- actions -----------------------------------------------------------------------------

    def _live(self) -> _Manager:
        manager = self._manager
        if manager is None or not self.connected.is_set():
            raise AmiUnavailable(f"AMI {self.host}:{self.port} is not connected")
        return manager

    def action(self, action: str, **headers) -> dict[str, str]:
        """Send ``Action: <action>`` with ``headers``; the response headers, or :class:`AmiError` on Error."""
        pending = self._live().send_action({"Action": action, **headers}, timeout=self.timeout)
        response = pending.response or {}
        if response.get("Response") == "Error":
            raise AmiError(f"{action}: {response.get('Message', 'error')}")
        return response

    def listing(self, action: str, **headers) -> list[dict[str, str]]:
        """A list action (``QueueStatus``, ``DeviceStateList``): its events up to ``...Complete``."""
        pending = self._live().send_action({"Action": action, **headers}, timeout=self.timeout, listing=True)
        response = pending.response or {}
        if response.get("Response") == "Error":
            raise AmiError(f"{action}: {response.get('Message', 'error')}")
        return [e for e in pending.events if not e.get("Event", "").endswith("Complete")]
