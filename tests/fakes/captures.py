"""The real Asterisk sessions captured in ``shared/asterisk-wire`` (copied to ``wire/``), read for replay."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

WIRE = Path(__file__).resolve().parent / "wire"  # copies of shared/asterisk-wire, so the suite runs anywhere
_LINE = re.compile(r"^\[\s*[\d.]+\] ([AS]): ?(.*)$")


@dataclass(frozen=True)
class Exchange:
    sent: str  # one line the FastAGI script sent ("S:")
    replies: tuple[str, ...]  # what Asterisk answered ("A:"), HANGUP included


def agi_capture(name: str) -> tuple[list[str], list[Exchange]]:
    """(env block lines without the blank end, exchanges) of ``agi-*.txt``."""
    env: list[str] = []
    exchanges: list[tuple[str, list[str]]] = []
    for raw in (WIRE / name).read_text(encoding="utf-8").splitlines():
        m = _LINE.match(raw)
        if not m:
            continue
        who, text = m.groups()
        if who == "S":
            exchanges.append((text, []))
        elif exchanges:
            exchanges[-1][1].append(text)
        elif text.strip():
            env.append(text)
    return env, [Exchange(s, tuple(r)) for s, r in exchanges]


def agi_env(name: str = "agi-answered-caller.txt", **overrides: str) -> dict[str, str]:
    env_lines, _ = agi_capture(name)
    env = {}
    for line in env_lines:
        key, _, value = line.partition(":")
        env[key.strip()] = value.strip()
    env.update(overrides)
    return env


def ami_messages(name: str = "ami-session.txt") -> list[tuple[bool, dict[str, str]]]:
    """Every AMI message of the capture in order as (sent_by_client, headers); the banner is left out."""
    text = (WIRE / name).read_text(encoding="utf-8")
    messages: list[tuple[bool, dict[str, str]]] = []
    sent = False
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.splitlines() if line.strip()]
        if lines and lines[0].startswith("#>> SENT"):
            sent, lines = True, lines[1:]
        headers = {}
        for line in lines:
            key, sep, value = line.partition(":")
            if sep:
                headers.setdefault(key.strip(), value.strip())
        if headers:
            messages.append((sent, headers))
        sent = False
    return messages
