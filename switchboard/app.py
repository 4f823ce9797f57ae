"""The Flask application factory, as in the Flask tutorial: ``create_app(test_config)``.

This is the composition root: it builds the services, and wires every
blueprint, the adapters' console controls, the statistics' fact maintenance
and the commands explicitly. Nothing registers itself when it is imported.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask, Response, request

from callback.views import bp as callback_bp
from core.clock import Clock
from core.db import make_engine, make_sessionmaker
from core.services import Services
from core.settings import load_settings
from directory.views import bp as directory_bp
from ivr.views import bp as ivr_bp
from stats import facts
from stats.views import bp as stats_bp
from switchboard import auth, cli, i18n, metrics, navigation
from switchboard.admin.flow import bp as flow_admin_bp
from switchboard.admin.hours import bp as hours_admin_bp
from switchboard.audit_views import bp as audit_bp
from switchboard.console import control as console_control
from switchboard.console.views import bp as console_bp
from switchboard.db import import_models
from switchboard.twilio.control import make_control as twilio_control
from switchboard.twilio.views import bp as twilio_bp
from switchboard.web import bp as web_bp

MIN_SECRET_KEY = 32
WEAK_SECRET_KEYS = {"change-me", "changeme", "secret", "secret-key", "development", "dev", "vaxel", "password"}
# Every page: scripts only from our own files (no inline script, no eval), styles ours or inline (the
# templates' <style> blocks), nothing framed, nothing loaded from elsewhere.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

BLUEPRINTS = (web_bp, ivr_bp, callback_bp, directory_bp, flow_admin_bp, hours_admin_bp, audit_bp, console_bp,
              twilio_bp, stats_bp, metrics.bp)


def create_app(test_config: Mapping[str, Mapping[str, Any]] | None = None) -> Flask:
    """Build the app. ``test_config`` overrides settings per section, e.g. ``{"database": {"url": ...}}``."""
    settings = load_settings(overrides=test_config)
    app = Flask(__name__)
    secret = settings["service"]["secret_key"]
    production = settings["service"]["mode"] == "production"
    if not secret:
        if production:
            raise RuntimeError("VAXEL_SERVICE_SECRET_KEY must be set in production mode")
        secret = os.urandom(32).hex()
    elif production:
        check_secret_key(secret)
    app.config.update(SECRET_KEY=secret, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings["service"]["mode"] == "production")
    import_models()
    engine = make_engine(settings["database"]["url"], settings["database"]["echo"],
                         settings["database"]["pool_size"], settings["database"]["max_overflow"])
    svc = Services(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=Clock.from_settings(settings, os.environ.get("VAXEL_NOW")),
    )
    facts.install(svc.sessions, settings["service"]["timezone"])  # every commit keeps the call facts current
    console_control.register(svc, "twilio", twilio_control)  # Asterisk's is registered when its AMI starts
    app.extensions["vaxel"] = svc

    i18n.init_app(app, settings["service"]["timezone"])
    auth.init_app(app)
    navigation.init_app(app)
    app.before_request(refuse_nul)
    app.after_request(security_headers)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    metrics.instrument(app, svc)  # after the blueprints: it times the Twilio webhooks among them
    cli.register(app)
    return app


def check_secret_key(secret: str) -> None:
    """Production refuses a short or well-known secret key (it signs every session and CSRF token)."""
    if len(secret) < MIN_SECRET_KEY or secret.strip().lower() in WEAK_SECRET_KEYS or len(set(secret)) < 8:
        raise RuntimeError(f"VAXEL_SERVICE_SECRET_KEY is too weak: use at least {MIN_SECRET_KEY} random characters, "
                           "e.g. python -c 'import secrets; print(secrets.token_hex(32))'")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul():
    """A NUL character is never valid input here, and PostgreSQL cannot store or even compare one: answer 400
    before any view (or query) sees it, on SQLite and PostgreSQL alike."""
    parts = [request.path, *request.args.values(), *(request.view_args or {}).values()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        parts += [*request.form.keys(), *request.form.values()]
    if _has_nul(parts) or (request.is_json and _has_nul(request.get_json(silent=True))):
        return Response("bad request: input contains a NUL character\n", 400, mimetype="text/plain")
    return None


def security_headers(response: Response) -> Response:
    """After every request: the security headers (a view may set its own first); HSTS over HTTPS."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
