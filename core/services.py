"""The runtime services one app shares: settings, the database, the clock and the adapters' call controls.

``create_app`` builds one :class:`Services` and keeps it in ``app.extensions``;
views and commands reach it with :func:`services` inside an app context, so no
package needs to import the app factory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock


@dataclass
class Services:
    """What every request and command shares."""

    settings: dict[str, dict[str, Any]]
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    # channel ("twilio", "asterisk") -> factory of the console's CallControl for that channel's calls
    controls: dict[str, Callable[["Services"], Any]] = field(default_factory=dict)
    # what a running adapter reports in /healthz ("agi": slots in use, "ami": connected), set by `vaxel serve`
    health: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)


def services() -> Services:
    return current_app.extensions["vaxel"]
