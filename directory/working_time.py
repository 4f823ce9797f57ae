"""A person's working time: the weekdays and hours they work ("Deltid mån–ons"), so that outside them they are
treated like someone absent — the caller hears when they are back and is offered a colleague or a message.

Written as people write it — ``mån–ons 08:00-16:30; tor 08:00-12:00`` (Swedish or English day names, a range
with - or –, several spans a day separated by commas) — and stored as the weekly form phone hours use
(``{"mon": ["08:00-16:30"], ...}``). Holidays are days off. An empty working time means "whenever the phone
hours allow": nothing changes for them.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from directory.presence import Effective
from ivr.hours import WEEKDAYS, Schedule, parse_intervals, parse_weekly, span_texts, status
from core.text import N_

DAY_NAMES = {name: i for i, names in enumerate((
    ("mån", "måndag", "mon", "monday"), ("tis", "tisdag", "tue", "tuesday"), ("ons", "onsdag", "wed", "wednesday"),
    ("tor", "torsdag", "thu", "thursday"), ("fre", "fredag", "fri", "friday"), ("lör", "lördag", "sat", "saturday"),
    ("sön", "söndag", "sun", "sunday"))) for name in names}
AWAY_REASON = "arbetar inte nu"
_PART = re.compile(r"^\s*(?P<days>[^\d]+?)\s+(?P<spans>\d.*)$")


def _days(text: str) -> list[int]:
    """"mån–ons, fre" -> [0, 1, 2, 4]."""
    days: list[int] = []
    for piece in re.split(r"\s*,\s*", text.strip().casefold()):
        ends = [p.strip().rstrip(".") for p in re.split(r"\s*[-–]\s*", piece, maxsplit=1)]
        first, last = ends[0], ends[-1]
        if first not in DAY_NAMES or last not in DAY_NAMES:
            raise ValueError(N_("”%(text)s” är ingen veckodag eller rad av veckodagar som mån–ons", text=piece))
        if DAY_NAMES[last] < DAY_NAMES[first]:
            raise ValueError(N_("”%(text)s” går baklänges; skriv som mån–ons", text=piece))
        days.extend(range(DAY_NAMES[first], DAY_NAMES[last] + 1))
    return days


def parse(text: str) -> dict[str, list[str]] | None:
    """``mån–ons 08:00-16:30; tor 08:00-12:00`` -> the weekly form; "" -> None. ValueError says what is wrong."""
    if not text.strip():
        return None
    weekly: dict[str, list[str]] = {}
    for part in (p for p in re.split(r"\s*;\s*", text.strip()) if p):
        match = _PART.match(part)
        if not match:
            raise ValueError(N_("”%(text)s” är inte dagar och tider som mån–ons 08:00-16:30", text=part))
        spans = [s.replace("–", "-") for s in re.split(r"\s*,\s*", match["spans"].strip())]
        parse_intervals(spans)  # a clear error for a bad or overlapping time
        for day in _days(match["days"]):
            name = WEEKDAYS[day]
            if name in weekly:
                raise ValueError(N_("%(day)s står två gånger i ”%(text)s”", day=name, text=text))
            weekly[name] = spans
    parse_weekly(weekly)
    return weekly


def text_of(weekly: dict[str, list[str]] | None) -> str:
    """The weekly form as people write it (what export writes and the form shows): parse(text_of(w)) == w."""
    if not weekly:
        return ""
    swedish = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
    parts, day = [], 0
    while day < 7:
        spans = weekly.get(WEEKDAYS[day])
        if not spans:
            day += 1
            continue
        last = day
        while last + 1 < 7 and weekly.get(WEEKDAYS[last + 1]) == spans:
            last += 1
        days = swedish[day] if last == day else f"{swedish[day]}-{swedish[last]}"
        parts.append(f"{days} {', '.join(span_texts(parse_intervals(spans)))}")
        day = last + 1
    return "; ".join(parts)


def adjust(state: Effective, weekly: dict[str, list[str]] | None, now: datetime, tz: ZoneInfo) -> Effective:
    """Outside their working time someone free (or on the line) counts as absent until their next start; a status
    people set (absent, forwarded, closed) stays as it is."""
    if not weekly or state.status not in ("available", "busy"):
        return state
    at_work = status(Schedule(key="working-time", name="", weekly=parse_weekly(weekly), tz=tz, eve_close=None), now)
    if at_work.open:
        return state
    return Effective("absent", AWAY_REASON, at_work.next_open, set_by="arbetstid")
