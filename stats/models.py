"""The append-only call event log every statistic is computed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.db import Base, JSONDocument, UTCDateTime


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
