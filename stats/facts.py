"""The per-call facts: each call's events folded into one ``call_facts`` row (plus one row per transfer).

Why a fold and not counters: the event log is the truth and facts are a
function of it, so writing them is idempotent (a retried webhook or a repeated
callback report gives the same row), order does not matter, and ``vaxel stats
rebuild`` produces exactly what the live path produced.

The live path: :func:`stats.events.record` marks the call, and just before the
transaction commits the marked calls are re-folded (:func:`project`, on the
session factories the wiring gave to :func:`install`) — in the
same transaction as their events, whoever wrote them (the call runner, the
callback dispatcher, an operator's wrap-up). A failure while folding is logged
and writes nothing (the fold runs in Python before the upserts): a statistics
bug must never cost a caller their call; ``vaxel stats rebuild`` repairs the row.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Iterable, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased, sessionmaker

from core import versions
from stats import rollup
from stats.definitions import RESOLVED, Definitions, disposition
from stats.models import CallEvent, CallFact, TransferFact

log = logging.getLogger(__name__)

DIRTY = "stats.dirty_calls"
# Calls that are tried, not taken: `vaxel call` (the simulator) never becomes a fact, so it cannot move a report
TEST_CHANNELS = frozenset({"simulator"})
QUERY_LENGTH = 120
_tz = ZoneInfo("Europe/Stockholm")


def set_timezone(name: str) -> None:
    """The municipality's time zone (``service.timezone``); local dates and hours are fixed in it."""
    global _tz
    _tz = ZoneInfo(name)


def timezone() -> ZoneInfo:
    return _tz


class EventLike(Protocol):
    type: str
    at: datetime
    step: int
    seq: int
    channel: str
    data: dict[str, Any]


@dataclass
class Folded:
    fact: dict[str, Any]
    transfers: list[dict[str, Any]] = field(default_factory=list)


def fold_query(text: str) -> str:
    """What a caller asked the directory for, as counted: lower case, single spaces, bounded length."""
    return re.sub(r"\s+", " ", (text or "").strip().lower())[:QUERY_LENGTH]


def local(moment: datetime, tz: ZoneInfo) -> tuple[date, int, int]:
    """(local date, hour, ISO weekday) of an instant; zoneinfo makes DST days come out right."""
    moment = moment.astimezone(tz)
    return moment.date(), moment.hour, moment.isoweekday()


def _seconds(later: datetime | None, earlier: datetime | None) -> int | None:
    if later is None or earlier is None:
        return None
    return max(0, int((later - earlier).total_seconds()))


def fold(events: Iterable[EventLike], tz: ZoneInfo | None = None) -> Folded | None:
    """Fold one call's events (any order) into its fact row and transfer rows; None without events, and for a
    test call (:data:`TEST_CHANNELS`)."""
    tz = tz or _tz
    events = sorted(events, key=lambda e: (e.step, e.seq))
    if not events or events[0].channel in TEST_CHANNELS:
        return None
    call_id = getattr(events[0], "call_id", None)
    first = next((e for e in events if e.type == "call_started"), events[0])
    f: dict[str, Any] = dict(
        call_id=call_id, channel=first.channel, started_at=first.at, ended_at=None, called=None, lang=None,
        closed=0, hours_reason=None, menu_choice=None, english=0, invalid_inputs=0, timeouts=0, lookups=0,
        lookups_matched=0, unmatched_query=None, queue=None, queued=0, queue_returned=0, queue_outcome=None,
        answered=0, abandoned=0, queue_callback=0, wait_seconds=None, answer_seconds=0, operator=None, transfers=0,
        transfers_answered=0, transfers_returned=0, transfer_hangup=0, forvaltning=None, avdelning=None, enhet=None,
        answered_by=None, reach_seconds=None, talk_seconds=None, centre_talk_seconds=0, end_reason=None,
        cb_requested=0, cb_kind=None, cb_status=None, cb_completed=0, cb_failed=0, cb_cancelled=0, cb_attempts=0,
        cb_contact_seconds=None, wrapups=0, resolved=0, wrapup_outcome=None, wrapup_operator=None, wrapup_seconds=0,
        events=len(events),
    )
    if first.type == "call_started":
        f["called"] = (first.data.get("called") or None)
        f["lang"] = first.data.get("lang")
    f["local_date"], f["local_hour"], f["local_weekday"] = local(f["started_at"], tz)
    open_: bool | None = None
    cb_requested_at: datetime | None = None
    wrapup: tuple[dict, datetime] | None = None
    transfers: list[dict[str, Any]] = []
    voicemail = False  # the transfer now ringing is a unit's voicemail
    # the queue: a call counts once, by its first answer (an operator may put it back in the queue later)
    answered_once, last_reason, waited_before_answer = False, None, 0
    centre_since: datetime | None = None  # an operator is talking with the caller since then
    centre_talk = 0

    def centre_stops(at: datetime) -> None:
        nonlocal centre_since, centre_talk
        if centre_since is not None:
            centre_talk += _seconds(at, centre_since)
            centre_since = None

    def person_reached(at: datetime, by: str) -> None:
        if f["answered_by"] is None:
            f["answered_by"], f["reach_seconds"] = by, _seconds(at, f["started_at"])

    for e in events:
        d = e.data or {}
        t = e.type
        if t == "hours_checked" and open_ is None:
            open_ = bool(d.get("open"))
            f["hours_reason"] = (d.get("reason") or None)
        elif t == "menu_choice":
            if d.get("option") == "english":
                f["english"] = 1
            elif f["menu_choice"] is None:
                f["menu_choice"] = d.get("option")
        elif t == "input_invalid":
            f["invalid_inputs"] += 1
        elif t == "input_timeout":
            f["timeouts"] += 1
        elif t == "directory_lookup":
            f["lookups"] += 1
            if d.get("matched"):
                f["lookups_matched"] += 1
            elif f["unmatched_query"] is None:
                f["unmatched_query"] = fold_query(str(d.get("query", ""))) or None
        elif t == "transfer_started" and d.get("voicemail"):
            voicemail = True  # a unit's voicemail (its no-answer policy) is not a person: no transfer attempt
        elif t in ("transfer_answered", "transfer_failed") and voicemail:
            voicemail = False
        elif t == "transfer_started":
            centre_stops(e.at)
            transfers.append(dict(seq=len(transfers) + 1, started_at=e.at, target_id=str(d.get("target_id", ""))[:80],
                                  target=str(d.get("target", ""))[:200], unit_name=str(d.get("unit", ""))[:200],
                                  via="operator" if d.get("by") else "ivr", outcome="ringing", reason=None,
                                  returned=0, ring_seconds=None, departments=d.get("departments") or {}))
        elif t in ("transfer_answered", "transfer_failed") and transfers:
            last = transfers[-1]
            last["ring_seconds"] = _seconds(e.at, last["started_at"])
            if t == "transfer_answered":
                last["outcome"] = "answered"
                person_reached(e.at, "transfer")
            else:
                last["outcome"], last["reason"] = "failed", (d.get("reason") or None)
                if d.get("reason") == "caller_hangup":
                    f["transfer_hangup"] = 1
        elif t == "returned_to_queue" and transfers:
            transfers[-1]["returned"] = 1
            if d.get("to") == "operator":  # the operator who transferred takes the caller back
                centre_since = e.at
        elif t == "queue_joined":
            centre_stops(e.at)
            f["queued"] = 1
            f["queue"] = f["queue"] or (d.get("queue") or None)
            if d.get("returned"):
                f["queue_returned"] = 1
            if f["menu_choice"] is None and d.get("menu_choice"):
                f["menu_choice"] = d.get("menu_choice")
            last_reason = None  # waiting
        elif t == "queue_left":
            last_reason = d.get("reason")
            if not answered_once:
                waited_before_answer += int(d.get("waited") or 0)
            if last_reason == "answered":
                centre_since = e.at
                if not answered_once:
                    answered_once = True
                    f["wait_seconds"] = waited_before_answer
                    f["operator"] = (str(d.get("operator")) if d.get("operator") is not None else None)
                    person_reached(e.at, "centre")
        elif t == "callback_requested":
            f["cb_requested"], f["cb_kind"], f["cb_status"] = 1, d.get("when"), "pending"
            cb_requested_at = e.at
        elif t == "callback_attempt":
            f["cb_attempts"] = max(f["cb_attempts"], int(d.get("attempt") or 0))
        elif t in ("callback_completed", "callback_failed", "callback_cancelled"):
            f["cb_status"] = {"callback_completed": "completed", "callback_failed": "failed",
                              "callback_cancelled": "cancelled"}[t]
            f["cb_attempts"] = max(f["cb_attempts"], int(d.get("attempts") or 0))
            if t == "callback_completed":
                waited = d.get("waited")
                f["cb_contact_seconds"] = int(waited) if waited is not None else _seconds(e.at, cb_requested_at)
        elif t == "call_ended":
            centre_stops(e.at)
            f["ended_at"], f["end_reason"] = e.at, (d.get("reason") or None)
            if d.get("talk_seconds") is not None:
                f["talk_seconds"] = int(d["talk_seconds"])
        elif t == "operator_wrapup":
            wrapup = (d, e.at)  # the latest wrap-up wins (a correction)

    f["closed"] = 1 if open_ is False else 0
    outcome = f["queue_outcome"] = "answered" if answered_once else last_reason
    if not answered_once and last_reason is not None:
        f["wait_seconds"] = waited_before_answer
    f["answered"] = 1 if outcome == "answered" else 0
    f["abandoned"] = 1 if outcome == "abandoned" else 0
    f["queue_callback"] = 1 if outcome == "callback" else 0
    f["answer_seconds"] = f["wait_seconds"] if f["answered"] else 0
    f["centre_talk_seconds"] = centre_talk
    f["cb_completed"] = 1 if f["cb_status"] == "completed" else 0
    f["cb_failed"] = 1 if f["cb_status"] == "failed" else 0
    f["cb_cancelled"] = 1 if f["cb_status"] == "cancelled" else 0
    f["transfers"] = len(transfers)
    f["transfers_answered"] = sum(1 for t in transfers if t["outcome"] == "answered")
    f["transfers_returned"] = sum(t["returned"] for t in transfers)
    if wrapup is not None:
        data, at = wrapup
        f["wrapups"] = 1
        f["wrapup_outcome"] = str(data.get("outcome") or "")[:32] or None
        f["resolved"] = 1 if data.get("outcome") == RESOLVED else 0
        f["wrapup_operator"] = str(data.get("operator"))[:80] if data.get("operator") is not None else None
        given = data.get("wrapup_seconds")
        f["wrapup_seconds"] = int(given) if given is not None else (_seconds(at, f["ended_at"]) or 0)
    for key, column in CallFact.__table__.columns.items():  # a long value from an adapter must not fail the write
        length = getattr(column.type, "length", None)
        if length and isinstance(f.get(key), str):
            f[key] = f[key][:length]
    f["outcome"] = disposition(ended=f["ended_at"] is not None, open_=open_, answered_by=f["answered_by"],
                               queue_outcome=outcome, callback_requested=bool(f["cb_requested"]),
                               transfer_hangup=bool(f["transfer_hangup"]), end_reason=f["end_reason"])
    for t in transfers:
        t.update(call_id=call_id, local_date=f["local_date"], local_hour=f["local_hour"],
                 local_weekday=f["local_weekday"], called=f["called"], queue=f["queue"])
    return Folded(f, transfers)


# --- departments --------------------------------------------------------------------------------


Units = dict[str, tuple[str | None, str | None, str | None]]


def unit_paths(session: Session, target_ids: Iterable[str] | None = None) -> Units:
    """Directory id -> (förvaltning, avdelning, enhet) slugs of the unit the person belongs to now."""
    from directory.models import Staff, Unit

    u1, u2, u3 = aliased(Unit), aliased(Unit), aliased(Unit)
    query = (select(Staff.external_id, u1.slug, u1.kind, u2.slug, u2.kind, u3.slug, u3.kind)
             .join(u1, Staff.unit_id == u1.id)
             .outerjoin(u2, u1.parent_id == u2.id)
             .outerjoin(u3, u2.parent_id == u3.id))
    if target_ids is not None:
        ids = sorted(set(target_ids))
        if not ids:
            return {}
        query = query.where(Staff.external_id.in_(ids))
    paths: Units = {}
    for external_id, *chain in session.execute(query):
        slots: dict[str, str] = {}
        pairs = [(chain[i], chain[i + 1]) for i in (0, 2, 4) if chain[i]]
        for slug, kind in pairs:
            if kind in ("forvaltning", "avdelning", "enhet"):
                slots.setdefault(kind, slug)
        if "forvaltning" not in slots and pairs:
            slots["forvaltning"] = pairs[-1][0]  # an unclassified tree: its top is the department
        paths[external_id] = (slots.get("forvaltning"), slots.get("avdelning"), slots.get("enhet"))
    return paths


_units_held = versions.Cached("directory")


def units_now(session: Session) -> Units:
    """Every directory id's units, kept until the directory changes (``core.versions``: no query per call)."""
    return _units_held.get(session, "units", lambda: unit_paths(session))


def attach_units(folded: Folded, units: Units) -> None:
    """The departments a transfer went to: as recorded at call time, else where the person is now."""
    for t in folded.transfers:
        recorded = t.pop("departments", None)
        if recorded:
            t["forvaltning"], t["avdelning"], t["enhet"] = (recorded.get("forvaltning"), recorded.get("avdelning"),
                                                            recorded.get("enhet"))
        else:
            t["forvaltning"], t["avdelning"], t["enhet"] = units.get(t["target_id"], (None, None, None))
    if folded.transfers:
        first = folded.transfers[0]
        folded.fact.update(forvaltning=first["forvaltning"], avdelning=first["avdelning"], enhet=first["enhet"])


# --- writing ------------------------------------------------------------------------------------


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(session: Session, table) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE of every column, built once per dialect (building it is not free)."""
    dialect = session.get_bind().dialect.name
    key = (dialect, table.name)
    if key not in _UPSERTS:
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        keys = [c.name for c in table.primary_key.columns]
        _UPSERTS[key] = stmt.on_conflict_do_update(
            index_elements=keys, set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys})
    return _UPSERTS[key]


def upsert(session: Session, folded: list[Folded]) -> None:
    """Insert or replace fact rows (and transfer rows) for these calls."""
    if not folded:
        return
    connection = session.connection()
    connection.execute(_upsert(session, CallFact.__table__), [x.fact for x in folded])
    transfers = [t for x in folded for t in x.transfers]
    if transfers:
        connection.execute(_upsert(session, TransferFact.__table__), transfers)


_EVENT_COLUMNS = (CallEvent.call_id, CallEvent.step, CallEvent.seq, CallEvent.type, CallEvent.at, CallEvent.channel,
                  CallEvent.data)


def project(session: Session, call_id: str) -> Folded | None:
    """Re-fold one call from its events and store the result (idempotent)."""
    events = session.execute(select(*_EVENT_COLUMNS).where(CallEvent.call_id == call_id)).all()
    folded = fold(events)
    if folded is None:
        _forget(session, call_id)
        return None
    if folded.transfers:
        attach_units(folded, units_now(session))
    upsert(session, [folded])
    rollup.bump(session, [folded.fact["local_date"]])
    return folded


def _forget(session: Session, call_id: str) -> None:
    """No facts for this call (no events, or a test call), and its day's rollup recounted."""
    old = session.scalar(select(CallFact.local_date).where(CallFact.call_id == call_id))
    session.execute(delete(TransferFact).where(TransferFact.call_id == call_id))
    session.execute(delete(CallFact).where(CallFact.call_id == call_id))
    rollup.bump(session, [old] if old else [])


def mark(session: Session, call_id: str) -> None:
    """Remember that this call's facts must be re-folded before the transaction commits."""
    session.info.setdefault(DIRTY, set()).add(call_id)


def install(sessions: sessionmaker[Session], timezone_name: str) -> None:
    """Keep facts current on every session of this factory: the wiring calls this once per app or command.

    Installed is remembered on the factory itself, not asked of ``event.contains``: SQLAlchemy's registry keys
    targets by ``id()``, so a new factory at a freed one's address passed for installed and its commits wrote
    no facts (the CI failure of 2026-12-02)."""
    set_timezone(timezone_name)
    if not getattr(sessions, _INSTALLED, False):
        event.listen(sessions, "before_commit", _project_marked)
        event.listen(sessions, "after_rollback", _forget_marked)
        setattr(sessions, _INSTALLED, True)


_INSTALLED = "_vaxel_facts_installed"


def _project_marked(session: Session) -> None:
    dirty = session.info.pop(DIRTY, None)
    if not dirty:
        return
    for call_id in sorted(dirty):
        # no savepoint (two round trips on every call step): what can fail is the fold, in Python, before any
        # write; the writes are upserts of bounded values. A failure is logged and the call's commit goes on.
        try:
            project(session, call_id)
        except Exception:  # statistics must never break a call; `vaxel stats rebuild` repairs the row
            log.exception("call %s: could not update its statistics facts", call_id)


def _forget_marked(session: Session) -> None:
    session.info.pop(DIRTY, None)


# --- rebuilding from the event log --------------------------------------------------------------


def rebuild(sessions: sessionmaker[Session], batch: int = 2000, progress: Callable[[int], None] | None = None,
            definitions: Definitions | None = None) -> int:
    """Recompute every call's facts from the event log, a batch of calls per transaction, then (given the
    definitions) every day's rollup; returns the number of calls."""
    with sessions() as session:
        units = unit_paths(session)
    done, last = 0, ""
    while True:
        with sessions() as session:
            ids = list(session.scalars(select(CallEvent.call_id).where(CallEvent.call_id > last)
                                       .group_by(CallEvent.call_id).order_by(CallEvent.call_id).limit(batch)))
            if not ids:
                break
            rows = session.scalars(select(CallEvent).where(CallEvent.call_id.in_(ids))
                                   .order_by(CallEvent.call_id, CallEvent.step, CallEvent.seq))
            by_call: dict[str, list[CallEvent]] = {}
            for row in rows:
                by_call.setdefault(row.call_id, []).append(row)
            folded = []
            for call_id in ids:
                f = fold(by_call[call_id])
                if f is None:  # a test call: no fact, even one folded before test calls were left out
                    _forget(session, call_id)
                    continue
                attach_units(f, units)
                folded.append(f)
            upsert(session, folded)
            rollup.bump(session, [x.fact["local_date"] for x in folded])
            session.commit()
        done += len(ids)
        last = ids[-1]
        if progress:
            progress(done)
    with sessions() as session:  # facts of calls whose events are gone, then every day's rollup
        known = select(CallEvent.call_id)
        gone = session.scalars(select(CallFact.local_date).where(CallFact.call_id.not_in(known)).distinct()).all()
        session.execute(delete(TransferFact).where(TransferFact.call_id.not_in(known)))
        session.execute(delete(CallFact).where(CallFact.call_id.not_in(known)))
        rollup.bump(session, gone)
        session.commit()
        if definitions is not None:
            rollup.refresh(session, rollup.stale_days(session, date.min, date.max, definitions), definitions)
    return done
