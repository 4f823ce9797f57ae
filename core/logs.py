"""Log lines: plain text for a person at a terminal, or one JSON object per line for a log shipper.

Every long-running command (``vaxel serve``, ``vaxel callbacks run``, ``vaxel stats run``) calls
:func:`configure` with the settings: ``log.format`` (``VAXEL_LOG_FORMAT=json``) and ``log.level``.

A complaint ("I called at 10:14 and was cut off") must be traceable through the log as through
``vaxel calls show``: the call runner sets :func:`call_context` for each step it handles, so every line written
meanwhile — the step's own line and any error beneath it — carries the call id, the channel and the step.

Caller numbers are personal data and logs are kept longer and read more widely than the database: every line
is masked in both formats (``+46701740699`` -> ``+46*******99``), whatever code wrote it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
CALL_FIELDS = ("call_id", "channel", "step")

_CALL: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("vaxel_call", default=None)

# E.164 (+46701740699), national digits (0701740699) and national as written (070-174 06 99, 08-123 456 78);
# never a date (2026-11-24), an extension (4417) or the digits inside a call id (CA0123..., ast-1700000000.12)
_NUMBER = re.compile(r"(?<![\w+.:/-])(\+\d{8,15}|0\d{7,12}|0\d{1,3}-\d[\d ]{3,10}\d)(?![\w])")


def mask(text: str) -> str:
    """Every phone number in ``text`` with only its first three and last two characters left."""
    def hide(match: re.Match[str]) -> str:
        number = match.group(0)
        return number[:3] + "".join("*" if c.isdigit() else c for c in number[3:-2]) + number[-2:]

    return _NUMBER.sub(hide, text)


@contextmanager
def call_context(call_id: str, channel: str) -> Iterator[dict[str, Any]]:
    """Tag every log line written inside the block with this call (and its step, once :func:`set_step` knows)."""
    token = _CALL.set({"call_id": call_id, "channel": channel})
    try:
        yield _CALL.get()
    finally:
        _CALL.reset(token)


def set_step(step: int) -> None:
    context = _CALL.get()
    if context is not None:
        context["step"] = step


def _call_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = dict(_CALL.get() or {})
    for name in CALL_FIELDS:  # ``extra={"call_id": ...}`` wins over the context
        if getattr(record, name, None) is not None:
            fields[name] = getattr(record, name)
    return fields


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [call=... channel=... step=...]``, numbers masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _call_fields(record)
        if fields:
            line += " [" + " ".join(f"{k}={fields[k]}" for k in CALL_FIELDS if k in fields) + "]"
        return mask(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, call_id/channel/step when known, exc; numbers masked."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_call_fields(record),
        }
        if getattr(record, "event", None):
            entry["event"] = record.event
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return mask(json.dumps(entry, ensure_ascii=False, default=str))


class OncePer(logging.Filter):
    """One line per ``seconds`` from a logger that writes one per request at a peak — waitress's "Task queue depth
    is N" for every request that waits for a thread — saying how many were held back: a log flood costs CPU and
    disk exactly when the service has none to spare, and one line a minute says the same."""

    def __init__(self, seconds: float = 60.0, clock=time.monotonic):
        super().__init__()
        self.seconds, self.clock = seconds, clock
        self.next_at, self.held = float("-inf"), 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = self.clock()
            if now < self.next_at:
                self.held += 1
                return False
            self.next_at, held, self.held = now + self.seconds, self.held, 0
        if held:
            record.msg = f"{record.msg} (and {held} more such lines in the {self.seconds:g} s before)"
        return True


# loggers that write a line per request under load, and how often one is let through
SUMMARISED = {"waitress.queue": 60.0}


class _Handler(logging.StreamHandler):
    """The handler :func:`configure` owns (so configuring again replaces it and leaves others alone)."""


def configure(settings: dict, stream=None, level: str | None = None) -> logging.Handler:
    """Send log lines to ``stream`` (standard error) in ``log.format`` at ``log.level`` (or ``level``); replaces an
    earlier call."""
    fmt, level = settings["log"]["format"], str(level or settings["log"]["level"]).upper()
    if fmt not in FORMATS:
        raise ValueError(f"log.format (VAXEL_LOG_FORMAT) must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if level not in LEVELS:
        raise ValueError(f"log.level (VAXEL_LOG_LEVEL) must be one of {', '.join(LEVELS)}, not {level!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))  # not a line per wake-up
    for name, seconds in SUMMARISED.items():
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, OncePer)]:
            logger.removeFilter(old)
        logger.addFilter(OncePer(seconds))
    return handler
