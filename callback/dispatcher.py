"""The callback dispatcher: one scheduler process wakes due requests, claims each, and dials it.

Run it as ONE process next to the web service (``vaxel callbacks run``), never
inside web workers: APScheduler in every worker would run every job in every
worker. Even so, a second dispatcher started by mistake is harmless — every
request is claimed in the database first (``callback.claims``), and all state
lives there, so a killed dispatcher loses nothing: its claims are released
when their lease runs out and the next one carries on.

Order of a dial (``callback.order``): operator first (default) — the adapter
connects a free operator on ``operator_endpoint``, who hears
:attr:`CallbackCall.brief`, then rings the citizen showing the municipality's
main number; or citizen first.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callback import claims, outcomes, retention
from callback.claims import Claim
from callback.dialer import CallbackCall, Dialer, OutcomeHandler
from callback.models import CallbackAttempt, CallbackRequest
from callback.policy import national
from ivr import schedules
from ivr.hours import Schedule

log = logging.getLogger(__name__)

SCHEDULE = "switchboard"  # callbacks are made by the centre, so they follow the switchboard's phone hours
MAX_ROUNDS = 10  # a tick re-reads what is due this often: each claimed queue callback lets the next reach the front
ORDERS = ("operator_first", "citizen_first")
MENU_CHOICES = {"person": "sökte en person", "case": "ärende", "fallback": "kom till kundcenter",
                "english": "engelska"}


def brief(*, number: str, requested_at: datetime, kind: str, queue_position: int | None, menu_choice: str | None,
          attempt: int, max_attempts: int, tz: ZoneInfo) -> str:
    """What the operator hears before the citizen is rung: who, since when, why, which try."""
    asked = requested_at.astimezone(tz).strftime("%d/%m %H:%M")
    where = (f"i kön som nummer {queue_position}" if kind == "queue" and queue_position
             else "i kön" if kind == "queue" else "när växeln var stängd")
    why = MENU_CHOICES.get(menu_choice or "", menu_choice or "okänt ärende")
    return (f"Återuppringning till {national(number)}: bad om det {asked} {where} ({why}). "
            f"Försök {attempt} av {max(attempt, max_attempts)}.")


@dataclass
class TickReport:
    released: list[int] = field(default_factory=list)  # expired claims made pending again
    expired: list[int] = field(default_factory=list)  # placed calls without an outcome, counted as failed
    dialled: list[tuple[int, int]] = field(default_factory=list)  # (request, attempt)


def load_dialer(settings: dict, on_outcome: OutcomeHandler) -> Dialer:
    """The adapter named by ``callback.dialer`` ("package.module:factory"), built as factory(settings, on_outcome)."""
    target = settings["callback"]["dialer"]
    if not target or ":" not in target:
        raise ValueError("no dialer configured: set callback.dialer (VAXEL_CALLBACK_DIALER) to 'module:factory', "
                         "or use --dry-run")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(settings, on_outcome)


class Dispatcher:
    def __init__(self, sessions: sessionmaker[Session], settings: dict, dialer: Dialer,
                 now: Callable[[], datetime], worker: str | None = None):
        cfg = settings["callback"]
        if cfg["order"] not in ORDERS:
            raise ValueError(f"callback.order must be one of {', '.join(ORDERS)}, not {cfg['order']!r}")
        self.sessions, self.settings, self.dialer, self.now = sessions, settings, dialer, now
        self.cfg = cfg
        self.tz = ZoneInfo(settings["service"]["timezone"])
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:4]}"
        self.operator = (cfg["operator_endpoint"] or None) if cfg["order"] == "operator_first" else None

    def schedule(self, session: Session, now: datetime) -> Schedule:
        return schedules.load(session, SCHEDULE, self.tz, self.settings["hours"]["eve_close"], now)

    # -- one wake-up ------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Release dead claims, settle silent calls, then claim and dial everything due, in order."""
        report = TickReport()
        with self.sessions() as session:
            report.released = claims.release_expired(session, self.now())
        with self.sessions() as session:
            report.expired = outcomes.expire_dialling(session, self.now(), self.settings)
        for _ in range(MAX_ROUNDS):
            now = self.now()
            with self.sessions() as session:
                ids = claims.due_ids(session, now, self.schedule(session, now))
            progressed = False
            while ids:
                with self.sessions() as session:
                    claim = claims.claim_next(session, ids, self.worker, self.now(), self.cfg["lease_seconds"],
                                              self.cfg["order"], self.operator)
                if claim is None:
                    break
                ids.remove(claim.request_id)
                self.dial(claim)
                report.dialled.append((claim.request_id, claim.attempt))
                progressed = True
            if not progressed:
                break
        return report

    def call_for(self, claim: Claim) -> CallbackCall:
        return CallbackCall(
            request_id=claim.request_id, attempt=claim.attempt, number=claim.number,
            present_as=self.cfg["present_number"], operator=self.operator,
            brief=brief(number=claim.number, requested_at=claim.requested_at, kind=claim.kind,
                        queue_position=claim.queue_position, menu_choice=claim.menu_choice, attempt=claim.attempt,
                        max_attempts=self.cfg["attempts"], tz=self.tz),
        )

    def dial(self, claim: Claim) -> None:
        """Place one claimed attempt; a platform that refuses counts as a failed attempt (retried as usual)."""
        try:
            platform_id = self.dialer.place(self.call_for(claim))
        except Exception as exc:  # DialError, or an adapter bug: either way this attempt failed, the loop goes on
            log.exception("callback %s attempt %s: could not dial", claim.request_id, claim.attempt)
            with self.sessions() as session:
                outcomes.report(session, claim.request_id, claim.attempt, "failed", self.now(), self.settings,
                                note=f"dial error: {exc}")
            return
        with self.sessions() as session:
            claims.mark_placed(session, claim, self.worker, platform_id, self.now(),
                               self.cfg["outcome_timeout_seconds"])

    def preview(self) -> list[CallbackCall]:
        """What a tick would dial now, without claiming or writing anything (``--dry-run``)."""
        now = self.now()
        calls = []
        with self.sessions() as session:
            for request_id in claims.due_ids(session, now, self.schedule(session, now)):
                request = session.get(CallbackRequest, request_id)
                unfinished = request.attempts and session.scalar(select(CallbackAttempt.id).where(
                    CallbackAttempt.request_id == request_id, CallbackAttempt.attempt == request.attempts,
                    CallbackAttempt.outcome.is_(None)))
                attempt = request.attempts if unfinished else request.attempts + 1
                claim = Claim(request.id, attempt, request.call_id, request.number, request.kind,
                              request.requested_at, request.queue_position, request.menu_choice, request.call_now)
                call = self.call_for(claim)
                self.dialer.place(call)
                calls.append(call)
        return calls

    def purge(self) -> int:
        with self.sessions() as session:
            return retention.purge(session, self.now(), self.cfg["retention_days"])

    # -- the scheduler ----------------------------------------------------------------------

    def _safe(self, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                result = job()
                if isinstance(result, TickReport) and (result.dialled or result.released or result.expired):
                    log.info("callbacks: dialled %s, released %s, expired %s", result.dialled, result.released,
                             result.expired)
            except Exception:  # the database may be away for a moment; the next wake-up tries again
                log.exception("callback dispatcher: %s failed; trying again at the next wake-up", job.__name__)
        return run

    def run(self) -> None:
        """Wake every ``poll_seconds`` (and purge hourly) until stopped; SIGTERM stops it cleanly."""
        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler = BlockingScheduler(timezone=self.tz)
        start = datetime.now(self.tz)
        scheduler.add_job(self._safe(self.tick), "interval", seconds=self.cfg["poll_seconds"], id="callbacks",
                          next_run_time=start, max_instances=1, coalesce=True)
        scheduler.add_job(self._safe(self.purge), "interval", hours=1, id="retention", next_run_time=start,
                          max_instances=1, coalesce=True)
        signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
        log.info("callback dispatcher %s: every %s s", self.worker, self.cfg["poll_seconds"])
        scheduler.start()
