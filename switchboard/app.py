"""The Flask application factory, as in the Flask tutorial: ``create_app(test_config)``.

This is the composition root: it builds the services, and wires every
blueprint, the adapters' console controls, the statistics' fact maintenance
and the commands explicitly. Nothing registers itself when it is imported.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask

from callback.views import bp as callback_bp
from core.clock import Clock
from core.db import make_engine, make_sessionmaker
from core.services import Services
from core.settings import load_settings
from directory.views import bp as directory_bp
from ivr.views import bp as ivr_bp
from stats import facts
from stats.views import bp as stats_bp
from switchboard import auth, cli
from switchboard.admin.flow import bp as flow_admin_bp
from switchboard.admin.hours import bp as hours_admin_bp
from switchboard.audit_views import bp as audit_bp
from switchboard.console import control as console_control
from switchboard.console.views import bp as console_bp
from switchboard.db import import_models
from switchboard.twilio.control import make_control as twilio_control
from switchboard.twilio.views import bp as twilio_bp
from switchboard.web import bp as web_bp

BLUEPRINTS = (web_bp, ivr_bp, callback_bp, directory_bp, flow_admin_bp, hours_admin_bp, audit_bp, console_bp,
              twilio_bp, stats_bp)


def create_app(test_config: Mapping[str, Mapping[str, Any]] | None = None) -> Flask:
    """Build the app. ``test_config`` overrides settings per section, e.g. ``{"database": {"url": ...}}``."""
    settings = load_settings(overrides=test_config)
    app = Flask(__name__)
    secret = settings["service"]["secret_key"]
    if not secret:
        if settings["service"]["mode"] == "production":
            raise RuntimeError("VAXEL_SERVICE_SECRET_KEY must be set in production mode")
        secret = os.urandom(32).hex()
    app.config.update(SECRET_KEY=secret, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings["service"]["mode"] == "production")
    import_models()
    engine = make_engine(settings["database"]["url"], settings["database"]["echo"])
    svc = Services(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=Clock.from_settings(settings, os.environ.get("VAXEL_NOW")),
    )
    facts.install(svc.sessions, settings["service"]["timezone"])  # every commit keeps the call facts current
    console_control.register(svc, "twilio", twilio_control)  # Asterisk's is registered when its AMI starts
    app.extensions["vaxel"] = svc

    auth.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    cli.register(app)
    return app
