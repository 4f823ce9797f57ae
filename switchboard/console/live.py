"""What the console shows, as one JSON-able snapshot computed from the database.

Every queue of the flow (its name, how many wait, the longest wait) and its callers in order, the queues
each operator serves, transfers ringing now, transfers that came back and
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
from ivr import queues as flow_queues
from ivr.models import CallSession, Closure
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
    """A caller's number as operators read it: national form for Swedish numbers, international for others
    (a UK mobile is ``+44 7700 900123``, never ``07700 900123``), and withheld numbers said as such."""
    if not number or not any(c.isdigit() for c in number):  # None, "", "anonymous", "restricted", "unknown"
        return HIDDEN
    return national(number) if number.startswith("+") else number


HIDDEN = "dolt nummer"


def _handed_over(session: Session, now: datetime) -> dict[str, tuple[datetime, str | None]]:
    """Calls whose operator part ended in the last minutes: call id -> (when, the person it went to, if any).

    A call is handed over when it ends or when a transfer the operator made is answered: either way the
    operator's panel for it is gone, and the wrap-up is given afterwards from the "to wrap up" list."""
    over: dict[str, tuple[datetime, str | None]] = {}
    for call_id, at, kind, data in session.execute(
            select(CallEvent.call_id, CallEvent.at, CallEvent.type, CallEvent.data)
            .where(CallEvent.type.in_(("call_ended", "transfer_answered")),
                   CallEvent.at >= now - timedelta(minutes=WRAPUP_MINUTES))
            .order_by(CallEvent.at, CallEvent.step, CallEvent.seq)):
        earlier = over.get(call_id)
        target = (data or {}).get("target") if kind == "transfer_answered" else (earlier[1] if earlier else None)
        over[call_id] = (at, target)
    return over


def _to_wrap_up(session: Session, now: datetime, held: dict[str, str]) -> dict[str, list[dict]]:
    """Per operator: calls they answered, handed over (ended, or transferred and answered) in the last minutes
    and still without a wrap-up, latest first. ``held``: call id -> the operator holding it now."""
    over = _handed_over(session, now)
    if not over:
        return {}
    wrapped = set(session.scalars(select(Wrapup.call_id).where(Wrapup.call_id.in_(sorted(over)))))
    open_ = sorted(set(over) - wrapped)
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
        if held.get(call_id) == operator:  # they hold it again (it came back): the panel is there
            continue
        seen.add((operator, call_id))
        at, target = over[call_id]
        due.setdefault(str(operator), []).append({"call_id": call_id, "caller": _caller(callers.get(call_id)),
                                                  "ended": _seconds(at, now), "transferred_to": target})
    return {op: sorted(items, key=lambda i: i["ended"])[:5] for op, items in due.items()}


def _bounces(session: Session, call_ids: list[str], now: datetime) -> dict[str, list[dict]]:
    """Every transfer of these calls that came back, oldest first: the history stays when it bounces again."""
    if not call_ids:
        return {}
    found: dict[str, list[dict]] = {}
    for call_id, at, data in session.execute(
            select(CallEvent.call_id, CallEvent.at, CallEvent.data)
            .where(CallEvent.call_id.in_(sorted(set(call_ids))), CallEvent.type == "returned_to_queue")
            .order_by(CallEvent.step, CallEvent.seq)):
        data = data or {}
        found.setdefault(call_id, []).append({
            "target": data.get("target"), "reason": data.get("reason"),
            "reason_text": REASON_TEXT.get(data.get("reason"), data.get("reason")), "ago": _seconds(at, now)})
    return found


def _transfers(session: Session, call_ids: list[str]) -> dict[str, dict]:
    """The transfer now ringing on each of these calls, as it was started: blind or attended, and by whom."""
    if not call_ids:
        return {}
    started: dict[str, dict] = {}
    for call_id, data in session.execute(
            select(CallEvent.call_id, CallEvent.data)
            .where(CallEvent.call_id.in_(sorted(set(call_ids))), CallEvent.type == "transfer_started")
            .order_by(CallEvent.step, CallEvent.seq)):
        started[call_id] = data or {}
    return started


def _waiting_row(queue: str, name: str, position: int, entry, by_id: dict, bounces: dict, now: datetime) -> dict:
    """One waiting caller as the console lists them: their queue (its name) and their place in it."""
    live = by_id.get(entry.call_id)
    state = live.state if live else None
    return {
        "call_id": entry.call_id, "queue": queue, "queue_name": name, "position": position,
        "caller": _caller(live.call.caller if live else None),
        "waited": _seconds(entry.joined_at, now),
        "menu_choice": MENU_TEXT.get(state.menu_choice if state else None, state.menu_choice if state else "–"),
        "returned": entry.priority > centre.NORMAL, "returned_from": entry.returned_from,
        "bounces": bounces.get(entry.call_id, []),
        "channel": live.call.channel if live else "",
    }


def notices(session: Session, now: datetime) -> list[dict]:
    """Closures and crisis messages in force now or starting within the day: operators must know what callers
    hear before they do."""
    rows = session.scalars(select(Closure).where(Closure.ends_at > now,
                                                 Closure.starts_at <= now + timedelta(hours=24))
                           .order_by(Closure.starts_at))
    return [{"id": c.id, "kind": c.kind, "scope": c.scope, "message": c.message_sv,
             "starts": c.starts_at.isoformat(), "ends": c.ends_at.isoformat(),
             "active": c.starts_at <= now < c.ends_at} for c in rows]


def snapshot(session: Session, now: datetime, settings: dict) -> dict:
    calls = operators.live_calls(session)
    by_id = {live.call.call_id: live for live in calls}
    bounces = _bounces(session, list(by_id), now)
    ringing_calls = [live for live in calls if live.state.awaiting == "transfer" and live.state.target]
    started = _transfers(session, [live.call.call_id for live in ringing_calls])
    names = flow_queues.names(session)
    queue, queues = [], []
    waiting = centre.waiting_by_queue(session)
    for qid in [*names, *sorted(set(waiting) - set(names))]:  # a queue gone from the flow still shows its callers
        entries = waiting.get(qid, [])
        queues.append({"id": qid, "name": names.get(qid, qid), "count": len(entries),
                       "longest": max((_seconds(e.joined_at, now) for e in entries), default=0)})
        queue.extend(_waiting_row(qid, names.get(qid, qid), position, entry, by_id, bounces, now)
                     for position, entry in enumerate(entries, start=1))
    queue.sort(key=lambda q: (not q["returned"], -q["waited"]))  # across queues: returned first, then longest wait
    ringing = [{
        "call_id": live.call.call_id, "caller": _caller(live.call.caller), "target": live.state.target["name"],
        "unit": live.state.target.get("unit", ""), "extension": live.state.target.get("extension"),
        "by": live.state.transfer_by or "röstmenyn", "ringing": _seconds(live.state.ring_started, now),
        "attended": bool(started.get(live.call.call_id, {}).get("attended")),
    } for live in ringing_calls]
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
    due = _to_wrap_up(session, now, {h.call.call_id: user for user, h in held_by.items() if h is not None})
    people = []
    for row in rows:
        held = held_by[row.username]
        wrapped = done.get(held.call.call_id) if held is not None else None
        ringing_now = held is not None and held.state.awaiting == "transfer"
        people.append({
            "username": row.username, "state": row.state, "label": operators.LABELS[row.state],
            "reason": row.reason, "since": _seconds(row.since, now),
            "call": None if held is None else {
                "call_id": held.call.call_id, "caller": _caller(held.call.caller),
                "menu_choice": MENU_TEXT.get(held.state.menu_choice, held.state.menu_choice),
                "returned_from": held.state.returned_from, "talking": _seconds(held.state.bridged_at, now),
                "transfer_ringing": ringing_now, "on_hold": row.on_hold == held.call.call_id,
                "channel": held.call.channel, "bounces": bounces.get(held.call.call_id, []),
                "transfer": None if not ringing_now else {
                    "target": held.state.target["name"], "unit": held.state.target.get("unit", ""),
                    "extension": held.state.target.get("extension"),
                    "ringing": _seconds(held.state.ring_started, now),
                    "attended": bool(started.get(held.call.call_id, {}).get("attended"))},
                "wrapup": None if wrapped is None else {
                    "id": wrapped.id, "outcome": wrapped.outcome, "by": wrapped.recorded_by,
                    "label": wrapups.LABELS.get(wrapped.outcome, wrapped.outcome)},
            },
            "to_wrap_up": due.get(row.username, []),
        })
    callbacks = [{**r.to_dict(), "status_text": r.status_text}
                 for r in callback_list.rows(session, now, settings, closed_hours=0)
                 if r.status in ("pending", "claimed", "dialling", "failed")]
    return {"now": now.isoformat(), "queue": queue, "queues": queues, "served": operators.served(session),
            "ringing": ringing, "returned": returned,
            "operators": people, "callbacks": callbacks, "notices": notices(session, now)}
