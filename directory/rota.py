"""Rotas: which person takes a function's calls ("Bygglov – dagens handläggare") on a weekday or a date.

A date entry beats the weekday entry for that day. A transfer to the function rings the person on duty when they
can answer (their presence and working time); otherwise the function's own number and the unit's no-answer policy
apply as before (``directory.search``).

As a CSV file (export, edit, import back), columns ``function,when,person``: the function's and the person's
external ids, and ``when`` a weekday (``mån``, ``tisdag``, ``fri`` …) or a date (``2026-12-24``). A function named
in the file gets exactly the file's lines as its rota (functions not named keep theirs); a line with an empty
``person`` clears nothing and is an error. The import is all or nothing: one bad line and nothing changes, with
every problem listed by line.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import csvsafe
from directory.csv_io import delimiter
from directory.index import bump_version
from directory.models import RotaEntry, Staff
from directory.working_time import DAY_NAMES
from core.text import N_

COLUMNS = ("function", "when", "person")
SWEDISH_DAYS = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")


class RotaRejected(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_when(text: str) -> tuple[int | None, date | None]:
    """``"tis"`` -> (1, None); ``"2026-12-24"`` -> (None, date(2026, 12, 24)); ValueError says what is wrong."""
    word = text.strip().casefold().rstrip(".")
    if word in DAY_NAMES:
        return DAY_NAMES[word], None
    try:
        return None, date.fromisoformat(word)
    except ValueError:
        raise ValueError(N_("”%(text)s” är varken en veckodag (mån, tisdag, fre …) eller ett datum som 2026-12-24",
                            text=text)) from None


def when_text(weekday: int | None, on_date: date | None) -> str:
    return on_date.isoformat() if on_date is not None else SWEDISH_DAYS[weekday or 0]


def on_duty(weekdays: dict[int, int], dates: dict[date, int], day: date) -> int | None:
    """The person (staff id) on duty on ``day``: the date's entry, else the weekday's, else nobody."""
    return dates.get(day, weekdays.get(day.weekday()))


def export_csv(session: Session) -> str:
    ids = dict(session.execute(select(Staff.id, Staff.external_id)).all())
    rows = sorted(((ids[r.function_id], r.on_date is not None, r.weekday or 0, r.on_date or date.min,
                    when_text(r.weekday, r.on_date), ids[r.person_id]) for r in session.scalars(select(RotaEntry))))
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(COLUMNS)
    for function, _, _, _, when, person in rows:
        writer.writerow([function, when, person])
    return out.getvalue()


Rotas = dict[int, dict[tuple[int | None, date | None], int]]  # function id -> (weekday, date) -> person id


def _collect(session: Session, lines) -> Rotas:
    """(line number, function id, when, person id) tuples checked; RotaRejected lists every bad line."""
    staff = {s.external_id: s for s in session.scalars(select(Staff))}
    errors: list[str] = []
    rotas: Rotas = defaultdict(dict)
    for line, function_key, when_word, person_key in lines:
        function, person = staff.get(function_key), staff.get(person_key)
        problems = []
        if function is None or function.kind != "function":
            problems.append(N_("”%(id)s” är ingen funktion i katalogen", id=function_key))
        if person is None or person.kind != "person":
            problems.append(N_("”%(id)s” är ingen person i katalogen", id=person_key))
        try:
            when = parse_when(when_word)
        except ValueError as exc:
            problems.append(exc.args[0])
            when = None
        if not problems and when in rotas[function.id]:
            problems.append(N_("%(id)s har ”%(when)s” två gånger", id=function_key, when=when_word))
        if problems:
            errors.append(N_("rad %(line)s: %(problems)s", line=line, problems=problems))
            continue
        rotas[function.id][when] = person.id
    if errors:
        raise RotaRejected(errors)
    return rotas


def import_csv(session: Session, text: str) -> int:
    """Replace the rota of every function the file names; returns how many entries were written. Flushes only."""
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RotaRejected([N_("rad 1: rubrikraden saknar kolumnen/kolumnerna %(missing)s; kolumnerna är %(columns)s",
                               missing=", ".join(missing), columns=", ".join(COLUMNS))])
    lines = ((line, *(csvsafe.restore(record.get(c) or "").strip() for c in COLUMNS))
             for line, record in enumerate(reader, start=2))
    rotas = _collect(session, lines)
    for function_id, entries in rotas.items():
        replace(session, function_id, entries)
    return sum(len(entries) for entries in rotas.values())


def form_text(session: Session, function_id: int) -> str:
    """A function's rota as the entry form shows it: one ``when person-id`` a line, weekdays first."""
    ids = dict(session.execute(select(Staff.id, Staff.external_id)).all())
    rows = session.scalars(select(RotaEntry).where(RotaEntry.function_id == function_id)).all()
    rows = sorted(rows, key=lambda r: (r.on_date is not None, r.weekday or 0, r.on_date or date.min))
    return "\n".join(f"{when_text(r.weekday, r.on_date)} {ids[r.person_id]}" for r in rows)


def save_form(session: Session, function: Staff, text: str) -> int:
    """The entry form's rota (``when person-id`` a line; empty = no rota) becomes the function's whole rota."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            when, _, person = raw.strip().partition(" ")
            lines.append((number, function.external_id, when, person.strip()))
    rotas = _collect(session, lines)
    entries = rotas.get(function.id, {})
    replace(session, function.id, entries)
    return len(entries)


def replace(session: Session, function_id: int, entries: dict[tuple[int | None, date | None], int]) -> None:
    """Make ``entries`` ((weekday, date) -> person id) the function's whole rota. Flushes, never commits."""
    session.execute(delete(RotaEntry).where(RotaEntry.function_id == function_id))
    session.flush()
    for (weekday, on_date), person_id in entries.items():
        session.add(RotaEntry(function_id=function_id, weekday=weekday, on_date=on_date, person_id=person_id))
    bump_version(session)
    session.flush()
