"""The start page and the health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import text

from core.services import services
from switchboard.seed import published_flow

bp = Blueprint("web", __name__)

# (endpoint, label, who it is for) — the start page lists what exists
VIEWS = [
    ("console.page", _l("Konsol"), _l("operatörer (inloggning)")),
    ("directory.page", _l("Katalog"), _l("operatörer (inloggning)")),
    ("callbacks.index", _l("Återuppringningar"), _l("operatörer (inloggning)")),
    ("callbacks.unit_list", _l("Meddelanden och återuppringningar per enhet"),
     _l("enhetens personal och operatörer (inloggning)")),
    ("directory.admin", _l("Katalogimport och export"), _l("administratörer")),
    ("flowadmin.editor", _l("Samtalsflödet"), _l("administratörer")),
    ("hoursadmin.page", _l("Telefontider, stängningar, krismeddelanden"), _l("administratörer")),
    ("audit.log_page", _l("Ändringslogg"), _l("administratörer")),
    ("stats.dashboard", _l("Statistik"), _l("statistikläsare och operatörer")),
    ("ivr.hours_page", _l("Telefontider"), _l("allmänheten och operatörer")),
    ("web.healthz", _l("Hälsokontroll (JSON)"), _l("drift")),
]


@bp.get("/")
def index():
    svc = services()
    return render_template("index.html", views=VIEWS, municipality=svc.settings["service"]["municipality"],
                           now=svc.clock.now())


@bp.get("/start")
def home():
    """The role's own page (the start page when not logged in): where the brand link and login lead."""
    from switchboard.navigation import home_for

    return redirect(home_for(current_user.role if current_user.is_authenticated else None))


@bp.get("/healthz")
def healthz():
    svc = services()
    try:
        with svc.sessions() as session:
            session.execute(text("SELECT 1"))
            flow = published_flow(session)
    except Exception as exc:  # the check exists to report exactly this
        return jsonify(status="error", database="unreachable", error=type(exc).__name__), 503
    if flow is None:
        return jsonify(status="error", database="ok", flow="none published; run `vaxel db upgrade`"), 503
    parts = {name: report() for name, report in svc.health.items()}  # e.g. FastAGI slots, AMI, from `vaxel serve`
    return jsonify(status="ok", database="ok", flow_version=flow.version, now=svc.clock.now().isoformat(), **parts)
