"""The operators' callback list (``/callbacks``): who is waiting for a call, and call now / done / cancel."""

from __future__ import annotations

from typing import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from callback import operators, unitlist, unitstats  # noqa: F401  (unitstats adds its figures to the report)
from core.services import services
from core.text import translated

bp = Blueprint("callbacks", __name__, template_folder="templates")


def N_(text: str) -> str:
    """Marks a text for the catalogue (pybabel extract); the templates translate it where it is shown."""
    return text


# how an attempt ended (callback.dialer.OUTCOMES), as operators say it
ATTEMPT_OUTCOMES = {"answered": N_("svarade"), "no-answer": N_("svarade inte"), "busy": N_("upptaget"),
                    "failed": N_("gick inte att ringa")}
# the Swedish texts of callback.operators and callback.unitlist, marked here for the catalogue
TEXTS = (N_("väntar"), N_("ringer upp"), N_("klar"), N_("misslyckad"), N_("avbruten"), N_("söker en person"),
         N_("ärende"), N_("kundcenter"), N_("engelska"), N_("nådde medborgaren"), N_("nådde inte medborgaren"),
         N_("löst på annat sätt"))


@bp.get("/callbacks")
def index():
    svc = services()
    now = svc.clock.now()
    with svc.sessions() as session:
        rows = operators.rows(session, now, svc.settings)
    return render_template("callbacks.html", rows=rows, now=now, tz=svc.clock.tz, attempt_outcomes=ATTEMPT_OUTCOMES)


def _act(request_id: int, action: Callable, done_message: str, **kwargs):
    """Run one operator action; a refused one is flashed with its reason and answered 409."""
    svc = services()
    try:
        with svc.sessions() as session:
            action(session, request_id, current_user.username, svc.clock.now(), **kwargs)
    except operators.ActionError as exc:
        flash(translated(exc))
        return index(), 409
    flash(done_message)
    return redirect(url_for("callbacks.index"))


@bp.post("/callbacks/<int:request_id>/call-now")
def call_now(request_id: int):
    return _act(request_id, operators.call_now, _("Återuppringning %(id)s rings inom några sekunder, så snart en operatör är ledig.", id=request_id))


@bp.post("/callbacks/<int:request_id>/done")
def done(request_id: int):
    return _act(request_id, operators.mark_done, _("Återuppringning %(id)s är klar.", id=request_id),
                note=request.form.get("note", ""))


@bp.post("/callbacks/<int:request_id>/cancel")
def cancel(request_id: int):
    return _act(request_id, operators.cancel, _("Återuppringning %(id)s är avbruten.", id=request_id),
                note=request.form.get("note", ""))


# -- the unit's own list (role staff: their unit; the centre: everything) -----------------------------------


def _units(session) -> set[int] | None:
    """The units the signed-in user answers for; None for the centre (operator, admin), who sees all."""
    if current_user.role != "staff":
        return None
    return unitlist.units_under(session, current_user.unit_slug)


@bp.get("/requests")
def unit_list():
    svc = services()
    now = svc.clock.now()
    with svc.sessions() as session:
        units = _units(session)
        rows = unitlist.rows(session, now, svc.settings, units)
    return render_template("requests.html", rows=rows, now=now, tz=svc.clock.tz, outcomes=unitlist.OUTCOMES,
                           centre=units is None)


def _unit_act(request_id: int, action: Callable, done_message: str, **kwargs):
    svc = services()
    try:
        with svc.sessions() as session:
            action(session, request_id, current_user.username, svc.clock.now(), units=_units(session), **kwargs)
    except LookupError:
        return _("Ingen sådan förfrågan för din enhet."), 404
    except operators.ActionError as exc:
        flash(translated(exc))
        return unit_list(), 409
    flash(done_message)
    return redirect(url_for("callbacks.unit_list"))


@bp.post("/requests/<int:request_id>/done")
def unit_done(request_id: int):
    return _unit_act(request_id, unitlist.mark_done, _("Förfrågan %(id)s är klar.", id=request_id),
                     outcome=request.form.get("outcome", ""), note=request.form.get("note", ""))


@bp.post("/requests/<int:request_id>/return")
def unit_return(request_id: int):
    return _unit_act(request_id, unitlist.send_back, _("Förfrågan %(id)s är skickad till kundcenter.", id=request_id),
                     note=request.form.get("note", ""))
