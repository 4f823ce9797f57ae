"""Import and export of the directory as CSV — the HR/telephony export municipalities already have.

Columns (header row required; order free; UTF-8, comma or semicolon separated):

    id             stable id from the source system (required; the row is matched on it)
    kind           person | function                       (default person)
    name           full name, or the function's name       (required)
    title          job title
    unit           the unit's id (slug) or exact name      (required; must exist)
    extension      internal extension, 2–6 digits
    phone          direct number, any Swedish format        (stored E.164; the number policy applies)
    mobile         mobile number, any Swedish format        (stored E.164; the number policy applies)
    other_numbers  further numbers or extensions, separated by | (numbers: the number policy applies)
    email
    keywords       sökord, separated by |
    hidden_number  yes/no: never give the numbers out
    notes          free text for operators
    working_hours  the weekdays and hours the person works, e.g. "mån–ons 08:00-16:30; tor 08:00-12:00"
                   (empty: whenever the phone hours allow; outside them they count as absent)
    ring           how a transfer rings: desk (default, also empty) | together (desk and mobile at once) |
                   sequential (desk first, then the mobile)

An import is all or nothing: every bad line is named (line 1 is the header)
and nothing is written until the whole file is good. Importing the same file
again changes nothing.

The delimiter is whichever of , and ; the header line has more of (outside
quotes); quoting is always RFC 4180 ("" inside "…"). Export writes cells
through ``core.csvsafe`` (a ' before a cell that could start a formula, E.164
numbers as they are) and import takes exactly that ' off, so export → import →
export gives the same bytes. ``prune`` with a file without rows is refused
unless confirmed (``confirm_empty``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from core import audit, csvsafe
from directory import numbers, working_time
from directory.index import bump_version, fold
from directory.models import KINDS, Keyword, Staff, StaffNumber, Unit
from core.text import N_

COLUMNS = ("id", "kind", "name", "title", "unit", "extension", "phone", "mobile", "other_numbers", "email",
           "keywords", "hidden_number", "notes", "ring", "working_hours")
RING = ("desk", "together", "sequential")
REQUIRED = ("id", "name", "unit")
LIST_SEPARATOR = "|"
YES = {"yes", "ja", "true", "1", "y", "j", "x"}
NO = {"no", "nej", "false", "0", "n", ""}


class ImportRejected(ValueError):
    """The file was not imported; ``errors`` names every bad line."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = errors


class EmptyPruneRefused(ImportRejected):
    """``prune`` with a file that has no rows would empty the directory: refused unless confirmed."""

    def __init__(self, entries: int):
        super().__init__([N_("filen har inga rader: med ”ta bort poster som inte finns i filen” skulle alla "
                             "%(entries)s poster tas bort", entries=entries)])
        self.entries = entries


@dataclass
class Row:
    line: int
    id: str
    kind: str
    name: str
    title: str
    unit: Unit
    extension: str | None
    phone: str | None
    mobile: str | None
    other_numbers: list[str]
    email: str
    keywords: list[str]
    hidden_number: bool
    notes: str
    ring: str | None = None
    working_hours: dict | None = None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rows: int = 0
    errors: list[str] = field(default_factory=list)


def e164(raw: str, policy: numbers.Policy | None = None) -> str:
    """A directory number as E.164, if the number policy allows dialling it; ValueError with the Swedish reason."""
    decision = numbers.check(raw, policy)
    if not decision.ok:
        raise ValueError(decision.message)
    return decision.number


def _number_or_extension(raw: str, policy: numbers.Policy | None = None) -> str:
    decision = numbers.check_entry(raw, policy)
    if not decision.ok:
        raise ValueError(decision.message)
    return decision.number


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]


def delimiter(text: str) -> str:
    """Comma or semicolon: whichever the header line has more of, outside quotes (a tie is a comma)."""
    counts, quoted = {",": 0, ";": 0}, False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    return ";" if counts[";"] > counts[","] else ","


def parse(text: str, units: dict[str, Unit]) -> tuple[list[Row], list[str]]:
    """Rows and the problems found, line by line. ``units`` maps slug and name to units."""
    if text.startswith("\ufeff"):
        text = text[1:]
    # standard quoting (RFC 4180: "" is a quote inside a quoted field), whatever the delimiter
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter(text), quotechar='"',
                            doublequote=True, skipinitialspace=False, strict=False)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [N_("rad 1: rubrikraden saknar kolumnen/kolumnerna %(missing)s; kolumnerna är %(columns)s",
                       missing=", ".join(missing), columns=", ".join(COLUMNS))]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        return [], [N_("rad 1: okänd kolumn/okända kolumner %(unknown)s; kolumnerna är %(columns)s",
                       unknown=", ".join(unknown), columns=", ".join(COLUMNS))]
    reader.fieldnames = header
    rows, errors, seen = [], [], {}
    for record in reader:
        line = reader.line_num
        if None in record:
            errors.append(N_("rad %(line)s: fler fält än kolumner", line=line))
            continue
        values = {k: csvsafe.restore((v or "").strip()) for k, v in record.items() if k is not None}
        row, problems = parse_record(values, line, units)
        if values.get("id") in seen:
            problems.append(N_("id ”%(id)s” finns redan på rad %(line)s", id=values["id"], line=seen[values["id"]]))
        seen.setdefault(values.get("id"), line)
        if problems:
            errors.append(N_("rad %(line)s: %(problems)s", line=line, problems=problems))
        else:
            rows.append(row)
    return rows, errors


def parse_record(values: dict[str, str], line: int, units: dict[str, Unit],
                 policy: numbers.Policy | None = None) -> tuple[Row | None, list[str]]:
    """One entry from column values (a CSV line or the admin's form): the row, or the problems with it."""
    problems = []
    for column in REQUIRED:
        if not values.get(column):
            problems.append(N_("%(column)s saknas", column=column))
    kind = values.get("kind") or "person"
    if kind not in KINDS:
        problems.append(N_("kind ”%(kind)s” ska vara person eller function", kind=kind))
    unit = units.get(values.get("unit", "")) or units.get(values.get("unit", "").casefold())
    if values.get("unit") and unit is None:
        problems.append(N_("okänd enhet ”%(unit)s”", unit=values["unit"]))
    extension = values.get("extension") or None
    if extension and not re.fullmatch(r"\d{2,6}", extension):
        problems.append(N_("anknytningen ”%(extension)s” ska vara 2–6 siffror", extension=extension))
    policy = policy or numbers.current()  # the number policy: only numbers vaxel may dial are stored (as E.164)
    dialled = {}
    for column in ("phone", "mobile"):
        if values.get(column):
            try:
                dialled[column] = e164(values[column], policy)
            except ValueError as exc:
                problems.append(N_("%(column)s: %(problem)s", column=column, problem=exc.args[0]))
    others = []
    for raw in _split(values.get("other_numbers", "")):
        try:
            others.append(_number_or_extension(raw, policy))
        except ValueError as exc:
            problems.append(N_("%(column)s: %(problem)s", column="other_numbers", problem=exc.args[0]))
    hidden = values.get("hidden_number", "").casefold()
    if hidden not in YES | NO:
        problems.append(N_("hidden_number ”%(value)s” ska vara yes eller no", value=values["hidden_number"]))
    ring = (values.get("ring") or "").strip().casefold() or None
    if ring is not None and ring not in RING:
        problems.append(N_("ring ”%(value)s” ska vara en av %(choices)s", value=values["ring"], choices=", ".join(RING)))
    elif ring in ("together", "sequential") and not (dialled.get("mobile") and (dialled.get("phone") or extension)):
        problems.append(N_("ring %(value)s behöver en mobil och ett direktnummer eller en anknytning", value=ring))
    working_hours = None
    try:
        working_hours = working_time.parse(values.get("working_hours") or "")
    except ValueError as exc:
        problems.append(N_("%(column)s: %(problem)s", column="working_hours", problem=exc.args[0]))
    if problems:
        return None, problems
    return Row(line, values["id"], kind, values["name"], values.get("title", ""), unit, extension,
               dialled.get("phone"), dialled.get("mobile"), others, values.get("email", ""),
               _split(values.get("keywords", "")), hidden in YES, values.get("notes", ""),
               None if ring == "desk" else ring, working_hours), []


def units_by_key(session: Session) -> dict[str, Unit]:
    """Units by slug and by lower-case name, as the unit column may name them."""
    unit_rows = list(session.scalars(select(Unit)))
    return {u.slug: u for u in unit_rows} | {u.name.casefold(): u for u in unit_rows}


def apply_row(staff: Staff, row: Row) -> None:
    staff.kind, staff.name, staff.title, staff.unit = row.kind, row.name, row.title, row.unit
    staff.unit_id = row.unit.id
    staff.extension, staff.phone, staff.mobile = row.extension, row.phone, row.mobile
    staff.email, staff.hidden_number, staff.notes = row.email, row.hidden_number, row.notes
    staff.ring, staff.working_hours = row.ring, row.working_hours
    if sorted(k.term for k in staff.keywords) != sorted(dict.fromkeys(row.keywords)):
        staff.keywords = [Keyword(term=t, folded=fold(t)) for t in dict.fromkeys(row.keywords)]
    if sorted(n.value for n in staff.numbers) != sorted(row.other_numbers):
        staff.numbers = [StaffNumber(value=n, label="") for n in row.other_numbers]


def as_values(staff: Staff) -> dict[str, str]:
    """An entry as column values: what export writes and the admin's form shows."""
    return {"id": staff.external_id, "kind": staff.kind, "name": staff.name, "title": staff.title,
            "unit": staff.unit.slug, "extension": staff.extension or "", "phone": staff.phone or "",
            "mobile": staff.mobile or "", "other_numbers": LIST_SEPARATOR.join(n.value for n in staff.numbers),
            "email": staff.email, "keywords": LIST_SEPARATOR.join(k.term for k in staff.keywords),
            "hidden_number": "yes" if staff.hidden_number else "no", "notes": staff.notes, "ring": staff.ring or "",
            "working_hours": working_time.text_of(staff.working_hours)}


def _snapshot(staff: Staff) -> tuple:
    return (staff.kind, staff.name, staff.title, staff.unit_id, staff.extension, staff.phone, staff.mobile,
            sorted(n.value for n in staff.numbers), staff.email, sorted(k.term for k in staff.keywords),
            staff.hidden_number, staff.notes, staff.ring, staff.working_hours)


def import_csv(session: Session, text: str, prune: bool = False, dry_run: bool = False, *,
               confirm_empty: bool = False, audit_user: str | None = None, audit_source: str = "") -> ImportResult:
    """Upsert every row by id, all or nothing; with ``prune``, entries missing from the file are removed.

    A file without rows never empties the directory by ``prune`` unless ``confirm_empty``
    (:class:`EmptyPruneRefused`). With ``audit_user``, a ``directory.import`` audit entry
    (``audit_source``: the file's name) is written in the same transaction as the change.
    """
    rows, errors = parse(text, units_by_key(session))
    if errors:
        raise ImportRejected(errors)
    existing = {s.external_id: s for s in session.scalars(
        select(Staff).options(selectinload(Staff.keywords), selectinload(Staff.numbers)))}
    if prune and not rows and existing and not confirm_empty and not dry_run:
        raise EmptyPruneRefused(len(existing))
    result = ImportResult(rows=len(rows))
    for row in rows:
        staff = existing.get(row.id)
        before = _snapshot(staff) if staff is not None else None
        if staff is None:
            staff = Staff(external_id=row.id)
            session.add(staff)
        apply_row(staff, row)
        if before is None:
            result.created += 1
        elif before == _snapshot(staff):
            result.unchanged += 1
        else:
            result.updated += 1
    if prune:
        gone = set(existing) - {row.id for row in rows}
        if gone:
            session.execute(delete(Staff).where(Staff.external_id.in_(gone)))
        result.removed = len(gone)
    if dry_run:
        session.rollback()
        return result
    if result.created or result.updated or result.removed:
        bump_version(session)
    if audit_user is not None:
        audit.record(session, audit_user, "directory.import", "directory", audit_source[:80],
                     after={"created": result.created, "updated": result.updated,
                            "unchanged": result.unchanged, "removed": result.removed})
    session.commit()
    return result


def export_csv(session: Session) -> str:
    out = io.StringIO()
    writer = csvsafe.writer(out)  # cells that could start a formula get a ' in front; parse takes it off
    writer.writerow(COLUMNS)
    for staff in session.scalars(
        select(Staff).options(selectinload(Staff.keywords), selectinload(Staff.numbers), selectinload(Staff.unit))
        .order_by(Staff.external_id)
    ):
        values = as_values(staff)
        writer.writerow([values[column] for column in COLUMNS])
    return out.getvalue()
