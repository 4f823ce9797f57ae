"""Keeping the place: a queue callback stands in line through the caller's own queue entry.

The caller's :class:`~callback.queue.QueueEntry` leaves the phone queue
(outcome ``callback``) but, while the request holds its place
(:func:`callback.models.holds_place`), ``callback.queue.position_of``
still counts it — so callers behind hear a position that includes it, and the
request's own position is computed by the very same ordering rule as theirs.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from callback.models import CallbackRequest
from callback.queue import QueueEntry, position_of


def position(session: Session, request: CallbackRequest) -> int | None:
    """1 = at the front; None if the request no longer stands in line (next_open, or its turn came)."""
    if request.kind != "queue" or request.attempts > 0 or request.queue_entry_id is None:
        return None
    entry = session.get(QueueEntry, request.queue_entry_id)
    return position_of(session, entry) if entry is not None else None


def at_front(session: Session, request: CallbackRequest) -> bool:
    """Nobody is ahead any more: every caller and callback ahead of it has been served or has left."""
    place = position(session, request)
    return place is None or place == 1
