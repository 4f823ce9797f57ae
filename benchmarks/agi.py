"""Asterisk calls over real FastAGI TCP against `vaxel serve`: how long each call step takes, printed as JSON.

    .venv/bin/python benchmarks/agi.py                                       # SQLite, 1 process
    .venv/bin/python benchmarks/agi.py --database postgresql --workers 1 2 --calls 1 50

Each caller is the fake Asterisk of the tests (``tests/fakes/fake_asterisk.py``,
replaying the protocol of the captures in ``../shared/asterisk-wire/``) on its
own TCP connection: it presses 2 at the menu and waits in app_queue until an
operator answers (``--hold`` seconds), or hangs up there. A step's time is the
server's: from the moment Asterisk's answer to one AGI command is sent to the
moment the next command arrives. ``menu_choice`` is the step after the digit
(the engine's whole menu step: hours, queue place, position message);
``all_steps`` every command of the call. Calls are started in waves of
``--calls`` at once, for ``--seconds``. The service is started as in
``benchmarks/webhooks.py`` (fresh database with the demo municipality).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # benchmarks/directory.py shadows a package
sys.path.insert(0, str(ROOT))

from tests.fakes.fake_asterisk import FakeAsterisk  # noqa: E402


def _webhooks():
    spec = importlib.util.spec_from_file_location("webhooks_benchmark", HERE / "webhooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


served = _webhooks()  # the service and the figures: one implementation for both benchmarks


class TimedAsterisk(FakeAsterisk):
    """The fake Asterisk, noting how long the server took before each command."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps: list[tuple[str, float]] = []  # (the command answered before, seconds until this one)
        self._answered: tuple[str, float] | None = None

    def replies(self, line: str) -> list[str]:
        arrived = time.perf_counter()
        if self._answered is not None:
            self.steps.append((self._answered[0], arrived - self._answered[1]))
        out = super().replies(line)
        digit = line.upper().startswith(("GET DATA", "WAIT FOR DIGIT")) and out and out[-1].startswith("200 result=")
        self._answered = ("menu_choice" if digit and self.played_digit(out[-1]) else line.split(" ")[0],
                          time.perf_counter())
        return out

    @staticmethod
    def played_digit(reply: str) -> bool:
        value = reply.removeprefix("200 result=").split(" ")[0]
        return value in ("2", str(ord("2")))


def wave(port: int, calls: int, hold: float, seed: int, n0: int) -> list[TimedAsterisk]:
    rng = random.Random(seed)
    fakes = []
    for n in range(calls):
        stays = rng.random() < 0.8
        script = ["2", f"queue:hold:{hold}"] if stays else ["2", "hangup@queue"]
        fakes.append(TimedAsterisk(port, script, env={"agi_uniqueid": f"1795469{n0 + n:06d}.{n0 + n}",
                                                      "agi_callerid": f"0701740{(n0 + n) % 1000:03d}"}))
    threads = [threading.Thread(target=f.run, kwargs={"timeout": 120}, daemon=True) for f in fakes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return fakes


def measure(port: int, calls: int, seconds: float, hold: float) -> dict:
    wave(port, calls, hold, seed=-1, n0=900_000 + calls * 1000)  # warm up: the prompts with positions in them
    fakes: list[TimedAsterisk] = []                               # are synthesised once, then reused
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        fakes += wave(port, calls, hold, seed=len(fakes), n0=len(fakes) + calls * 1000)
    elapsed = time.monotonic() - started
    menu = [s for f in fakes for kind, s in f.steps if kind == "menu_choice"]
    every = [s for f in fakes for _, s in f.steps]
    errors = [e for f in fakes for e in f.errors]
    ms = lambda values, p: round(served.pct(values, p) * 1000, 2)  # noqa: E731
    return {"calls_at_once": calls, "calls": len(fakes), "steps_per_s": round(len(every) / elapsed, 1),
            "menu_choice": {"n": len(menu), "p50_ms": ms(menu, 50), "p95_ms": ms(menu, 95), "p99_ms": ms(menu, 99)},
            "all_steps": {"n": len(every), "p50_ms": ms(every, 50), "p95_ms": ms(every, 95)},
            "errors": len(errors) + sum(1 for f in fakes if not f.steps), "error_examples": errors[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1])
    parser.add_argument("--calls", nargs="+", type=int, default=[1, 50])
    parser.add_argument("--seconds", type=float, default=15.0, help="per number of calls at once")
    parser.add_argument("--hold", type=float, default=0.2, help="seconds a caller waits in app_queue")
    args = parser.parse_args()
    out = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()}, "runs": []}
    workdir = Path(tempfile.mkdtemp(prefix="vaxel-agi-"))
    try:
        for database in args.database:
            for workers in args.workers:
                with served.Vaxel(database, workers, workdir) as vaxel:
                    for calls in args.calls:
                        served.say(f"agi: {database}, {workers} process(es), {calls} calls at once")
                        out["runs"].append({"database": database, "workers": workers,
                                            **measure(vaxel.agi_port, calls, args.seconds, args.hold)})
                    out["runs"][-1]["after"] = vaxel.check()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out["machine"]["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
