"""`vaxel serve` as a real process: waitress and the FastAGI server side by side; a call over real TCP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from tests.fakes.fake_asterisk import FakeAsterisk
from tests.test_serve import free_port

VAXEL = str(Path(sys.executable).parent / "vaxel")


def test_serve_runs_fastagi_beside_the_web_views(tmp_path):
    env = {**os.environ, "VAXEL_DATABASE_URL": f"sqlite:///{tmp_path / 'vaxel.db'}",
           "VAXEL_NOW": "2026-11-24T10:00:00+01:00", "VAXEL_ASTERISK_SOUNDS_DIR": str(tmp_path / "sounds"),
           "VAXEL_AMI_HOST": ""}
    for command in (["db", "upgrade"], ["demo", "load", "--if-empty"]):
        subprocess.run([VAXEL, *command], env=env, check=True, capture_output=True, timeout=60)
    web, agi = free_port(), free_port()
    proc = subprocess.Popen([VAXEL, "serve", "--port", str(web), "--agi-port", str(agi)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{web}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        uid = f"1795469729.{uuid.uuid4().int % 1000}"
        fake = FakeAsterisk(agi, ["2", "queue:operator:Anna:4"], env={"agi_uniqueid": uid}).run()
        assert fake.errors == [] and fake.vars["VAXEL_RESULT"] == "done"
        assert fake.queued and fake.queued[0]["queue"] == "vaxel-centre"
        shown = subprocess.run([VAXEL, "calls", "show", f"ast-{uid}"], env=env, capture_output=True, text=True,
                               timeout=60)
        assert "asterisk" in shown.stdout and "queue_left" in shown.stdout and "Anna" in shown.stdout
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"vaxel FastAGI on agi://127.0.0.1:{agi}/incoming" in out
    assert "running without AMI" in out
