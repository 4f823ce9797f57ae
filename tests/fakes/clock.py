"""A service clock the fakes can move forward: a ring, a queue slice or a timeout takes no real time."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from core.clock import Clock


class SteppingClock(Clock):
    """``core.clock.Clock`` started at ``start``; :meth:`advance` lets simulated seconds pass."""

    def __init__(self, tz, start: datetime):
        super().__init__(tz, start)
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._start += timedelta(seconds=seconds)
