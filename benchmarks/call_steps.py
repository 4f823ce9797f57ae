"""How long one call step takes through the runner (engine + database), the cost every webhook/AGI step pays.

    .venv/bin/python benchmarks/call_steps.py [--calls 300] [--database-url URL]

Runs scripted calls (menu option 2 into the queue and hang-up; option 1 with a
directory lookup, a failed transfer and the return to the queue) on a fresh,
migrated database with the demo municipality, and prints JSON: per-step
latency percentiles in milliseconds and steps per second.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/directory.py would shadow the directory package: keep this folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.protocol import Digits, Hangup, OperatorAnswered, Speech, TransferEnded
from core.db import make_engine, make_sessionmaker
from stats import facts
from switchboard import db, demo
from switchboard.calls import CallRunner
from switchboard.seed import ensure_defaults
from core.settings import CONFIG_DIR, load_settings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file in a temporary directory")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    db.import_models()
    db.upgrade(url)
    settings = load_settings(environ={}, overrides={"database": {"url": url}})
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    facts.install(sessions, settings["service"]["timezone"])
    with sessions() as session:
        ensure_defaults(session, settings)
        demo.load(session, str(CONFIG_DIR / "demo" / "municipality.toml"))
    runner = CallRunner(sessions, settings, channel="benchmark")
    start = datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    scripts = [
        [Digits("2"), OperatorAnswered(), Hangup()],
        [Digits("1"), Speech("torghandel"), TransferEnded("no-answer"), OperatorAnswered(), Hangup()],
        [Digits("7"), Digits("7"), Digits("7"), Hangup()],
    ]
    latencies: list[float] = []
    began = time.perf_counter()
    for i in range(args.calls):
        now = start + timedelta(seconds=20 * i)
        call_id = f"bench-{i}"
        t = time.perf_counter()
        runner.start(call_id, now, caller="+46701740699")
        latencies.append(time.perf_counter() - t)
        for inp in scripts[i % len(scripts)]:
            now += timedelta(seconds=5)
            t = time.perf_counter()
            runner.handle(call_id, inp, now)
            latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - began
    ms = [x * 1000 for x in latencies]
    print(json.dumps({
        "benchmark": "call_steps",
        "database": engine.dialect.name,
        "calls": args.calls,
        "steps": len(ms),
        "step_ms": {"p50": round(percentile(ms, 50), 2), "p95": round(percentile(ms, 95), 2),
                    "p99": round(percentile(ms, 99), 2), "mean": round(statistics.fmean(ms), 2),
                    "max": round(max(ms), 2)},
        "steps_per_second": round(len(ms) / elapsed, 1),
    }))


if __name__ == "__main__":
    main()
