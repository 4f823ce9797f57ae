"""The operator's directory view and its JSON API, plus import/export for administrators.

    GET  /directory                                 the keyboard-first search page (operator)
    GET  /api/directory/search?q=TEXT&limit=N       hits with status, phone hours, free colleagues
    GET  /api/directory/entries/ID                  one entry with all its free colleagues
    POST /api/directory/entries/ID/status           set or clear a status (JSON; header X-CSRFToken)
    GET  /admin/directory                           import (all or nothing) and export (admin)
    GET  /admin/directory/export.csv
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, jsonify, render_template, request
from flask_login import current_user
from sqlalchemy import select

from directory import csv_io, presence
from directory.models import Staff
from directory.search import entry, search
from switchboard.app import services
from switchboard.clock import parse_instant

bp = Blueprint("directory", __name__, template_folder="templates", static_folder="static",
               static_url_path="/directory/static")

MAX_LIMIT = 50


def _context():
    svc = services()
    return svc, svc.clock.now(), svc.clock.tz, svc.settings["hours"]["eve_close"]


@bp.get("/directory")
def page():
    return render_template("directory.html", statuses=presence.SET_BY_PEOPLE, labels=presence.LABELS["sv"])


@bp.get("/api/directory/search")
def api_search():
    query = request.args.get("q", "")[:200]
    try:
        limit = max(1, min(MAX_LIMIT, int(request.args.get("limit", 20))))
    except ValueError:
        return jsonify(error="limit must be a whole number"), 400
    svc, now, tz, eve_close = _context()
    with svc.sessions() as session:
        results = search(session, query, now, tz, eve_close, limit=limit)
        return jsonify(query=query, now=now.isoformat(), results=[r.to_dict() for r in results])


@bp.get("/api/directory/entries/<external_id>")
def api_entry(external_id: str):
    svc, now, tz, eve_close = _context()
    with svc.sessions() as session:
        found = entry(session, external_id, now, tz, eve_close)
        if found is None:
            return jsonify(error=f"no entry {external_id}"), 404
        return jsonify(found.to_dict())


@bp.post("/api/directory/entries/<external_id>/status")
def api_set_status(external_id: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="send a JSON object: {status, reason, until, forward_to}"), 400
    svc, now, tz, eve_close = _context()
    try:
        until = parse_instant(body["until"], tz) if body.get("until") else None
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    with svc.sessions() as session:
        staff_id = session.scalar(select(Staff.id).where(Staff.external_id == external_id))
        if staff_id is None:
            return jsonify(error=f"no entry {external_id}"), 404
        try:
            presence.set_status(session, staff_id, str(body.get("status", "")), by=current_user.username, now=now,
                                reason=str(body.get("reason") or ""), until=until,
                                forward_to=body.get("forward_to") or None)
        except presence.PresenceError as exc:
            return jsonify(error=str(exc)), 400
        session.commit()
        return jsonify(entry(session, external_id, now, tz, eve_close).to_dict())


@bp.route("/admin/directory", methods=["GET", "POST"])
def admin():
    svc = services()
    result, errors = None, []
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            errors = ["choose a CSV file"]
        else:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                errors = ["the file is not UTF-8 text"]
            else:
                with svc.sessions() as session:
                    try:
                        result = csv_io.import_csv(session, text, prune=bool(request.form.get("prune")))
                    except csv_io.ImportRejected as exc:
                        errors = exc.errors
    status = 400 if errors else 200
    return render_template("directory_admin.html", result=result, errors=errors, columns=csv_io.COLUMNS), status


@bp.get("/admin/directory/export.csv")
def export():
    with services().sessions() as session:
        text = csv_io.export_csv(session)
    stamp = datetime.now().strftime("%Y%m%d")
    return Response(text, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="katalog-{stamp}.csv"'})
