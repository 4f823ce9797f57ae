"""The audit log's pages for administrators: filter it, export it as CSV."""

from __future__ import annotations

import io
import json

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import csvsafe
from core.audit import AuditEntry
from core.services import services

bp = Blueprint("audit", __name__)

# what each action is called on the page (the code stays in the CSV and in the filter)
ACTIONS = {
    "flow.draft_save": _l("Sparade ett utkast av samtalsflödet"), "flow.draft_discard": _l("Kastade ett utkast"),
    "flow.publish": _l("Publicerade samtalsflödet"), "flow.rollback": _l("Återställde samtalsflödet"),
    "hours.schedule_save": _l("Ändrade telefontider"), "hours.special_day_save": _l("Satte tider för en särskild dag"),
    "hours.special_day_delete": _l("Tog bort en särskild dag"), "hours.closure_add": _l("Lade till en stängning"),
    "hours.crisis_add": _l("Lade till ett krismeddelande"), "hours.closure_end": _l("Avslutade en stängning"),
    "hours.crisis_end": _l("Avslutade ett krismeddelande"), "directory.import": _l("Importerade katalogen"),
    "directory.entry_save": _l("Ändrade en katalogpost"), "directory.entry_delete": _l("Tog bort en katalogpost"),
    "directory.unit_save": _l("Ändrade en enhet"), "directory.units_import": _l("Importerade enheter"),
    "directory.rota_save": _l("Ändrade ett schema"), "directory.rota_import": _l("Importerade scheman"),
    "directory.rota_ical": _l("Läste in ett schema ur en kalender"),
    "console.break_through": _l("Bröt igenom till en stängd eller frånvarande"), "console.wrapup_correct": _l("Rättade ett utfall"),
    "stats.personal_export": _l("Hämtade statistik med personuppgifter"), "user.add": _l("Lade till en användare"),
    "user.disable": _l("Stängde av en användare"), "user.passwd": _l("Bytte lösenord åt en användare"),
    "user.queues": _l("Ändrade vilka köer en operatör tar samtal från"),
}
OBJECTS = {"flow": _l("flöde"), "phone_hours": _l("telefontider"), "closure": _l("stängning"), "special_day": _l("särskild dag"),
           "staff": _l("katalogpost"), "unit": _l("enhet"), "call": _l("samtal"), "user": _l("användare"), "directory": _l("katalogen")}


def _names(session: Session, entries: list[AuditEntry]) -> tuple[dict[str, str], dict[str, str]]:
    """People's names for the user names, and directory names for the entry ids, that the entries mention."""
    from directory.models import Staff, Unit
    from switchboard.auth import User

    users = dict(session.execute(select(User.username, User.name).where(
        User.username.in_({e.user for e in entries}))).all())
    ids = {e.object_id for e in entries if e.object_type in ("staff", "unit") and e.object_id}
    objects = {str(k): v for k, v in session.execute(select(Staff.id, Staff.name).where(
        Staff.id.in_([int(i) for i in ids if i.isdigit()]))).all()}
    objects |= dict(session.execute(select(Staff.external_id, Staff.name).where(Staff.external_id.in_(ids))).all())
    objects |= dict(session.execute(select(Unit.slug, Unit.name).where(Unit.slug.in_(ids))).all())
    return users, objects


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
        users, objects = _names(session, entries)
    return render_template("audit.html", entries=entries, dumps=lambda v: json.dumps(v, ensure_ascii=False, indent=1),
                           actions=ACTIONS, object_types=OBJECTS, users=users, objects=objects)


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
