"""Operator state and what each operator is doing, derived from the calls themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import numbers
from ivr import queues as flow_queues
from ivr.engine import CallState
from ivr.models import CallSession
from switchboard.console.models import ConsoleOperator
from switchboard.console.texts import N_

STATES = ("ready", "paused", "offline")
LABELS = {"ready": "Redo", "paused": "Paus", "offline": "Utloggad"}
# what operators pause for, offered as one key each in the console; "Annat" asks for the reason in words
PAUSE_REASONS = (N_("Rast"), N_("Lunch"), N_("Möte"), N_("Administration"), N_("Utbildning"), N_("Annat"))


class OperatorError(ValueError):
    pass


@dataclass(frozen=True)
class LiveCall:
    call: CallSession
    state: CallState


def live_calls(session: Session) -> list[LiveCall]:
    """Every call not yet ended, with its engine state."""
    return [LiveCall(c, CallState.from_dict(c.state)) for c in session.scalars(
        select(CallSession).where(CallSession.ended_at.is_(None)).order_by(CallSession.started_at))
        if c.state]


def holding(calls: list[LiveCall], operator: str, but: str | None = None) -> LiveCall | None:
    """The call an operator is talking to or following a transfer of (other than ``but``)."""
    for live in calls:
        if live.call.call_id == but:
            continue
        s = live.state
        if (s.awaiting == "bridged" and s.party == operator) or s.transfer_by == operator:
            return live
    return None


def get(session: Session, username: str, now: datetime) -> ConsoleOperator:
    row = session.get(ConsoleOperator, username)
    if row is None:
        row = ConsoleOperator(username=username, state="offline", reason="", since=now, endpoint="")
        session.add(row)
    return row


def set_state(session: Session, username: str, state: str, now: datetime, reason: str = "") -> ConsoleOperator:
    if state not in STATES:
        raise OperatorError(N_("Status ska vara ready, paused eller offline."))
    if state == "paused" and not reason.strip():
        raise OperatorError(N_("En paus behöver en orsak."))
    row = get(session, username, now)
    if row.state != state or row.reason != reason.strip():
        row.state, row.reason, row.since = state, reason.strip(), now
    return row


def set_endpoint(row: ConsoleOperator, endpoint: str, policy: numbers.Policy) -> ConsoleOperator:
    """Where the operator's calls ring: "" (none), an internal extension, or an endpoint listed in
    ``twilio.operators`` — the number policy for operator endpoints (:func:`directory.numbers.check_endpoint`)."""
    decision = numbers.check_endpoint(endpoint, policy)
    if not decision.ok:
        raise OperatorError(decision.message)
    row.endpoint = decision.number
    return row


def is_free(session: Session, username: str, returning_call: str | None = None) -> bool:
    """Ready and not holding another call: the returning call may come straight back to them."""
    row = session.get(ConsoleOperator, username)
    if row is None or row.state != "ready":
        return False
    return holding(live_calls(session), username, but=returning_call) is None


def free_count(session: Session) -> int:
    """Operators ready and holding no call: how many callbacks the dispatcher may dial now (operator first)."""
    calls = live_calls(session)
    return sum(1 for row in session.scalars(select(ConsoleOperator).where(ConsoleOperator.state == "ready"))
               if holding(calls, row.username) is None)


# -- the queues each operator serves --------------------------------------------------------------


def _stored(text: str | None) -> list[str]:
    return [q for q in (text or "").split(",") if q]


def served(session: Session) -> dict[str, list[str]]:
    """username -> the queues (ids) each operator serves: what an admin chose among the flow's queues, else the
    flow's default queue."""
    from switchboard.auth import User

    known, default = flow_queues.names(session), flow_queues.default(session)
    return {name: [q for q in _stored(stored) if q in known] or [default]
            for name, stored in session.execute(select(User.username, User.queues)
                                                .where(User.role.in_(("operator", "admin"))))}


def queues_of(session: Session, username: str) -> list[str]:
    """The queues ``username`` takes callers from (the default queue for someone an admin never chose for)."""
    return served(session).get(username) or [flow_queues.default(session)]


def set_queues(session: Session, username: str, wanted: list[str]) -> list[str]:
    """Store which queues an operator serves, each given by its name ("English") or id; [] = the default queue.
    Raises :class:`OperatorError` naming an unknown queue or user."""
    from switchboard.auth import User

    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise OperatorError(f"no user {username!r}")
    known = flow_queues.names(session)
    ids = []
    for text in wanted:
        qid = flow_queues.resolve(known, text)
        if qid is None:
            raise OperatorError(f"no queue {text!r}; the flow's queues are "
                                + ", ".join(f"{name} ({qid})" for qid, name in known.items()))
        if qid not in ids:
            ids.append(qid)
    user.queues = ",".join(ids)
    return ids or [flow_queues.default(session)]
