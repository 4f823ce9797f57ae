"""The append-only call event log every statistic is computed from, and the per-call facts folded from it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, JSONDocument, UTCDateTime
from stats.definitions import WRAPUP_OUTCOMES


class CallEvent(Base):
    """One thing that happened on a call; (call_id, step, seq) makes writes idempotent."""

    __tablename__ = "call_events"
    __table_args__ = (
        UniqueConstraint("call_id", "step", "seq"),
        Index("ix_call_events_type_at", "type", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    step: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument)


class CallFact(Base):
    """One row per call, folded from its events (``stats.facts``): what the report engine aggregates.

    Kept in the same transaction as the events and rebuilt from them by ``vaxel
    stats rebuild``. Local date, hour and weekday (Europe/Stockholm) are fixed when
    the row is written, so SQLite and PostgreSQL group the same calls the same way.
    0/1 columns are flags made to be summed; no column holds the caller's number.
    """

    __tablename__ = "call_facts"
    __table_args__ = (
        Index("ix_call_facts_local_date_local_hour", "local_date", "local_hour"),
        # the top unmatched directory queries: only calls with one, covering the date, hour and weekday filters
        Index("ix_call_facts_unmatched", "unmatched_query", "local_date", "local_hour", "local_weekday",
              postgresql_where=text("unmatched_query IS NOT NULL"), sqlite_where=text("unmatched_query IS NOT NULL")),
        # covers the queue-wait histogram (percentiles, longest wait): an index-only scan already in group order
        Index("ix_call_facts_waits", "queue_outcome", "menu_choice", "wait_seconds", "local_date", "local_hour",
              "local_weekday"),
        # the queues calls waited in (the statistics list them): one probe per queue, only calls that queued
        Index("ix_call_facts_queue", "queue", postgresql_where=text("queue IS NOT NULL"),
              sqlite_where=text("queue IS NOT NULL")),
        # the department filter (or over the three levels): only transferred calls have a unit, so partial
        *(Index(f"ix_call_facts_{level}", level, "local_date", postgresql_where=text(f"{level} IS NOT NULL"),
                sqlite_where=text(f"{level} IS NOT NULL")) for level in ("forvaltning", "avdelning", "enhet")),
    )

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    local_date: Mapped[date] = mapped_column(Date)
    local_hour: Mapped[int] = mapped_column(Integer)
    local_weekday: Mapped[int] = mapped_column(Integer)  # 1 = Monday ... 7 = Sunday (ISO)
    called: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the entry number dialled
    lang: Mapped[str | None] = mapped_column(String(8), nullable=True)
    closed: Mapped[int] = mapped_column(Integer, default=0)  # came outside phone hours
    hours_reason: Mapped[str | None] = mapped_column(String(24), nullable=True)
    menu_choice: Mapped[str | None] = mapped_column(String(40), nullable=True)  # person | case | fallback
    english: Mapped[int] = mapped_column(Integer, default=0)
    invalid_inputs: Mapped[int] = mapped_column(Integer, default=0)
    timeouts: Mapped[int] = mapped_column(Integer, default=0)
    lookups: Mapped[int] = mapped_column(Integer, default=0)
    lookups_matched: Mapped[int] = mapped_column(Integer, default=0)
    unmatched_query: Mapped[str | None] = mapped_column(String(120), nullable=True)  # folded, first one
    queue: Mapped[str | None] = mapped_column(String(40), nullable=True)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    queue_returned: Mapped[int] = mapped_column(Integer, default=0)  # queued after a failed transfer
    queue_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # answered | abandoned | callback
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    queue_callback: Mapped[int] = mapped_column(Integer, default=0)
    wait_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)  # until the first answer, or left
    answer_seconds: Mapped[int] = mapped_column(Integer, default=0)  # the wait, when answered
    operator: Mapped[str | None] = mapped_column(String(80), nullable=True)
    transfers: Mapped[int] = mapped_column(Integer, default=0)
    transfers_answered: Mapped[int] = mapped_column(Integer, default=0)
    transfers_returned: Mapped[int] = mapped_column(Integer, default=0)
    transfer_hangup: Mapped[int] = mapped_column(Integer, default=0)
    forvaltning: Mapped[str | None] = mapped_column(String(80), nullable=True)  # unit slugs of the first transfer
    avdelning: Mapped[str | None] = mapped_column(String(80), nullable=True)
    enhet: Mapped[str | None] = mapped_column(String(80), nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # centre | transfer
    reach_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)  # start -> first person, KKiK
    talk_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    centre_talk_seconds: Mapped[int] = mapped_column(Integer, default=0)  # operators' talk, summed
    end_reason: Mapped[str | None] = mapped_column(String(24), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))  # stats.definitions.DISPOSITIONS
    cb_requested: Mapped[int] = mapped_column(Integer, default=0)
    cb_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)  # queue | next_open
    cb_status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # pending | completed | failed | ...
    cb_completed: Mapped[int] = mapped_column(Integer, default=0)
    cb_failed: Mapped[int] = mapped_column(Integer, default=0)
    cb_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    cb_attempts: Mapped[int] = mapped_column(Integer, default=0)
    cb_contact_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wrapups: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)  # wrap-up: answered by the centre
    wrapup_outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    wrapup_operator: Mapped[str | None] = mapped_column(String(80), nullable=True)
    wrapup_seconds: Mapped[int] = mapped_column(Integer, default=0)
    events: Mapped[int] = mapped_column(Integer, default=0)



class TransferFact(Base):
    """One row per transfer attempt (a staff phone rang), for reach rates by department and person."""

    __tablename__ = "transfer_facts"
    __table_args__ = (
        # covers the per-department/person sums: an index-only scan already in group order
        Index("ix_transfer_facts_groups", "forvaltning", "avdelning", "enhet", "target_id", "outcome", "reason",
              "returned", "via", "local_date", "target", "unit_name", "local_hour", "local_weekday"),
    )

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 1, 2 ... within the call
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(Date)
    local_hour: Mapped[int] = mapped_column(Integer)
    local_weekday: Mapped[int] = mapped_column(Integer)
    called: Mapped[str | None] = mapped_column(String(32), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(40), nullable=True)
    target_id: Mapped[str] = mapped_column(String(80))  # Staff.external_id
    target: Mapped[str] = mapped_column(String(200))
    unit_name: Mapped[str] = mapped_column(String(200), default="")
    via: Mapped[str] = mapped_column(String(16), default="ivr")  # ivr (the caller's choice) | operator
    forvaltning: Mapped[str | None] = mapped_column(String(80), nullable=True)
    avdelning: Mapped[str | None] = mapped_column(String(80), nullable=True)
    enhet: Mapped[str | None] = mapped_column(String(80), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))  # answered | failed | ringing
    reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    ring_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)


# Answered calls counted by queue wait, per bucket [lower bound, next lower bound) in seconds (the first bucket
# takes everything below 10 s, the last everything from 1800 s): a percentile is found in its bucket from the
# rollups, then read exactly from the facts of that bucket alone (``stats.report``).
WAIT_BUCKETS = (0, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1800)
WAIT_MEASURES = tuple(f"answered_wait_{lower}" for lower in WAIT_BUCKETS)
# Wrap-ups per outcome (of answered or wrapped-up calls), for the report's "by outcome"
WRAPUP_MEASURES = tuple(f"wrapups_{outcome}" for outcome in WRAPUP_OUTCOMES)

# The per-hour measures a report sums (``stats.report``); the rollup below keeps them per local day and hour.
HOUR_MEASURES = (
    "calls", "closed", "english", "invalid_calls", "timeout_calls", "invalid_inputs", "timeouts", "lookups",
    "lookups_matched", "queued", "queue_returned", "answered", "abandoned", "queue_callback", "short",
    "within_switchboard", "within_service", "answer_seconds", "transfers", "transfers_answered", "transfers_returned",
    "transfer_hangup", "reached_by_transfer", "ivr_exits", "talked", "centre_talk_seconds", "wrapups", "resolved",
    "wrapup_seconds", "cb_requested", "cb_completed", "cb_failed", "cb_cancelled", "cb_attempts",
    "cb_contact_seconds", "reach_calls", "reach_seconds", *WAIT_MEASURES, *WRAPUP_MEASURES,
)
OPERATOR_MEASURES = ("answered", "answer_seconds", "talked", "talk_seconds", "wrapups", "resolved", "wrapup_seconds")


class RollupDay(Base):
    """One local day: how often its facts changed, and which change (and definitions) its rollup rows reflect."""

    __tablename__ = "stats_days"

    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    changes: Mapped[int] = mapped_column(Integer, default=0)  # +1 whenever a fact of the day is written
    built_changes: Mapped[int | None] = mapped_column(Integer, nullable=True)  # ``changes`` the rollup reflects
    built_for: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the definitions' fingerprint


class _Sums:
    """What both sum rollups keep per local day: menu choice, entry number, queue and every measure."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, index=True)
    local_weekday: Mapped[int] = mapped_column(Integer)
    menu_choice: Mapped[str | None] = mapped_column(String(40), nullable=True)
    called: Mapped[str | None] = mapped_column(String(32), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(40), nullable=True)
    longest_wait: Mapped[int | None] = mapped_column(Integer, nullable=True)  # not a short abandon (a max, no sum)
    for _name in HOUR_MEASURES:  # 56 integer columns, named in one place (the migrations list them the same way)
        locals()[_name] = mapped_column(_name, Integer, nullable=False)
    del _name


class HourRollup(_Sums, Base):
    """The facts of one local day and hour, per menu choice, entry number and queue, summed (``stats.rollup``)."""

    __tablename__ = "stats_hours"

    local_hour: Mapped[int] = mapped_column(Integer)


class DayRollup(_Sums, Base):
    """The hours of one local day summed: what a report without an hour filter reads (a few rows a day)."""

    __tablename__ = "stats_day_totals"


class OperatorRollup(Base):
    """Answered calls and wrap-ups of one local day and hour per entry number, queue and operator, summed.

    The table keeps its name from when it was per day, and ``wrapup_outcome``, which is no longer written
    (wrap-ups per outcome are hour measures): a release still serving during an upgrade reads and writes them."""

    __tablename__ = "stats_operator_days"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, index=True)
    local_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: built by an older release
    local_weekday: Mapped[int] = mapped_column(Integer)
    called: Mapped[str | None] = mapped_column(String(32), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(40), nullable=True)
    operator: Mapped[str] = mapped_column(String(80))
    wrapup_outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    for _name in OPERATOR_MEASURES:
        locals()[_name] = mapped_column(_name, Integer, nullable=False)
    del _name
