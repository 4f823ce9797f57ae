"""The FastAGI server: Asterisk's ``AGI(agi://HOST:4573/incoming)`` connects here, one thread per call.

Concurrency is bounded (``asterisk.agi_max_calls``): a call beyond the bound is
not kept waiting in silence — it is told ``VAXEL_RESULT=fallback`` at once and
the dialplan queues it for the operators. Each call runs in its own thread
with its own socket and its own database sessions, and every failure is caught
inside that call, so one call can never take another down.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from typing import Callable

from switchboard.asterisk.agi import AgiChannel, ChannelHungUp

log = logging.getLogger(__name__)

CallHandler = Callable[[AgiChannel], str]  # runs one call; returns VAXEL_RESULT


class _Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address, agi: "FastAgiServer"):
        self.agi = agi
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
    """``scripts`` maps the AGI URL's path (``incoming``) to the code that runs such a call."""

    def __init__(self, scripts: dict[str, CallHandler], host: str = "127.0.0.1", port: int = 4573,
                 max_calls: int = 50):
        self.scripts, self.host, self.port, self.max_calls = scripts, host, port, max_calls
        self.slots = threading.BoundedSemaphore(max_calls)
        self._server: _Threaded | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "not started"
        return self._server.server_address[:2]

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
            channel = AgiChannel(sock)
            script = channel.env.get("agi_network_script", "").strip("/")
            handler = self.scripts.get(script)
            if handler is None:
                log.error("FastAGI from %s asked for unknown script %r; caller goes to the operators", peer, script)
                channel.set_var("VAXEL_RESULT", "fallback")
                return
            handler(channel)
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
