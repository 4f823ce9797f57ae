"""Who answers a unit's messages and callbacks, and by when — the promise, counted in the unit's own phone hours.

Each unit chooses in the directory (``Unit.answered_by``, ``Unit.promise_days``,
``Unit.email``); a unit that has not chosen inherits from its parent, and at the
top the centre answers "in the next phone time". The promise is counted in the
phone hours that apply to the target (its own, else the nearest unit's, else
the switchboard's) and the holiday calendar, so "same or next working day"
said on a Friday before midsommar means Monday's phone time, not Saturday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import versions
from core.text import N_
from directory import numbers
from directory.models import Staff, Unit
from ivr.hours import Schedule, day_hours, next_opening
from ivr.models import PhoneHours

ANSWERERS = ("centre", "unit")
MAX_PROMISE_DAYS = 10
NEXT_PHONE_TIME = -1  # stored in Unit.promise_days: "in the next phone time", chosen (None = as the parent)


def promise_label(days: int | None) -> str:
    """The promise in the words an administrator and a citizen read."""
    if days is None or days == NEXT_PHONE_TIME:
        return N_("i nästa telefontid")
    if days == 0:
        return N_("samma arbetsdag")
    if days == 1:
        return N_("samma eller nästa arbetsdag")
    return N_("inom %(days)s arbetsdagar", days=days)


@dataclass(frozen=True)
class Policy:
    """A unit's choice after inheritance: who answers, the promise, where messages are e-mailed."""

    answered_by: str  # centre | unit
    promise_days: int | None  # None: in the next phone time
    email: str


def policy_for(unit: Unit | None) -> Policy:
    """The nearest choice up the organisation tree; the centre and "the next phone time" when nobody chose."""
    answered_by, days, email = None, None, ""
    for u in reversed(unit.path()) if unit is not None else ():
        answered_by = answered_by or u.answered_by
        days = u.promise_days if days is None else days
        email = email or u.email
    return Policy(answered_by or "centre", None if days == NEXT_PHONE_TIME else days, email)


def parse_choice(answered_by: str, promise_days: str, email: str) -> tuple[str | None, int | None, str]:
    """An administrator's choice from a form or a file: ("" = as the parent); ValueError says what is wrong."""
    answered_by, promise_days, email = answered_by.strip(), promise_days.strip(), email.strip()
    if answered_by and answered_by not in ANSWERERS:
        raise ValueError(N_("vem som svarar ska vara en av %(choices)s (eller tomt: som enheten ovanför)",
                            choices=", ".join(ANSWERERS)))
    days = None
    if promise_days:
        try:
            days = int(promise_days)
        except ValueError:
            raise ValueError(N_("löftet ”%(value)s” är inget antal arbetsdagar", value=promise_days)) from None
        if not NEXT_PHONE_TIME <= days <= MAX_PROMISE_DAYS:
            raise ValueError(N_("löftet ska vara %(first)s (nästa telefontid) till %(last)s arbetsdagar",
                                first=NEXT_PHONE_TIME, last=MAX_PROMISE_DAYS))
    if email and ("@" not in email or any(c.isspace() or c in "<>,;\"" for c in email) or len(email) > 200):
        raise ValueError(N_("”%(email)s” är ingen e-postadress", email=email))
    return answered_by or None, days, email


NO_ANSWER = ("centre", "colleague", "function", "voicemail")
NO_ANSWER_LABELS = {"centre": N_("tillbaka till kundcenter, först i kön"),
                    "colleague": N_("nästa lediga kollega med samma sökord"),
                    "function": N_("enhetens funktionsnummer"), "voicemail": N_("enhetens röstbrevlåda")}


@dataclass(frozen=True)
class NoAnswer:
    """Where a transfer to a unit goes when nobody answers (or nobody accepts), after inheritance."""

    policy: str  # centre | colleague | function | voicemail
    number: str | None = None  # E.164, for function and voicemail
    unit: str = ""  # the unit whose choice it is (its name, said to the caller)


def no_answer_for(unit: Unit | None) -> NoAnswer:
    """The nearest unit's choice up the tree, with that unit's number; at the top: back to the centre."""
    for u in reversed(unit.path()) if unit is not None else ():
        if u.no_answer:
            return NoAnswer(u.no_answer, u.no_answer_number, u.name)
    return NoAnswer("centre")


def parse_no_answer(policy: str, number: str, number_policy: numbers.Policy | None = None
                    ) -> tuple[str | None, str | None]:
    """An administrator's no-answer choice ("" = as the parent unit); the number is checked against the number
    policy and stored in E.164. ValueError says what is wrong."""
    policy, number = policy.strip(), number.strip()
    if policy and policy not in NO_ANSWER:
        raise ValueError(N_("när ingen svarar ska vara en av %(choices)s (eller tomt: som enheten ovanför)",
                            choices=", ".join(NO_ANSWER)))
    if policy in ("function", "voicemail"):
        if not number:
            raise ValueError(N_("när ingen svarar: %(choice)s behöver numret att ringa", choice=policy))
        decision = numbers.check(number, number_policy)
        if not decision.ok:
            raise ValueError(N_("numret när ingen svarar: %(problem)s", problem=decision.message))
        return policy, decision.number
    if number:
        raise ValueError(N_("ett nummer när ingen svarar hör bara till function eller voicemail"))
    return policy or None, None


CONFIRM_CHOICES = {"ja": True, "yes": True, "on": True, "1": True, "nej": False, "no": False, "off": False, "0": False}


def confirms_answer(unit: Unit | None, site_default: bool) -> bool:
    """Must whoever answers a transfer to this unit press 1 first? The nearest unit's choice, else the site's."""
    for u in reversed(unit.path()) if unit is not None else ():
        if u.confirm_answer is not None:
            return u.confirm_answer
    return site_default


_held = versions.Cached("directory")  # per entry, while the directory stays as it is


def confirms_answer_for(session: Session, staff_id: int, site_default: bool) -> bool:
    """The answer-confirmation choice that applies to a directory entry (by ``Staff.id``): its unit's."""
    def read() -> bool:
        staff = session.get(Staff, staff_id)
        return confirms_answer(staff.unit if staff is not None else None, site_default)

    return _held.get(session, ("confirm", staff_id, site_default), read)


def no_answer_of(session: Session, staff_id: int) -> NoAnswer:
    """The no-answer choice that applies to a directory entry (by ``Staff.id``): its unit's."""
    def read() -> NoAnswer:
        staff = session.get(Staff, staff_id)
        return no_answer_for(staff.unit if staff is not None else None)

    return _held.get(session, ("no_answer", staff_id), read)


def parse_confirm(value: str) -> bool | None:
    """An administrator's answer-confirmation choice: ja/nej (yes/no, on/off, 1/0); "" = as the parent unit."""
    value = value.strip().casefold()
    if not value:
        return None
    if value not in CONFIRM_CHOICES:
        raise ValueError(N_("”%(value)s”: trycka 1 först ska vara ja eller nej (eller tomt: som enheten ovanför)",
                            value=value))
    return CONFIRM_CHOICES[value]


def hours_key(session: Session, staff: Staff | None = None, unit: Unit | None = None) -> str:
    """The phone hours an answer to a person, function or unit falls in: own, nearest unit's, else the switchboard's."""
    keys = set(session.scalars(select(PhoneHours.key)))
    if staff is not None and f"staff:{staff.external_id}" in keys:
        return f"staff:{staff.external_id}"
    unit = unit or (staff.unit if staff is not None else None)
    for u in reversed(unit.path()) if unit is not None else ():
        if f"unit:{u.slug}" in keys:
            return f"unit:{u.slug}"
    return "switchboard"


@dataclass(frozen=True)
class Promise:
    first: datetime | None  # when the next phone time starts (now, if open now); None: never open
    first_end: datetime | None  # when that phone time ends
    due_by: datetime | None  # the answer is promised by then

    @property
    def within_first(self) -> bool:
        """The whole promise is the next phone time ("i morgon mellan 10 och 12")."""
        return self.due_by is not None and self.due_by == self.first_end


def _span_end(schedule: Schedule, moment: datetime) -> datetime:
    local = moment.astimezone(schedule.tz)
    for start, end in day_hours(schedule, local.date()).spans:
        if start <= local < end:
            return end
    return local


def _day_end(schedule: Schedule, day) -> datetime | None:
    spans = day_hours(schedule, day).spans
    return spans[-1][1] if spans else None


def promise(schedule: Schedule, now: datetime, days: int | None) -> Promise:
    """When an answer is due: ``days`` None = in the next phone time; 0 = on the day of the next phone time;
    N = by the end of phone time on the N-th working day (a day with phone hours) after the day of the call."""
    first = next_opening(schedule, now)
    if first is None:
        return Promise(None, None, None)
    first_end = _span_end(schedule, first)
    if days is None:
        return Promise(first, first_end, first_end)
    due_by = _day_end(schedule, first.astimezone(schedule.tz).date()) or first_end
    day, counted = now.astimezone(schedule.tz).date(), 0
    for _ in range(400):
        if counted >= days:
            break
        day += timedelta(days=1)
        end = _day_end(schedule, day)
        if end is not None:
            counted += 1
            due_by = max(due_by, end)
    return Promise(first, first_end, due_by)
