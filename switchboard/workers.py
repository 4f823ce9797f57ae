"""``vaxel serve --workers N``: N serving processes on one port, one of them doing the once-only work.

One Python process answers on about one core (the interpreter's lock). With
several, each worker is a ``vaxel serve`` of its own that binds the web and
FastAGI ports with ``SO_REUSEPORT``, so the kernel spreads new connections
over them: a webhook or an Asterisk call may reach any worker, which is
correct because a call's state lives in the database and each step locks the
call's row. What is kept in memory (the flow in force, phone hours, the
directory) is checked against ``core.versions`` on every step, and the console
streams read the database on every tick, so every worker sees a change at
once. Work that must happen once — the reconciler and the PBX event watcher
(presence, queue members) — runs in worker 0 only; each worker has its own AMI
connection for the console's actions. The callback dispatcher is a process of
its own already (``vaxel callbacks run``) and claims its work in the database.

This parent only starts the workers, restarts one that dies, and stops them
all on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Callable

log = logging.getLogger(__name__)

RESTART_PAUSE = 1.0  # seconds before a worker that died is started again


def listen(host: str, port: int) -> socket.socket:
    """The web port, bound by each worker with ``SO_REUSEPORT``: the kernel spreads connections over them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def command(index: int, host: str, port: int, agi_host: str | None, agi_port: int | None) -> list[str]:
    """The command line of worker ``index``."""
    args = [sys.executable, "-c", "from switchboard.main import main; main()", "serve", "--host", host, "--port", str(port),
            "--worker-index", str(index)]
    if agi_host:
        args += ["--agi-host", agi_host]
    if agi_port is not None:
        args += ["--agi-port", str(agi_port)]
    return args


def supervise(workers: int, host: str, port: int, agi_host: str | None, agi_port: int | None,
              say: Callable[[str], None]) -> int:
    """Run ``workers`` worker processes until told to stop; returns the exit status."""
    if port == 0:
        raise ValueError("several workers need a fixed port (--port), not 0")
    procs: dict[int, subprocess.Popen] = {}
    stopping = False

    def start(index: int) -> None:
        procs[index] = subprocess.Popen(command(index, host, port, agi_host, agi_port), env=os.environ.copy())
        say(f"worker {index} started (pid {procs[index].pid})")

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(workers):
            start(index)
        while not stopping:
            time.sleep(0.2)
            for index, proc in list(procs.items()):
                if proc.poll() is not None and not stopping:
                    say(f"worker {index} exited with {proc.returncode}; starting it again")
                    time.sleep(RESTART_PAUSE)
                    start(index)
        deadline = time.monotonic() + 20
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
