"""Directory search as operators and the IVR use it: hits with status, phone hours and free colleagues.

Candidates and their scores come from the in-memory index (``directory.index``);
here they are ranked for people — within a tie, reachable entries before closed
ones — and dressed with what the switchboard needs to decide: the effective
presence, the phone hours that apply (the function's own, else the nearest
unit's up the tree, else the switchboard's) and whether they are open now, and
colleagues in the same unit who are free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from directory import presence
from directory.index import Candidate, index_for
from directory.models import Staff, Unit
from ivr import hours as phone_hours
from ivr import schedules, speech
from ivr.models import PhoneHours

UNREACHABLE_LAST = {"closed": 2, "absent": 1}


@dataclass
class Colleague:
    id: str
    name: str
    title: str
    extension: str | None
    status: str


@dataclass
class Result:
    id: str  # the stable external id
    kind: str  # person | function
    name: str
    title: str
    unit: str
    unit_path: list[str]
    extension: str | None
    phone: str | None  # None when the number is hidden
    mobile: str | None
    email: str
    notes: str
    keywords: list[str]
    score: float
    matched_by: str
    status: str
    status_label: str
    status_reason: str = ""
    status_until: str | None = None
    forward_to: str | None = None
    status_set_by: str = ""
    hours_key: str = "switchboard"
    hours_text: str = ""
    weekly: dict = field(default_factory=dict)
    open_now: bool = True
    opens: str | None = None  # ISO; the next opening when closed now
    closes: str | None = None
    colleagues: list[Colleague] = field(default_factory=list)
    staff_id: int = 0
    dial: str | None = None  # the number to ring, even when hidden from people

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("staff_id")
        data.pop("dial")
        return data


def hours_key_for(staff: Staff, keys: set[str]) -> str:
    """The phone hours that apply to an entry: its own, else the nearest unit's up the tree, else the switchboard's."""
    own = f"staff:{staff.external_id}"
    if own in keys:
        return own
    for unit in reversed(staff.unit.path()):
        if f"unit:{unit.slug}" in keys:
            return f"unit:{unit.slug}"
    return "switchboard"


class Searcher:
    """One search's worth of context: the session, the time, and caches for schedules."""

    def __init__(self, session: Session, now: datetime, tz: ZoneInfo, eve_close: str):
        self.session, self.now, self.tz, self.eve_close = session, now, tz, eve_close
        self.keys = set(session.scalars(select(PhoneHours.key)))
        self._status: dict[str, phone_hours.HoursStatus] = {}
        self._weekly: dict[str, dict] = {}

    def hours(self, key: str) -> tuple[phone_hours.HoursStatus, dict]:
        if key not in self._status:
            schedule = schedules.load(self.session, key, self.tz, self.eve_close, self.now)
            self._status[key] = phone_hours.status(schedule, self.now)
            self._weekly[key] = schedules.weekly_of(self.session, key)
        return self._status[key], self._weekly[key]

    def results(self, candidates: list[Candidate], limit: int, colleagues: int = 3) -> list[Result]:
        if not candidates:
            return []
        ids = [c.staff_id for c in candidates]
        staff = {s.id: s for s in self.session.scalars(
            select(Staff).where(Staff.id.in_(ids))
            .options(selectinload(Staff.unit).selectinload(Unit.parent), selectinload(Staff.keywords))
        )}
        states = presence.effective_many(self.session, ids, self.now)
        order = sorted(candidates, key=lambda c: (-round(c.score, 6), UNREACHABLE_LAST.get(states[c.staff_id].status, 0),
                                                  staff[c.staff_id].name))
        chosen = [c for c in order if c.staff_id in staff][:limit]
        free = self._free_colleagues({staff[c.staff_id].unit_id for c in chosen}) if colleagues else {}
        out = []
        for cand in chosen:
            entry = staff[cand.staff_id]
            state = states[cand.staff_id]
            key = hours_key_for(entry, self.keys)
            hours_now, weekly = self.hours(key)
            out.append(Result(
                id=entry.external_id, kind=entry.kind, name=entry.name, title=entry.title, unit=entry.unit.name,
                unit_path=[u.name for u in entry.unit.path()], extension=entry.extension,
                phone=None if entry.hidden_number else entry.phone,
                mobile=None if entry.hidden_number else entry.mobile, email=entry.email, notes=entry.notes,
                keywords=[k.term for k in entry.keywords], score=round(cand.score, 2), matched_by=cand.how,
                status=state.status, status_label=presence.LABELS["sv"][state.status],
                status_reason=state.reason, status_until=state.until.isoformat() if state.until else None,
                forward_to=state.forward_to, status_set_by=state.set_by, hours_key=key,
                hours_text=speech.weekly(phone_hours.parse_weekly(weekly), "sv"), weekly=weekly,
                open_now=hours_now.open,
                opens=hours_now.next_open.isoformat() if hours_now.next_open and not hours_now.open else None,
                closes=hours_now.closes_at.isoformat() if hours_now.closes_at else None,
                colleagues=[c for c in free.get(entry.unit_id, []) if c.id != entry.external_id][:colleagues],
                staff_id=entry.id, dial=entry.phone or entry.mobile,
            ))
        return out

    def _free_colleagues(self, unit_ids: set[int]) -> dict[int, list[Colleague]]:
        rows = self.session.execute(
            select(Staff.id, Staff.external_id, Staff.name, Staff.title, Staff.extension, Staff.unit_id)
            .where(Staff.unit_id.in_(unit_ids), Staff.kind == "person").order_by(Staff.name)
        ).all()
        states = presence.effective_many(self.session, [r.id for r in rows], self.now)
        free: dict[int, list[Colleague]] = {}
        for r in rows:
            if states[r.id].status == "available":
                free.setdefault(r.unit_id, []).append(Colleague(r.external_id, r.name, r.title, r.extension,
                                                                "available"))
        return free


def search(session: Session, query: str, now: datetime, tz: ZoneInfo, eve_close: str = "15:00",
           limit: int = 20, mode: str = "text") -> list[Result]:
    """Search by name, keyword, title, unit or number; ``mode="keypad"`` also tries dial-by-name digits."""
    index = index_for(session)
    candidates = index.search(query, limit * 3)
    if mode == "keypad" and query.isdigit():
        exact = [c for c in candidates if c.score >= 200]
        candidates = exact or index.search_keypad(query, limit * 3)
    return Searcher(session, now, tz, eve_close).results(candidates, limit)


def entry(session: Session, external_id: str, now: datetime, tz: ZoneInfo, eve_close: str = "15:00",
          colleagues: int = 10) -> Result | None:
    staff_id = session.scalar(select(Staff.id).where(Staff.external_id == external_id))
    if staff_id is None:
        return None
    found = Searcher(session, now, tz, eve_close).results([Candidate(staff_id, 0.0, "id")], 1, colleagues)
    return found[0] if found else None
