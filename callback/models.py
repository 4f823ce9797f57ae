"""Callback requests: a citizen's confirmed number and when to ring it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.db import Base, UTCDateTime


class CallbackRequest(Base):
    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # one request per call
    number: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # E.164; None once pseudonymised
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # queue | next_open
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    queue: Mapped[str] = mapped_column(String(40), default="centre")
    queue_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    menu_choice: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
