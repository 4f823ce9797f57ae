"""``GET /metrics``: what a switchboard must never miss, in Prometheus' text format.

Two kinds of figures. What lives in the database — calls in progress, callers waiting, operators, callbacks,
reconciliations, whether the switchboard is open — is read at each scrape, so it is right whichever process
(the service, the dispatcher, another node) changed it. What only this process sees — webhook and AGI step
latency, errors logged, FastAGI slots, the AMI connection — is kept in memory and is per process, as
Prometheus expects: scrape every ``vaxel serve``.

Latency is measured at the adapter boundary, once per platform: every Twilio webhook here (the ``twilio``
blueprint's requests), every FastAGI step in :mod:`switchboard.asterisk.call`. Errors are counted by a
logging handler, so every ``log.error``/``log.exception`` anywhere counts, by the component that logged it.

Protected: without a token (``VAXEL_METRICS_TOKEN``) only loopback requests that did not come through a
proxy are answered; with it, ``Authorization: Bearer <token>`` from anywhere.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from datetime import timedelta

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from callback import claims
from callback.models import CLAIMED, DIALLING, FAILED, PENDING, CallbackRequest
from callback.queue import QueueEntry
from core.services import Services
from ivr import schedules
from ivr.hours import status as hours_status
from ivr.models import CallSession
from stats.models import CallEvent
from switchboard.console.models import ConsoleOperator

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

disable_created_metrics()  # no *_created series: a process's start time says nothing here
PROCESS = CollectorRegistry()  # this process's own figures; the database's are collected per app
# a webhook answers within Twilio's 15 s; an AGI step is silence on the line: both should be well under a second
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
WEBHOOK_SECONDS = Histogram("vaxel_webhook_seconds", "Time to answer one Twilio webhook, by endpoint",
                            ["endpoint"], registry=PROCESS, buckets=LATENCY_BUCKETS)
AGI_STEP_SECONDS = Histogram("vaxel_agi_step_seconds", "Time vaxel takes for one FastAGI call step (the caller "
                             "hears silence meanwhile), by the input stepped on", ["input"], registry=PROCESS,
                             buckets=LATENCY_BUCKETS)
ERRORS = Counter("vaxel_errors", "Errors logged, by the component that logged them", ["kind"], registry=PROCESS)
ERROR_KINDS = ("twilio", "asterisk", "calls", "reconcile", "callback", "console", "stats", "app")

# what a call is doing, from the engine's ``awaiting``: in the menus, ringing staff, queued, talking
CALL_STATES = {"transfer": "ringing", "queue": "queued", "queue_offer": "queued", "bridged": "talking"}
OPERATOR_STATES = ("ready", "paused", "offline")
CALLBACK_STATES = ("pending", "dialling", "due", "overdue", "failed")


def error_kind(logger: str) -> str:
    """``switchboard.asterisk.ami`` -> ``asterisk``, ``callback.dispatcher`` -> ``callback``, ``waitress`` as is."""
    parts = logger.split(".")
    return parts[1] if parts[0] == "switchboard" and len(parts) > 1 else parts[0]


class ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        ERRORS.labels(error_kind(record.name)).inc()


def count_errors() -> None:
    """Count every error logged in this process (once, however many apps are built)."""
    root = logging.getLogger()
    if not any(isinstance(h, ErrorCounter) for h in root.handlers):
        root.addHandler(ErrorCounter())
    for kind in ERROR_KINDS:
        ERRORS.labels(kind)


class Switchboard:
    """The figures that live in the database (and the adapters' health), read at each scrape."""

    def __init__(self, services: Services):
        self.services = services

    def collect(self):
        svc = self.services
        up = GaugeMetricFamily("vaxel_database_up", "1 when the database answered this scrape")
        try:
            with svc.sessions() as session:
                families = list(self._from_database(session))
            up.add_metric([], 1)
        except Exception:
            log.exception("metrics: the database did not answer")
            families = []
            up.add_metric([], 0)
        yield up
        yield from families
        yield from self._from_adapters()

    def _from_database(self, session):
        svc, now = self.services, self.services.clock.now()
        calls = GaugeMetricFamily("vaxel_calls_in_progress", "Calls not ended, by what they are doing",
                                  labels=["state"])
        states = dict.fromkeys(("ivr", "ringing", "queued", "talking"), 0)
        for state in session.scalars(select(CallSession.state).where(CallSession.ended_at.is_(None))):
            states[CALL_STATES.get((state or {}).get("awaiting", ""), "ivr")] += 1
        for name, n in states.items():
            calls.add_metric([name], n)
        yield calls

        waiting = GaugeMetricFamily("vaxel_queue_callers_waiting", "Callers waiting on the line", labels=["queue"])
        longest = GaugeMetricFamily("vaxel_queue_longest_wait_seconds", "How long the first caller in line has "
                                    "waited", labels=["queue"])
        queues = {"centre": (0, None)}
        queues.update({q: (n, first) for q, n, first in session.execute(
            select(QueueEntry.queue, func.count(), func.min(QueueEntry.joined_at))
            .where(QueueEntry.left_at.is_(None)).group_by(QueueEntry.queue))})
        for queue, (n, first) in sorted(queues.items()):
            waiting.add_metric([queue], n)
            longest.add_metric([queue], max(0.0, (now - first).total_seconds()) if first else 0)
        yield waiting
        yield longest
        yield GaugeMetricFamily("vaxel_queue_wait_target_seconds", "The waiting time target (stats."
                                "queue_wait_target_seconds)", value=svc.settings["stats"]["queue_wait_target_seconds"])

        operators = GaugeMetricFamily("vaxel_operators", "Console operators, by state", labels=["state"])
        counts = dict.fromkeys(OPERATOR_STATES, 0)
        counts.update(session.execute(select(ConsoleOperator.state, func.count())
                                      .group_by(ConsoleOperator.state)).all())
        for state, n in counts.items():
            operators.add_metric([state], n)
        yield operators

        schedule = schedules.load(session, "switchboard", svc.clock.tz, svc.settings["hours"]["eve_close"], now)
        yield GaugeMetricFamily("vaxel_switchboard_open", "1 during the switchboard's phone hours",
                                value=int(hours_status(schedule, now).open))
        yield self._callbacks(session, now, schedule)
        reconciled = CounterMetricFamily("vaxel_reconciled_calls", "Calls closed by reconciliation because their "
                                         "platform no longer had them")
        reconciled.add_metric([], session.scalar(select(func.count()).select_from(CallEvent)
                                                 .where(CallEvent.type == "reconciled")) or 0)
        yield reconciled

    def _callbacks(self, session, now, schedule) -> GaugeMetricFamily:
        family = GaugeMetricFamily("vaxel_callbacks", "Callback requests: pending, being dialled, due now, due "
                                   "longer than metrics.callback_overdue_minutes, failed and not yet handled",
                                   labels=["state"])
        counts = dict.fromkeys(CALLBACK_STATES, 0)
        for status, n in session.execute(select(CallbackRequest.status, func.count())
                                         .where(CallbackRequest.status.in_((PENDING, CLAIMED, DIALLING)))
                                         .group_by(CallbackRequest.status)):
            counts["pending" if status == PENDING else "dialling"] += n
        counts["failed"] = session.scalar(select(func.count()).select_from(CallbackRequest).where(
            CallbackRequest.status == FAILED, CallbackRequest.purged_at.is_(None))) or 0
        due = claims.due_ids(session, now, schedule)
        counts["due"] = len(due)
        if due:
            overdue_before = now - timedelta(minutes=self.services.settings["metrics"]["callback_overdue_minutes"])
            counts["overdue"] = session.scalar(select(func.count()).select_from(CallbackRequest).where(
                CallbackRequest.id.in_(due),
                func.coalesce(CallbackRequest.due_at, CallbackRequest.requested_at) <= overdue_before)) or 0
        for state, n in counts.items():
            family.add_metric([state], n)
        return family

    def _from_adapters(self):
        health = {name: report() for name, report in self.services.health.items()}
        if "agi" in health:  # set by `vaxel serve` when FastAGI listens
            yield GaugeMetricFamily("vaxel_agi_slots_in_use", "FastAGI calls handled now",
                                    value=health["agi"]["in_use"])
            yield GaugeMetricFamily("vaxel_agi_slots_max", "asterisk.agi_max_calls", value=health["agi"]["max"])
        if "ami" in health:  # only when AMI is configured: a Twilio site has no AMI to be down
            yield GaugeMetricFamily("vaxel_ami_connected", "1 while logged in to Asterisk's AMI and it has booted",
                                    value=int(health["ami"]["connected"]))


def instrument(app: Flask, services: Services) -> None:
    """Wire /metrics's figures into ``app``: the database collector, webhook timing and the error counter."""
    registry = CollectorRegistry()
    registry.register(Switchboard(services))
    app.extensions["vaxel_metrics"] = registry
    count_errors()
    for rule in app.url_map.iter_rules():  # every series from the first scrape on, at 0 until used
        if rule.endpoint.startswith("twilio."):
            WEBHOOK_SECONDS.labels(rule.rule)
    AGI_STEP_SECONDS.labels("start")

    @app.before_request
    def start_timer() -> None:
        if request.blueprint == "twilio":
            g.vaxel_webhook_started = time.perf_counter()

    @app.after_request
    def observe_webhook(response: Response) -> Response:
        started = g.pop("vaxel_webhook_started", None)
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unknown"
            WEBHOOK_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
        return response


def allowed(token: str | None) -> bool:
    """With a token: the right bearer token. Without: a loopback peer that no proxy forwarded."""
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    if any(request.headers.get(h) for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP")):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics():
    from flask import current_app

    svc: Services = current_app.extensions["vaxel"]
    if not allowed(svc.settings["metrics"].get("token")):
        return Response("forbidden: /metrics answers loopback only, or a request with "
                        "'Authorization: Bearer <VAXEL_METRICS_TOKEN>'\n", 403, mimetype="text/plain")
    body = generate_latest(PROCESS) + generate_latest(current_app.extensions["vaxel_metrics"])
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
