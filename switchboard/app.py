"""The Flask application factory, as in the Flask tutorial: ``create_app(test_config)``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from switchboard.clock import Clock
from switchboard.db import import_models, make_engine, make_sessionmaker
from switchboard.settings import load_settings


@dataclass
class Services:
    """What every request and command shares: settings, the database and the clock."""

    settings: dict[str, dict[str, Any]]
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock


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
    app.extensions["vaxel"] = Services(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=Clock.from_settings(settings, os.environ.get("VAXEL_NOW")),
    )

    from directory.views import bp as directory_bp
    from callback.views import bp as callback_bp
    from ivr.views import bp as ivr_bp
    from switchboard.web import bp as web_bp
    from switchboard.twilio.views import bp as twilio_bp

    from switchboard import auth, cli

    auth.init_app(app)
    app.register_blueprint(web_bp)
    app.register_blueprint(ivr_bp)
    app.register_blueprint(callback_bp)
    app.register_blueprint(directory_bp)
    from ivr.admin_flow import bp as flow_admin_bp
    from ivr.admin_hours import bp as hours_admin_bp
    from switchboard.audit import bp as audit_bp

    from switchboard.console.views import bp as console_bp

    for blueprint in (flow_admin_bp, hours_admin_bp, audit_bp, console_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(twilio_bp)
    from stats.views import bp as stats_bp

    app.register_blueprint(stats_bp)
    cli.register(app)
    return app


def services() -> Services:
    return current_app.extensions["vaxel"]
