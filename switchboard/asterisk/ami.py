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
A real Asterisk accepts AMI logins while it is still loading modules: it sends
``Event: FullyBooted`` right after the login response when it is up, later when
it is still starting. So the hooks run only after this connection's FullyBooted
(or ``boot_timeout`` without it: a proxy or event filter may hide it), and an
action of theirs answered ``Invalid/unknown command`` (app_queue or
res_manager_devicestate not loaded yet) is retried with backoff while the
connection lives, one warning line per failure.
Events reach subscribers as plain dicts; nothing outside this package sees pyst2.
"""

from __future__ import annotations

import itertools
import logging
import queue
import socket
import threading
import time
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
        self.fully_booted = threading.Event()  # this connection saw Event: FullyBooted

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


NOT_LOADED = "Invalid/unknown command"  # Asterisk's answer to an action whose module is not loaded (yet)


class AmiClient:
    """A lasting AMI session: login, wait for FullyBooted, resync hooks (retried), reconnect with backoff.

    ``connected`` is set once the current connection is logged in *and* Asterisk has said ``FullyBooted``
    (or ``boot_timeout`` passed without it); actions before that raise :class:`AmiUnavailable`.
    ``backoff`` paces reconnections, ``resync_backoff`` the retries of a resync action that Asterisk does
    not know yet (both ``(first, max)`` seconds, doubling).
    """

    def __init__(self, host: str, port: int, user: str, secret: str | None, *, timeout: float = 10.0,
                 backoff: tuple[float, float] = (1.0, 60.0), boot_timeout: float = 30.0,
                 resync_backoff: tuple[float, float] = (1.0, 30.0)):
        self.host, self.port, self.user, self.secret = host, int(port), user, secret or ""
        self.timeout = timeout
        self.backoff_first, self.backoff_max = backoff
        self.boot_timeout = boot_timeout
        self.resync_first, self.resync_max = resync_backoff
        self.connected = threading.Event()
        self.connections = 0  # successful logins so far (1 + reconnects)
        self._manager: _Manager | None = None
        self._booting = False  # logged in, FullyBooted not seen yet
        self._handlers: list[EventHandler] = []
        self._on_connect: list[Callable[["AmiClient"], None]] = []
        self._stop = threading.Event()
        self._lost = threading.Event()  # the current connection is gone (or we are stopping)
        self._wake = threading.Event()  # doorbell for the supervisor: FullyBooted, lost or stop
        self._resyncing = threading.local()  # .manager: the connection this thread resynchronises
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def subscribe(self, handler: EventHandler) -> None:
        """``handler(event)`` for every AMI event, from the event thread; exceptions are logged, not raised."""
        self._handlers.append(handler)

    def on_connect(self, hook: Callable[["AmiClient"], None]) -> None:
        """Run after every (re)connection once Asterisk is fully booted: resynchronise state here.

        Inside a hook, an action Asterisk answers with ``Invalid/unknown command`` (its module is not
        loaded yet) is retried with ``resync_backoff`` for as long as the connection lives.
        """
        self._on_connect.append(hook)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name="vaxel-ami", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._lost.set()
        self._wake.set()
        manager = self._manager
        if manager is not None:
            try:
                manager.send_action({"Action": "Logoff"}, timeout=2.0)
            except Exception:
                pass
            manager.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def probe(self, boot_wait: float) -> bool:
        """Log in once, without the reconnecting supervisor (``vaxel doctor``): True when Asterisk says
        ``FullyBooted`` within ``boot_wait`` seconds. Raises :class:`AmiUnavailable` (unreachable) or
        :class:`AmiError` (login refused). Actions work on this connection until :meth:`stop`."""
        manager = self._connect()
        booted = manager.fully_booted.wait(boot_wait)
        self._booting = False
        self.connected.set()
        return booted

    def _supervise(self) -> None:
        delay = self.backoff_first
        while not self._stop.is_set():
            try:
                manager = self._connect()
            except Exception as exc:  # unreachable, refused login, ...: try again later
                log.warning("AMI %s:%s: %s; retrying in %.1f s", self.host, self.port, exc, delay)
                failed, self._manager = self._manager, None  # its end is no "connection lost"
                if failed is not None:
                    failed.close()
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_first
            try:
                self._session(manager)
            finally:
                self.connected.clear()
                self._booting = False
                manager.close()

    def _connect(self) -> _Manager:
        self._lost.clear()
        self._wake.clear()
        if self._stop.is_set():
            self._lost.set()  # stop() came between the supervisor's check and the clearing above
        manager = _Manager(on_lost=lambda: self._connection_lost(manager))
        manager.register_event("*", self._dispatch)
        self._manager = manager
        manager.connect(self.host, self.port, timeout=self.timeout)
        pending = manager.send_action({"Action": "Login", "Username": self.user, "Secret": self.secret},
                                      timeout=self.timeout)
        if (pending.response or {}).get("Response") != "Success":
            raise AmiError(f"AMI login as {self.user!r} refused: {(pending.response or {}).get('Message')}")
        self.connections += 1
        self._booting = True
        log.info("AMI connected to %s:%s (%s)", self.host, self.port, manager.title)
        return manager

    def _session(self, manager: _Manager) -> None:
        """One logged-in connection: wait for FullyBooted, resynchronise, then live until it is lost."""
        started = time.monotonic()
        booted = self._await(manager, started + self.boot_timeout)
        if booted is None:
            return  # lost (or stopping) before Asterisk finished booting: reconnect starts over
        if not booted:
            log.warning("AMI %s:%s sent no FullyBooted within %.0f s (an event filter or proxy may hide it); "
                        "resynchronising anyway", self.host, self.port, self.boot_timeout)
        elif time.monotonic() - started >= 1.0:
            log.info("AMI %s:%s: Asterisk finished booting after %.1f s; resynchronising",
                     self.host, self.port, time.monotonic() - started)
        self._booting = False
        self.connected.set()
        self._resync(manager)
        if not booted and self._await(manager, None):  # FullyBooted came after all: modules may have been missing
            log.info("AMI %s:%s: FullyBooted arrived late; resynchronising again", self.host, self.port)
            self._resync(manager)
        self._lost.wait()

    def _await(self, manager: _Manager, deadline: float | None) -> bool | None:
        """True at this connection's FullyBooted, False at ``deadline``, None when the connection is lost."""
        while True:
            if self._lost.is_set():
                return None
            if manager.fully_booted.is_set():
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._wake.wait(left)
            self._wake.clear()  # the flags above are checked again after every ring

    def _resync(self, manager: _Manager) -> None:
        """Every ``on_connect`` hook in turn; AMI failures are one log line each, never a traceback."""
        self._resyncing.manager = manager
        try:
            for hook in list(self._on_connect):
                if self._lost.is_set():
                    return  # the next connection resynchronises from the start
                name = getattr(hook, "__qualname__", None) or repr(hook)
                try:
                    hook(self)
                except AmiUnavailable as exc:
                    if self._stop.is_set():
                        return
                    log.warning("AMI resync %s interrupted: %s; it runs again after reconnecting", name, exc)
                except AmiError as exc:
                    log.warning("AMI resync %s failed: %s", name, exc)
                except Exception:
                    log.exception("AMI resync hook %r failed", hook)
        finally:
            self._resyncing.manager = None

    def _connection_lost(self, manager: _Manager) -> None:
        if manager is not self._manager:
            return  # an earlier connection, already given up
        if not self._stop.is_set():
            log.warning("AMI connection to %s:%s lost; reconnecting", self.host, self.port)
        self.connected.clear()
        self._lost.set()
        self._wake.set()

    def _dispatch(self, event, manager) -> None:
        headers = {k: v for k, v in event.headers.items() if isinstance(v, str)}
        if headers.get("Event") == "FullyBooted":
            manager.fully_booted.set()
            if manager is self._manager:
                self._wake.set()
        for handler in self._handlers:
            try:
                handler(headers)
            except Exception:
                log.exception("AMI event handler failed on %s", headers.get("Event"))

    # -- actions -----------------------------------------------------------------------------

    def _live(self) -> _Manager:
        manager = self._manager
        if manager is None or not self.connected.is_set():
            if manager is not None and self._booting and not self._lost.is_set():
                raise AmiUnavailable(f"AMI {self.host}:{self.port}: Asterisk is still starting (no FullyBooted yet)")
            raise AmiUnavailable(f"AMI {self.host}:{self.port} is not connected")
        return manager

    def _request(self, action: str, headers: dict, listing: bool) -> _Pending:
        """Send and wait; during a resync an action Asterisk does not know yet is retried with backoff."""
        delay = self.resync_first
        while True:
            manager = self._live()
            pending = manager.send_action({"Action": action, **headers}, timeout=self.timeout, listing=listing)
            response = pending.response or {}
            if response.get("Response") != "Error":
                return pending
            message = response.get("Message", "error")
            if getattr(self._resyncing, "manager", None) is not manager or not message.startswith(NOT_LOADED):
                raise AmiError(f"{action}: {message}")
            log.warning("AMI %s not available yet (%s); Asterisk may still be loading its modules: retrying in %g s",
                        action, message, delay)
            if self._lost.wait(delay):
                raise AmiUnavailable(f"AMI connection lost while waiting to retry {action}")
            delay = min(delay * 2, self.resync_max)

    def action(self, action: str, **headers) -> dict[str, str]:
        """Send ``Action: <action>`` with ``headers``; the response headers, or :class:`AmiError` on Error."""
        return self._request(action, headers, listing=False).response or {}

    def listing(self, action: str, **headers) -> list[dict[str, str]]:
        """A list action (``QueueStatus``, ``DeviceStateList``): its events up to ``...Complete``."""
        pending = self._request(action, headers, listing=True)
        return [e for e in pending.events if not e.get("Event", "").endswith("Complete")]

    def channels(self) -> list[dict[str, str]]:
        """Every channel Asterisk has now (``CoreShowChannels``), one ``CoreShowChannel`` event's headers each.

        Headers include ``Channel``, ``ChannelState``/``ChannelStateDesc``, ``Uniqueid``, ``Linkedid``,
        ``Context``, ``Exten``, ``Priority``, ``Application``/``ApplicationData``, ``Duration``, ``BridgeId``.
        Raises :class:`AmiUnavailable` while AMI is not connected or Asterisk is still booting.
        """
        return [e for e in self.listing("CoreShowChannels") if e.get("Event") == "CoreShowChannel"]
