"""The audit log: every change an administrator or operator makes, by whom and when, before and after.

Append-only. Changes to what citizens hear (flows, phone hours, closures,
crisis messages), to the directory and to accounts are recorded here, in the
same transaction as the change itself, so the log cannot miss one. The pages
that show it are ``switchboard/audit_views.py``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, JSONDocument, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))  # e.g. flow.publish, hours.closure_add, directory.import
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80), default="")
    before: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    after: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


def record(session: Session, user: str, action: str, object_type: str, object_id: str = "", before: Any = None,
           after: Any = None, note: str = "") -> AuditEntry:
    entry = AuditEntry(at=datetime.now(timezone.utc), user=user, action=action, object_type=object_type,
                       object_id=str(object_id), before=before, after=after, note=note)
    session.add(entry)
    return entry


def who() -> str:
    """The logged-in user's name, for views; commands say ``cli``."""
    from flask_login import current_user

    return current_user.username if current_user and current_user.is_authenticated else "anonymous"
