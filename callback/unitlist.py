"""The unit's own list (``/requests``): the messages and callbacks a unit answers, and what staff do with them.

Staff (role ``staff``, ``User.unit_slug``) see the open requests of their unit
and the units below it that the unit answers itself; they mark one done with an
outcome, or send it back to the centre (the dispatcher then dials it). The
centre (operator, admin) sees every open request, overdue first. Every change
is one conditional UPDATE on the status, as in ``callback.operators``, so a
staff member and the dispatcher cannot both act on a request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callback import eventlog
from callback.models import DONE, FAILED, PENDING, CallbackRequest
from callback.operators import ActionError, Row, row_of
from directory.models import Unit

OUTCOMES = {"reached": "nådde medborgaren", "not_reached": "nådde inte medborgaren",
            "resolved": "löst på annat sätt"}


def units_under(session: Session, slug: str | None) -> set[int]:
    """The unit ``slug`` and every unit below it (staff of a förvaltning see its avdelningar and enheter)."""
    units = list(session.scalars(select(Unit)))
    top = next((u for u in units if u.slug == slug), None)
    if top is None:
        return set()
    found, changed = {top.id}, True
    while changed:
        changed = False
        for u in units:
            if u.parent_id in found and u.id not in found:
                found.add(u.id)
                changed = True
    return found


def rows(session: Session, now: datetime, settings: dict, units: set[int] | None) -> list[Row]:
    """Open requests, overdue first, then by the promise. ``units`` None = the centre's view (all of them);
    a set = staff: only requests of those units that the unit answers itself."""
    query = select(CallbackRequest).where(CallbackRequest.status.in_((PENDING, FAILED)),
                                          CallbackRequest.number.is_not(None))
    if units is not None:
        query = query.where(CallbackRequest.unit_id.in_(units or {-1}), CallbackRequest.answered_by == "unit")
    found = [row_of(r, settings, now, due=r.due_at) for r in session.scalars(query)]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(found, key=lambda row: (not row.overdue, row.due_by or far, row.requested_at, row.id))


def _mine(session: Session, request_id: int, units: set[int] | None) -> CallbackRequest:
    request = session.get(CallbackRequest, request_id)
    if request is None or (units is not None and (request.unit_id not in units or request.answered_by != "unit")):
        raise LookupError(request_id)  # the same answer for "not there" and "not yours"
    return request


def _close(session: Session, request_id: int, values: dict) -> None:
    changed = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == request_id, CallbackRequest.status.in_((PENDING, FAILED)),
               CallbackRequest.number.is_not(None))
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if not changed:
        session.rollback()
        raise ActionError(f"förfrågan {request_id} är redan klar eller rings upp just nu")


def mark_done(session: Session, request_id: int, user: str, now: datetime, outcome: str, note: str,
              units: set[int] | None) -> CallbackRequest:
    """The unit answered (or gave up): closed with an outcome; a note is required when the citizen was not reached."""
    if outcome not in OUTCOMES:
        raise ActionError(f"välj ett utfall: {', '.join(OUTCOMES.values())}")
    if outcome != "reached" and not note.strip():
        raise ActionError("skriv en anteckning om varför")
    request = _mine(session, request_id, units)
    _close(session, request_id, {"status": DONE, "outcome": outcome, "closed_at": now, "closed_by": user,
                                 "note": note.strip() or None, "call_now": False})
    session.refresh(request)
    if request.kind != "message":  # a message has no call of its own in the event log
        eventlog.record(session, request.call_id, eventlog.closing_step(request.attempts, by_operator=True),
                        "callback_completed", {"request_id": request.id, "attempts": request.attempts, "by": "unit",
                                               "outcome": outcome, "unit_id": request.unit_id,
                                               "waited": int((now - request.requested_at).total_seconds())}, now)
    session.commit()
    return request


def send_back(session: Session, request_id: int, user: str, now: datetime, note: str,
              units: set[int] | None) -> CallbackRequest:
    """The unit cannot answer it: the centre calls the citizen back (the dispatcher, at the next opening)."""
    if not note.strip():
        raise ActionError("skriv varför förfrågan skickas tillbaka till kundcenter")
    request = _mine(session, request_id, units)
    _close(session, request_id, {"answered_by": "centre", "status": PENDING, "due_at": now, "hours_key": None,
                                 "note": f"tillbaka från {user}: {note.strip()}"[:2000]})
    session.commit()
    session.refresh(request)
    return request
