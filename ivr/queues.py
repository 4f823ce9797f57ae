"""The queues of the published call flow, as people name them: the console, the statistics and the CLI show
"English", never the id ``english`` the platforms use."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.flow import DEFAULT_QUEUE_NAMES, QUEUE_DEFAULTS, queue_names
from ivr.models import FlowVersion


def _published(session: Session) -> dict:
    return session.scalar(
        select(FlowVersion.document).where(FlowVersion.flow_key == "main", FlowVersion.status == "published")
        .order_by(FlowVersion.version.desc()).limit(1)) or {}


def names(session: Session) -> dict[str, str]:
    """id -> name of every queue of the published flow (the centre alone before one is published)."""
    doc = _published(session)
    return queue_names(doc) if doc else dict(DEFAULT_QUEUE_NAMES)


def default(session: Session) -> str:
    """The flow's default queue (``[queue] name``): what an operator serves unless an admin chose otherwise."""
    return (_published(session).get("queue") or {}).get("name") or QUEUE_DEFAULTS["name"]


def resolve(known: dict[str, str], text: str) -> str | None:
    """The id of the queue ``text`` names — its name ("Bygg och miljö") or its id, any case; None if unknown."""
    wanted = text.strip().casefold()
    for qid, name in known.items():
        if wanted in (qid.casefold(), name.casefold()):
            return qid
    return None
