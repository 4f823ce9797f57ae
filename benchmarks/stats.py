"""One year of calls for a municipality the size of Lund: ingest rate and report time, printed as JSON.

    .venv/bin/python benchmarks/stats.py [--calls 1000000] [--year 2026] [--database-url URL] [--schema NAME]
                                         [--keep] [--reuse]

Generates ``--calls`` calls over the year (weekday and hour profile within phone
hours, some after hours; the menu, directory lookups with and without a match,
transfers answered or returned, queue waits, abandons short and long, callbacks
with their attempts, operator wrap-ups), with the very events the engine writes.
Each call's fact rows are folded by ``stats.facts.fold`` — the live code — and
events and facts are bulk-inserted directly (a million calls do not go through
the engine). Then the daily rollups are built (what the first report after a
bulk load does) and the full-year report, two filtered ones and a month are
timed; figures of the full year are printed too, to compare the databases.

On PostgreSQL, ``--schema bench_stats`` creates that schema, runs in it
(``search_path``) and drops it afterwards. A SQLite file is deleted afterwards
unless ``--keep``. ``--reuse`` (with ``--database-url`` and, on PostgreSQL,
``--schema``) times the reports on a database a ``--keep`` run left, without
generating the calls again (minutes): the database is migrated first and the
rollups rebuilt where the code's definitions changed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sys

# this file is called stats.py: keep its folder off the path so `stats` is the package, not this script
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE.parent)]

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from stats import facts, report, rollup  # noqa: E402
from stats.definitions import Definitions  # noqa: E402
from stats.models import CallEvent, CallFact, RollupDay, TransferFact  # noqa: E402
from core.db import make_engine, make_sessionmaker  # noqa: E402
from switchboard import db  # noqa: E402

TZ = ZoneInfo("Europe/Stockholm")
UTC = ZoneInfo("UTC")
WEEKDAY_WEIGHT = {1: 1.25, 2: 1.1, 3: 1.0, 4: 1.0, 5: 0.85, 6: 0.04, 7: 0.03}
OPEN_HOURS = {8: 1.3, 9: 1.5, 10: 1.4, 11: 1.1, 12: 0.7, 13: 1.2, 14: 1.1, 15: 0.9, 16: 0.6}
LATE_HOURS = {6: 0.2, 7: 0.6, 17: 0.5, 18: 0.3, 19: 0.2, 20: 0.1, 21: 0.1}
QUERIES = [f"ord{i}" for i in range(300)]  # unmatched directory queries, Zipf-like
OPERATORS = [f"op{i:02d}" for i in range(1, 21)]
ENTRY_NUMBERS = ["+46406280400", "+46406280100"]  # the new number and the old switchboard's, in parallel


class Directory:
    """A synthetic organisation: 10 förvaltningar × 5 avdelningar × 4 enheter × 30 people = 6,000 extensions."""

    def __init__(self):
        self.people = []
        self.units: facts.Units = {}
        for f in range(10):
            for a in range(5):
                for e in range(4):
                    for p in range(30):
                        pid = f"s{f}{a}{e}{p:02d}"
                        self.people.append((pid, f"Person {pid}", f"Enhet {f}.{a}.{e}"))
                        self.units[pid] = (f"forv-{f}", f"avd-{f}-{a}", f"enh-{f}-{a}-{e}")


class Call:
    """Builds one call's events the way the engine orders them."""

    def __init__(self, call_id: str, start: datetime):
        self.call_id, self.t, self.step = call_id, start, 0
        self.events: list[dict] = []

    def add(self, type_: str, after: float = 0, **data) -> None:
        self.t += timedelta(seconds=after)
        self.step += 1
        self.events.append(dict(call_id=self.call_id, step=self.step, seq=0, type=type_, at=self.t, channel="bench",
                                data=data))


def one_call(rng: random.Random, call_id: str, start: datetime, open_: bool, directory: Directory) -> Call:
    c = Call(call_id, start)
    caller = f"+4670174{rng.randrange(0, 10000):04d}"
    c.add("call_started", caller=caller, called=rng.choices(ENTRY_NUMBERS, (9, 1))[0], lang="sv", flow_version=1)
    if not open_:
        c.add("hours_checked", schedule="switchboard", open=False, reason="closed", next_open=None, holiday=None,
              crisis=False)
        c.add("callback_offered", 20, where="closed")
        if rng.random() < 0.2:
            c.add("callback_requested", 15, request_id=rng.randrange(10**6), when="next_open", menu_choice=None)
            c.add("call_ended", 5, reason="callback_requested", node="closed")
            _callback_outcome(rng, c, hours=14)
        else:
            c.add("call_ended", 5, reason="goodbye", node="goodbye")
        return c
    c.add("hours_checked", schedule="switchboard", open=True, reason="open", next_open=None, holiday=None,
          crisis=False)
    r = rng.random()
    if r < 0.04:  # hangs up in the menu
        if rng.random() < 0.5:
            c.add("input_timeout", 6, node="menu")
        c.add("call_ended", rng.uniform(2, 10), reason="caller_hangup", node="menu", awaiting="menu")
        return c
    if rng.random() < 0.03:
        c.add("input_invalid", 5, node="menu", digits="7")
    if r < 0.05:
        c.add("input_timeout", 6, node="menu")
        c.add("input_timeout", 6, node="menu")
        choice = "fallback"
    elif r < 0.50:
        choice = "person"
        c.add("menu_choice", 8, node="menu", digit="1", option="person")
    else:
        choice = "case"
        c.add("menu_choice", 8, node="menu", digit="2", option="case")
    returned = False
    if choice == "person":
        if rng.random() < 0.15:
            q = QUERIES[min(int(rng.paretovariate(1.2)) - 1, len(QUERIES) - 1)]
            c.add("directory_lookup", 7, query=q, hits=0, matched=False, top=[])
        else:
            pid, name, unit = directory.people[min(int(rng.paretovariate(0.9)), len(directory.people)) - 1
                                                if rng.random() < 0.5 else rng.randrange(len(directory.people))]
            c.add("directory_lookup", 7, query=name.lower(), hits=1, matched=True, top=[pid])
            c.add("transfer_started", 1, target_id=pid, target=name, unit=unit, ring_timeout=25)
            outcome = rng.choices(["answered", "no-answer", "busy", "failed", "caller_hangup"], (52, 31, 11, 3, 3))[0]
            if outcome == "answered":
                c.add("transfer_answered", rng.uniform(3, 20), target_id=pid, target=name)
                c.add("call_ended", rng.expovariate(1 / 240) + 15, reason="completed", node="transfer",
                      talk_seconds=0)
                c.events[-1]["data"]["talk_seconds"] = int((c.t - c.events[-2]["at"]).total_seconds())
                return c
            if outcome == "caller_hangup":
                c.add("transfer_failed", rng.uniform(3, 20), target_id=pid, target=name, reason="caller_hangup")
                c.add("call_ended", 0, reason="caller_hangup", node="transfer", awaiting="transfer")
                return c
            c.add("transfer_failed", 25 if outcome == "no-answer" else 2, target_id=pid, target=name, reason=outcome)
            c.add("returned_to_queue", 0, target_id=pid, target=name, reason=outcome)
            returned = True
    busy = OPEN_HOURS.get(c.t.astimezone(TZ).hour, 0.5)
    c.add("queue_joined", 3, queue="centre", position=rng.randint(1, 6), estimated_wait=120, returned=returned,
          menu_choice=choice)
    joined = c.t
    mean_wait = (20 if returned else 45 if choice == "person" else 110) * busy
    r = rng.random()
    if r < 0.03:  # short abandon
        c.add("queue_left", rng.uniform(1, 5), queue="centre", reason="abandoned", waited=0)
        c.events[-1]["data"]["waited"] = int((c.t - joined).total_seconds())
        c.add("call_ended", 0, reason="caller_hangup", node="centre", awaiting="queue")
    elif r < 0.10:
        c.add("queue_left", rng.expovariate(1 / (mean_wait * 1.5)) + 6, queue="centre", reason="abandoned", waited=0)
        c.events[-1]["data"]["waited"] = int((c.t - joined).total_seconds())
        c.add("call_ended", 0, reason="caller_hangup", node="centre", awaiting="queue")
    elif r < 0.15:
        c.add("callback_offered", 120, where="queue", waited=120)
        c.add("callback_requested", 20, request_id=rng.randrange(10**6), when="queue", menu_choice=choice)
        c.add("queue_left", 0, queue="centre", reason="callback", waited=int((c.t - joined).total_seconds()))
        c.add("call_ended", 4, reason="callback_requested", node="centre")
        _callback_outcome(rng, c, hours=1)
    else:
        operator = rng.choice(OPERATORS)
        c.add("queue_left", rng.expovariate(1 / mean_wait), queue="centre", reason="answered", waited=0,
              operator=operator)
        c.events[-1]["data"]["waited"] = int((c.t - joined).total_seconds())
        bridged = c.t
        c.add("call_ended", rng.expovariate(1 / 200) + 20, reason="completed", node="centre", talk_seconds=0)
        c.events[-1]["data"]["talk_seconds"] = int((c.t - bridged).total_seconds())
        if rng.random() < 0.8:
            outcome = rng.choices(["answered_by_centre", "transferred", "referred_to_phone_hours", "message_taken"],
                                  (72, 15, 8, 5))[0]
            c.add("operator_wrapup", 30, outcome=outcome, operator=operator, wrapup_seconds=int(rng.uniform(10, 60)))
    return c


def _callback_outcome(rng: random.Random, c: Call, hours: float) -> None:
    attempts = rng.choices([1, 2, 3], (70, 20, 10))[0]
    fate = rng.choices(["completed", "failed", "cancelled"], (85, 12, 3))[0]
    if fate == "failed":
        attempts = 3
    for n in range(1, attempts + 1):
        last = n == attempts
        outcome = "answered" if last and fate == "completed" else "no-answer"
        c.add("callback_attempt", hours * 3600 / attempts, request_id=1, attempt=n, outcome=outcome,
              order="operator_first", operator="centre", retry_at=None)
    requested = next(e["at"] for e in c.events if e["type"] == "callback_requested")
    if fate == "completed":
        c.add("callback_completed", 0, request_id=1, attempts=attempts, by="dispatcher",
              waited=int((c.t - requested).total_seconds()))
    elif fate == "failed":
        c.add("callback_failed", 0, request_id=1, attempts=attempts, last_outcome="no-answer")
    else:
        c.add("callback_cancelled", 60, request_id=1, attempts=attempts, by="operator")
    for i, e in enumerate(c.events):  # callback events live at steps 100000+ (callback.eventlog)
        if e["type"].startswith("callback_") and e["type"] not in ("callback_offered", "callback_requested"):
            e["step"] = 100_000 + i


def day_plan(calls: int, year: int) -> list[tuple[date, int]]:
    days = [date(year, 1, 1) + timedelta(days=i) for i in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]
    weights = [WEEKDAY_WEIGHT[d.isoweekday()] * (0.6 if d.month == 7 else 1.0) for d in days]
    total = sum(weights)
    counts = [int(calls * w / total) for w in weights]
    for i in range(calls - sum(counts)):
        counts[i % len(counts)] += 1
    return list(zip(days, counts))


def moments(rng: random.Random, day: date, n: int) -> list[tuple[datetime, bool]]:
    weekend = day.isoweekday() >= 6
    out = []
    for _ in range(n):
        late = weekend or rng.random() < 0.04
        table = LATE_HOURS if late else OPEN_HOURS
        hour = rng.choices(list(table), list(table.values()))[0]
        if day.isoweekday() == 5 and hour == 16 and not late:
            hour = 15
        local = datetime(day.year, day.month, day.day, hour, tzinfo=TZ) + timedelta(seconds=rng.randrange(3600))
        out.append((local.astimezone(UTC), not late))
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file in a temporary directory")
    parser.add_argument("--schema", default=None, help="PostgreSQL: create, use and drop this schema")
    parser.add_argument("--repeat", type=int, default=3, help="report runs (the best and the median are printed)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the database (SQLite file / PostgreSQL schema)")
    parser.add_argument("--fresh-plans-only", action="store_true",
                        help="time the reports before autovacuum has seen the loaded rows")
    parser.add_argument("--reuse", action="store_true",
                        help="time the reports on the calls a --keep run left (implies --keep)")
    args = parser.parse_args()
    if args.reuse:
        if not args.database_url:
            parser.error("--reuse needs --database-url (and --schema on PostgreSQL) of a --keep run")
        args.keep = True

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='vaxel-bench-')) / 'stats.db'}"
    admin = None
    if args.schema:
        admin = create_engine(url)
        with admin.begin() as conn:
            if not args.reuse:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{args.schema}"'))
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{args.schema}"
    try:
        result = run(url, args)
    finally:
        if admin is not None and not args.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{args.schema}" CASCADE'))
        if url.startswith("sqlite:///") and not args.keep and not args.database_url:
            path = Path(url.removeprefix("sqlite:///"))
            for p in path.parent.glob(path.name + "*"):
                p.unlink()
            path.parent.rmdir()
    print(json.dumps(result, indent=1))


def run(url: str, args) -> dict:
    db.import_models()
    db.upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    dialect = engine.dialect.name
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(CallFact))
    if args.reuse and stored:
        ingested = None
    elif stored:
        raise SystemExit(f"the database already holds {stored} calls: --reuse them, or start from an empty one")
    else:
        ingested = ingest(engine, args)
    with engine.begin() as conn:  # fresh planner statistics, as autovacuum (PostgreSQL) would give
        conn.execute(text("ANALYZE"))

    d = Definitions()
    year = report.Filters(date(args.year, 1, 1), date(args.year, 12, 31))
    with sessions() as session:  # the first report of a bulk-loaded year builds every day's rollup
        t = time.perf_counter()
        built = rollup.ensure_fresh(session, year.start, year.end, d)
        rollup_s = time.perf_counter() - t
    if built and not args.fresh_plans_only:  # what autovacuum does to freshly loaded tables within minutes:
        # planner statistics for the rollups just written, and (PostgreSQL) the visibility map that lets the
        # report's index-only scans skip the heap
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))
    cases = {
        "full_year": year,
        "year_mon_thu_8_12": report.Filters(year.start, year.end, weekdays=(1, 2, 3, 4), hour_from=8, hour_to=12),
        "year_one_department": report.Filters(year.start, year.end, department="forv-3"),  # facts, not rollups
        "one_month": report.Filters(date(args.year, 3, 1), date(args.year, 3, 31)),
    }
    timings: dict[str, list[float]] = {k: [] for k in cases}
    figures = None
    for _ in range(args.repeat):
        for key, f in cases.items():
            with sessions() as session:
                t = time.perf_counter()
                out = report.build(session, f, d)
                timings[key].append(time.perf_counter() - t)
                if key == "full_year":
                    figures = out
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(CallFact))
    engine.dispose()
    return {
        "database": dialect,
        "fact_rows": stored,
        **(ingested or {"reused": True}),
        "rollup_build": {"days": built, "seconds": round(rollup_s, 2)},
        "report_seconds": {k: {"first": round(v[0], 3), "best": round(min(v), 3),
                               "median": round(statistics.median(v), 3)} for k, v in timings.items()},
        "full_year_figures": {
            "calls": figures["calls"]["total"], "offered": figures["calls"]["offered"],
            "answered": figures["calls"]["answered"], "abandoned": figures["calls"]["abandoned"],
            "service_levels": {t["key"]: None if t["value"] is None else round(t["value"], 1)
                               for t in figures["tiles"]},
            "asa_p90": figures["speed"]["asa_p90"],
            "reach_rate": round(figures["transfers"]["reach_rate"] or 0, 1),
        },
    }


def ingest(engine, args) -> dict:
    """Generate, fold and insert the year's calls; returns counts and rates."""
    rng = random.Random(args.seed)
    directory = Directory()
    n_calls = n_events = n_transfers = 0
    days_seen: set[date] = set()
    gen_s = fold_s = insert_s = 0.0
    began = time.perf_counter()
    for day, count in day_plan(args.calls, args.year):
        t0 = time.perf_counter()
        calls = [one_call(rng, f"b{day:%Y%m%d}-{i:05d}", at, open_, directory)
                 for i, (at, open_) in enumerate(moments(rng, day, count))]
        t1 = time.perf_counter()
        events = [e for c in calls for e in c.events]
        folded = []
        for c in calls:
            f = facts.fold([_Ev(e) for e in c.events], TZ)
            facts.attach_units(f, directory.units)
            folded.append(f)
        t2 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(insert(CallEvent), events)
            conn.execute(insert(CallFact), [f.fact for f in folded])
            transfers = [t for f in folded for t in f.transfers]
            if transfers:
                conn.execute(insert(TransferFact), transfers)
            new_days = {f.fact["local_date"] for f in folded} - days_seen
            if new_days:  # what the live path's rollup.bump does: the day has facts its rollup lacks
                conn.execute(insert(RollupDay), [{"local_date": d, "changes": 1} for d in sorted(new_days)])
                days_seen.update(new_days)
        t3 = time.perf_counter()
        gen_s, fold_s, insert_s = gen_s + t1 - t0, fold_s + t2 - t1, insert_s + t3 - t2
        n_calls, n_events, n_transfers = n_calls + len(calls), n_events + len(events), n_transfers + len(transfers)
    ingest_s = time.perf_counter() - began
    return {
        "calls": n_calls,
        "events": n_events,
        "transfers": n_transfers,
        "ingest": {
            "seconds": round(ingest_s, 1),
            "events_per_s": round(n_events / ingest_s),
            "calls_per_s": round(n_calls / ingest_s),
            "insert_seconds": round(insert_s, 1),
            "insert_events_per_s": round(n_events / insert_s),
            "fold_calls_per_s": round(n_calls / fold_s),
            "generate_seconds": round(gen_s, 1),
        },
    }


class _Ev:
    __slots__ = ("call_id", "step", "seq", "type", "at", "channel", "data")

    def __init__(self, e: dict):
        for k in self.__slots__:
            setattr(self, k, e[k])


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
