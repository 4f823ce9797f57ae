"""Data every installation needs: a published call flow and the switchboard's phone hours."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr import flow as flows
from ivr.hours import SWITCHBOARD_DEFAULT
from ivr.models import FlowVersion, PhoneHours


def published_flow(session: Session, key: str = "main") -> FlowVersion | None:
    return session.scalar(
        select(FlowVersion).where(FlowVersion.flow_key == key, FlowVersion.status == "published")
        .order_by(FlowVersion.version.desc()).limit(1)
    )


def _add_missing_prompts(session: Session, current: FlowVersion, seed: dict) -> list[str]:
    """A new release may bring prompts the published flow lacks: publish a copy with them added.

    Existing texts are never changed; calls in progress keep their version.
    """
    prompts = current.document.get("prompts", {})
    missing = {name: text for name, text in seed.get("prompts", {}).items() if name not in prompts}
    if not missing:
        return []
    doc = {**current.document, "prompts": {**prompts, **missing}}
    if flows.validate(doc):
        return []  # an administrator's flow that the new prompts do not make whole is left alone
    now = datetime.now(timezone.utc)
    latest = session.scalar(select(FlowVersion.version).where(FlowVersion.flow_key == current.flow_key)
                            .order_by(FlowVersion.version.desc()).limit(1))
    current.status = "archived"
    session.add(FlowVersion(flow_key=current.flow_key, version=latest + 1, status="published", document=doc,
                            note=f"added prompts {', '.join(sorted(missing))} from the release", created_at=now,
                            published_at=now))
    return [f"published call flow version {latest + 1} with new prompts: {', '.join(sorted(missing))}"]


def ensure_defaults(session: Session, settings: dict) -> list[str]:
    """Seed what is missing (never overwrite an administrator's edits); returns what was done."""
    done = []
    doc = flows.load_file(settings["flow"]["seed_file"])
    if published_flow(session, doc.get("key", "main")) is None:
        flows.Flow.from_document(doc)  # refuse to seed a broken flow
        now = datetime.now(timezone.utc)
        session.add(FlowVersion(flow_key=doc.get("key", "main"), version=1, status="published", document=doc,
                                note=f"seeded from {settings['flow']['seed_file']}", created_at=now, published_at=now))
        done.append("published call flow version 1")
    else:
        done.extend(_add_missing_prompts(session, published_flow(session, doc.get("key", "main")), doc))
    if session.scalar(select(PhoneHours).where(PhoneHours.key == "switchboard")) is None:
        session.add(PhoneHours(key="switchboard", name="Växeln", weekly=SWITCHBOARD_DEFAULT, eve_close=None))
        done.append("switchboard phone hours (Mon–Thu 08–17, Fri 08–16)")
    session.commit()
    return done
