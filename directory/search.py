"""Finding staff by name, keyword (sökord), unit keyword, extension or number.

The IVR's first, simple search; ranks exact matches above prefixes and keeps
every word of the query narrowing the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from directory.models import Keyword, Staff, Unit

EXACT_KEYWORD, EXACT_NAME, PREFIX_KEYWORD, PREFIX_NAME, UNIT_KEYWORD = 100, 90, 60, 50, 40


def fold(text: str) -> str:
    return " ".join(re.findall(r"[\wåäöéü-]+", text.casefold()))


@dataclass(frozen=True)
class Hit:
    staff: Staff
    score: int


def _by_number(session: Session, digits: str) -> list[Staff]:
    national = "+46" + digits[1:] if digits.startswith("0") else digits
    return list(session.scalars(
        select(Staff).where(or_(Staff.extension == digits, Staff.phone == national, Staff.mobile == national,
                                Staff.phone == digits, Staff.mobile == digits))
    ))


def lookup(session: Session, query: str, limit: int = 5) -> list[Hit]:
    """Best staff for ``query``, best first; every word of the query must match something."""
    digits = re.sub(r"[\s()-]", "", query)
    if re.fullmatch(r"\+?\d+", digits):
        return [Hit(s, EXACT_NAME) for s in _by_number(session, digits)][:limit]
    words = fold(query).split()
    if not words:
        return []
    scores: dict[int, list[int]] = {}
    staff_by_id: dict[int, Staff] = {}
    for i, word in enumerate(words):
        best: dict[int, int] = {}
        keyword_rows = session.execute(
            select(Keyword.staff_id, Keyword.unit_id, Keyword.folded).where(Keyword.folded.like(f"{word}%"))
        ).all()
        unit_scores: dict[int, int] = {}
        for staff_id, unit_id, folded in keyword_rows:
            exact = folded == word
            if staff_id is not None:
                best[staff_id] = max(best.get(staff_id, 0), EXACT_KEYWORD if exact else PREFIX_KEYWORD)
            elif unit_id is not None:
                unit_scores[unit_id] = max(unit_scores.get(unit_id, 0), UNIT_KEYWORD if exact else UNIT_KEYWORD // 2)
        if unit_scores:
            for staff in session.scalars(select(Staff).where(Staff.unit_id.in_(unit_scores))):
                best[staff.id] = max(best.get(staff.id, 0), unit_scores[staff.unit_id])
        for staff in session.scalars(select(Staff).where(Staff.name.ilike(f"%{word}%"))):
            tokens = fold(staff.name).split()
            if word in tokens:
                best[staff.id] = max(best.get(staff.id, 0), EXACT_NAME)
            elif any(t.startswith(word) for t in tokens):
                best[staff.id] = max(best.get(staff.id, 0), PREFIX_NAME)
        for staff_id, score in best.items():
            if i == 0:
                scores[staff_id] = [score]
            elif staff_id in scores and len(scores[staff_id]) == i:
                scores[staff_id].append(score)
    complete = {sid: sum(s) for sid, s in scores.items() if len(s) == len(words)}
    if not complete:
        return []
    rows = session.scalars(
        select(Staff).where(Staff.id.in_(complete)).options(selectinload(Staff.unit))
    ).all()
    staff_by_id = {s.id: s for s in rows}
    ranked = sorted(complete, key=lambda sid: (-complete[sid], sid))
    return [Hit(staff_by_id[sid], complete[sid]) for sid in ranked[:limit]]


def unit_path(unit: Unit) -> str:
    return unit.name
