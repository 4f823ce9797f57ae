"""The Twilio adapter's own two tables: answers already given, and callback outcomes already reported.

Twilio retries webhooks and calls some URLs more than once; both tables turn
"do it once" into a unique key the database enforces.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class TwilioResponse(Base):
    """The TwiML one webhook request was answered with, so a retried request gets it again instead of a second step."""

    __tablename__ = "twilio_responses"
    __table_args__ = (UniqueConstraint("call_sid", "request_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    request_key: Mapped[str] = mapped_column(String(80))  # "<route>:<engine step>", e.g. "step:7"
    twiml: Mapped[str | None] = mapped_column(Text, nullable=True)  # None while the first request is being answered
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallbackOutcome(Base):
    """How one outbound callback attempt ended; the primary key makes the report to the dispatcher happen once."""

    __tablename__ = "twilio_callback_outcomes"

    request_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    call_sid: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # callback.dialer.OUTCOMES
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
