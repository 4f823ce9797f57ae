"""Callback events in the call event log, on the originating call, numbered so they can never collide.

The call's own steps count 1, 2, 3 ...; callback events use steps from
100000 up: attempt N ends at ``100000 + N*10`` (``callback_attempt``), the
dispatcher closes the request at ``+1`` (``callback_completed`` /
``callback_failed``), an operator at ``+2``. (call_id, step, seq) is unique, so a
repeated report writes nothing twice. Events carry counts and ids, never the
citizen's number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from stats import events as event_log

CHANNEL = "callback"
BASE = 100_000


def attempt_step(attempt: int) -> int:
    return BASE + attempt * 10


def closing_step(attempts: int, by_operator: bool = False) -> int:
    return BASE + attempts * 10 + (2 if by_operator else 1)


def record(session: Session, call_id: str, step: int, type_: str, data: dict[str, Any], now: datetime) -> None:
    event_log.record(session, call_id, step, [(type_, data)], now, CHANNEL)
