"""Operators as the console knows them: state, pause reason, and the call they hold on hold."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
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
