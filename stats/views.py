"""The statistics dashboard (``/stats``) and the export API (``/api/stats/...``) for QlikView, Power BI, Excel.

Access (``switchboard.access.RULES``): the dashboard for operators and
statistics readers (admins may do everything); the API for statistics readers;
the raw file with personal data only for an administrator who asks for it
(``personal=1``), and every such export is written to the audit log first.
Personal figures in the dashboard and the report API (reach rates per person,
figures per operator, what callers said to the directory) only for the roles
in ``stats.personal_roles`` (default: admin).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, request, stream_with_context
from babel.dates import get_day_names
from flask_babel import format_decimal, get_locale, gettext
from flask_login import current_user

from core import audit
from core.services import services
from core.text import translated
from stats import export, report, svg
from stats.definitions import Definitions

bp = Blueprint("stats", __name__, template_folder="templates")


def _filters() -> report.Filters:
    try:
        args = {k: ",".join(v) for k, v in request.args.lists()}  # weekday=1&weekday=2 -> "1,2"
        if args.get("queue"):  # by its name ("English") or its id
            with services().sessions() as session:
                args["queue"] = report.queue_named(session, args["queue"])
        return report.Filters.parse(args, services().clock.now().date())
    except report.FilterError as exc:
        abort(Response(f"{translated(exc)}\n", status=400, mimetype="text/plain"))


def _granularity(f: report.Filters) -> tuple[str, str]:
    days = (f.end - f.start).days + 1
    if days <= 62:
        return "by_day", gettext("dag")
    return ("by_week", gettext("vecka")) if days <= 400 else ("by_month", gettext("månad"))


def may_see_personal(settings: dict) -> bool:
    """Personal figures are for the roles the site names in ``stats.personal_roles``."""
    role = getattr(current_user, "role", None) if current_user and current_user.is_authenticated else None
    return role is not None and role in settings["stats"].get("personal_roles", ["admin"])


@bp.get("/stats")
def dashboard():
    svc = services()
    f = _filters()
    d = Definitions.from_settings(svc.settings)
    with svc.sessions() as session:
        data = report.build(session, f, d, personal=may_see_personal(svc.settings))
        departments = _departments(session)
        queue_names = report.queue_names(session)
    key, label = _granularity(f)
    return render_template(
        "stats.html", r=data, f=f, d=d, departments=departments, period_label=label,
        heatmap=svg.heatmap(data["heatmap"]["calls"], weekdays()),
        trend=svg.trend(data[key], d.switchboard_target_percent, label), pct=percent, secs=duration,
        tile_value=tile_value, tile_texts=tile_texts, query=request.query_string.decode(),
        weekday_names=weekdays(), queue_names=queue_names,
        municipality=svc.settings["service"]["municipality"])


def weekdays() -> list[str]:
    """Monday to Sunday, abbreviated in the page's language (Babel's names)."""
    names = get_day_names("abbreviated", locale=get_locale())
    return [names[i] for i in range(7)]


def percent(value: float | None) -> str:
    """A percentage in the page's language: ``87,5 %`` in Swedish (a comma, never a decimal point)."""
    return "–" if value is None else f"{format_decimal(value, format='#,##0.0')}\u00a0%"


def duration(value: float | None) -> str:
    """Minutes and seconds under an hour (``2:05``); hours and minutes above it (``9 h 10 min``, never ``550:23``)."""
    if value is None:
        return "–"
    total = int(round(value))
    if total < 3600:
        return f"{total // 60}:{total % 60:02d}"
    return gettext("%(hours)s h %(minutes)s min", hours=format_decimal(total // 3600), minutes=total // 60 % 60)


def tile_value(tile: dict) -> str:
    return duration(tile["value"]) if tile["unit"] == "s" else percent(tile["value"])


def _limit(seconds: int) -> str:
    return gettext("%(n)s min", n=seconds // 60) if seconds % 60 == 0 and seconds >= 60 else \
        gettext("%(n)s s", n=seconds)


def tile_texts(tile: dict, d: Definitions) -> dict[str, str]:
    """A tile's heading, target and light in the page's language (the report's own are for the API)."""
    labels = {
        "switchboard": gettext("Växeln: svar inom %(time)s", time=_limit(d.switchboard_answer_seconds)),
        "service": gettext("Kundtjänst: svar inom %(time)s", time=_limit(d.service_answer_seconds)),
        "lost": gettext("Tappade samtal"), "queue_wait": gettext("Väntetid i kö (medel)"),
        "resolved": gettext("Lösta i kundcenter"), "reach": gettext("Nådda vid koppling")}
    share = lambda target: f"{format_decimal(target, format='#,##0.#')}\u00a0%"  # noqa: E731
    at_least = lambda target: gettext("mål ≥ %(target)s", target=share(target))  # noqa: E731
    targets = {
        "switchboard": at_least(d.switchboard_target_percent), "service": at_least(d.service_target_percent),
        "lost": gettext("mål ≤ %(target)s", target=share(d.lost_target_percent)),
        "queue_wait": gettext("mål < %(time)s", time=_limit(d.queue_wait_target_seconds)),
        "resolved": at_least(d.resolved_target_percent),
        "reach": gettext("revisionen 2017: %(share)s", share=share(42))}
    lights = {"green": gettext("Målet nått"), "amber": gettext("Nära målet"), "red": gettext("Målet ej nått"),
              "none": gettext("Ingen data"), "info": gettext("Jämförelse")}
    return dict(label=labels.get(tile["key"], tile["label"]), target=targets.get(tile["key"], tile["target_text"]),
                light=lights.get(tile["light"]["state"], tile["light"]["text"]))


def _departments(session) -> list[tuple[str, str, str]]:
    from sqlalchemy import select

    from directory.models import Unit

    return [(slug, name, kind) for slug, name, kind in
            session.execute(select(Unit.slug, Unit.name, Unit.kind).order_by(Unit.kind, Unit.name))]


@bp.get("/api/stats/report")
def api_report():
    svc = services()
    f = _filters()
    with svc.sessions() as session:
        data = report.build(session, f, Definitions.from_settings(svc.settings),
                            personal=may_see_personal(svc.settings))
    if request.args.get("format", "json") == "csv":
        return Response(export.to_csv(data), mimetype="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="vaxel-statistik-{f.start}-{f.end}.csv"'})
    return Response(export.to_json(data), mimetype="application/json")


@bp.get("/api/stats/calls")
def api_calls():
    """The raw per-call file; ``personal=1`` adds numbers and names, for administrators only."""
    svc = services()
    f = _filters()
    personal = request.args.get("personal") in ("1", "true", "yes")
    if personal and current_user.role != "admin":
        return jsonify(error=gettext("Personuppgifter bara för administratörer.")), 403
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "json"):
        return jsonify(error=gettext("Formatet är csv eller json.")), 400
    d = Definitions.from_settings(svc.settings)
    if personal:  # audited in this request, committed before a single row leaves
        with svc.sessions() as session:
            export.audit_personal_export(session, audit.who(), f, fmt, "api")
            session.commit()

    def body():
        with svc.sessions() as session:
            rows = export.raw_rows(session, f, d, personal, audit_as=None)
            yield from (export.raw_csv(rows, personal) if fmt == "csv" else export.raw_json(rows))

    name = f"vaxel-radata-{f.start}-{f.end}.{fmt}"
    return Response(stream_with_context(body()),
                    mimetype="text/csv; charset=utf-8" if fmt == "csv" else "application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
