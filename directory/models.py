"""The staff directory: organisation units, people and functions, their numbers, keywords and presence."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import versions
from core.db import Base, JSONDocument, UTCDateTime

KINDS = ("person", "function")
UNIT_KINDS = ("forvaltning", "avdelning", "enhet")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Unit(Base):
    """A förvaltning, avdelning or enhet; ``parent_id`` builds the organisation tree."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # forvaltning | avdelning | enhet
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)

    # Who answers messages and callbacks for this unit, and by when (``directory.promises``); None = as the
    # parent unit, and at the top: the centre, in the next phone time.
    answered_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # centre | unit
    promise_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0 same day .. N working days
    email: Mapped[str] = mapped_column(String(200), default="", server_default="")  # where messages go
    # Whoever answers a transfer to this unit must press 1 first, so a voicemail never takes the call
    # (``directory.promises``); None = as the parent unit, and at the top the site's transfers.confirm_answer.
    confirm_answer: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Where a transfer nobody answers goes (``directory.promises``): centre | colleague | function | voicemail;
    # None = as the parent unit, and at the top back to the centre. function/voicemail ring ``no_answer_number``.
    no_answer: Mapped[str | None] = mapped_column(String(16), nullable=True)
    no_answer_number: Mapped[str | None] = mapped_column(String(32), nullable=True)  # E.164

    parent: Mapped["Unit | None"] = relationship(remote_side=[id])

    def path(self) -> list["Unit"]:
        """From the förvaltning down to this unit."""
        chain, unit = [], self
        while unit is not None:
            chain.append(unit)
            unit = unit.parent
        return chain[::-1]


class Staff(Base):
    """A directory entry: a person, or a function that is not a person ("Bygglov – dagens handläggare")."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(80), unique=True)  # stable id from the HR export
    kind: Mapped[str] = mapped_column(String(16), default="person", server_default="person")
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    extension: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # E.164
    mobile: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # E.164
    # how a transfer rings this entry (directory.csv_io.RING): desk | together (desk and mobile at once) |
    # sequential (desk, then the mobile); None = desk — the direct line or extension, else the mobile
    ring: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # the weekdays and hours this person works (``directory.working_time``), the weekly form of phone hours;
    # None = whenever the phone hours allow. Outside them they count as absent until their next start.
    working_hours: Mapped[dict | None] = mapped_column(JSONDocument, nullable=True)
    hidden_number: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")  # never give it out
    email: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    unit: Mapped[Unit] = relationship()
    keywords: Mapped[list["Keyword"]] = relationship(cascade="all, delete-orphan")
    numbers: Mapped[list["StaffNumber"]] = relationship(cascade="all, delete-orphan")


class RotaEntry(Base):
    """Who takes a function's calls on one weekday (0 = Monday) or on one date; a date beats its weekday."""

    __tablename__ = "rota_entries"
    __table_args__ = (UniqueConstraint("function_id", "weekday", name="uq_rota_entries_function_weekday"),
                      UniqueConstraint("function_id", "on_date", name="uq_rota_entries_function_date"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    function_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int | None] = mapped_column(Integer, nullable=True)  # exactly one of weekday and on_date
    on_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)


class StaffNumber(Base):
    """Numbers beyond the main extension, direct line and mobile (a second desk, a fax, a pager)."""

    __tablename__ = "staff_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(32), index=True)  # an extension or E.164
    label: Mapped[str] = mapped_column(String(80), default="")


class Keyword(Base):
    """A search word on a person, function or unit; ``folded`` is the lower-case form searched on."""

    __tablename__ = "keywords"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    term: Mapped[str] = mapped_column(String(120))
    folded: Mapped[str] = mapped_column(String(120), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), nullable=True, index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), nullable=True, index=True)


class Presence(Base):
    """What the switchboard knows about reaching an entry now.

    ``status`` is set by people (operators, the person themself): available,
    absent, forwarded or closed. ``line`` is fed by the telephony platform:
    available, busy or unavailable. The status people set wins over the line.
    """

    __tablename__ = "presence"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="available")
    reason: Mapped[str] = mapped_column(Text, default="")
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    forward_to: Mapped[str | None] = mapped_column(String(32), nullable=True)
    set_by: Mapped[str] = mapped_column(String(80), default="")
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    line: Mapped[str] = mapped_column(String(16), default="unknown")
    line_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PresenceChange(Base):
    """Append-only history of presence changes: who closed an extension, when, and why."""

    __tablename__ = "presence_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))  # operator | pbx | expiry
    by: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(16))
    line: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    forward_to: Mapped[str | None] = mapped_column(String(32), nullable=True)


class DirectoryVersion(Base):
    """One row whose number goes up on every directory change, so each process knows when to re-index."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


# what the call steps keep in memory about entries and units is read again after any change to them
versions.watch("directory", Unit, Staff, RotaEntry, StaffNumber, Keyword)
