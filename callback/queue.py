"""The queues (the centre, "English", ...): who waits, in which order, and how long the wait is likely to be.

Each queue of the flow is its own line: position, expected wait and order count only callers of that queue.

Order is priority first (a caller returned from a failed transfer goes ahead of
new callers), then arrival. The queue lives in the database so every adapter
and worker sees the same line.

A caller who asks to be called back keeps their place: their entry leaves the
phone queue (outcome ``callback``) but still stands *in line* while the
callback request holds the place (``callback.models.holds_place``), so callers
behind are told a position that counts it and it is rung before them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, and_, case, exists, func, or_, select
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from callback.models import holds_place
from core.db import Base, UTCDateTime, seconds_between

NORMAL = 0
RETURNED = 10  # back from a transfer nobody answered: ahead of new callers


class QueueEntry(Base):
    __tablename__ = "queue_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(Integer, default=NORMAL)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    position_at_join: Mapped[int] = mapped_column(Integer)
    returned_from: Mapped[str | None] = mapped_column(String(200), nullable=True)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # answered | abandoned | callback


@dataclass(frozen=True)
class Placement:
    position: int
    estimated_wait: int  # seconds


def _waiting(queue: str):
    return and_(QueueEntry.queue == queue, QueueEntry.left_at.is_(None))


def _in_line(queue: str):
    """Callers waiting on the phone, and callers whose pending callback still holds their place."""
    return and_(
        QueueEntry.queue == queue,
        or_(QueueEntry.left_at.is_(None), and_(QueueEntry.outcome == "callback", holds_place(QueueEntry.id))),
    )


def position_of(session: Session, entry: QueueEntry) -> int:
    """1 + everyone in line ahead: higher priority, or same priority and earlier.

    "In line" includes callback requests that keep their caller's place, so a
    caller behind a callback hears a position that counts it; the callback's
    own position (``callback.places``) comes from this same rule.
    """
    ahead = session.scalar(
        select(func.count())
        .select_from(QueueEntry)
        .where(
            _in_line(entry.queue),
            QueueEntry.id != entry.id,
            or_(
                QueueEntry.priority > entry.priority,
                and_(
                    QueueEntry.priority == entry.priority,
                    or_(
                        QueueEntry.joined_at < entry.joined_at,
                        and_(QueueEntry.joined_at == entry.joined_at, QueueEntry.id < entry.id),
                    ),
                ),
            ),
        )
    )
    return 1 + (ahead or 0)


def seconds_per_caller(session: Session, queue: str, now: datetime, settings: dict) -> int:
    """Recent answered waits divided by the position each caller joined at; the configured default if too few.

    Only a call's first wait counts: a caller put back in the queue keeps their first arrival time, so a
    later entry's "wait" would include their talk with the operator. The database averages (one row back,
    however many calls a busy morning answered).
    """
    since = now - timedelta(minutes=settings["history_minutes"])
    earlier = aliased(QueueEntry)
    position = case((QueueEntry.position_at_join > 1, QueueEntry.position_at_join), else_=1)
    calls, mean = session.execute(
        select(func.count(), func.avg(seconds_between(QueueEntry.joined_at, QueueEntry.left_at) / position)).where(
            QueueEntry.queue == queue,
            QueueEntry.outcome == "answered",
            QueueEntry.left_at >= since,
            QueueEntry.left_at <= now,
            ~exists().where(earlier.call_id == QueueEntry.call_id, earlier.queue == QueueEntry.queue,
                            earlier.id < QueueEntry.id),
        )
    ).one()
    if calls < settings["history_min_calls"]:
        return settings["default_seconds_per_caller"]
    return max(10, round(mean))


def estimate(position: int, per_caller: int) -> int:
    """Expected wait in seconds, rounded up to whole minutes so we never promise too little."""
    return int(math.ceil(position * per_caller / 60.0) * 60)


def join(
    session: Session,
    call_id: str,
    queue: str,
    now: datetime,
    settings: dict,
    priority: int = NORMAL,
    returned_from: str | None = None,
) -> Placement:
    """Put a call in the queue (once; a repeated join keeps the first entry) and tell where it stands.

    A caller an operator already answered and puts back ("Till kön", or a returned transfer while the operator
    is busy) keeps their place: the new entry stands where their first entry in this queue stood — its
    arrival time, and its priority if that was higher — so a caller who waited seven minutes is neither put
    at the back nor told their wait starts now.
    """
    entries = list(session.scalars(select(QueueEntry).where(QueueEntry.call_id == call_id, QueueEntry.queue == queue)
                                   .order_by(QueueEntry.joined_at, QueueEntry.id)))
    entry = next((e for e in entries if e.left_at is None), None)
    if entry is None:
        joined_at = now
        if any(e.outcome == "answered" for e in entries):
            first = entries[0]
            joined_at = min(first.joined_at, now)
            if first.priority > priority:
                priority, returned_from = first.priority, returned_from or first.returned_from
        position = _position_when_joining(session, queue, priority, joined_at)
        entry = QueueEntry(call_id=call_id, queue=queue, priority=priority, joined_at=joined_at,
                           position_at_join=position, returned_from=returned_from)
        session.add(entry)
    else:
        position = position_of(session, entry)
    return Placement(position, estimate(position, seconds_per_caller(session, queue, now, settings)))


def _position_when_joining(session: Session, queue: str, priority: int, joined_at: datetime) -> int:
    """:func:`position_of` for an entry about to be added (the newest id: an equal arrival time is ahead)."""
    ahead = session.scalar(
        select(func.count()).select_from(QueueEntry).where(
            _in_line(queue),
            or_(QueueEntry.priority > priority,
                and_(QueueEntry.priority == priority, QueueEntry.joined_at <= joined_at))))
    return 1 + (ahead or 0)


def entry_of(session: Session, call_id: str, queue: str) -> QueueEntry | None:
    """The call's entry while it waits in ``queue``."""
    return session.scalar(select(QueueEntry).where(QueueEntry.call_id == call_id, _waiting(queue)))


def placement(session: Session, call_id: str, queue: str, now: datetime, settings: dict) -> Placement | None:
    entry = entry_of(session, call_id, queue)
    if entry is None:
        return None
    position = position_of(session, entry)
    return Placement(position, estimate(position, seconds_per_caller(session, queue, now, settings)))


def leave(session: Session, call_id: str, now: datetime, outcome: str) -> QueueEntry | None:
    """Take a call out of whatever queue it waits in; returns the entry (for its wait) or None."""
    entry = session.scalar(select(QueueEntry).where(QueueEntry.call_id == call_id, QueueEntry.left_at.is_(None)))
    if entry is not None:
        entry.left_at = now
        entry.outcome = outcome
    return entry


def waiting(session: Session, queue: str) -> list[QueueEntry]:
    """Everyone waiting, front of the queue first."""
    return list(
        session.scalars(
            select(QueueEntry)
            .where(_waiting(queue))
            .order_by(QueueEntry.priority.desc(), QueueEntry.joined_at, QueueEntry.id)
        )
    )


def waiting_by_queue(session: Session) -> dict[str, list[QueueEntry]]:
    """Everyone waiting in any queue: queue id -> its callers, front first."""
    found: dict[str, list[QueueEntry]] = {}
    for entry in session.scalars(select(QueueEntry).where(QueueEntry.left_at.is_(None))
                                 .order_by(QueueEntry.priority.desc(), QueueEntry.joined_at, QueueEntry.id)):
        found.setdefault(entry.queue, []).append(entry)
    return found
