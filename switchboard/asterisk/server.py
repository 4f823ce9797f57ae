"""The FastAGI server: Asterisk's ``AGI(agi://HOST:4573/incoming)`` connects here, one thread per call.

Concurrency is bounded (``asterisk.agi_max_calls``): a call beyond the bound is
not kept waiting in silence — it is told ``VAXEL_RESULT=fallback`` at once and
the dialplan queues it for the operators. Each call runs in its own thread
with its own socket and its own database sessions, and every failure is caught
inside that call, so one call can never take another down.

No connection holds its slot for ever: the ``agi_*`` block and every reply have
a deadline and a size limit (:class:`~switchboard.asterisk.agi.AgiBounds`, the
``[asterisk] agi_env_seconds/agi_reply_seconds/agi_long_command_seconds``
settings), and TCP keepalive finds a link that died half-open during a long
``Dial``. A peer past a bound gets one log line and its connection closed, and
its slot comes back; Asterisk's dialplan then takes the caller to the operators.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from typing import Callable

from switchboard.asterisk.agi import AgiBoundExceeded, AgiBounds, AgiChannel, ChannelHungUp

log = logging.getLogger(__name__)

CallHandler = Callable[[AgiChannel], str]  # runs one call; returns VAXEL_RESULT

# TCP keepalive on every FastAGI connection: a link silent this long is probed, and declared dead after
# KEEPALIVE_COUNT unanswered probes — a half-open link during an hours-long Dial is found in about 2 minutes.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 60, 10, 6


def keep_alive(sock: socket.socket) -> None:
    """``SO_KEEPALIVE``, and ``TCP_KEEPIDLE``/``TCP_KEEPINTVL``/``TCP_KEEPCNT`` where the platform has them."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except OSError as exc:
        log.debug("FastAGI: no TCP keepalive on this socket: %s", exc)
        return
    idle = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)  # macOS: KEEPALIVE
    for option, value in ((idle, KEEPALIVE_IDLE), (getattr(socket, "TCP_KEEPINTVL", None), KEEPALIVE_INTERVAL),
                          (getattr(socket, "TCP_KEEPCNT", None), KEEPALIVE_COUNT)):
        if option is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
            except OSError:
                pass


class Slots:
    """At most ``size`` calls at once; ``in_use`` says how many run now."""

    def __init__(self, size: int):
        self.size = size
        self._in_use = 0
        self._lock = threading.Lock()

    def acquire(self, blocking: bool = False) -> bool:
        """Take a slot if one is free (never waits: a call beyond the bound goes to the operators)."""
        with self._lock:
            if self._in_use >= self.size:
                return False
            self._in_use += 1
            return True

    def release(self) -> None:
        with self._lock:
            if self._in_use <= 0:
                raise ValueError("FastAGI slot released more often than taken")
            self._in_use -= 1

    @property
    def in_use(self) -> int:
        with self._lock:
            return self._in_use


class _Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address, agi: "FastAgiServer"):
        self.agi = agi
        self.allow_reuse_port = agi.reuse_port  # several workers on one port: the kernel spreads the calls
        super().__init__(address, _Connection)

    def process_request(self, request, client_address):
        if not self.agi.slots.acquire(blocking=False):  # refused off the accept loop, which stays free
            threading.Thread(target=self._refuse, args=(request,), name="vaxel-fastagi-refuse", daemon=True).start()
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.agi.slots.release()
            raise

    def _refuse(self, request) -> None:
        try:
            self.agi.refuse(request)
        finally:
            self.shutdown_request(request)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.agi.slots.release()


class _Connection(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.agi.serve_connection(self.request, self.client_address)


class FastAgiServer:
    """``scripts`` maps the AGI URL's path (``incoming``) to the code that runs such a call.

    ``bounds``: how long and how much a peer may take (``vaxel serve`` passes those of the settings,
    ``AgiBounds.from_settings``). Set before :meth:`start` or between calls: each connection reads it once.
    """

    def __init__(self, scripts: dict[str, CallHandler], host: str = "127.0.0.1", port: int = 4573,
                 max_calls: int = 50, bounds: AgiBounds | None = None):
        self.scripts, self.host, self.port, self.max_calls = scripts, host, port, max_calls
        self.bounds = bounds if bounds is not None else AgiBounds()
        self.slots = Slots(max_calls)
        self.reuse_port = False
        self._server: _Threaded | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "not started"
        return self._server.server_address[:2]

    @property
    def in_use(self) -> int:
        """Slots held now: calls running (a refused call over capacity holds none)."""
        return self.slots.in_use

    def start(self) -> tuple[str, int]:
        """Bind and serve in a background thread; returns the bound (host, port) (port 0 picks a free one)."""
        self._server = _Threaded((self.host, self.port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="vaxel-fastagi", daemon=True)
        self._thread.start()
        log.info("FastAGI listening on %s:%s (at most %s calls at once)", *self.address, self.max_calls)
        return self.address

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve_connection(self, sock: socket.socket, peer) -> None:
        channel = None
        try:
            keep_alive(sock)
            channel = AgiChannel(sock, self.bounds)
            script = channel.env.get("agi_network_script", "").strip("/")
            handler = self.scripts.get(script)
            if handler is None:
                log.error("FastAGI from %s asked for unknown script %r; caller goes to the operators", peer, script)
                channel.set_var("VAXEL_RESULT", "fallback")
                return
            handler(channel)
        except AgiBoundExceeded:
            pass  # the channel said so in one line and closed the connection
        except ChannelHungUp:
            log.info("FastAGI connection from %s closed before the call could start", peer)
        except Exception:
            log.exception("FastAGI connection from %s failed; the dialplan sends the caller to the operators", peer)
        finally:
            if channel is not None:
                channel.close()

    def refuse(self, sock: socket.socket) -> None:
        """Over capacity: straight to the operators (the dialplan's fallback), never a silent wait."""
        log.warning("FastAGI: %s calls already running; sending a new call to the operators", self.max_calls)
        try:
            sock.settimeout(2.0)
            sock.sendall(b'SET VARIABLE VAXEL_RESULT "fallback"\n')
            sock.recv(4096)
        except OSError:
            pass
