"""A function's rota from an iCalendar file, as Exchange/Outlook exports a shared "Dagens handläggare" calendar.

Each event (recurring ones expanded, their EXDATEs left out) puts one person on duty for every day it covers:
an all-day event its days (DTEND is the day after), a timed event the local days from its start to its end.
Who: the first ATTENDEE whose e-mail address is a person's in the directory, else the SUMMARY when it is a
person's id or full name (case does not matter). The file is read for ``WINDOW_DAYS`` from today; it becomes
the function's date entries in that window (its weekday entries and dates outside the window stay). All or
nothing: an event naming nobody, or a day with two different people, is refused with its summary and date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from directory.index import bump_version
from directory.models import RotaEntry, Staff
from directory.rota import RotaRejected
from core.text import N_

WINDOW_DAYS = 90  # how far ahead a calendar is read: a quarter's rota, re-imported when the calendar changes


def _days(start, end, tz: ZoneInfo) -> list[date]:
    """The days an occurrence covers: all-day DTEND is exclusive, a timed one ends on the day its end falls."""
    if not isinstance(start, datetime):
        last = (end if end is not None else start + timedelta(days=1)) - timedelta(days=1)
        return [start + timedelta(days=n) for n in range((max(last, start) - start).days + 1)]
    start = start.astimezone(tz) if start.tzinfo else start.replace(tzinfo=tz)
    end = end if end is not None else start
    end = end.astimezone(tz) if end.tzinfo else end.replace(tzinfo=tz)
    last = (end - timedelta(microseconds=1)).date() if end > start else start.date()
    return [start.date() + timedelta(days=n) for n in range((last - start.date()).days + 1)]


def _person(event, by_email: dict[str, Staff], by_name: dict[str, Staff]) -> Staff | None:
    attendees = event.get("ATTENDEE") or []
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        address = str(attendee).removeprefix("mailto:").removeprefix("MAILTO:").strip().casefold()
        if address in by_email:
            return by_email[address]
    return by_name.get(str(event.get("SUMMARY", "")).strip().casefold())


def on_duty_days(session: Session, data: bytes, first: date, tz: ZoneInfo) -> dict[date, int]:
    """Day -> person id for ``WINDOW_DAYS`` from ``first``; RotaRejected lists every event it cannot place."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise RotaRejected([N_("filen är ingen kalender (iCalendar): %(problem)s", problem=str(exc)[:120])]) from None
    people = [s for s in session.scalars(select(Staff).where(Staff.kind == "person"))]
    by_email = {s.email.strip().casefold(): s for s in people if s.email.strip()}
    by_name = {**{s.name.casefold(): s for s in people}, **{s.external_id.casefold(): s for s in people}}
    last = first + timedelta(days=WINDOW_DAYS)
    days: dict[date, int] = {}
    errors: list[str] = []
    for event in recurring_ical_events.of(calendar).between(first, last):
        start, end = event.get("DTSTART").dt, event.get("DTEND").dt if event.get("DTEND") else None
        summary = str(event.get("SUMMARY", "")).strip()
        covered = [d for d in _days(start, end, tz) if first <= d < last]
        person = _person(event, by_email, by_name)
        if person is None:
            errors.append(N_("”%(summary)s” %(day)s: ingen person i katalogen har en deltagares e-postadress eller det "
                             "namnet eller id:t", summary=summary, day=str(covered[0] if covered else start)))
            continue
        for day in covered:
            if days.get(day, person.id) != person.id:
                errors.append(N_("%(day)s: två personer i tjänst (”%(summary)s” och en tidigare händelse)", day=str(day),
                                 summary=summary))
            days[day] = person.id
    if errors:
        raise RotaRejected(sorted(set(errors)))
    return days


def import_ics(session: Session, function: Staff, data: bytes, first: date, tz: ZoneInfo) -> int:
    """The calendar's days become the function's date entries from ``first`` for ``WINDOW_DAYS``; returns how many.
    Flushes, never commits."""
    if function.kind != "function":
        raise RotaRejected([N_("%(id)s är ingen funktion", id=function.external_id)])
    days = on_duty_days(session, data, first, tz)
    session.execute(delete(RotaEntry).where(RotaEntry.function_id == function.id, RotaEntry.on_date >= first,
                                            RotaEntry.on_date < first + timedelta(days=WINDOW_DAYS)))
    session.flush()
    for day, person_id in sorted(days.items()):
        session.add(RotaEntry(function_id=function.id, on_date=day, person_id=person_id))
    bump_version(session)
    session.flush()
    return len(days)
