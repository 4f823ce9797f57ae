"""The operators' callback list (``/callbacks``): who is waiting for a call, and call now / done / cancel."""

from __future__ import annotations

from typing import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from callback import operators
from core.services import services

bp = Blueprint("callbacks", __name__, template_folder="templates")


@bp.get("/callbacks")
def index():
    svc = services()
    now = svc.clock.now()
    with svc.sessions() as session:
        rows = operators.rows(session, now, svc.settings)
    return render_template("callbacks.html", rows=rows, now=now, tz=svc.clock.tz)


def _act(request_id: int, action: Callable, done_message: str, **kwargs):
    """Run one operator action; a refused one is flashed with its reason and answered 409."""
    svc = services()
    try:
        with svc.sessions() as session:
            action(session, request_id, current_user.username, svc.clock.now(), **kwargs)
    except operators.ActionError as exc:
        flash(str(exc))
        return index(), 409
    flash(done_message)
    return redirect(url_for("callbacks.index"))


@bp.post("/callbacks/<int:request_id>/call-now")
def call_now(request_id: int):
    return _act(request_id, operators.call_now, f"Återuppringning {request_id} rings vid nästa körning.")


@bp.post("/callbacks/<int:request_id>/done")
def done(request_id: int):
    return _act(request_id, operators.mark_done, f"Återuppringning {request_id} är klar.",
                note=request.form.get("note", ""))


@bp.post("/callbacks/<int:request_id>/cancel")
def cancel(request_id: int):
    return _act(request_id, operators.cancel, f"Återuppringning {request_id} är avbruten.",
                note=request.form.get("note", ""))
