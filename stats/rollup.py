"""Per-day rollups: the facts of each local day summed per hour, menu choice, entry number and queue
(``stats_hours``), those hours summed per day (``stats_day_totals``), and per hour and operator
(``stats_operator_days``, its name from when it was per day).

Why: SQLite needs seconds to aggregate a million fact rows with fifty sums; a
year of hour rollups is some twenty-five thousand rows, of day totals three
thousand. The rollup of a day is exactly the report's own SQL aggregate over
that day's facts (``hour_select``), written down; so summing rollups gives the
same numbers as aggregating facts, on both databases. The measures include the
answered calls per wait bucket (``WAIT_MEASURES``), from which a report finds
the bucket its percentile lies in, and the longest wait (a max, kept beside the
sums).

Kept fresh incrementally: every fact write bumps its day's ``changes`` counter
(``stats_days``, same transaction), and a report first rebuilds the days in its
range whose rollup was built at another count — or with other thresholds (the
definitions' fingerprint). Today is rebuilt on each report (one day of facts,
milliseconds); a finished day once. A rebuild locks its days' rows first, so
two reports never rebuild the same day at once.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable

from sqlalchemy import and_, bindparam, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stats.definitions import WRAPUP_OUTCOMES, Definitions
from stats.models import (HOUR_MEASURES, OPERATOR_MEASURES, WAIT_BUCKETS, CallFact, DayRollup, HourRollup,
                          OperatorRollup, RollupDay)

BATCH_DAYS = 31
QUEUE_OUTCOMES = ("answered", "abandoned", "callback")
LAYOUT = 2  # which rollup rows a day has; a new layout rebuilds every day on the next report


def fingerprint(d: Definitions) -> str:
    """The thresholds baked into rollup rows; anything else is applied when a report is assembled."""
    return (f"v{LAYOUT};short={d.short_abandon_seconds};sw={d.switchboard_answer_seconds};"
            f"cs={d.service_answer_seconds}")


def _sum(expr):
    return func.coalesce(func.sum(expr), 0)


def _flag(cond):
    return _sum(case((cond, 1), else_=0))


def hour_measures(d: Definitions) -> list:
    """SQL for every name in ``HOUR_MEASURES``, in that order, over ``call_facts``."""
    c = CallFact
    short = d.short_abandon_seconds if d.short_abandon_seconds > 0 else -1
    return [
        func.count(), _sum(c.closed), _sum(c.english), _flag(c.invalid_inputs > 0), _flag(c.timeouts > 0),
        _sum(c.invalid_inputs), _sum(c.timeouts), _sum(c.lookups), _sum(c.lookups_matched), _sum(c.queued),
        _sum(c.queue_returned), _sum(c.answered), _sum(c.abandoned), _sum(c.queue_callback),
        _flag(and_(c.abandoned == 1, c.wait_seconds <= short)),
        _flag(and_(c.answered == 1, c.wait_seconds <= d.switchboard_answer_seconds)),
        _flag(and_(c.answered == 1, c.wait_seconds <= d.service_answer_seconds)),
        _sum(c.answer_seconds), _sum(c.transfers), _sum(c.transfers_answered), _sum(c.transfers_returned),
        _sum(c.transfer_hangup), _flag(c.outcome == "transferred"), _flag(c.outcome == "ivr_exit"),
        _flag(and_(c.answered == 1, c.ended_at.is_not(None))), _sum(c.centre_talk_seconds), _sum(c.wrapups),
        _sum(c.resolved), _sum(c.wrapup_seconds), _sum(c.cb_requested), _sum(c.cb_completed), _sum(c.cb_failed),
        _sum(c.cb_cancelled), _sum(c.cb_attempts), _sum(c.cb_contact_seconds), func.count(c.reach_seconds),
        _sum(c.reach_seconds), *wait_buckets(),
        *(_sum(case((and_(or_(c.answered == 1, c.wrapups == 1), c.wrapup_outcome == outcome), c.wrapups), else_=0))
          for outcome in WRAPUP_OUTCOMES),
    ]


def answered_wait():
    """The calls whose wait the percentiles are taken over."""
    return and_(CallFact.queue_outcome == "answered", CallFact.wait_seconds.is_not(None))


def wait_buckets() -> list:
    """SQL for ``WAIT_MEASURES``: answered calls per wait bucket."""
    w = CallFact.wait_seconds
    bounds = [*zip(WAIT_BUCKETS, WAIT_BUCKETS[1:]), (WAIT_BUCKETS[-1], None)]
    return [_flag(and_(answered_wait(), *([w >= lower] if i else []), *([w < upper] if upper is not None else [])))
            for i, (lower, upper) in enumerate(bounds)]


def bucket_range(i: int) -> tuple[int | None, int | None]:
    """[lower, upper) of wait bucket ``i``; None: unbounded."""
    return (WAIT_BUCKETS[i] if i else None), (WAIT_BUCKETS[i + 1] if i + 1 < len(WAIT_BUCKETS) else None)


def longest_wait(d: Definitions):
    """SQL: the longest queue wait that was not a short abandon (answered, abandoned or a callback)."""
    c = CallFact
    waited = and_(c.queue_outcome.in_(QUEUE_OUTCOMES), c.wait_seconds.is_not(None))
    if d.short_abandon_seconds > 0:
        waited = and_(waited, or_(c.queue_outcome != "abandoned", c.wait_seconds > d.short_abandon_seconds))
    return func.max(case((waited, c.wait_seconds)))


HOUR_KEYS = ("local_date", "local_hour", "local_weekday", "menu_choice", "called", "queue")
DAY_KEYS = ("local_date", "local_weekday", "menu_choice", "called", "queue")


def hour_select(d: Definitions, *where) -> select:
    """The facts summed per local date, hour, menu choice, entry number and queue."""
    c = CallFact
    keys = [getattr(c, k) for k in HOUR_KEYS]
    return select(*keys, *hour_measures(d), longest_wait(d)).where(*where).group_by(*keys)


def operator_who():
    return func.coalesce(CallFact.operator, CallFact.wrapup_operator, literal("(okänd)"))


OPERATOR_KEYS = ("local_date", "local_hour", "local_weekday", "called", "queue", "operator")


def operator_select(*where, keys: tuple[str, ...] = OPERATOR_KEYS) -> select:
    """Answered calls and wrap-ups summed per ``keys`` (default: local date, hour, entry number, queue and
    operator)."""
    c = CallFact
    keys = [operator_who() if k == "operator" else getattr(c, k) for k in keys]
    measures = [_sum(c.answered), _sum(c.answer_seconds), _flag(and_(c.answered == 1, c.ended_at.is_not(None))),
                _sum(c.centre_talk_seconds), _sum(c.wrapups), _sum(c.resolved), _sum(c.wrapup_seconds)]
    return select(*keys, *measures).where(*where, or_(c.answered == 1, c.wrapups == 1)).group_by(*keys)


# --- keeping days fresh ---------------------------------------------------------------------------


def bump(session: Session, days: Iterable[date]) -> None:
    """Facts of these days changed (called in the transaction that changed them)."""
    rows = [{"local_date": day, "changes": 1} for day in sorted(set(days))]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect not in _BUMPS:  # built once: building an upsert is not free, and this runs on every call step
        table = RollupDay.__table__
        _BUMPS[dialect] = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).on_conflict_do_update(
            index_elements=["local_date"], set_={"changes": table.c.changes + 1})
    session.connection().execute(_BUMPS[dialect], rows)


_BUMPS: dict[str, object] = {}


def stale_days(session: Session, start: date, end: date, d: Definitions) -> list[date]:
    fp = fingerprint(d)
    r = RollupDay
    return list(session.scalars(select(r.local_date).where(
        r.local_date >= start, r.local_date <= end,
        or_(r.built_changes.is_(None), r.built_changes != r.changes, r.built_for.is_(None), r.built_for != fp))
        .order_by(r.local_date)))


def refresh(session: Session, days: list[date], d: Definitions, batch: int = BATCH_DAYS) -> int:
    """Rebuild the rollups of ``days`` from their facts, ``batch`` days per transaction; commits."""
    fp = fingerprint(d)
    for i in range(0, len(days), batch):
        chunk = days[i:i + batch]
        # take the days' row locks (PostgreSQL) / the write lock (SQLite) before reading anything
        session.execute(update(RollupDay).where(RollupDay.local_date.in_(chunk))
                        .values(changes=RollupDay.changes).execution_options(synchronize_session=False))
        seen = session.execute(select(RollupDay.local_date, RollupDay.changes)
                               .where(RollupDay.local_date.in_(chunk))).all()
        for table in (HourRollup, DayRollup, OperatorRollup):
            session.execute(delete(table).where(table.local_date.in_(chunk)))
        session.execute(insert(HourRollup).from_select([*HOUR_KEYS, *HOUR_MEASURES, "longest_wait"],
                                                       hour_select(d, CallFact.local_date.in_(chunk))))
        h = HourRollup  # the days' totals: their hours summed (a few rows a day, for reports without hour filters)
        day_keys = [getattr(h, k) for k in DAY_KEYS]
        session.execute(insert(DayRollup).from_select(
            [*DAY_KEYS, *HOUR_MEASURES, "longest_wait"],
            select(*day_keys, *[func.sum(getattr(h, m)) for m in HOUR_MEASURES], func.max(h.longest_wait))
            .where(h.local_date.in_(chunk)).group_by(*day_keys)))
        session.execute(insert(OperatorRollup).from_select([*OPERATOR_KEYS, *OPERATOR_MEASURES],
                                                           operator_select(CallFact.local_date.in_(chunk))))
        if seen:  # a Core executemany: one UPDATE per day with its own count
            session.connection().execute(update(RollupDay).where(RollupDay.local_date == bindparam("day"))
                                         .values(built_changes=bindparam("n"), built_for=fp),
                                         [{"day": day, "n": n} for day, n in seen])
        session.commit()
    return len(days)


def ensure_fresh(session: Session, start: date, end: date, d: Definitions) -> int:
    """Bring the rollups of [start, end] up to date; returns how many days were rebuilt."""
    return refresh(session, stale_days(session, start, end, d), d)
