"""Wrap-up codes: recorded against a conversation, never a step of the call.

A wrap-up is what the operator who held a call says came of it ("resolved at
the centre" is computed from it). It is written by that operator, during or
after the conversation, once; a correction is an explicit new row that
supersedes the current one and is written to the audit log in the same
transaction. Nothing here touches the call's state or step, so a wrap-up sent
while a transfer rings (or while the caller is still in the menu) cannot make
the platform's next webhook look stale.

The statistics still come from the call event log: each row also writes one
``operator_wrapup`` event at step ``WRAPUP_STEPS + revision``, a range the
engine's own steps (counting up from 1 per call) never reach. So the event is
keyed like any other (idempotent), sorts after the call's own events, and a
correction sorts after what it corrects: the fold's "the latest wrap-up wins"
gives the corrected outcome. The first wrap-up's event data stays
``{"outcome", "operator"}``; a correction adds ``corrected_by``, ``supersedes``
and the original's ``wrapup_seconds``, so a late correction does not count as
handling time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from ivr.models import CallSession
from stats import events as event_log
from stats.definitions import WRAPUP_OUTCOMES
from stats.models import CallEvent
from switchboard.console.models import Wrapup
from switchboard.console.texts import N_

LABELS = {"answered_by_centre": N_("Besvarat av kundcenter"), "transferred": N_("Kopplat vidare"),
          "referred_to_phone_hours": N_("Hänvisat till telefontid"), "message_taken": N_("Meddelande taget")}
assert tuple(LABELS) == WRAPUP_OUTCOMES

# Event-log steps from here on are out-of-band wrap-up records (step = WRAPUP_STEPS + revision). A call's own
# steps count up from 1 by one per engine step; callback attempts use 100 000 + 10·attempt, demo traffic's
# wrap-ups 200 000. A billion is far beyond any of them and inside a 32-bit integer column.
WRAPUP_STEPS = 1_000_000_000


class WrapupRefused(Exception):
    """Why a wrap-up was not recorded, in Swedish for the console; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Recorded:
    id: int
    call_id: str
    revision: int
    operator: str
    outcome: str
    supersedes_id: int | None


def held_by(session: Session, call_id: str) -> list[str]:
    """The operators who answered this call (from its event log), first answer first."""
    answered = []
    for data in session.scalars(select(CallEvent.data).where(CallEvent.call_id == call_id,
                                                             CallEvent.type == "queue_left")
                                .order_by(CallEvent.step, CallEvent.seq)):
        operator = (data or {}).get("operator")
        if (data or {}).get("reason") == "answered" and operator and operator not in answered:
            answered.append(str(operator))
    return answered


def current(session: Session, call_id: str) -> Wrapup | None:
    """The call's wrap-up as it stands: the latest revision."""
    return session.scalar(select(Wrapup).where(Wrapup.call_id == call_id).order_by(Wrapup.revision.desc()).limit(1))


def current_of(session: Session, call_ids: list[str]) -> dict[str, Wrapup]:
    """The wrap-up as it stands of each of these calls that has one."""
    if not call_ids:
        return {}
    found: dict[str, Wrapup] = {}
    for row in session.scalars(select(Wrapup).where(Wrapup.call_id.in_(sorted(set(call_ids))))
                               .order_by(Wrapup.call_id, Wrapup.revision)):
        found[row.call_id] = row
    return found


def record(session: Session, call_id: str, user: str, outcome: str, now: datetime, *,
           supersedes: int | None = None, note: str = "", supervisor: bool = False) -> Recorded:
    """Record a wrap-up (``supersedes`` None) or a correction of the current one; the caller commits.

    A wrap-up: only by an operator who answered the call, and only if it has none yet. A correction:
    ``supersedes`` must name the current wrap-up (so two people correcting at once cannot overwrite each
    other), by an operator who answered the call or a ``supervisor`` (an administrator); it is audited.
    """
    if outcome not in LABELS:
        raise WrapupRefused(f"okänt utfall {outcome!r}; välj ett av {', '.join(LABELS)}", 400)
    call = session.get(CallSession, call_id)
    if call is None:
        raise WrapupRefused(f"det finns inget samtal {call_id}", 404)
    held = held_by(session, call_id)
    latest = current(session, call_id)
    note = (note or "").strip()
    if supersedes is None:
        if user not in held:
            raise WrapupRefused("Du har inte haft det här samtalet. Utfallet anges av den operatör som svarade.",
                                403)
        if latest is not None:
            raise WrapupRefused(
                f"Samtalet har redan ett utfall: ”{LABELS.get(latest.outcome, latest.outcome)}”, angivet av "
                f"{latest.recorded_by} kl. {latest.at.astimezone(now.tzinfo):%H:%M}. Ett utfall anges en gång; "
                "vill du ändra det, gör en rättelse (den loggas).")
        revision, operator, data = 1, user, {"outcome": outcome, "operator": user}
    else:
        if latest is None:
            raise WrapupRefused("Samtalet har inget utfall att rätta.")
        if latest.id != supersedes:
            raise WrapupRefused(
                f"Utfallet har redan ändrats (nu ”{LABELS.get(latest.outcome, latest.outcome)}”, av "
                f"{latest.recorded_by} kl. {latest.at.astimezone(now.tzinfo):%H:%M}). "
                "Ladda om och rätta det som gäller nu.")
        if not supervisor and user not in held:
            raise WrapupRefused("Bara den som hade samtalet, eller en administratör, kan rätta utfallet.", 403)
        if outcome == latest.outcome:
            raise WrapupRefused(f"Utfallet är redan ”{LABELS[outcome]}”.")
        revision, operator = latest.revision + 1, latest.operator
        first = session.scalar(select(Wrapup).where(Wrapup.call_id == call_id, Wrapup.revision == 1))
        wrapup_seconds = 0
        if call.ended_at is not None and first is not None:
            wrapup_seconds = max(0, int((first.at - call.ended_at).total_seconds()))
        data = {"outcome": outcome, "operator": operator, "wrapup_seconds": wrapup_seconds,
                "corrected_by": user, "supersedes": latest.id}
    row = Wrapup(call_id=call_id, revision=revision, operator=operator, recorded_by=user, outcome=outcome, at=now,
                 supersedes_id=supersedes, note=note)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # someone recorded or corrected it at the same moment: (call_id, revision) is taken
        raise WrapupRefused("Någon annan angav utfallet samtidigt. Ladda om och försök igen.") from None
    if supersedes is not None:
        audit.record(session, user, "console.wrapup_correct", "call", call_id,
                     before={"wrapup_id": latest.id, "outcome": latest.outcome, "operator": latest.operator,
                             "recorded_by": latest.recorded_by},
                     after={"wrapup_id": row.id, "outcome": outcome, "operator": operator}, note=note)
    event_log.record(session, call_id, WRAPUP_STEPS + revision, [("operator_wrapup", data)], now, call.channel)
    return Recorded(row.id, call_id, revision, operator, outcome, supersedes)
