"""What the console shows, as one JSON-able snapshot computed from the database.

The centre queue in order, transfers ringing now, transfers that came back and
why (while the call goes on), calls in progress per operator with their
wrap-up if one is recorded, each operator's recently ended calls still without
a wrap-up, operators and their state, and pending callbacks. Everything is derived from the calls' own state and the event log,
so every process and every browser sees the same picture.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback import operators as callback_list
from callback.policy import national
from stats.models import CallEvent
from callback import queue as centre
from ivr.models import CallSession
from switchboard.console import operators, wrapups
from switchboard.console.models import ConsoleOperator, Wrapup

RETURNED_MINUTES = 15
WRAPUP_MINUTES = 30  # a call an operator answered stays on their "to wrap up" list this long after it ended
REASON_TEXT = {"no-answer": "svarar inte", "busy": "upptaget", "failed": "gick inte att koppla",
               "canceled": "avbrutet", "caller_hangup": "den som ringde lade på", "closed": "stängd anknytning"}
MENU_TEXT = {"person": "söker en person", "case": "ärende", "fallback": "inget val", None: "–"}


def _seconds(since: str | datetime | None, now: datetime) -> int:
    if since is None:
        return 0
    when = datetime.fromisoformat(since) if isinstance(since, str) else since
    return max(0, int((now - when).total_seconds()))


def _caller(number: str | None) -> str:
    return national(number) if number and number.startswith("+") else (number or "dolt nummer")


def _to_wrap_up(session: Session, now: datetime) -> dict[str, list[dict]]:
    """Per operator: calls they answered that ended in the last minutes and have no wrap-up yet, latest first."""
    ended = {call_id: at for call_id, at in session.execute(
        select(CallEvent.call_id, CallEvent.at).where(CallEvent.type == "call_ended",
                                                      CallEvent.at >= now - timedelta(minutes=WRAPUP_MINUTES)))}
    if not ended:
        return {}
    wrapped = set(session.scalars(select(Wrapup.call_id).where(Wrapup.call_id.in_(sorted(ended)))))
    open_ = sorted(set(ended) - wrapped)
    if not open_:
        return {}
    callers = dict(session.execute(select(CallSession.call_id, CallSession.caller)
                                   .where(CallSession.call_id.in_(open_))).all())
    due: dict[str, list[dict]] = {}
    seen: set[tuple[str, str]] = set()
    for call_id, data in session.execute(
            select(CallEvent.call_id, CallEvent.data).where(CallEvent.call_id.in_(open_),
                                                           CallEvent.type == "queue_left")):
        operator = (data or {}).get("operator")
        if (data or {}).get("reason") != "answered" or not operator or (operator, call_id) in seen:
            continue
        seen.add((operator, call_id))
        due.setdefault(str(operator), []).append({"call_id": call_id, "caller": _caller(callers.get(call_id)),
                                                  "ended": _seconds(ended[call_id], now)})
    return {op: sorted(items, key=lambda i: i["ended"])[:5] for op, items in due.items()}


def snapshot(session: Session, now: datetime, settings: dict) -> dict:
    calls = operators.live_calls(session)
    by_id = {live.call.call_id: live for live in calls}
    queue = []
    for position, entry in enumerate(centre.waiting(session, "centre"), start=1):
        live = by_id.get(entry.call_id)
        state = live.state if live else None
        queue.append({
            "call_id": entry.call_id, "position": position,
            "caller": _caller(live.call.caller if live else None),
            "waited": _seconds(entry.joined_at, now),
            "menu_choice": MENU_TEXT.get(state.menu_choice if state else None, state.menu_choice if state else "–"),
            "returned": entry.priority > centre.NORMAL, "returned_from": entry.returned_from,
            "channel": live.call.channel if live else "",
        })
    ringing = [{
        "call_id": live.call.call_id, "caller": _caller(live.call.caller), "target": live.state.target["name"],
        "unit": live.state.target.get("unit", ""), "by": live.state.transfer_by or "röstmenyn",
        "ringing": _seconds(live.state.ring_started, now),
    } for live in calls if live.state.awaiting == "transfer" and live.state.target]
    returned = [{
        "call_id": e.call_id, "target": e.data.get("target"), "reason": e.data.get("reason"),
        "reason_text": REASON_TEXT.get(e.data.get("reason"), e.data.get("reason")),
        "to": e.data.get("to", "queue"), "operator": e.data.get("operator"), "ago": _seconds(e.at, now),
    } for e in session.scalars(  # only calls still going on: a caller who hung up is not coming back
        select(CallEvent).join(CallSession, CallSession.call_id == CallEvent.call_id)
        .where(CallEvent.type == "returned_to_queue", CallEvent.at >= now - timedelta(minutes=RETURNED_MINUTES),
               CallSession.ended_at.is_(None))
        .order_by(CallEvent.at.desc(), CallEvent.id.desc()).limit(20))]
    rows = list(session.scalars(select(ConsoleOperator).order_by(ConsoleOperator.username)))
    held_by = {row.username: operators.holding(calls, row.username) for row in rows}
    done = wrapups.current_of(session, [h.call.call_id for h in held_by.values() if h is not None])
    due = _to_wrap_up(session, now)
    people = []
    for row in rows:
        held = held_by[row.username]
        wrapped = done.get(held.call.call_id) if held is not None else None
        people.append({
            "username": row.username, "state": row.state, "label": operators.LABELS[row.state],
            "reason": row.reason, "since": _seconds(row.since, now),
            "call": None if held is None else {
                "call_id": held.call.call_id, "caller": _caller(held.call.caller),
                "menu_choice": MENU_TEXT.get(held.state.menu_choice, held.state.menu_choice),
                "returned_from": held.state.returned_from, "talking": _seconds(held.state.bridged_at, now),
                "transfer_ringing": held.state.awaiting == "transfer", "on_hold": row.on_hold == held.call.call_id,
                "channel": held.call.channel,
                "wrapup": None if wrapped is None else {
                    "id": wrapped.id, "outcome": wrapped.outcome, "by": wrapped.recorded_by,
                    "label": wrapups.LABELS.get(wrapped.outcome, wrapped.outcome)},
            },
            "to_wrap_up": due.get(row.username, []),
        })
    callbacks = [r.to_dict() for r in callback_list.rows(session, now, settings, closed_hours=0)
                 if r.status in ("pending", "claimed", "dialling", "failed")]
    return {"now": now.isoformat(), "queue": queue, "ringing": ringing, "returned": returned,
            "operators": people, "callbacks": callbacks}
