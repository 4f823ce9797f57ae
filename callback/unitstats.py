"""Messages and callbacks by unit for the statistics report: taken, answered within the promise, overdue, failed.

Registered with the report engine (``stats.report.SECTIONS``) under
``requests_by_unit``, so the report, the dashboard and the CSV/JSON files carry
it without the stats package reading this one. Definitions (README
"Statistics"): a request counts in the period it was *taken* (local date);

- **taken**: requests made (IVR callbacks for a unit, operators' messages; the centre's own callbacks are
  listed under "kundcenter"), merged asks not counted again;
- **answered**: closed as done — the dispatcher's call answered, or the unit marked it reached / resolved;
- **in time**: answered no later than the promise (``due_by``);
- **overdue**: still open after the promise, at the time the report is made;
- **failed**: out of attempts, or the unit marked the citizen not reached;
- **open**: not yet closed (overdue included).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import CANCELLED, DONE, FAILED, OPEN, CallbackRequest
from stats import report
from stats.definitions import share
from stats.facts import timezone as local_zone
from stats.report import Filters

FIGURES = ("taken", "messages", "answered", "in_time", "overdue", "failed", "open")


def by_unit(session: Session, f: Filters, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per unit (and one for the centre's own requests), most taken first."""
    tz = local_zone()
    start = datetime.combine(f.start, time(0), tz)
    end = datetime.combine(f.end + timedelta(days=1), time(0), tz)
    now = now or _now()
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for r in session.scalars(select(CallbackRequest).where(
            CallbackRequest.requested_at >= start, CallbackRequest.requested_at < end,
            CallbackRequest.status != CANCELLED)):
        row = rows[r.unit_name or "kundcenter"]
        row["taken"] += 1
        row["messages"] += r.kind == "message"
        reached = r.status == DONE and r.outcome != "not_reached"
        row["answered"] += reached
        row["in_time"] += reached and r.due_by is not None and r.closed_at is not None and r.closed_at <= r.due_by
        row["failed"] += r.status == FAILED or (r.status == DONE and r.outcome == "not_reached")
        row["open"] += r.status in OPEN
        row["overdue"] += r.status in OPEN and r.due_by is not None and r.due_by < now
    out = [{"key": unit, **figures, "in_time_rate": share(figures["in_time"], figures["answered"])}
           for unit, figures in rows.items()]
    return sorted(out, key=lambda row: (-row["taken"], row["key"]))


def _now() -> datetime:
    """The service's clock (tests and ``--at`` set it); the real time outside an application."""
    from flask import has_app_context

    if has_app_context():
        from core.services import services

        return services().clock.now()
    return datetime.now(timezone.utc)


report.SECTIONS["requests_by_unit"] = by_unit
