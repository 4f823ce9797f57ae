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

Pacing: a wake-up dials no more callbacks than can be taken — operator first,
the free operators (``callback.free_operators`` counts them) less the callbacks
already out; citizen first, ``callback.max_dialling`` less those out — so a
backlog due at opening is spread over the wake-ups as operators become free.
A number is never rung twice in one wake-up, nor while a call to it is out.
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

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from callback import claims, messages, outcomes, retention
from callback.claims import Claim
from callback.dialer import CallbackCall, Dialer, OutcomeHandler
from callback.models import CLAIMED, DIALLING, CallbackAttempt, CallbackRequest
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
          attempt: int, max_attempts: int, tz: ZoneInfo, purpose: dict | None = None) -> str:
    """What the operator hears before the citizen is rung: whom they wanted, why, when and where they asked,
    what they said, which try."""
    p = purpose or {}
    asked = requested_at.astimezone(tz).strftime("%d/%m %H:%M")
    target, unit, situation = p.get("target"), p.get("unit"), p.get("situation")
    if situation == "closed" and (unit or target):
        where = f"när {unit or target} hade stängd telefontid"
    elif situation == "unavailable" and target:
        where = f"när {target} inte kunde svara"
    elif situation == "queue_after_closing":
        where = "i kön strax före stängning"
    elif situation == "message":
        where = f"meddelande taget av {p.get('taken_by')}"
    elif kind == "queue":
        where = f"i kön som nummer {queue_position}" if queue_position else "i kön"
    else:
        where = "när växeln var stängd"
    why = f"sökte ”{p['subject']}”" if p.get("subject") else MENU_CHOICES.get(menu_choice or "",
                                                                               menu_choice or "okänt ärende")
    if not (target or unit):
        head = f"Återuppringning till {national(number)}: bad om det {asked} {where} ({why})."
    else:
        whom = unit or target
        wanted = f" (ville nå {target})" if target and target != unit else ""
        head = f"Återuppringning för {whom} till {national(number)}{wanted}: bad om det {asked} {where} ({why})."
    extra = ""
    if p.get("message"):
        extra += f" Meddelande: {p['message']}"
    if p.get("merged"):
        extra += f" Har bett om det {p['merged'] + 1} gånger."
    return f"{head}{extra} Försök {attempt} av {max(attempt, max_attempts)}."


@dataclass
class TickReport:
    released: list[int] = field(default_factory=list)  # expired claims made pending again
    expired: list[int] = field(default_factory=list)  # placed calls without an outcome, counted as failed
    dialled: list[tuple[int, int]] = field(default_factory=list)  # (request, attempt)
    held: int = 0  # due but not dialled this wake-up: no free operator (or line) for them yet
    mailed: int = 0  # requests for units that answer themselves, e-mailed to the unit


def load_counter(settings: dict) -> Callable[[Session], int] | None:
    """The free-operator counter named by ``callback.free_operators`` ("module:function"); None when empty."""
    target = settings["callback"]["free_operators"]
    if not target:
        return None
    if ":" not in target:
        raise ValueError(f"callback.free_operators must be 'module:function', not {target!r}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


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
                 now: Callable[[], datetime], worker: str | None = None,
                 free_operators: Callable[[Session], int] | None = None):
        """``free_operators`` counts the operators free to take a callback (operator first); None = no limit."""
        cfg = settings["callback"]
        if cfg["order"] not in ORDERS:
            raise ValueError(f"callback.order must be one of {', '.join(ORDERS)}, not {cfg['order']!r}")
        self.sessions, self.settings, self.dialer, self.now = sessions, settings, dialer, now
        self.cfg = cfg
        self.tz = ZoneInfo(settings["service"]["timezone"])
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:4]}"
        self.operator = (cfg["operator_endpoint"] or None) if cfg["order"] == "operator_first" else None
        self.free_operators = free_operators

    def schedule(self, session: Session, now: datetime) -> Schedule:
        return schedules.load(session, SCHEDULE, self.tz, self.settings["hours"]["eve_close"], now)

    def schedule_of(self, session: Session, now: datetime) -> Callable[[str], Schedule | None]:
        """The phone hours of the units requests are made for, each read once per wake-up."""
        cache: dict[str, Schedule | None] = {}

        def load(key: str) -> Schedule | None:
            if key not in cache:
                try:
                    cache[key] = schedules.load(session, key, self.tz, self.settings["hours"]["eve_close"], now)
                except KeyError:  # the unit's hours were removed since: the switchboard's alone apply
                    cache[key] = None
            return cache[key]
        return load

    def due(self, session: Session, now: datetime) -> list[int]:
        return claims.due_ids(session, now, self.schedule(session, now), self.schedule_of(session, now))

    def budget(self, session: Session) -> int | None:
        """How many more callbacks may be out now; None = no limit."""
        out = session.scalar(select(func.count()).select_from(CallbackRequest).where(
            CallbackRequest.status.in_((CLAIMED, DIALLING)))) or 0
        if self.cfg["order"] == "citizen_first":
            return max(0, self.cfg["max_dialling"] - out) if self.cfg["max_dialling"] else None
        if self.free_operators is None:
            return None
        return max(0, self.free_operators(session) - out)

    @staticmethod
    def busy_numbers(session: Session) -> set[str]:
        return set(session.scalars(select(CallbackRequest.number).where(
            CallbackRequest.status.in_((CLAIMED, DIALLING)), CallbackRequest.number.is_not(None))))

    # -- one wake-up ------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Release dead claims, settle silent calls, then claim and dial everything due, in order."""
        report = TickReport()
        with self.sessions() as session:
            report.released = claims.release_expired(session, self.now())
        with self.sessions() as session:
            report.expired = outcomes.expire_dialling(session, self.now(), self.settings)
        with self.sessions() as session:
            report.mailed = messages.deliver_pending(session, self.settings, self.tz, self.now())
        rung: set[str] = set()  # numbers rung this wake-up: never twice
        for _ in range(MAX_ROUNDS):
            now = self.now()
            with self.sessions() as session:
                ids = self.due(session, now)
                budget = self.budget(session)
                rung |= self.busy_numbers(session)
                numbers = dict(session.execute(select(CallbackRequest.id, CallbackRequest.number).where(
                    CallbackRequest.id.in_(ids))).all()) if ids else {}
            ids = [i for i in ids if numbers.get(i) not in rung]
            progressed = False
            while ids and (budget is None or budget > 0):
                with self.sessions() as session:
                    claim = claims.claim_next(session, ids, self.worker, self.now(), self.cfg["lease_seconds"],
                                              self.cfg["order"], self.operator)
                if claim is None:
                    break
                rung.add(claim.number)
                ids = [i for i in ids if i != claim.request_id and numbers.get(i) != claim.number]
                self.dial(claim)
                report.dialled.append((claim.request_id, claim.attempt))
                budget = None if budget is None else budget - 1
                progressed = True
            report.held = len(ids)
            if not progressed or (budget is not None and budget <= 0):
                break
        return report

    def call_for(self, claim: Claim) -> CallbackCall:
        return CallbackCall(
            request_id=claim.request_id, attempt=claim.attempt, number=claim.number,
            present_as=self.cfg["present_number"], operator=self.operator,
            brief=brief(number=claim.number, requested_at=claim.requested_at, kind=claim.kind,
                        queue_position=claim.queue_position, menu_choice=claim.menu_choice, attempt=claim.attempt,
                        max_attempts=self.cfg["attempts"], tz=self.tz, purpose=claim.purpose),
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
            rung = self.busy_numbers(session)
            for request_id in self.due(session, now):
                request = session.get(CallbackRequest, request_id)
                if request.number in rung:  # as a wake-up would: one call per number
                    continue
                rung.add(request.number)
                unfinished = request.attempts and session.scalar(select(CallbackAttempt.id).where(
                    CallbackAttempt.request_id == request_id, CallbackAttempt.attempt == request.attempts,
                    CallbackAttempt.outcome.is_(None)))
                attempt = request.attempts if unfinished else request.attempts + 1
                claim = Claim(request.id, attempt, request.call_id, request.number, request.kind,
                              request.requested_at, request.queue_position, request.menu_choice, request.call_now,
                              claims.purpose_of(request))
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
