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
from sqlalchemy.orm import Session

from core import versions
from directory import numbers, presence, rota, working_time
from directory.index import Candidate, DirectoryIndex, Entry, index_for
from directory.models import Keyword, Staff
from directory.query import Synonyms
from ivr import hours as phone_hours
from ivr import schedules, speech

# Within a tie, people who can answer come first: less than the gap between an exact and a prefix match.
UNREACHABLE_PENALTY = {"closed": 15.0, "absent": 10.0}


@dataclass
class Colleague:
    id: str
    name: str
    title: str
    extension: str | None
    status: str
    number: str | None = None  # the number to ring, for the IVR (not shown)


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
    departments: dict = field(default_factory=dict)  # forvaltning/avdelning/enhet -> unit id, for statistics
    sure: bool = True  # False: a sound-alike, a typo or only some words matched — the IVR asks first
    staff_id: int = 0
    dial: str | None = None  # the number to ring, even when hidden from people
    closed: dict = field(default_factory=dict)  # when closed now: why, today, holiday, eve_of, closure (the IVR)
    ring: str = "desk"  # desk | together | sequential (the mobile: ``mobile``, or the hidden one in ``ring_mobile``)
    ring_mobile: str | None = None  # the mobile a transfer rings besides or after the desk, even when hidden
    stand_in: Colleague | None = None  # a free colleague in the unit with one of the same keywords (no-answer policy)
    on_duty: Colleague | None = None  # a function's person on the rota now, with their status (``directory.rota``)
    dial_extension: str | None = None  # the extension a transfer rings: the on-duty person's when they can answer
    # someone absent or outside working time: a free colleague who can answer instead (a shared keyword, else
    # the unit's function) — offered to the caller by the IVR and suggested in the console
    suggestion: Colleague | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("staff_id")
        data.pop("dial")
        data.pop("closed")
        data.pop("stand_in")
        data.pop("ring_mobile")
        data.pop("dial_extension")
        for who in ("on_duty", "suggestion"):
            if data[who]:
                data[who].pop("number")
        for colleague in data["colleagues"]:
            colleague.pop("number")
        # stored and sent in E.164 (what is dialled); people read the national form
        data["display"] = {k: numbers.display(data[k]) for k in ("phone", "mobile", "forward_to")}
        return data


def hours_key_for(entry: Entry, keys: set[str]) -> str:
    """The phone hours that apply to an entry: its own, else the nearest unit's up the tree, else the switchboard's."""
    own = f"staff:{entry.external_id}"
    if own in keys:
        return own
    for slug in reversed(entry.unit_slugs):
        if f"unit:{slug}" in keys:
            return f"unit:{slug}"
    return "switchboard"


_words = versions.Cached("hours")  # the weekly hours in words, per schedule


class Searcher:
    """One search's worth of context: the session, the index, the time, and the schedules met so far."""

    def __init__(self, session: Session, index: DirectoryIndex, now: datetime, tz: ZoneInfo, eve_close: str):
        self.session, self.index, self.now, self.tz, self.eve_close = session, index, now, tz, eve_close
        self.keys = schedules.keys(session)
        self._hours: dict[str, tuple[phone_hours.HoursStatus, dict, str]] = {}

    def hours(self, key: str) -> tuple[phone_hours.HoursStatus, dict, str]:
        """(status now, weekly hours, the weekly hours in words) of one schedule."""
        if key not in self._hours:
            schedule = schedules.current(self.session, key, self.tz, self.eve_close, self.now)
            weekly = schedules.weekly_current(self.session, key)
            words = _words.get(self.session, key, lambda: speech.weekly(schedule.weekly, "sv"))
            self._hours[key] = (phone_hours.status(schedule, self.now), weekly, words)
        return self._hours[key]

    def at_work(self, entry: Entry, state: presence.Effective) -> presence.Effective:
        """Presence with the person's working time: outside it, someone free counts as absent until they start."""
        return working_time.adjust(state, entry.working_hours, self.now, self.tz)

    def stand_in(self, entry: Entry, states: dict) -> Colleague | None:
        """The first free colleague in the same unit who shares a keyword with ``entry`` and can be rung.
        ``states`` must cover the unit (someone without a presence row is available)."""
        entries = self.index.entries
        for sid in self.index.by_unit.get(entry.unit_id, ()):
            other = entries[sid]
            if sid == entry.staff_id or self.at_work(other, states[sid]).status != "available":
                continue
            if _shares_keyword(entry, other) and (other.phone or other.mobile or other.extension):
                return Colleague(other.external_id, other.name, other.title, other.extension, "available",
                                 other.phone or other.mobile)
        return None

    def instead(self, entry: Entry, states: dict) -> Colleague | None:
        """Whom to offer when ``entry`` cannot answer: a free colleague sharing a keyword, else the unit's
        function (a function line of the same unit that is not closed)."""
        found = self.stand_in(entry, states)
        if found is not None:
            return found
        for sid in self.index.by_unit.get(entry.unit_id, ()):
            other = self.index.entries[sid]
            if sid != entry.staff_id and other.kind == "function" and (other.phone or other.extension) \
                    and states[sid].status in ("available", "busy", "forwarded"):
                return Colleague(other.external_id, other.name, other.title, other.extension, states[sid].status,
                                 other.phone)
        return None

    def results(self, candidates: list[Candidate], limit: int, colleagues: int = 3) -> list[Result]:
        """Candidates as results; within a tie (the search's own order) reachable entries before closed ones."""
        entries = self.index.entries
        candidates = [c for c in candidates if c.staff_id in entries]
        if not candidates:
            return []
        units = {entries[c.staff_id].unit_id for c in candidates} if colleagues else set()
        today = self.now.astimezone(self.tz).date()
        duty = {c.staff_id: pid for c in candidates
                if (pid := rota.on_duty(entries[c.staff_id].rota_days, entries[c.staff_id].rota_dates, today))
                in entries}
        states = presence.effective_in_units(self.session, units, {c.staff_id for c in candidates} | set(duty.values()),
                                             self.now)
        order = sorted(candidates, key=lambda c: (
            -(c.score - UNREACHABLE_PENALTY.get(self.at_work(entries[c.staff_id], states[c.staff_id]).status, 0.0)),
            entries[c.staff_id].name))
        out = []
        for cand in order[:limit]:
            entry = entries[cand.staff_id]
            state = self.at_work(entry, states[cand.staff_id])
            key = hours_key_for(entry, self.keys)
            hours_now, weekly, hours_text = self.hours(key)
            free = [Colleague(entries[sid].external_id, entries[sid].name, entries[sid].title, entries[sid].extension,
                              "available")
                    for sid in self.index.by_unit.get(entry.unit_id, ())
                    if sid != entry.staff_id and self.at_work(entries[sid], states[sid]).status == "available"
                    ][:colleagues]
            ringing = entry
            on_duty = None
            if cand.staff_id in duty:
                person = entries[duty[cand.staff_id]]
                duty_state = self.at_work(person, states[person.staff_id])
                on_duty = Colleague(person.external_id, person.name, person.title, person.extension,
                                    duty_state.status, person.phone or person.mobile or person.extension)
                if duty_state.status in ("available", "busy") and on_duty.number:
                    ringing = person  # else the function's own number and its unit's no-answer policy
            out.append(Result(
                id=entry.external_id, kind=entry.kind, name=entry.name, title=entry.title,
                unit=entry.unit_path[-1] if entry.unit_path else "", unit_path=entry.unit_path,
                extension=entry.extension, phone=None if entry.hidden_number else entry.phone,
                mobile=None if entry.hidden_number else entry.mobile, email=entry.email, notes=entry.notes,
                keywords=entry.keywords, score=round(cand.score, 2), matched_by=cand.how,
                status=state.status, sure=cand.sure, status_label=presence.LABELS["sv"][state.status],
                status_reason=state.reason, status_until=state.until.isoformat() if state.until else None,
                forward_to=state.forward_to, status_set_by=state.set_by, hours_key=key,
                hours_text=hours_text, weekly=weekly,
                open_now=hours_now.open,
                opens=hours_now.next_open.isoformat() if hours_now.next_open and not hours_now.open else None,
                closes=hours_now.closes_at.isoformat() if hours_now.closes_at else None,
                colleagues=free, departments=entry.departments, staff_id=entry.staff_id,
                dial=ringing.phone or ringing.mobile, closed=closed_info(hours_now),
                stand_in=self.stand_in(entry, states) if units else None, ring=ringing.ring,
                ring_mobile=ringing.mobile if ringing.ring != "desk" and (ringing.phone or ringing.extension) else None,
                on_duty=on_duty, dial_extension=ringing.extension,
                suggestion=self.instead(entry, states) if units and state.status in ("absent", "closed") else None,
            ))
        return out


def _shares_keyword(a: Entry, b: Entry) -> bool:
    return bool({k.casefold() for k in a.keywords} & {k.casefold() for k in b.keywords})


def closed_info(hours: phone_hours.HoursStatus) -> dict:
    """Why a closed line is closed, in the words the IVR needs to say so ({} when open)."""
    if hours.open:
        return {}
    return {"why": hours.why_closed(), "today": phone_hours.span_texts(hours.today), "holiday": hours.holiday,
            "eve_of": hours.eve_of, "closure": hours.closure.message if hours.closure else None}


def search(session: Session, query: str, now: datetime, tz: ZoneInfo, eve_close: str = "15:00",
           limit: int = 20, mode: str = "text", lang: str = "sv", synonyms: Synonyms | None = None) -> list[Result]:
    """Search by name, keyword, title, unit or number, as people ask (``lang``: the caller's language, for
    fillers and ``synonyms``); ``mode="keypad"`` also tries dial-by-name digits, ``mode="speech"`` takes the
    words as whole words a recogniser heard."""
    index = index_for(session)
    candidates = index.search(query, limit * 3, lang, synonyms, spoken=mode == "speech")
    if mode == "keypad" and query.isdigit():
        exact = [c for c in candidates if c.score >= 200]
        candidates = exact or index.search_keypad(query, limit * 3)
    return Searcher(session, index, now, tz, eve_close).results(candidates, limit)


def entry(session: Session, external_id: str, now: datetime, tz: ZoneInfo, eve_close: str = "15:00",
          colleagues: int = 10) -> Result | None:
    staff_id = session.scalar(select(Staff.id).where(Staff.external_id == external_id))
    if staff_id is None:
        return None
    found = Searcher(session, index_for(session), now, tz, eve_close).results([Candidate(staff_id, 0.0, "id")], 1,
                                                                           colleagues)
    return found[0] if found else None


def speech_hints(session: Session, synonyms: Synonyms | None = None, limit: int = 500) -> list[str]:
    """Words callers say for option 1, for a speech recogniser: the directory's keywords, the names of staff
    and functions, then the site's synonym phrases in every language (``limit`` of each)."""
    terms = session.scalars(select(Keyword.term).distinct().order_by(Keyword.term).limit(limit)).all()
    names = session.scalars(select(Staff.name).order_by(Staff.name).limit(limit)).all()
    said = [p for lang in sorted((synonyms or Synonyms()).terms) for p in (synonyms or Synonyms()).phrases(lang)]
    return list(dict.fromkeys([*terms, *names, *said[:limit]]))
