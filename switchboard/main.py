"""The ``vaxel`` console script: Flask's command line around :func:`switchboard.app.create_app`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from core import logs
from core.settings import load_settings
from switchboard.app import create_app


def create_app_logging() -> Flask:
    """The app, with log lines in the site's format from the first one (its start-up warnings too); warnings
    only until a long-running command (serve, callbacks run, stats run) sets ``log.level``."""
    try:
        logs.configure(load_settings(), level="WARNING")
    except ValueError:  # a bad log.format: the long-running commands say so; the others log as before
        pass
    return create_app()


@click.group(cls=FlaskGroup, create_app=create_app_logging, add_default_commands=False, add_version_option=False,
             load_dotenv=False)
def main() -> None:
    """vaxel: one phone number into the municipality."""
