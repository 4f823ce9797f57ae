"""Who answers, the promise and the e-mail address of every unit, as a CSV file (export, edit, import back).

Columns ``id,name,answered_by,promise_days,email,confirm_answer``: ``id`` names an existing
unit (units themselves are made in the admin form or the demo file), ``name``
is for people reading the file and is not imported. Empty cells mean "as the
parent unit"; ``promise_days`` -1 is "in the next phone time", 0 the same
working day, N working days; ``confirm_answer`` ja/nej: whoever answers a transfer presses 1 first (a file
without the column leaves that choice as it is); ``no_answer`` centre/colleague/function/voicemail and
``no_answer_number`` (the function number or voicemail, stored in E.164; likewise optional). The import is all or nothing: one bad line and
nothing changes, with every problem listed by line.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import csvsafe
from directory import numbers, promises
from directory.csv_io import delimiter
from directory.models import Unit
from core.text import N_

COLUMNS = ("id", "name", "answered_by", "promise_days", "email", "confirm_answer", "no_answer", "no_answer_number")
CONFIRM_WORDS = {True: "ja", False: "nej", None: ""}


class UnitsRejected(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def export_csv(session: Session) -> str:
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(COLUMNS)
    for unit in session.scalars(select(Unit).order_by(Unit.slug)):
        writer.writerow([unit.slug, unit.name, unit.answered_by or "",
                         "" if unit.promise_days is None else unit.promise_days, unit.email,
                         CONFIRM_WORDS[unit.confirm_answer], unit.no_answer or "", unit.no_answer_number or ""])
    return out.getvalue()


def import_csv(session: Session, text: str, number_policy: numbers.Policy | None = None) -> int:
    """Apply the file's choices to the units it names; returns how many units changed. Flushes, never commits."""
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter(text))
    missing = [c for c in ("id", "answered_by", "promise_days", "email") if c not in (reader.fieldnames or [])]
    if missing:
        raise UnitsRejected([N_("rad 1: rubrikraden saknar kolumnen/kolumnerna %(missing)s; kolumnerna är %(columns)s",
                                missing=", ".join(missing), columns=", ".join(COLUMNS))])
    units = {u.slug: u for u in session.scalars(select(Unit))}
    has_confirm = "confirm_answer" in (reader.fieldnames or [])
    has_no_answer = "no_answer" in (reader.fieldnames or [])
    errors, changes = [], []
    for line, record in enumerate(reader, start=2):
        values = {k: csvsafe.restore(v or "") for k, v in record.items() if k}
        unit = units.get(values["id"].strip())
        if unit is None:
            errors.append(N_("rad %(line)s: ingen enhet ”%(id)s”", line=line, id=values["id"]))
            continue
        try:
            choice = promises.parse_choice(values["answered_by"], values["promise_days"], values["email"])
            confirm = promises.parse_confirm(values["confirm_answer"]) if has_confirm else unit.confirm_answer
            no_answer = promises.parse_no_answer(values["no_answer"], values.get("no_answer_number") or "",
                                                 number_policy) if has_no_answer else (unit.no_answer,
                                                                                       unit.no_answer_number)
            changes.append((unit, choice + (confirm, *no_answer)))
        except ValueError as exc:
            errors.append(N_("rad %(line)s: %(problems)s", line=line, problems=exc.args[0]))
    if errors:
        raise UnitsRejected(errors)
    changed = 0
    for unit, choice in changes:
        now = (unit.answered_by, unit.promise_days, unit.email, unit.confirm_answer, unit.no_answer,
               unit.no_answer_number)
        if now != choice:
            (unit.answered_by, unit.promise_days, unit.email, unit.confirm_answer, unit.no_answer,
             unit.no_answer_number) = choice
            changed += 1
    session.flush()
    return changed
