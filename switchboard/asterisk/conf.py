"""Reading Asterisk configuration files — our samples in ``config/asterisk`` — with pyst2's parser.

Used by the tests (and by anyone checking an installed copy) to see the
contexts, dialplan lines and queue options vaxel relies on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from asterisk.config import Config


@dataclass(frozen=True)
class Priority:
    exten: str
    priority: str  # "1", "n", "n(end)"
    app: str  # "AGI(agi://127.0.0.1:4573/incoming,${VAXEL_CALLED})"


_TEMPLATED = re.compile(r"^\s*\[([^\]]+)\]\(([^)]*)\)")


class _Config(Config):
    """pyst2's parser, taught Asterisk's templates: ``[name](!)`` is a template, ``[name](a)`` starts with a's
    items (pyst2 alone refuses both lines)."""

    def load(self) -> None:
        self.parents: dict[str, list[str]] = {}
        with open(self.filename) as fh:
            self.raw_lines = []
            for line in fh:
                templated = _TEMPLATED.match(line)
                if templated:
                    name = templated.group(1)
                    self.parents[name] = [p.strip() for p in templated.group(2).split(",") if p.strip()]
                    line = f"[{name}]\n"
                self.raw_lines.append(line)


def sections(path: str | os.PathLike[str]) -> dict[str, list[tuple[str, str]]]:
    """``[section]`` -> its ``name = value`` items in order (``=>`` read like ``=``), a template's items first
    for a section built on one; templates themselves are left out."""
    config = _Config(str(path))
    own = {cat.name: [(item.name.strip(), item.value.strip()) for item in cat.items] for cat in config.categories}

    def items(name: str) -> list[tuple[str, str]]:
        inherited = [item for parent in config.parents.get(name, []) if parent != "!" for item in items(parent)]
        return inherited + own[name]

    return {name: items(name) for name in own if "!" not in config.parents.get(name, [])}


def dialplan(path: str | os.PathLike[str]) -> dict[str, list[Priority]]:
    """Context -> its priorities, ``same =>`` lines attributed to the extension above them."""
    plan: dict[str, list[Priority]] = {}
    for context, items in sections(path).items():
        lines, exten = [], None
        for name, value in items:
            if name == "exten":
                exten, priority, app = (part.strip() for part in value.split(",", 2))
            elif name == "same" and exten is not None:
                priority, app = (part.strip() for part in value.split(",", 1))
            else:
                continue
            lines.append(Priority(exten, priority, app))
        plan[context] = lines
    return plan
