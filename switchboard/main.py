"""The ``vaxel`` console script: Flask's command line around :func:`switchboard.app.create_app`."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from switchboard.app import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False, add_version_option=False,
             load_dotenv=False)
def main() -> None:
    """vaxel: one phone number into the municipality."""
