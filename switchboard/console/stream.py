"""Server-sent events for the console: one snapshot loop per process, fanned out to every browser.

A single thread computes the snapshot every ``TICK`` seconds while anyone
listens and pushes it only when it changed, so fifty operators cost one query
round, not fifty, and an event reaches every browser within about a tick.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Callable, Iterator

log = logging.getLogger(__name__)

TICK = 0.2
KEEPALIVE = 15.0


class Broadcaster:
    def __init__(self, compute: Callable[[], dict], tick: float = TICK):
        self.compute, self.tick = compute, tick
        self._listeners: set[queue.Queue] = set()
        self._lock = threading.Lock()
        self._last: str | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._listeners:
                    self._thread, self._last = None, None
                    return
            try:
                text = json.dumps(self.compute(), ensure_ascii=False, sort_keys=True)
            except Exception:
                log.exception("console snapshot failed; trying again")
                text = None
            if text is not None and text != self._last:
                self._last = text
                with self._lock:
                    listeners = list(self._listeners)
                for listener in listeners:
                    try:
                        listener.put_nowait(text)
                    except queue.Full:  # a stalled browser misses frames, never blocks the others
                        pass
            self._wake.wait(self.tick)
            self._wake.clear()

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)

    def poke(self) -> None:
        """Something changed (an operator acted): compute now rather than at the next tick."""
        self._wake.set()

    def listen(self) -> Iterator[str]:
        """Server-sent event lines for one browser: the current snapshot, then every change."""
        mine: queue.Queue = queue.Queue(maxsize=20)
        with self._lock:
            self._listeners.add(mine)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="console-broadcast", daemon=True)
                self._thread.start()
            last = self._last
        if last is not None:
            mine.put_nowait(last)
        self.poke()
        try:
            yield "retry: 1000\n\n"
            while True:
                try:
                    text = mine.get(timeout=KEEPALIVE)
                except queue.Empty:
                    yield ": keepalive\n\n"
                    continue
                yield f"event: snapshot\ndata: {text}\n\n"
        finally:
            with self._lock:
                self._listeners.discard(mine)


class Away:
    """Open consoles per operator. When an operator's last console closes (the browser or tab closed, the
    laptop slept) and none opens again within ``GRACE`` seconds, ``gone(username)`` takes them out of the
    queue: a closed browser must not leave someone "ready" (calls offered to nobody) or "paused" for ever.
    A reload reconnects well within the grace, so it changes nothing."""

    GRACE = 30.0
    HEARTBEAT = 10.0  # how often ``seen`` is told who has a console open here

    def __init__(self, gone: Callable[[str], None], grace: float | None = None,
                 seen: Callable[[list[str]], None] | None = None,
                 open_elsewhere: Callable[[str, float], bool] | None = None):
        """With several serving processes an operator's console may reconnect to another one: ``seen``
        records who has a console open here (every :attr:`HEARTBEAT` seconds), ``open_elsewhere(username,
        grace)`` says whether any process recorded them within ``grace`` seconds."""
        self.gone, self.grace = gone, self.GRACE if grace is None else grace
        self.seen, self.open_elsewhere = seen, open_elsewhere
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()
        self._beating = False

    def _heartbeat(self) -> None:
        while True:
            time.sleep(self.HEARTBEAT)
            with self._lock:
                here = [user for user, n in self._open.items() if n]
                if not here:
                    self._beating = False
                    return
            self._tell_seen(here)

    def _tell_seen(self, usernames: list[str]) -> None:
        if self.seen is None:
            return
        try:
            self.seen(usernames)
        except Exception:  # noqa: BLE001 - a heartbeat thread has nobody to raise to
            log.exception("could not record the open consoles of %s", ", ".join(usernames))

    def watch(self, username: str, stream: Iterator[str]) -> Iterator[str]:
        with self._lock:
            self._open[username] = self._open.get(username, 0) + 1
            start = self.seen is not None and not self._beating
            self._beating = self._beating or start
        self._tell_seen([username])
        if start:
            threading.Thread(target=self._heartbeat, name="console-heartbeat", daemon=True).start()
        try:
            yield from stream
        finally:
            with self._lock:
                self._open[username] -= 1
                last = self._open[username] == 0
            if last:
                timer = threading.Timer(self.grace, self._check, (username,))
                timer.daemon = True
                timer.start()

    def open_consoles(self, username: str) -> int:
        with self._lock:
            return self._open.get(username, 0)

    def _check(self, username: str) -> None:
        with self._lock:
            if self._open.get(username, 0):
                return
        try:
            if self.open_elsewhere is not None and self.open_elsewhere(username, self.grace):
                return  # reconnected to another process; that one will notice when it closes there
            self.gone(username)
        except Exception:  # noqa: BLE001 - a timer thread has nobody to raise to
            log.exception("could not take %s out of the queue after their console closed", username)
