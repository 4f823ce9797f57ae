"""Reconciliation: a call we think is live, but whose platform no longer has it, is closed — saying why.

Every open call has an owner that proves it is alive: each step of the call
(Twilio's webhooks, the ``waitUrl`` polls of a queued caller, an AGI step)
moves ``updated_at``, and the process holding a FastAGI connection beats
``alive_at`` while a long command (a conversation in ``Dial``, a wait in
``Queue``) runs. When the proof is older than ``reconcile.stale_seconds`` the
reconciler asks the call's platform (:class:`Platform`): Twilio's REST call
status, Asterisk's ``CoreShowChannels``. A call the platform still has gets a
fresh ``alive_at``; a call it no longer has — or that nobody holds any more —
is ended in our books: a ``reconciled`` event, then the caller's hang-up fed to
the engine at the moment the platform ended it (else the last proof) — or, when
the caller is still on the PBX (its fallback takes them to the operators), the
hand-off ``CallRunner.handed_off`` records — and its queue entry closed, so a
ghost never inflates positions or blocks a callback.
A platform that cannot be asked leaves the call alone (and says so).

It runs at start-up and every ``reconcile.interval_seconds`` in ``vaxel serve``
(and ``vaxel reconcile``), safely in several processes at once: each call is
closed in its own transaction that first claims it with a guarded ``UPDATE``
(still open, still stale), so two reconcilers never close the same call twice
and a call stepped meanwhile is left alone.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from callback import queue as centre
from ivr.models import CallSession
from stats import events as event_log
from switchboard.calls import CallRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What a platform says of one call: ``alive`` True / False, or None when it could not be asked."""

    alive: bool | None
    detail: str = ""
    ended_at: datetime | None = None  # when the platform ended it, if it knows
    with_pbx: bool = False  # gone from us, but the caller is still on the line: the PBX's fallback has them


class Platform(Protocol):
    def verdict(self, call: CallSession, now: datetime) -> Verdict: ...


class NoPlatform:
    """Simulated and demo calls: only the process that runs them holds them; stale means that process is gone."""

    def verdict(self, call: CallSession, now: datetime) -> Verdict:
        return Verdict(False, f"no platform; nothing has stepped the {call.channel} call since")


@dataclass
class Report:
    checked: int = 0
    alive: int = 0
    closed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    orphan_entries: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"checked": self.checked, "alive": self.alive, "closed": len(self.closed),
                "unknown": len(self.unknown), "orphan_entries": self.orphan_entries,
                "seconds": round(self.seconds, 4)}


def last_seen(call: CallSession) -> datetime:
    return max(call.updated_at, call.alive_at) if call.alive_at else call.updated_at


def _claim(session: Session, call_id: str, stale_before: datetime) -> bool:
    """Take the call for closing, as this transaction's first statement: only if it is still open and still
    stale. The guarded UPDATE is atomic on both databases (a concurrent step or reconciler makes it match
    nothing), so a call is closed once however many processes reconcile."""
    return session.execute(
        update(CallSession)
        .where(CallSession.call_id == call_id, CallSession.ended_at.is_(None), CallSession.updated_at < stale_before,
               or_(CallSession.alive_at.is_(None), CallSession.alive_at < stale_before))
        .values(ended_at=stale_before)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def close_gone(sessions: sessionmaker[Session], settings: dict, call_id: str, stale_before: datetime,
               verdict: Verdict, platform: str) -> bool:
    """End a call the platform no longer has; False if it moved on meanwhile (stepped, ended, closed by another)."""
    with sessions() as session:
        if not _claim(session, call_id, stale_before):
            session.rollback()
            return False
        call = session.get(CallSession, call_id)
        seen = last_seen(call)
        at = max(verdict.ended_at or seen, seen)  # never before the call's last step
        call.step += 1
        event_log.record(session, call_id, call.step, [("reconciled", {
            "platform": platform, "why": verdict.detail, "last_seen": seen.isoformat()})], at, call.channel)
        runner = CallRunner(sessions, settings, channel=call.channel)
        if verdict.with_pbx:  # not a lost caller: the PBX's fallback takes them to the operators
            runner.hand_off_in(session, call, at, verdict.detail)
        else:
            runner.hang_up_in(session, call, at)
        centre.leave(session, call_id, at, "reconciled")
        session.commit()
        return True


def close_orphan_entries(session: Session, now: datetime) -> int:
    """Queue entries still open although their call has ended or never existed."""
    ended = select(CallSession.call_id).where(CallSession.ended_at.is_not(None))
    known = select(CallSession.call_id)
    orphans = session.scalars(select(centre.QueueEntry).where(
        centre.QueueEntry.left_at.is_(None),
        or_(centre.QueueEntry.call_id.in_(ended), centre.QueueEntry.call_id.not_in(known)))).all()
    for entry in orphans:
        entry.left_at, entry.outcome = max(now, entry.joined_at), "reconciled"
    return len(orphans)


class Reconciler:
    """One pass: ask about every stale open call, close what is gone. ``platforms`` maps a channel to its platform;
    a channel without one (simulator, demo) is judged by :class:`NoPlatform`."""

    def __init__(self, sessions: sessionmaker[Session], settings: dict, platforms: dict[str, Platform],
                 now: Callable[[], datetime]):
        self.sessions, self.settings, self.platforms, self.now = sessions, settings, platforms, now
        self.stale = timedelta(seconds=settings["reconcile"]["stale_seconds"])
        self.batch = settings["reconcile"]["batch"]

    def stale_calls(self, now: datetime) -> list[CallSession]:
        before = now - self.stale
        proof = func.coalesce(CallSession.alive_at, CallSession.updated_at)
        with self.sessions() as session:
            return list(session.scalars(
                select(CallSession)
                .where(CallSession.ended_at.is_(None), CallSession.updated_at < before, proof < before)
                .order_by(CallSession.updated_at).limit(self.batch)))

    def run_once(self) -> Report:
        started, now = time.monotonic(), self.now()
        report = Report()
        before = now - self.stale
        for call in self.stale_calls(now):
            report.checked += 1
            platform = self.platforms.get(call.channel) or NoPlatform()
            try:
                verdict = platform.verdict(call, now)
            except Exception as exc:  # a platform that cannot answer proves nothing either way
                verdict = Verdict(None, f"{type(exc).__name__}: {exc}")
            name = call.channel if call.channel in self.platforms else "none"
            if verdict.alive is None:
                report.unknown.append(call.call_id)
                log.warning("reconcile: call %s (%s) not seen since %s and %s cannot tell whether it lives: %s",
                            call.call_id, call.channel, last_seen(call).isoformat(), name, verdict.detail)
            elif verdict.alive:
                report.alive += 1
                self._seen(call.call_id, now)
            elif close_gone(self.sessions, self.settings, call.call_id, before, verdict, name):
                report.closed.append(call.call_id)
                log.info("reconcile: closed call %s (%s), not seen since %s: %s", call.call_id, call.channel,
                         last_seen(call).isoformat(), verdict.detail)
        with self.sessions() as session:
            report.orphan_entries = close_orphan_entries(session, now)
            session.commit()
        report.seconds = time.monotonic() - started
        return report

    def _seen(self, call_id: str, now: datetime) -> None:
        with self.sessions() as session:
            session.execute(update(CallSession).where(CallSession.call_id == call_id, CallSession.ended_at.is_(None))
                            .values(alive_at=now).execution_options(synchronize_session=False))
            session.commit()

    def run_forever(self, stop: threading.Event) -> None:
        """At start-up, then every ``reconcile.interval_seconds`` until ``stop`` is set; a failure is one log line."""
        interval = self.settings["reconcile"]["interval_seconds"]
        while not stop.is_set():
            try:
                report = self.run_once()
                if report.closed or report.unknown or report.orphan_entries:
                    log.info("reconcile: %s", report.to_dict())
            except Exception as exc:  # e.g. the database is restarting: try again next round
                log.warning("reconcile: pass failed (%s: %s); trying again in %s s", type(exc).__name__, exc,
                            interval)
            stop.wait(interval)


def heartbeat(sessions: sessionmaker[Session], call_ids: Callable[[], set[str]], now: Callable[[], datetime],
              stop: threading.Event, seconds: float) -> None:
    """Prove, every ``seconds``, that this process still holds these calls (its live FastAGI connections)."""
    while not stop.wait(seconds):
        ids = call_ids()
        if not ids:
            continue
        try:
            with sessions() as session:
                for call in session.scalars(select(CallSession).where(CallSession.call_id.in_(ids),
                                                                      CallSession.ended_at.is_(None))):
                    call.alive_at = now()
                session.commit()
        except Exception as exc:
            log.warning("heartbeat for %s live calls failed (%s: %s)", len(ids), type(exc).__name__, exc)
