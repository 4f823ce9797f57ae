"""Reading phone-hours schedules (weekly hours, special days, closures, crises) from the database."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import versions
from ivr.hours import SWITCHBOARD_DEFAULT, Notice, Schedule, parse_intervals, parse_time, parse_weekly
from ivr.models import Closure, PhoneHours, SpecialDay


def weekly_of(session: Session, key: str) -> dict[str, list[str]]:
    row = session.scalar(select(PhoneHours).where(PhoneHours.key == key))
    if row is not None:
        return row.weekly
    return SWITCHBOARD_DEFAULT if key == "switchboard" else {}


def load(session: Session, key: str, tz: ZoneInfo, eve_close: str, now: datetime | None = None) -> Schedule:
    """The schedule ``key`` ("switchboard" or "unit:<slug>"); the switchboard has built-in defaults.

    With ``now``, only closures and crises still relevant from then on are read.
    """
    row = session.scalar(select(PhoneHours).where(PhoneHours.key == key))
    if row is None and key != "switchboard":
        raise KeyError(f"no phone hours called {key!r}")
    weekly = row.weekly if row is not None else SWITCHBOARD_DEFAULT
    eve = row.eve_close if row is not None and row.eve_close is not None else eve_close
    specials = session.scalars(select(SpecialDay).where(SpecialDay.scope.in_([key, "*"]))).all()
    notices = select(Closure).where(or_(Closure.scope == key, Closure.scope == "*"))
    if now is not None:
        notices = notices.where(Closure.ends_at > now)
    closures, crises = [], []
    for c in session.scalars(notices.order_by(Closure.starts_at)):
        notice = Notice(c.starts_at, c.ends_at, {"sv": c.message_sv, "en": c.message_en or c.message_sv})
        (closures if c.kind == "closure" else crises).append(notice)
    return Schedule(
        key=key,
        name=row.name if row is not None else "Växeln",
        weekly=parse_weekly(weekly),
        tz=tz,
        eve_close=parse_time(eve) if eve else None,
        observe_holidays=row.observe_holidays if row is not None else True,
        special_days={s.day: parse_intervals(s.intervals) for s in sorted(specials, key=lambda s: s.scope != "*")},
        closures=tuple(closures),
        crises=tuple(crises),
    )


_held = versions.Cached("hours")


def current(session: Session, key: str, tz: ZoneInfo, eve_close: str, now: datetime) -> Schedule:
    """:func:`load` for call steps and searches: kept in memory while the phone hours stay as they are
    (``core.versions``), read again on the first step after any change, in any process.

    A schedule is kept per day; closures that ended earlier that day are in it and change nothing."""
    day = datetime.combine(now.astimezone(tz).date(), time(0), tz)
    return _held.get(session, ("load", key, tz.key, eve_close, day), lambda: load(session, key, tz, eve_close, day))


def weekly_current(session: Session, key: str) -> dict[str, list[str]]:
    """:func:`weekly_of`, kept like :func:`current`."""
    return _held.get(session, ("weekly", key), lambda: weekly_of(session, key))


def keys(session: Session) -> set[str]:
    """Every schedule's key, kept like :func:`current`."""
    return _held.get(session, "keys", lambda: set(session.scalars(select(PhoneHours.key))))
