"""A call flow as data: nodes, prompts in every language, queue settings; and its validation.

A flow document is plain JSON-able data (seeded from ``config/flows/*.toml``,
stored per version in the database). :func:`validate` lists every problem
so a bad flow is never published and the engine never meets a dead end.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# node type -> (keys naming other nodes, required other keys, prompts it always uses)
NODE_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "hours": (("open", "closed"), ("schedule",), ("crisis",)),
    "say": (("next",), ("prompt",), ()),
    "menu": (("fallback",), ("prompt", "options"), ("invalid", "no_input", "to_centre")),
    "language": (("next",), ("language",), ()),
    "directory": (("transfer", "no_match"), ("prompt",), ("no_input", "invalid", "no_match", "to_centre",
                                                         "directory_choice", "directory_choice_item",
                                                         "target_unavailable", "target_closed_hours",
                                                         "unavailable_offer")),
    "transfer": (("on_failure",), (), ("connecting", "transfer_no_answer", "transfer_busy", "transfer_failed")),
    "queue": ((), ("queue",), ("queue_position", "callback_offer", "back_in_queue", "to_queue",
                                "returned_to_operator")),
    "closed": (("next",), (), ("closed", "closed_holiday", "closure", "closed_callback_offer")),
    "hangup": ((), ("prompt",), ()),
}
CALLBACK_PROMPTS = ("callback_confirm_number", "callback_enter_number", "callback_refused", "callback_error",
                    "callback_confirmed_queue", "callback_confirmed_next_open", "refusal_hidden",
                    "refusal_invalid", "refusal_not_allowed", "refusal_international", "refusal_limit")
QUEUE_DEFAULTS = {"name": "centre", "announce_every": 60, "callback": True, "callback_after": 120, "offer_timeout": 5}
HUMAN = {"queue", "transfer"}  # nodes where a person takes over
ENDS = HUMAN | {"hangup"}


class FlowError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def load_file(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def validate(doc: dict[str, Any]) -> list[str]:
    """Every problem with a flow document, in words an administrator understands; [] if it is sound."""
    problems: list[str] = []
    nodes = doc.get("nodes")
    prompts = doc.get("prompts", {})
    languages = doc.get("languages") or []
    if not isinstance(nodes, dict) or not nodes:
        return ["the flow has no nodes"]
    if not languages:
        problems.append("the flow names no languages")
    if doc.get("start") not in nodes:
        problems.append(f"start node {doc.get('start')!r} does not exist")
    needed_prompts: set[str] = set()
    for name, node in nodes.items():
        kind = node.get("type")
        if kind not in NODE_TYPES:
            problems.append(f"node {name!r}: unknown type {kind!r}")
            continue
        targets, required, uses = NODE_TYPES[kind]
        for key in targets + required:
            if key not in node:
                problems.append(f"node {name!r} ({kind}) needs {key!r}")
        for key in targets:
            if key in node and node[key] not in nodes:
                problems.append(f"node {name!r}: {key} leads to {node[key]!r}, which does not exist")
        needed_prompts.update(uses)
        if "prompt" in node:
            needed_prompts.add(node["prompt"])
        if kind == "menu":
            options = node.get("options") or {}
            if not options:
                problems.append(f"menu {name!r} has no options")
            for key, option in options.items():
                if key not in "0123456789*#" or len(key) != 1:
                    problems.append(f"menu {name!r}: option {key!r} is not a single key")
                if option.get("next") not in nodes:
                    problems.append(f"menu {name!r}: key {key} leads to {option.get('next')!r}, which does not exist")
                if not option.get("label"):
                    problems.append(f"menu {name!r}: key {key} has no label")
        if kind == "language" and node.get("language") not in languages:
            problems.append(f"node {name!r}: language {node.get('language')!r} is not one of the flow's languages")
        if kind in {"queue", "closed", "directory"} and doc.get("queue", {}).get("callback", True):
            needed_prompts.update(CALLBACK_PROMPTS)
    for prompt in sorted(needed_prompts):
        for lang in languages:
            if not (prompts.get(prompt) or {}).get(lang, "").strip() and prompt != "crisis":
                problems.append(f"prompt {prompt!r} has no {lang} text")
    for number, options in (doc.get("numbers") or {}).items():
        if not number.startswith("+") or not number[1:].isdigit():
            problems.append(f"incoming number {number!r} is not in E.164 form like +46406280400")
        if (options or {}).get("lang", languages[0] if languages else None) not in languages:
            problems.append(f"incoming number {number}: language {options.get('lang')!r} is not one of the flow's")
    if not problems:
        problems.extend(_dead_ends(doc))
    return problems


def _dead_ends(doc: dict[str, Any]) -> list[str]:
    """Paths that loop forever without reaching a person or a goodbye, and nodes no call can reach."""
    nodes = doc["nodes"]

    def successors(node: dict[str, Any]) -> list[str]:
        targets = [node[k] for k in NODE_TYPES[node["type"]][0] if k in node]
        return targets + [o["next"] for o in (node.get("options") or {}).values()]

    problems = []
    reachable, todo = set(), [doc["start"]]
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo.extend(successors(nodes[name]))
    for name in sorted(set(nodes) - reachable):
        problems.append(f"node {name!r} cannot be reached from the start")
    # a node "ends well" if every path from it meets a person or a goodbye
    good = {n for n, node in nodes.items() if node["type"] in ENDS}
    changed = True
    while changed:
        changed = False
        for name, node in nodes.items():
            nexts = successors(node)
            # a menu can always fall back; the others need every successor to end well
            if name not in good and nexts and (
                all(n in good for n in nexts) or (node["type"] == "menu" and node["fallback"] in good)
            ):
                good.add(name)
                changed = True
    for name in sorted(reachable - good):
        problems.append(f"node {name!r} can lead to a dead end: no path from it reaches a person or a goodbye")
    return problems


@dataclass(frozen=True)
class Flow:
    """A validated flow document, ready for the engine."""

    doc: dict[str, Any]
    version: int = 0

    @classmethod
    def from_document(cls, doc: dict[str, Any], version: int = 0) -> "Flow":
        problems = validate(doc)
        if problems:
            raise FlowError(problems)
        return cls(doc, version)

    @property
    def start(self) -> str:
        return self.doc["start"]

    @property
    def languages(self) -> list[str]:
        return self.doc["languages"]

    @property
    def queue(self) -> dict[str, Any]:
        return {**QUEUE_DEFAULTS, **self.doc.get("queue", {})}

    def language_for(self, called: str | None) -> str:
        """The language of the number dialled (``[numbers]``), else the flow's first language."""
        lang = (self.doc.get("numbers", {}).get(called or "") or {}).get("lang")
        return lang if lang in self.languages else self.languages[0]

    def queue_node(self) -> str:
        """The centre queue's node: where an operator's failed transfer or "to the queue" leads."""
        return next(name for name, node in self.doc["nodes"].items() if node["type"] == "queue")

    def node(self, name: str) -> dict[str, Any]:
        return self.doc["nodes"][name]

    def text(self, prompt: str, lang: str, **values: Any) -> str:
        texts = self.doc["prompts"].get(prompt, {})
        template = texts.get(lang) or texts.get(self.languages[0], "")
        return template.format_map(_Blank(values)).strip()

    def hints(self) -> list[str]:
        return list(self.doc.get("hints", []))


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""
