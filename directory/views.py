"""The operator's directory view and its JSON API, plus import/export for administrators.

    GET  /directory                                 the keyboard-first search page (operator)
    GET  /api/directory/search?q=TEXT&limit=N       hits with status, phone hours, free colleagues
    GET  /api/directory/entries/ID                  one entry with all its free colleagues
    POST /api/directory/entries/ID/status           set or clear a status (JSON; header X-CSRFToken)
    GET  /admin/directory                           import (all or nothing), export, units, entries (admin)
    GET  /admin/directory/export.csv
    GET  /admin/directory/entries/ID|new            edit or create a person or function
    POST /admin/directory/entries/ID/delete
    POST /admin/directory/units                     add or change a unit
    POST /admin/directory/entries/ID/rota           a function's rota (who takes its calls, by weekday or date)
    GET|POST /admin/directory/rota.csv              every rota as a file (export; import all or nothing)
    POST /admin/directory/entries/ID/rota.ics       a function's rota from an Exchange/Outlook calendar
"""

from __future__ import annotations

from datetime import datetime

import re

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from directory import csv_io, numbers, presence, promises, rota, rota_ical, units_csv
from directory.index import bump_version, fold
from directory.models import UNIT_KINDS, Keyword, Staff, Unit
from directory.search import entry, search
from directory.query import synonyms_from
from core import audit
from core.services import services
from core.clock import parse_instant
from core.text import translated

bp = Blueprint("directory", __name__, template_folder="templates", static_folder="static",
               static_url_path="/directory/static")

MAX_LIMIT = 50


def _context():
    svc = services()
    return svc, svc.clock.now(), svc.clock.tz, svc.settings["hours"]["eve_close"]


def N_(text: str) -> str:
    """Marks a text for the catalogue (pybabel extract); it is translated where it is shown."""
    return text


STATUS_TEXTS = {"available": N_("Ledig"), "busy": N_("Upptagen"), "absent": N_("Frånvarande"),
                "forwarded": N_("Hänvisad"), "closed": N_("Stängd")}
assert STATUS_TEXTS == presence.LABELS["sv"]
DIRECTORY_TEXTS = {
    "hits": N_("%(n)s träffar"), "one_hit": N_("1 träff"), "no_hits": N_("Inga träffar."),
    "search_failed": N_("Sökningen misslyckades."), "ext": N_("ankn. %(ext)s"),
    "open_now": N_("telefontid nu"), "open_until": N_("telefontid till %(time)s"),
    "opens": N_("telefontid från %(when)s"), "closed_now": N_("utanför telefontid"),
    "free_colleagues": N_("%(n)s lediga kollegor"), "free_colleague": N_("1 ledig kollega"), "matched": N_("träff på %(why)s"),
    "match_keyword": N_("sökord"), "match_name": N_("namn"), "match_unit": N_("enhet"), "match_title": N_("titel"),
    "match_number": N_("nummer"), "match_keypad": N_("knappval"),
    "status": N_("Status"), "title": N_("Titel"), "unit": N_("Enhet"), "extension": N_("Anknytning"),
    "direct": N_("Direkt"), "mobile": N_("Mobil"), "email": N_("E-post"), "hours": N_("Telefontid"),
    "keywords": N_("Sökord"), "note": N_("Anteckning"), "hidden": N_("dolt nummer"), "until": N_("till %(when)s"),
    "set_by": N_("satt av %(who)s"), "free": N_("Ledig"), "nobody_free": N_("Ingen annan på enheten är ledig just nu."),
    "open_line": N_("Öppna anknytningen"), "close_line": N_("Stäng anknytningen"),
    "close_reason": N_("Orsak (t.ex. sjuk):"), "function": N_("(funktion)"),
    "on_duty_label": N_("I tjänst"), "on_duty": N_("I tjänst: %(name)s"),
    "on_duty_away": N_("inte på plats, funktionens eget nummer rings"),
    "free_heading": N_("Lediga kollegor på enheten"), "saved": N_("Status sparad för %(name)s."),
    **{f"status_{code}": text for code, text in STATUS_TEXTS.items()},
}


@bp.get("/directory")
def page():
    return render_template("directory.html", statuses=presence.SET_BY_PEOPLE, labels=STATUS_TEXTS,
                           texts={key: _(text) for key, text in DIRECTORY_TEXTS.items()})


@bp.get("/api/directory/search")
def api_search():
    query = request.args.get("q", "")[:200]
    try:
        limit = max(1, min(MAX_LIMIT, int(request.args.get("limit", 20))))
    except ValueError:
        return jsonify(error=_("limit ska vara ett heltal.")), 400
    svc, now, tz, eve_close = _context()
    with svc.sessions() as session:
        results = search(session, query, now, tz, eve_close, limit=limit,
                         synonyms=synonyms_from(svc.settings["directory"]["synonyms_file"]))
        return jsonify(query=query, now=now.isoformat(), results=[r.to_dict() for r in results])


@bp.get("/api/directory/entries/<external_id>")
def api_entry(external_id: str):
    svc, now, tz, eve_close = _context()
    with svc.sessions() as session:
        found = entry(session, external_id, now, tz, eve_close)
        if found is None:
            return jsonify(error=_("Katalogposten %(id)s finns inte.", id=external_id)), 404
        return jsonify(found.to_dict())


@bp.post("/api/directory/entries/<external_id>/status")
def api_set_status(external_id: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error=_("Skicka ett JSON-objekt: {status, reason, until, forward_to}.")), 400
    wrong = [key for key in ("status", "reason", "until", "forward_to")
             if body.get(key) is not None and not isinstance(body[key], str)]
    if wrong:
        return jsonify(error=_("%(fields)s ska vara text (en JSON-sträng).", fields=", ".join(wrong))), 400
    svc, now, tz, eve_close = _context()
    try:
        until = parse_instant(body["until"], tz) if body.get("until") else None
    except ValueError as exc:
        return jsonify(error=_("Ange tiden som 2026-11-24T10:00.")), 400
    with svc.sessions() as session:
        staff_id = session.scalar(select(Staff.id).where(Staff.external_id == external_id))
        if staff_id is None:
            return jsonify(error=_("Katalogposten %(id)s finns inte.", id=external_id)), 404
        try:
            presence.set_status(session, staff_id, str(body.get("status", "")), by=current_user.username, now=now,
                                reason=str(body.get("reason") or ""), until=until,
                                forward_to=str(body.get("forward_to") or "") or None)  # number policy: presence
        except presence.PresenceError as exc:
            return jsonify(error=translated(exc)), 400
        session.commit()
        return jsonify(entry(session, external_id, now, tz, eve_close).to_dict())


@bp.route("/admin/directory", methods=["GET", "POST"])
def admin():
    svc = services()
    result, errors = None, []
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            errors = [_("välj en CSV-fil")]
        else:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                errors = [_("filen är inte text i UTF-8 (spara den som CSV UTF-8)")]
            else:
                with svc.sessions() as session:
                    try:
                        # the audit entry is written in the import's own transaction; a file without rows
                        # empties the directory by prune only when confirm_empty is ticked too
                        dry_run = bool(request.form.get("dry_run"))  # "Prova": what would change, nothing saved
                        result = csv_io.import_csv(session, text, prune=bool(request.form.get("prune")),
                                                   dry_run=dry_run,
                                                   confirm_empty=bool(request.form.get("confirm_empty")),
                                                   audit_user=None if dry_run else audit.who(),
                                                   audit_source=upload.filename)
                    except csv_io.EmptyPruneRefused as exc:
                        errors = [translated(e) for e in exc.errors] + [
                            _("kryssa i ”töm hela katalogen” och skicka igen om katalogen verkligen ska tömmas")]
                    except csv_io.ImportRejected as exc:
                        errors = [translated(e) for e in exc.errors]
    with svc.sessions() as session:
        units = list(session.scalars(select(Unit).options(selectinload(Unit.parent)).order_by(Unit.name)))
        policies = {u.id: promises.policy_for(u) for u in units}
        confirm_default = bool(svc.settings["transfers"]["confirm_answer"])
        confirms = {u.id: promises.confirms_answer(u, confirm_default) for u in units}
        no_answers = {u.id: promises.no_answer_for(u) for u in units}
        entries = list(session.execute(select(Staff.external_id, Staff.name, Staff.kind, Unit.name)
                                       .join(Unit, Unit.id == Staff.unit_id).order_by(Staff.name)).all())
    status = 400 if errors else 200
    return render_template("directory_admin.html", result=result, errors=errors, columns=csv_io.COLUMNS,
                           dry_run=bool(request.form.get("dry_run")),
                           units=units, entries=entries, unit_kinds=UNIT_KINDS, policies=policies,
                           confirms=confirms, confirm_default=confirm_default, no_answers=no_answers,
                           no_answer_labels=promises.NO_ANSWER_LABELS, national=numbers.display,
                           promise_label=promises.promise_label), status


@bp.route("/admin/directory/entries/<external_id>", methods=["GET", "POST"])
def edit_entry(external_id: str):
    """Create (id "new") or edit one person or function, validated exactly as an import line is."""
    svc = services()
    with svc.sessions() as session:
        staff = None if external_id == "new" else session.scalar(
            select(Staff).where(Staff.external_id == external_id))
        if staff is None and external_id != "new":
            return render_template("entry_edit.html", values={}, problems=[_("Katalogposten %(id)s finns inte.", id=external_id)],
                                   units=[], is_new=False), 404
        values = csv_io.as_values(staff) if staff else {"kind": "person", "hidden_number": "no"}
        problems = []
        if request.method == "POST":
            values = {column: request.form.get(column, "").strip() for column in csv_io.COLUMNS}
            values["hidden_number"] = "yes" if request.form.get("hidden_number") else "no"
            if staff is not None:
                values["id"] = staff.external_id  # the stable id never changes
            elif session.scalar(select(Staff.id).where(Staff.external_id == values["id"])):
                problems.append(_("id ”%(id)s” används redan", id=values["id"]))
            row, row_problems = csv_io.parse_record(values, 0, csv_io.units_by_key(session))
            problems += [translated(p) for p in row_problems]
            if not problems:
                before = csv_io.as_values(staff) if staff else None
                if staff is None:
                    staff = Staff(external_id=row.id)
                    session.add(staff)
                csv_io.apply_row(staff, row)
                session.flush()
                bump_version(session)
                audit.record(session, audit.who(), "directory.entry_save", "staff", staff.external_id,
                             before=before, after=csv_io.as_values(staff))
                session.commit()
                flash(_("%(name)s är sparad.", name=staff.name))
                return redirect(url_for("directory.edit_entry", external_id=staff.external_id))
        units = list(session.scalars(select(Unit).order_by(Unit.name)))
        rota_text = rota.form_text(session, staff.id) if staff is not None and staff.kind == "function" else None
        return render_template("entry_edit.html", values=values, problems=problems, units=units,
                               is_new=staff is None, rota_text=rota_text, ical_days=rota_ical.WINDOW_DAYS), \
            (400 if problems else 200)


@bp.post("/admin/directory/entries/<external_id>/rota")
def save_rota(external_id: str):
    """A function's whole rota from the entry form; a bad line saves nothing and says which."""
    with services().sessions() as session:
        function = session.scalar(select(Staff).where(Staff.external_id == external_id))
        if function is None:
            return redirect(url_for("directory.admin")), 303
        before = rota.form_text(session, function.id)
        try:
            rota.save_form(session, function, request.form.get("rota", ""))
        except rota.RotaRejected as exc:
            session.rollback()
            for error in exc.errors[:20]:
                flash(_("Schemat sparades inte: %(problem)s", problem=translated(error)))
            return redirect(url_for("directory.edit_entry", external_id=external_id)), 303
        audit.record(session, audit.who(), "directory.rota_save", "staff", external_id,
                     before={"rota": before}, after={"rota": rota.form_text(session, function.id)})
        session.commit()
    flash(_("Schemat är sparat."))
    return redirect(url_for("directory.edit_entry", external_id=external_id))


@bp.post("/admin/directory/entries/<external_id>/delete")
def delete_entry(external_id: str):
    with services().sessions() as session:
        staff = session.scalar(select(Staff).where(Staff.external_id == external_id))
        if staff is not None:
            audit.record(session, audit.who(), "directory.entry_delete", "staff", external_id,
                         before=csv_io.as_values(staff))
            session.delete(staff)
            bump_version(session)
            session.commit()
            flash(_("%(name)s är borttagen ur katalogen.", name=staff.name))
    return redirect(url_for("directory.admin"))


@bp.post("/admin/directory/units")
def save_unit():
    """Add or change a unit: slug, name, kind, parent, keywords, and who answers its messages and callbacks."""
    form = {k: request.form.get(k, "").strip() for k in ("slug", "name", "kind", "parent", "keywords",
                                                         "answered_by", "promise_days", "email",
                                                         "confirm_answer", "no_answer", "no_answer_number")}
    problems = []
    answered_by = promise_days = confirm = None
    email = ""
    try:
        answered_by, promise_days, email = promises.parse_choice(form["answered_by"], form["promise_days"],
                                                                 form["email"])
    except ValueError as exc:
        problems.append(translated(exc.args[0]))
    try:
        confirm = promises.parse_confirm(form["confirm_answer"])
    except ValueError as exc:
        problems.append(translated(exc.args[0]))
    no_answer = no_answer_number = None
    try:
        no_answer, no_answer_number = promises.parse_no_answer(form["no_answer"], form["no_answer_number"],
                                                               numbers.current())
    except ValueError as exc:
        problems.append(translated(exc.args[0]))
    if not re.fullmatch(r"[a-z0-9-]{2,80}", form["slug"]):
        problems.append(_("id ska vara 2–80 tecken av a–z, 0–9 och -"))
    if not form["name"]:
        problems.append(_("namnet saknas"))
    if form["kind"] not in UNIT_KINDS:
        problems.append(_("typen ska vara en av %(kinds)s", kinds=", ".join(UNIT_KINDS)))
    with services().sessions() as session:
        parent = session.scalar(select(Unit).where(Unit.slug == form["parent"])) if form["parent"] else None
        if form["parent"] and parent is None:
            problems.append(_("okänd enhet ovanför: ”%(unit)s”", unit=form["parent"]))
        if form["kind"] != "forvaltning" and parent is None:
            problems.append(_("en avdelning eller enhet behöver en enhet ovanför"))
        if problems:
            for problem in problems:
                flash(_("Enheten sparades inte: %(problem)s", problem=problem))
            return redirect(url_for("directory.admin"))
        unit = session.scalar(select(Unit).where(Unit.slug == form["slug"]))
        before = None if unit is None else {"name": unit.name, "kind": unit.kind,
                                            "parent": unit.parent.slug if unit.parent else None,
                                            "answered_by": unit.answered_by, "promise_days": unit.promise_days,
                                            "email": unit.email, "confirm_answer": unit.confirm_answer,
                                            "no_answer": unit.no_answer, "no_answer_number": unit.no_answer_number}
        if parent is not None and form["slug"] in [u.slug for u in parent.path()]:
            flash(_("Enheten sparades inte: %(problem)s", problem=_("en enhet kan inte ligga under sig själv")))
            return redirect(url_for("directory.admin"))
        if unit is None:  # added only now: the question above must not flush a unit without a name
            unit = Unit(slug=form["slug"])
            session.add(unit)
        unit.name, unit.kind, unit.parent = form["name"], form["kind"], parent
        unit.answered_by, unit.promise_days, unit.email = answered_by, promise_days, email
        unit.confirm_answer, unit.no_answer, unit.no_answer_number = confirm, no_answer, no_answer_number
        session.flush()
        session.execute(delete(Keyword).where(Keyword.unit_id == unit.id))
        terms = [t.strip() for t in form["keywords"].split(",") if t.strip()]
        session.add_all(Keyword(term=t, folded=fold(t), unit_id=unit.id) for t in dict.fromkeys(terms))
        bump_version(session)
        audit.record(session, audit.who(), "directory.unit_save", "unit", unit.slug, before=before,
                     after={"name": unit.name, "kind": unit.kind, "parent": form["parent"] or None,
                            "keywords": terms, "answered_by": answered_by, "promise_days": promise_days,
                            "email": email, "confirm_answer": confirm, "no_answer": no_answer,
                            "no_answer_number": no_answer_number})
        session.commit()
    flash(_("Enheten %(name)s är sparad.", name=form["name"]))
    return redirect(url_for("directory.admin"))


@bp.get("/admin/directory/export.csv")
def export():
    with services().sessions() as session:
        text = csv_io.export_csv(session)
    return _csv_download(text, f'katalog-{datetime.now().strftime("%Y%m%d")}.csv')


@bp.get("/admin/directory/units.csv")
def export_units():
    """Every unit's choice of who answers, the promise and the e-mail address (``directory.units_csv``)."""
    with services().sessions() as session:
        text = units_csv.export_csv(session)
    return _csv_download(text, "enheter.csv")


def _csv_download(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv_upload(refused: str, load, rejected: type[Exception], audit_action: str, audit_kind: str, done: str):
    """One all-or-nothing CSV upload of the admin page: ``load(session, text)`` returns a count or raises
    ``rejected`` (with ``errors``); every error is flashed after ``refused``, nothing is kept."""
    upload = request.files.get("file")
    try:
        text = upload.read().decode("utf-8-sig") if upload is not None and upload.filename else ""
    except UnicodeDecodeError:
        text = ""
    if not text:
        flash(_("%(refused)s: välj en CSV-fil i UTF-8", refused=refused))
        return redirect(url_for("directory.admin")), 303
    with services().sessions() as session:
        try:
            count = load(session, text)
        except rejected as exc:
            for error in exc.errors[:20]:
                flash(f"{refused}: {translated(error)}")
            return redirect(url_for("directory.admin")), 303
        audit.record(session, audit.who(), audit_action, audit_kind, "*", after={"count": count})
        session.commit()
    flash(done % {"count": count})
    return redirect(url_for("directory.admin"))


@bp.post("/admin/directory/units.csv")
def import_units():
    return _csv_upload(_("Enheterna sparades inte"), lambda session, text: units_csv.import_csv(
        session, text, numbers.current()), units_csv.UnitsRejected, "directory.units_import", "unit",
        _("%(count)s enheter ändrade."))


@bp.post("/admin/directory/entries/<external_id>/rota.ics")
def import_rota_ics(external_id: str):
    """The function's days on duty from an .ics file, for ``rota_ical.WINDOW_DAYS`` from today."""
    svc = services()
    upload = request.files.get("file")
    data = upload.read() if upload is not None and upload.filename else b""
    with svc.sessions() as session:
        function = session.scalar(select(Staff).where(Staff.external_id == external_id))
        if function is None:
            return redirect(url_for("directory.admin")), 303
        try:
            if not data:
                raise rota.RotaRejected([_("välj en .ics-fil")])
            days = rota_ical.import_ics(session, function, data, svc.clock.now().astimezone(svc.clock.tz).date(),
                                        svc.clock.tz)
        except rota.RotaRejected as exc:
            session.rollback()
            for error in exc.errors[:20]:
                flash(_("Kalendern lästes inte in: %(problem)s", problem=translated(error)))
            return redirect(url_for("directory.edit_entry", external_id=external_id)), 303
        audit.record(session, audit.who(), "directory.rota_ical", "staff", external_id, after={"days": days})
        session.commit()
    flash(_("%(days)s dagar ur kalendern sparade i schemat.", days=days))
    return redirect(url_for("directory.edit_entry", external_id=external_id))


@bp.get("/admin/directory/rota.csv")
def export_rota():
    """Every function's rota (``directory.rota``): function, weekday or date, person."""
    with services().sessions() as session:
        text = rota.export_csv(session)
    return _csv_download(text, "schema.csv")


@bp.post("/admin/directory/rota.csv")
def import_rota():
    return _csv_upload(_("Schemat sparades inte"), rota.import_csv, rota.RotaRejected, "directory.rota_import",
                       "staff", _("%(count)s schemarader sparade."))
