"""Phone hours (telefontider): is a line open at a given moment, and when does it open next.

Pure functions over a :class:`Schedule`. Precedence, strongest first:
temporary closure > special day set by an administrator > holiday (public and
de facto, from ``holidays``) > shortened eve (dag före helgdag) > the weekly hours.
A crisis message never closes the line; it is played before the menu.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from holidays.constants import DE_FACTO, PUBLIC

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Span = tuple[time, time]

_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_time(text: str) -> time:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text or "")
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{text!r} is not a time of day like 08:00")
    return time(int(match[1]), int(match[2]))


def parse_intervals(items: list[str]) -> tuple[Span, ...]:
    """``["08:00-12:00", "13:00-15:00"]`` -> sorted, non-overlapping spans; anything else is an error."""
    spans = []
    for item in items:
        match = _INTERVAL.match(item)
        if not match:
            raise ValueError(f"{item!r} is not an interval like 08:00-17:00")
        start = parse_time(f"{match[1]}:{match[2]}")
        end = time.max if (match[3], match[4]) == ("24", "00") else parse_time(f"{match[3]}:{match[4]}")
        if end <= start:
            raise ValueError(f"{item!r} ends before it starts")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:
            raise ValueError(f"intervals overlap: {items}")
    return tuple(spans)


def span_texts(spans: tuple[Span, ...]) -> list[str]:
    """Spans as the strings :func:`parse_intervals` reads back ("08:00-15:00"; the end of the day is 24:00)."""
    return [f"{s:%H:%M}-{'24:00' if e == time.max else format(e, '%H:%M')}" for s, e in spans]


def parse_weekly(weekly: dict[str, list[str]]) -> dict[int, tuple[Span, ...]]:
    unknown = set(weekly) - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
    return {i: parse_intervals(weekly.get(name, [])) for i, name in enumerate(WEEKDAYS)}


@dataclass(frozen=True)
class Notice:
    """A closure or crisis message in force from ``starts`` until ``ends``."""

    starts: datetime
    ends: datetime
    message: dict[str, str]  # language -> text

    def active(self, now: datetime) -> bool:
        return self.starts <= now < self.ends


@dataclass(frozen=True)
class Schedule:
    key: str
    name: str
    weekly: dict[int, tuple[Span, ...]]
    tz: ZoneInfo = ZoneInfo("Europe/Stockholm")
    eve_close: time | None = time(15, 0)
    observe_holidays: bool = True
    special_days: dict[date, tuple[Span, ...]] = field(default_factory=dict)
    closures: tuple[Notice, ...] = ()
    crises: tuple[Notice, ...] = ()


SWITCHBOARD_DEFAULT = {"mon": ["08:00-17:00"], "tue": ["08:00-17:00"], "wed": ["08:00-17:00"],
                       "thu": ["08:00-17:00"], "fri": ["08:00-16:00"]}


@lru_cache(maxsize=64)
def _holidays(year: int, language: str) -> dict[date, str]:
    return dict(
        holidays.country_holidays(
            "SE", years=year, include_sundays=False, categories=(PUBLIC, DE_FACTO), language=language
        )
    )


@lru_cache(maxsize=64)
def _public(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("SE", years=year, include_sundays=False, categories=(PUBLIC,)))


def holiday_name(day: date, lang: str = "sv") -> str | None:
    """The name of a closed holiday (public or de facto: midsommarafton, julafton, nyårsafton), else None."""
    return _holidays(day.year, "sv" if lang == "sv" else "en_US").get(day)


def is_eve(day: date) -> bool:
    """Dag före helgdag: the next day is a public holiday and this day is not a holiday itself."""
    return (day + timedelta(days=1)) in _public((day + timedelta(days=1)).year) and holiday_name(day) is None


@dataclass(frozen=True)
class DayHours:
    spans: tuple[tuple[datetime, datetime], ...]
    reason: str  # weekly | special | holiday | eve | no_hours
    holiday: str | None = None


def day_hours(schedule: Schedule, day: date) -> DayHours:
    def aware(spans: tuple[Span, ...]) -> tuple[tuple[datetime, datetime], ...]:
        return tuple(
            (datetime.combine(day, s, schedule.tz), datetime.combine(day, e, schedule.tz)) for s, e in spans
        )

    if day in schedule.special_days:
        return DayHours(aware(schedule.special_days[day]), "special")
    if schedule.observe_holidays and (name := holiday_name(day)):
        return DayHours((), "holiday", name)
    spans = schedule.weekly.get(day.weekday(), ())
    if not spans:
        return DayHours((), "no_hours")
    if schedule.observe_holidays and schedule.eve_close and is_eve(day):
        cut = schedule.eve_close
        short = tuple((s, min(e, cut)) for s, e in spans if s < cut)
        return DayHours(aware(short), "eve")
    return DayHours(aware(spans), "weekly")


@dataclass(frozen=True)
class HoursStatus:
    open: bool
    reason: str  # open | closure | holiday | no_hours | before_opening | between | after_hours
    closes_at: datetime | None = None
    next_open: datetime | None = None
    holiday: str | None = None
    eve: bool = False
    closure: Notice | None = None
    crisis: Notice | None = None
    day: str = "weekly"  # what today's hours are: weekly | special | holiday | eve | no_hours
    today: tuple[Span, ...] = ()  # today's hours (local), for "i dag har vi öppet 08:00–15:00"
    eve_of: str | None = None  # on an eve: the holiday it is the eve of ("Första maj")

    def why_closed(self) -> str:
        """Why a closed line is closed, for what the caller hears: closure (its own text) | holiday | eve (a
        shortened day before a holiday) | special (hours set for the day) | hours (outside the weekly hours)."""
        if self.closure is not None:
            return "closure"
        if self.holiday:
            return "holiday"
        return {"eve": "eve", "special": "special"}.get(self.day, "hours")


def _active(notices: tuple[Notice, ...], now: datetime) -> Notice | None:
    return next((n for n in notices if n.active(now)), None)


def next_opening(schedule: Schedule, now: datetime, horizon_days: int = 400) -> datetime | None:
    """The first moment at or after ``now`` when the line is open (closures respected)."""
    local = now.astimezone(schedule.tz)
    for offset in range(horizon_days):
        for start, end in day_hours(schedule, local.date() + timedelta(days=offset)).spans:
            candidate = max(start, local)
            while (closure := _active(schedule.closures, candidate)) is not None:
                candidate = closure.ends.astimezone(schedule.tz)
            if candidate < end:
                return candidate
    return None


def status(schedule: Schedule, now: datetime) -> HoursStatus:
    local = now.astimezone(schedule.tz)
    crisis = _active(schedule.crises, local)
    closure = _active(schedule.closures, local)
    today = day_hours(schedule, local.date())
    if closure is None:
        for start, end in today.spans:
            if start <= local < end:
                later = [c.starts for c in schedule.closures if local < c.starts < end]
                return HoursStatus(True, "open", closes_at=min([end, *later]), eve=today.reason == "eve",
                                   crisis=crisis)
    if closure is not None:
        reason = "closure"
    elif today.reason == "holiday" or not today.spans:
        reason = "holiday" if today.reason == "holiday" else "no_hours"
    elif local < today.spans[0][0]:
        reason = "before_opening"
    elif local >= today.spans[-1][1]:
        reason = "after_hours"
    else:
        reason = "between"
    return HoursStatus(
        False,
        reason,
        next_open=next_opening(schedule, local),
        holiday=today.holiday,
        eve=today.reason == "eve",
        closure=closure,
        crisis=crisis,
        day=today.reason,
        today=tuple((s.time(), e.time() if e.date() == s.date() else time.max) for s, e in today.spans),
        eve_of=holiday_name(local.date() + timedelta(days=1)) if today.reason == "eve" else None,
    )
