"""Presence: can this person or function take a call now, and if not, why.

Two sources, kept apart: people (operators, the person themself) set a
``status`` — available, absent (with reason and until), forwarded (to a number)
or closed (e.g. sick leave, with who closed it); the telephony platform feeds
the ``line`` — available, busy, unavailable. What a caller and an operator see
is :func:`effective`: a status people set wins over the line, and it lapses by
itself at its ``until`` time. Every change is appended to ``presence_changes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from collections import defaultdict

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from directory import numbers
from directory.models import Presence, PresenceChange, Staff

STATUSES = ("available", "busy", "absent", "forwarded", "closed")
SET_BY_PEOPLE = ("available", "absent", "forwarded", "closed")
LINE_STATES = ("available", "busy", "unavailable", "unknown")
LABELS = {
    "sv": {"available": "Ledig", "busy": "Upptagen", "absent": "Frånvarande", "forwarded": "Hänvisad",
           "closed": "Stängd"},
    "en": {"available": "Available", "busy": "Busy", "absent": "Absent", "forwarded": "Forwarded",
           "closed": "Closed"},
}


def N_(text: str) -> str:
    """Marks a message for the staff pages' catalogue (pybabel extract); the web view translates it."""
    return text


class PresenceError(ValueError):
    pass


@dataclass(frozen=True)
class Effective:
    status: str  # one of STATUSES
    reason: str = ""
    until: datetime | None = None
    forward_to: str | None = None
    set_by: str = ""
    set_at: datetime | None = None

    @property
    def reachable(self) -> bool:
        """Worth ringing: free or on the phone (they may still pick up), or forwarded somewhere."""
        return self.status in ("available", "busy", "forwarded")


AVAILABLE = Effective("available")


def effective(row: Presence | None, now: datetime) -> Effective:
    if row is None:
        return AVAILABLE
    if row.status != "available" and (row.until is None or now < row.until):
        return Effective(row.status, row.reason, row.until, row.forward_to, row.set_by, row.set_at)
    if row.line == "busy":
        return Effective("busy", set_at=row.line_at)
    if row.line == "unavailable":
        return Effective("absent", "inte inloggad i telefonin", set_at=row.line_at)
    return AVAILABLE


def effective_many(session: Session, staff_ids, now: datetime) -> dict[int, Effective]:
    """Presence of many entries in one query; only entries someone ever set have a row."""
    ids = list(staff_ids)
    rows = {p.staff_id: p for p in session.scalars(select(Presence).where(Presence.staff_id.in_(ids)))} if ids else {}
    return {sid: effective(rows.get(sid), now) for sid in ids}


def effective_in_units(session: Session, unit_ids: set[int], staff_ids: set[int], now: datetime) -> dict[int, Effective]:
    """Presence of everyone in some units plus some entries, in one query (unit ids keep the query short)."""
    rows = session.scalars(
        select(Presence).join(Staff, Staff.id == Presence.staff_id)
        .where(or_(Staff.unit_id.in_(unit_ids), Presence.staff_id.in_(staff_ids)))
    ).all() if unit_ids or staff_ids else []
    found = {p.staff_id: effective(p, now) for p in rows}
    return defaultdict(lambda: AVAILABLE, found)


def _row(session: Session, staff_id: int) -> Presence:
    row = session.get(Presence, staff_id)
    if row is None:
        if session.get(Staff, staff_id) is None:
            raise PresenceError(f"Katalogposten {staff_id} finns inte.")
        row = Presence(staff_id=staff_id, status="available", reason="", set_by="", line="unknown")
        session.add(row)
    return row


def _log(session: Session, row: Presence, source: str, by: str, now: datetime) -> None:
    session.add(PresenceChange(staff_id=row.staff_id, at=now, source=source, by=by, status=row.status,
                               line=row.line, reason=row.reason, until=row.until, forward_to=row.forward_to))


def set_status(session: Session, staff_id: int, status: str, *, by: str, now: datetime, reason: str = "",
               until: datetime | None = None, forward_to: str | None = None,
               policy: numbers.Policy | None = None) -> Effective:
    """An operator (or the person) sets or clears a status; 'available' clears it.

    A forward's number must pass the number policy (``policy``, else the running service's): it is stored as E.164,
    and a refused one raises :class:`PresenceError` with the policy's Swedish message.
    """
    if status not in SET_BY_PEOPLE:
        raise PresenceError(N_("Status ska vara available, absent, forwarded eller closed."))
    if status == "forwarded" and not (forward_to or "").strip():
        raise PresenceError(N_("En hänvisad anknytning behöver ett nummer att hänvisa till."))
    if status == "forwarded":
        decision = numbers.check(forward_to, policy or numbers.current())
        if not decision.ok:
            raise PresenceError(decision.message)
        forward_to = decision.number
    if until is not None and until <= now:
        raise PresenceError(N_("”Till och med” ska vara en tid framåt."))
    row = _row(session, staff_id)
    row.status, row.reason, row.until = status, reason.strip(), until
    row.forward_to = forward_to.strip() if status == "forwarded" and forward_to else None
    row.set_by, row.set_at = by, now
    _log(session, row, "operator", by, now)
    return effective(row, now)


def set_line(session: Session, staff_id: int, line: str, *, now: datetime) -> Effective:
    """The telephony platform reports the line (AMI device state, Twilio call progress)."""
    if line not in LINE_STATES:
        raise PresenceError(f"line state must be one of {', '.join(LINE_STATES)}")
    row = _row(session, staff_id)
    if row.line != line:
        row.line, row.line_at = line, now
        _log(session, row, "pbx", "", now)
    return effective(row, now)


def staff_by_extension(session: Session, extension: str) -> int | None:
    return session.scalar(select(Staff.id).where(Staff.extension == extension))
