"""Log lines (core/logs.py): caller numbers masked in both formats; JSON lines carry the call, channel and step."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from core import logs

VAXEL = str(Path(sys.executable).parent / "vaxel")


@pytest.mark.parametrize("text, masked", [
    ("call from +46701740699 to +46406280400", "call from +46*******99 to +46*******00"),
    ("number 0701740620", "number 070*****20"),
    ("as written 070-174 06 20 or 08-123 456 78", "as written 070-*** ** 20 or 08-*** *** 78"),
    ("2026-01-05 10:00:00,123 extension 4417", "2026-01-05 10:00:00,123 extension 4417"),  # dates, extensions
    ("CA0123456789abcdef0123456789abcdef ast-1700000000.12", "CA0123456789abcdef0123456789abcdef ast-1700000000.12"),
    ("at 2026-11-24T10:00:00.012345+01:00", "at 2026-11-24T10:00:00.012345+01:00"),
])
def test_numbers_are_masked_and_nothing_else(text, masked):
    assert logs.mask(text) == masked


@pytest.fixture
def captured():
    """Log lines into a string; the root logger as it was afterwards (level and handlers)."""
    root, scheduler = logging.getLogger(), logging.getLogger("apscheduler")
    levels = root.level, scheduler.level
    stream = io.StringIO()
    yield stream
    for handler in [h for h in root.handlers if isinstance(h, logs._Handler)]:
        root.removeHandler(handler)
    root.setLevel(levels[0])
    scheduler.setLevel(levels[1])


def test_a_simulated_call_is_followed_through_json_lines(app, captured):
    from ivr.protocol import Digits
    from switchboard.calls import CallRunner

    svc = app.extensions["vaxel"]
    logs.configure({"log": {"format": "json", "level": "INFO"}}, captured)
    runner = CallRunner(svc.sessions, svc.settings, channel="simulator")
    runner.start("log-1", svc.clock.now(), "+46701740633", "+46406280400")
    runner.handle("log-1", Digits("2"), svc.clock.now())
    logging.getLogger("elsewhere").warning("not about a call: +46701740633")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    call_lines = [line for line in lines if line.get("call_id") == "log-1"]
    assert {line["channel"] for line in call_lines} == {"simulator"}
    assert [line["event"] for line in call_lines][:2] == ["call_started", "hours_checked"]
    from stats.events import events_of

    with svc.sessions() as session:  # the log says what `vaxel calls show log-1` says, step by step
        shown = [(e.step, e.type) for e in events_of(session, "log-1")]
    assert [(line["step"], line["event"]) for line in call_lines] == shown
    assert "queue_joined" in [kind for _, kind in shown]
    assert {"ts", "level", "logger", "message"} <= set(call_lines[0])
    assert lines[-1] == {**lines[-1], "message": "not about a call: +46*******33"} and "call_id" not in lines[-1]
    assert "+46701740633" not in captured.getvalue()


def test_text_lines_carry_the_call_too_and_errors_their_traceback(app, captured):
    logs.configure({"log": {"format": "text", "level": "INFO"}}, captured)
    with logs.call_context("t-1", "twilio"):
        logs.set_step(4)
        logging.getLogger("switchboard.twilio.inbound").info("caller +46701740644 pressed 2")
    assert captured.getvalue().rstrip().endswith(
        "switchboard.twilio.inbound: caller +46*******44 pressed 2 [call_id=t-1 channel=twilio step=4]")
    logs.configure({"log": {"format": "json", "level": "WARNING"}}, captured)  # replaces the text handler
    logging.getLogger("x").info("below the level")
    try:
        raise RuntimeError("boom for +46701740644")
    except RuntimeError:
        logging.getLogger("x").exception("failed")
    last = json.loads(captured.getvalue().splitlines()[-1])
    assert last["level"] == "ERROR" and "RuntimeError: boom for +46*******44" in last["exc"]
    assert "below the level" not in captured.getvalue()


def test_an_unknown_log_format_is_a_clear_error(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "VAXEL_DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}", "VAXEL_LOG_FORMAT": "xml"}
    result = subprocess.run([VAXEL, "callbacks", "run", "--dry-run"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "log.format (VAXEL_LOG_FORMAT) must be one of text, json, not 'xml'" in result.stderr


def test_a_line_written_for_every_request_at_a_peak_is_written_once_a_minute_with_a_count(captured):
    """waitress warns "Task queue depth is N" for every request that waits for a thread: at a peak hundreds a
    second. One a minute gets through, saying how many were held back; other loggers are untouched."""
    logs.configure({"log": {"format": "json", "level": "INFO"}}, stream=captured)
    logs.configure({"log": {"format": "json", "level": "INFO"}}, stream=captured)  # configured again: one filter
    queue = logging.getLogger("waitress.queue")
    (summary,) = [f for f in queue.filters if isinstance(f, logs.OncePer)]
    clock = [1000.0]
    summary.clock = lambda: clock[0]
    for depth in range(1, 301):
        queue.warning("Task queue depth is %d", depth)
        logging.getLogger("x").warning("a line of its own %d", depth)
        clock[0] += 0.1  # 300 requests in 30 s
    clock[0] = 1061.0
    queue.warning("Task queue depth is %d", 7)
    lines = [json.loads(line)["message"] for line in captured.getvalue().splitlines()]
    assert [m for m in lines if "queue depth" in m] == [
        "Task queue depth is 1", "Task queue depth is 7 (and 299 more such lines in the 60 s before)"]
    assert len([m for m in lines if m.startswith("a line of its own")]) == 300
