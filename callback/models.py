"""Callback requests and their attempts: the only place a promised callback lives.

A request moves through explicit states so that every process (the call
runner, the dispatcher, the web view, an adapter reporting an outcome) can
change it with one conditional UPDATE and never by accident twice::

    pending ──claim──> claimed ──placed──> dialling ──answered──> done
       ^                  │ (lease expired)    │ no answer, busy, failed
       └──────────────────┴─── retry later ────┤
                                               └─ out of attempts ──> failed
    pending / failed ── operator ──> done | cancelled

One model for callbacks and messages: a request also says whom it is for
(``target_kind``: a person, a function, a unit, or the centre), what about
(``subject``, an operator's ``message``), who took it (``taken_by``: "ivr" or
an operator), by when it is promised (``due_by``) and who answers
(``answered_by``): the centre dials it through the dispatcher; a unit answers
it from its own list (``/requests``) and the dispatcher leaves it alone. An
operator's message (kind ``message``) is always answered by the person or unit.

Each dial is one :class:`CallbackAttempt` row, numbered 1, 2, 3 per request;
(request, attempt) is the idempotency key the adapters receive.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, exists, false
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

PENDING, CLAIMED, DIALLING = "pending", "claimed", "dialling"
DONE, FAILED, CANCELLED = "done", "failed", "cancelled"
OPEN = (PENDING, CLAIMED, DIALLING)
KINDS = ("queue", "next_open", "message")  # kept the caller's place | at the next phone time | taken by an operator
TARGETS = ("person", "function", "unit", "centre")
ANSWERERS = ("centre", "unit")
CLOSED = (DONE, FAILED, CANCELLED)


class CallbackRequest(Base):
    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # one request per call
    number: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # E.164; None once purged
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # queue | next_open | message
    # not before this moment: the opening promised (next_open) or the next retry; None = when its turn comes
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    queue: Mapped[str] = mapped_column(String(40), default="centre")
    queue_position: Mapped[int | None] = mapped_column(Integer, nullable=True)  # when the request was made
    menu_choice: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    # the caller's queue entry (queue kind): its place in line is kept until the first attempt
    queue_entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # attempts started
    call_now: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # an operator asked
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)  # the dispatcher holding it
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # its lease
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    closed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)  # "dispatcher" or a user name
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # an operator's note (cancel, done)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # number removed
    # -- whom it is for, why, and by when ----------------------------------------------------------------
    target_kind: Mapped[str] = mapped_column(String(16), default="centre", server_default="centre")  # TARGETS
    target_id: Mapped[str | None] = mapped_column(String(80), nullable=True)  # a staff external id or a unit slug
    target_name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # as named when it was taken
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True,
                                                index=True)  # the unit it belongs to (its list, its figures)
    unit_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    answered_by: Mapped[str] = mapped_column(String(16), default="centre", server_default="centre")  # ANSWERERS
    situation: Mapped[str | None] = mapped_column(String(32), nullable=True)  # why the citizen was not helped then
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)  # what the directory was asked, a topic
    message: Mapped[str | None] = mapped_column(Text, nullable=True)  # what the citizen said (an operator's text)
    taken_by: Mapped[str] = mapped_column(String(80), default="ivr", server_default="ivr")  # "ivr" or a user name
    hours_key: Mapped[str | None] = mapped_column(String(80), nullable=True)  # phone hours the answer falls in
    due_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)  # the promise
    merged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # later duplicates folded in
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)  # how a unit closed it (OUTCOMES)
    email_to: Mapped[str | None] = mapped_column(String(200), nullable=True)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    email_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    email_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # mails tried
    email_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # next try after a failure


class CallbackAttempt(Base):
    """One dial of a request; started when claimed, closed by the outcome the adapter reports."""

    __tablename__ = "callback_attempts"
    __table_args__ = (UniqueConstraint("request_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("callback_requests.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(80))  # the dispatcher that claimed it
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dial_order: Mapped[str] = mapped_column(String(16))  # operator_first | citizen_first
    operator: Mapped[str | None] = mapped_column(String(80), nullable=True)
    platform_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # the adapter's call id
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # answered | no-answer | busy | failed
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)


def holds_place(entry_id):
    """SQL: a queue entry whose caller left for a callback that still keeps the caller's place in line.

    The place is kept until the first attempt is claimed: from then on the
    request has had its turn (a retry waits for its time, not for the queue).
    """
    return exists().where(
        CallbackRequest.queue_entry_id == entry_id,
        CallbackRequest.kind == "queue",
        CallbackRequest.status == PENDING,
        CallbackRequest.attempts == 0,
    )
