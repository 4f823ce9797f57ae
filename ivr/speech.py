"""Words a caller hears for times, waits, hours and numbers, in Swedish and English.

Written out by hand (not via the C locale) so the text is the same on every machine.
"""

from __future__ import annotations

from datetime import datetime, time

from ivr.hours import Span

DAYS = {
    "sv": ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS = {
    "sv": ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
           "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}
WORDS = {
    "sv": {"today": "i dag", "tomorrow": "i morgon", "at": "klockan", "and": "och", "to": "till",
           "closed": "stängt", "minute": "minut", "minutes": "minuter", "about": "ungefär",
           "less_than_minute": "mindre än en minut", "between": "mellan", "by": "senast"},
    "en": {"today": "today", "tomorrow": "tomorrow", "at": "at", "and": "and", "to": "to",
           "closed": "closed", "minute": "minute", "minutes": "minutes", "about": "about",
           "less_than_minute": "less than a minute", "between": "between", "by": "by"},
}


def clock(t: time) -> str:
    return "24:00" if t == time.max else f"{t.hour:02d}:{t.minute:02d}"


def day(when: datetime, now: datetime, lang: str) -> str:
    """'i dag', 'i morgon', 'måndag 30 november'."""
    words = WORDS[lang]
    when = when.astimezone(now.tzinfo)
    days = (when.date() - now.date()).days
    if days == 0:
        return words["today"]
    if days == 1:
        return words["tomorrow"]
    return f"{DAYS[lang][when.weekday()]} {when.day} {MONTHS[lang][when.month - 1]}"


def moment(when: datetime, now: datetime, lang: str) -> str:
    """'i dag klockan 13:00', 'i morgon klockan 08:00', 'måndag 30 november klockan 08:00'."""
    return f"{day(when, now, lang)} {WORDS[lang]['at']} {clock(when.astimezone(now.tzinfo).time())}"


def promise(first: datetime, first_end: datetime | None, due_by: datetime | None, now: datetime, lang: str) -> str:
    """When we call: 'i morgon mellan 10:00 och 12:00' (the next phone time), 'senast i morgon klockan 14:00'."""
    words = WORDS[lang]
    local = first.astimezone(now.tzinfo)
    if due_by is None or (first_end is not None and due_by <= first_end):
        end = (first_end or first).astimezone(now.tzinfo)
        if end <= local:
            return moment(first, now, lang)
        return f"{day(first, now, lang)} {words['between']} {clock(local.time())} {words['and']} {clock(end.time())}"
    return f"{words['by']} {moment(due_by, now, lang)}"


def wait(seconds: int, lang: str) -> str:
    words = WORDS[lang]
    if seconds < 60:
        return words["less_than_minute"]
    minutes = round(seconds / 60)
    unit = words["minute"] if minutes == 1 else words["minutes"]
    return f"{words['about']} {minutes} {unit}"


def spans(day_spans: tuple[Span, ...], lang: str) -> str:
    words = WORDS[lang]
    return f" {words['and']} ".join(f"{clock(s)}–{clock(e)}" for s, e in day_spans)


def weekly(week: dict[int, tuple[Span, ...]], lang: str) -> str:
    """'måndag till torsdag 08:00–17:00, fredag 08:00–16:00' — consecutive equal days grouped."""
    words = WORDS[lang]
    groups: list[tuple[int, int, tuple[Span, ...]]] = []
    for day in range(7):
        hours = week.get(day, ())
        if groups and groups[-1][2] == hours and groups[-1][1] == day - 1:
            groups[-1] = (groups[-1][0], day, hours)
        else:
            groups.append((day, day, hours))
    parts = []
    for first, last, hours in groups:
        if not hours:
            continue
        names = DAYS[lang][first] if first == last else f"{DAYS[lang][first]} {words['to']} {DAYS[lang][last]}"
        if last == first + 1:
            names = f"{DAYS[lang][first]} {words['and']} {DAYS[lang][last]}"
        parts.append(f"{names} {spans(hours, lang)}")
    return ", ".join(parts) if parts else words["closed"]
