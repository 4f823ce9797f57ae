"""Reading Asterisk configuration files — our samples in ``config/asterisk`` — with pyst2's parser.

Used by the tests (and by anyone checking an installed copy) to see the
contexts, dialplan lines and queue options vaxel relies on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from asterisk.config import Config


@dataclass(frozen=True)
class Priority:
    exten: str
    priority: str  # "1", "n", "n(end)"
    app: str  # "AGI(agi://127.0.0.1:4573/incoming,${VAXEL_CALLED})"


def sections(path: str | os.PathLike[str]) -> dict[str, list[tuple[str, str]]]:
    """``[section]`` -> its ``name = value`` items in order (``=>`` read like ``=``)."""
    return {cat.name: [(item.name.strip(), item.value.strip()) for item in cat.items]
            for cat in Config(str(path)).categories}


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
