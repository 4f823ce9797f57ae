"""Operators as the console knows them (state, pause reason, the call they hold on hold), and wrap-ups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class ConsoleOperator(Base):
    __tablename__ = "console_operators"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="offline")  # ready | paused | offline
    reason: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    endpoint: Mapped[str] = mapped_column(String(80), default="")  # the phone or client that rings for them
    on_hold: Mapped[str | None] = mapped_column(String(64), nullable=True)  # call id they put on hold
    # the last time any serving process had a console of theirs open (switchboard.console.stream.Away)
    console_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Wrapup(Base):
    """An operator's wrap-up code for a conversation they held: the truth "resolved at the centre" comes from.

    Not a call step: it never changes the call's state or step. A call has one wrap-up; a correction is a
    new row (``revision`` + 1) that names the row it supersedes, written with an audit entry. The unique
    (call_id, revision) makes "once" hold even when two requests race. See :mod:`switchboard.console.wrapups`.
    """

    __tablename__ = "wrapups"
    __table_args__ = (UniqueConstraint("call_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("call_sessions.call_id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)  # 1 = the wrap-up, 2.. = corrections
    operator: Mapped[str] = mapped_column(String(80))  # the operator who held the call (the figure is theirs)
    recorded_by: Mapped[str] = mapped_column(String(80))  # who wrote this row (the operator, or who corrected)
    outcome: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("wrapups.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
