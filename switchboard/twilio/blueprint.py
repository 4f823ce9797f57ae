"""The ``twilio`` blueprint and what every one of its webhooks shares.

* Only Twilio gets in: each request must carry a valid ``X-Twilio-Signature``
  for the public URL (403 and a log line otherwise).
* Never a dead call: a view that fails answers with its rescue TwiML — the
  apology and the centre queue, or hold music inside a queue — never a 500.
* Startup refuses a production service that could not check signatures, or
  whose operator line (``twilio.operators``) would refuse everyone.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Callable

from flask import Blueprint, Response, abort, g, request
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from core.db import begin_step
from core.services import services
from switchboard.calls import CallRunner
from switchboard.twilio import signature, twiml, urls

log = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__, url_prefix=urls.PREFIX)
TOKEN_VARIABLE = "TWILIO_AUTH_TOKEN"
LAST_RESORT = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say language="sv-SE">'
               f'{twiml.APOLOGY}</Say><Enqueue>{twiml.CENTRE}</Enqueue></Response>')


# -- what views need from the request and the service ----------------------------------------------


def config() -> dict:
    return services().settings["twilio"]


def audio() -> twiml.Audio:
    return twiml.Audio.from_settings(config())


def db() -> Session:
    """The request's one session: a webhook reads and writes in one transaction, a call step's
    (:func:`core.db.begin_step`), committed once by :func:`answers` (opened on first use)."""
    session = g.get("twilio_session")
    if session is None:
        session = g.twilio_session = begin_step(services().sessions())
    return session


def _finish(commit: bool) -> None:
    session = g.pop("twilio_session", None)
    if session is None:
        return
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def runner() -> CallRunner:
    """The call runner working in the request's transaction (:func:`db`)."""
    svc = services()
    return CallRunner(svc.sessions, svc.settings, channel="twilio", session=db())


def now():
    return services().clock.now()


def known_operator(who: str) -> bool:
    """May this ``From`` take callers at the operator line? Only if listed in ``twilio.operators``; an empty list
    refuses everyone. A refusal is logged."""
    allowed = config()["operators"]
    if who and who in allowed:
        return True
    if not allowed:
        log.warning("twilio: %s called the operator line, which refuses everyone while twilio.operators is empty",
                    who or "-")
    else:
        log.warning("twilio: %s called the operator line but is not in twilio.operators", who or "-")
    return False


def base() -> str:
    return signature.public_base(services().settings["public"]["url"], request.host_url, request.script_root)


def link(route: str, **params: object) -> str:
    return urls.absolute(base(), route, **params)


def this_url() -> str:
    return signature.public_url(base(), request.path, request.query_string)


def form(name: str) -> str:
    return request.form.get(name, "").strip()


def form_int(name: str) -> int:
    try:
        return max(0, int(form(name) or 0))
    except ValueError:
        return 0


def arg(name: str) -> str:
    return request.args.get(name, "")


def arg_int(name: str, default: int = 0) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


# -- only Twilio gets in ----------------------------------------------------------------------------


@bp.before_request
def only_twilio():
    if not config()["enabled"]:
        abort(404)
    if not config()["validate_signatures"]:
        return None
    url = this_url()
    if signature.is_from_twilio(os.environ.get(TOKEN_VARIABLE), url, request.form,
                                request.headers.get(signature.HEADER)):
        return None
    why = "no TWILIO_AUTH_TOKEN set" if not os.environ.get(TOKEN_VARIABLE) else (
        "signature missing" if not request.headers.get(signature.HEADER) else "signature invalid")
    # stats/events.py has no event type for this, so it is logged (with the call, when there is one)
    log.warning("twilio: refused %s for call %s from %s: %s (checked against %s)", request.path,
                request.form.get("CallSid", "-"), request.remote_addr, why, url)
    return Response("forbidden: not signed by Twilio\n", 403, mimetype="text/plain")


@bp.record_once
def check_setup(state) -> None:
    """Refuse to start in production without the auth token or with signature checks off."""
    svc = state.app.extensions["vaxel"]
    settings = svc.settings["twilio"]
    if not settings["enabled"]:
        return
    production = svc.settings["service"]["mode"] == "production"
    if production and not os.environ.get(TOKEN_VARIABLE):
        raise RuntimeError(f"{TOKEN_VARIABLE} must be set in production mode when twilio.enabled is true")
    if production and not settings["operators"]:
        raise RuntimeError("twilio.operators must list the operators' numbers or clients in production mode when "
                           "twilio.enabled is true; with it empty the operator line refuses every caller")
    if not settings["operators"]:
        log.warning("twilio.operators is empty: /twilio/operator refuses every caller until operators are listed")
    if not settings["validate_signatures"]:
        if production:
            raise RuntimeError("twilio.validate_signatures = false is for development only; refused in production")
        log.warning("!!! TWILIO SIGNATURE VALIDATION IS OFF (twilio.validate_signatures = false): anyone who can "
                    "reach /twilio can drive calls. Development only. !!!")


# -- never a dead call ------------------------------------------------------------------------------


def rescue(kind: str) -> str:
    """TwiML that keeps the caller alive when something of ours failed; needs no database."""
    if kind == "call":
        try:  # keep our books right: the caller is now in the centre queue, not where the engine left them
            if request.form.get("CallSid"):
                runner().to_centre(request.form["CallSid"], now())
        except Exception:
            log.exception("twilio: could not record the rescue of call %s", request.form.get("CallSid"))
        links = twiml.Links(wait=link(urls.WAIT, s=0, q=0), queue_result=link(urls.QUEUE_RESULT, s=0))
        return str(twiml.apology(links, audio()))
    if kind == "wait":
        return str(twiml.hold(twiml.Links(wait=this_url()), audio()))
    if kind == "operator":
        if not known_operator(form("From")):  # never hand a caller to a stranger, even when our answer failed
            return str(twiml.say_and_hang_up(twiml.NOT_AN_OPERATOR, audio()))
        return str(twiml.operator_dial(twiml.CENTRE, link(urls.DEQUEUED, op=form("From")),
                                       link(urls.OPERATOR_NEXT, tried=twiml.CENTRE), int(config()["hold_seconds"])))
    if kind == "decline":
        return str(twiml.hangup())
    return str(twiml.empty())


def answers(kind: str) -> Callable:
    """A webhook view returning TwiML; if it raises, the caller gets :func:`rescue` of ``kind`` instead."""

    def wrap(view: Callable[..., str | VoiceResponse]) -> Callable[..., Response]:
        @functools.wraps(view)
        def run(*args, **kwargs) -> Response:
            try:
                body = str(view(*args, **kwargs))
                _finish(commit=True)
            except Exception:
                try:
                    _finish(commit=False)
                except Exception:
                    log.exception("twilio: could not roll back the failed request's session")
                log.exception("twilio: %s failed for call %s; answering with the %s rescue", request.path,
                              request.form.get("CallSid", "-"), kind)
                try:
                    body = rescue(kind)
                except Exception:
                    log.exception("twilio: even the rescue failed; using the static one")
                    body = LAST_RESORT
                try:  # the rescue queued the caller in our books through a new session: keep that
                    _finish(commit=True)
                except Exception:
                    log.exception("twilio: could not store the rescue of call %s; the TwiML still queues the caller",
                                  request.form.get("CallSid", "-"))
            return Response(body, mimetype="text/xml")

        return run

    return wrap
