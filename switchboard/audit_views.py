"""The audit log's pages for administrators: filter it, export it as CSV."""

from __future__ import annotations

import io
import json

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import csvsafe
from core.audit import AuditEntry
from core.services import services

bp = Blueprint("audit", __name__)


def _entries(session: Session, limit: int = 500) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if request.args.get("action"):
        query = query.where(AuditEntry.action.startswith(request.args["action"]))
    if request.args.get("user"):
        query = query.where(AuditEntry.user == request.args["user"])
    return list(session.scalars(query.limit(limit)))


@bp.get("/admin/audit")
def log_page():
    with services().sessions() as session:
        entries = _entries(session)
    return render_template("audit.html", entries=entries, dumps=lambda v: json.dumps(v, ensure_ascii=False, indent=1))


@bp.get("/admin/audit.csv")
def log_csv():
    out = io.StringIO()
    writer = csvsafe.writer(out)  # no cell can start a formula in a spreadsheet
    writer.writerow(["at", "user", "action", "object_type", "object_id", "before", "after", "note"])
    with services().sessions() as session:
        for e in _entries(session, limit=100_000):
            writer.writerow([e.at.isoformat(), e.user, e.action, e.object_type, e.object_id,
                             json.dumps(e.before, ensure_ascii=False), json.dumps(e.after, ensure_ascii=False),
                             e.note])
    return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
