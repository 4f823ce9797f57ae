"""The staff navigation: which pages each role works in, its own start page, and the refusal pages.

One table (:data:`PAGES`) drives the menu, so a role sees only the links it may open
(:func:`switchboard.access.allowed` decides, the same rule as the guard), and login lands on the role's own
page instead of a list of links.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, jsonify, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from switchboard.access import RULES, allowed

# (endpoint, label) in menu order; who sees a link is the access rule of its endpoint
PAGES = (
    ("console.page", _l("Konsol")),
    ("directory.page", _l("Katalog")),
    ("callbacks.index", _l("Återuppringningar")),
    ("callbacks.unit_list", _l("Enhetens lista")),
    ("stats.dashboard", _l("Statistik")),
    ("flowadmin.editor", _l("Samtalsflöde")),
    ("hoursadmin.page", _l("Telefontider")),
    ("directory.admin", _l("Katalogadmin")),
    ("audit.log_page", _l("Ändringslogg")),
)
HOME = {"operator": "console.page", "staff": "callbacks.unit_list", "stats": "stats.dashboard",
        "admin": "stats.dashboard"}
ROLE_LABELS = {"admin": _l("administratör"), "operator": _l("operatör"), "stats": _l("statistik"),
               "staff": _l("enhetens personal")}


@dataclass(frozen=True)
class Link:
    url: str
    label: str
    current: bool


def home_for(role: str | None) -> str:
    """The page a role starts its day on (the start page for anyone not logged in)."""
    return url_for(HOME.get(role or "", "web.index"))


def navigation() -> list[Link]:
    role = current_user.role if current_user.is_authenticated else None
    return [Link(url_for(endpoint), str(label), request.endpoint == endpoint)
            for endpoint, label in PAGES if allowed(RULES[endpoint], role)]


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def refused(error):
    """403 in the user's language, with the menu of what they may open (JSON for the APIs)."""
    from flask_babel import gettext as _

    message = _("Din roll får inte använda det här.")
    if _wants_json():
        return jsonify(error=message), 403
    return render_template("error.html", title=_("Inte för din roll"), message=message, status=403), 403


def not_found(error):
    from flask_babel import gettext as _

    message = _("Sidan finns inte.")
    if _wants_json():
        return jsonify(error=message), 404
    return render_template("error.html", title=_("Hittades inte"), message=message, status=404), 404


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(navigation=navigation, role_label=role_label)
    app.register_error_handler(403, refused)
    app.register_error_handler(404, not_found)
