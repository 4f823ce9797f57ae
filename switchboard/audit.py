"""The audit log: every change an administrator or operator makes, by whom and when, before and after.

Append-only. Changes to what citizens hear (flows, phone hours, closures,
crisis messages), to the directory and to accounts are recorded here, in the
same transaction as the change itself, so the log cannot miss one.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, render_template, request
from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from switchboard.db import Base, JSONDocument, UTCDateTime

bp = Blueprint("audit", __name__)


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


def _entries(session: Session, limit: int = 500) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if request.args.get("action"):
        query = query.where(AuditEntry.action.startswith(request.args["action"]))
    if request.args.get("user"):
        query = query.where(AuditEntry.user == request.args["user"])
    return list(session.scalars(query.limit(limit)))


@bp.get("/admin/audit")
def log_page():
    from switchboard.app import services

    with services().sessions() as session:
        entries = _entries(session)
    return render_template("audit.html", entries=entries, dumps=lambda v: json.dumps(v, ensure_ascii=False, indent=1))


@bp.get("/admin/audit.csv")
def log_csv():
    from switchboard.app import services

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["at", "user", "action", "object_type", "object_id", "before", "after", "note"])
    with services().sessions() as session:
        for e in _entries(session, limit=100_000):
            writer.writerow([e.at.isoformat(), e.user, e.action, e.object_type, e.object_id,
                             json.dumps(e.before, ensure_ascii=False), json.dumps(e.after, ensure_ascii=False),
                             e.note])
    return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
