"""The service clock: real time, or ``VAXEL_NOW`` and running on from there.

``VAXEL_NOW`` lets a demo or an acceptance test ask "what does a caller hear on
julafton?" against the running service. Production mode ignores it, loudly.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.text import N_

log = logging.getLogger(__name__)


YEARS = (1900, 9000)  # phone hours look years ahead (next opening, holidays): stay far from datetime's limits


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """Parse ISO-8601; a naive time is read in the municipality's timezone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(N_("”%(text)s” är ingen tid; skriv den som 2026-11-24T10:00.", text=text)) from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise ValueError(N_("%(text)s ligger utanför åren %(first)s–%(last)s som telefontider kan räknas för.",
                            text=text, first=YEARS[0], last=YEARS[1]))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


class Clock:
    """Aware ``now()`` in the municipality's timezone, optionally started at a fixed instant."""

    def __init__(self, tz: ZoneInfo, start: datetime | None = None) -> None:
        self.tz = tz
        self._start = start
        self._started_at = time.monotonic()

    @classmethod
    def from_settings(cls, settings: dict, environ_now: str | None) -> "Clock":
        tz = ZoneInfo(settings["service"]["timezone"])
        if not environ_now:
            return cls(tz)
        if settings["service"]["mode"] == "production":
            log.warning("VAXEL_NOW=%s ignored: production mode always uses the real clock", environ_now)
            return cls(tz)
        return cls(tz, parse_instant(environ_now, tz))

    def now(self) -> datetime:
        if self._start is None:
            return datetime.now(self.tz)
        return self._start + timedelta(seconds=time.monotonic() - self._started_at)
