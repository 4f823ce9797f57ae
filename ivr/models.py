"""Tables the call-flow engine needs: flow versions, live call state, phone hours."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import versions
from core.db import Base, JSONDocument, UTCDateTime


class FlowVersion(Base):
    """One version of a call flow document; calls keep the version they started on."""

    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("flow_key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow_key: Mapped[str] = mapped_column(String(40), default="main")
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # draft | published | archived
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CallSession(Base):
    """The engine's state for one call, stored outside the process so any worker can take the next step."""

    __tablename__ = "call_sessions"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # twilio, asterisk, simulator (vaxel call), demo (demo traffic)
    flow_version_id: Mapped[int] = mapped_column(ForeignKey("flow_versions.id"))
    caller: Mapped[str | None] = mapped_column(String(32), nullable=True)
    called: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the call's (service clock) time
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, default=lambda: datetime.now(timezone.utc))  # wall clock, for "the last call"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # last proof that the platform still has the call besides a step (an AGI heartbeat, a platform answer)
    alive_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    step: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[dict[str, Any]] = mapped_column(JSONDocument)


class PhoneHours(Base):
    """Weekly phone hours of the switchboard (key ``switchboard``) or a unit (``unit:<slug>``)."""

    __tablename__ = "phone_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    weekly: Mapped[dict[str, Any]] = mapped_column(JSONDocument)  # {"mon": ["08:00-17:00"], ...}
    eve_close: Mapped[str | None] = mapped_column(String(5), nullable=True)
    observe_holidays: Mapped[bool] = mapped_column(default=True)


class SpecialDay(Base):
    """A date whose hours differ from the week: a holiday kept open, an extra closed day, short hours."""

    __tablename__ = "special_days"
    __table_args__ = (UniqueConstraint("scope", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))  # a PhoneHours key, or "*" for all
    day: Mapped[date] = mapped_column(Date)
    intervals: Mapped[list[str]] = mapped_column(JSONDocument)  # [] = closed all day
    note: Mapped[str] = mapped_column(Text, default="")


class Closure(Base):
    """A temporary closure (closes the line) or a crisis message (played before the menu)."""

    __tablename__ = "closures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), default="switchboard")
    kind: Mapped[str] = mapped_column(String(16))  # closure | crisis
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    message_sv: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# every process keeps the published flow and the phone hours in memory while these tokens stay the same
versions.watch("flow", FlowVersion)
versions.watch("hours", PhoneHours, SpecialDay, Closure)
