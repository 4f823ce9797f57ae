"""A call flow as data: nodes, prompts in every language, queue settings; and its validation.

A flow document is plain JSON-able data (seeded from ``config/flows/*.toml``,
stored per version in the database). :func:`validate` lists every problem
so a bad flow is never published and the engine never meets a dead end.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.text import N_

# node type -> (keys naming other nodes, required other keys, prompts it always uses)
NODE_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "hours": (("open", "closed"), ("schedule",), ("crisis",)),
    "say": (("next",), ("prompt",), ()),
    "menu": (("fallback",), ("prompt", "options"), ("invalid", "no_input", "to_centre")),
    "language": (("next",), ("language",), ()),
    "directory": (("transfer", "no_match"), ("prompt",), ("no_input", "invalid", "no_match", "to_centre",
                                                         "directory_choice", "directory_choice_item",
                                                         "directory_confirm",
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
# a queue's id names it to the platforms (Twilio's queue, Asterisk's ``vaxel-<id>``): lower-case letters, digits, -
QUEUE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,29}\Z")
DEFAULT_QUEUE_NAMES = {"centre": "Kundcenter"}  # a flow without ``[queues]`` has the centre only
# prompt id -> the placeholders the engine fills in when it says that prompt (ivr/engine.py: ``say``/``text``);
# every other prompt (greeting, menu, goodbye, refusal_* ...) is said as it stands, without placeholders
PROMPT_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "crisis": ("message",),
    "closure": ("message", "next_open"),
    "closed_holiday": ("holiday", "next_open"),
    "closed": ("hours", "next_open"),
    "closed_eve": ("holiday", "hours", "next_open"),
    "closed_special": ("hours", "next_open"),
    "target_closure": ("name", "unit", "message", "next_open"),
    "target_closed_holiday": ("name", "unit", "holiday", "next_open"),
    "target_closed_eve": ("name", "unit", "holiday", "hours", "next_open"),
    "target_closed_special": ("name", "unit", "hours", "next_open"),
    "connecting": ("name", "unit"),
    "directory_choice": ("choices",),
    "directory_choice_item": ("key", "name", "unit"),
    "directory_confirm": ("name", "unit"),
    "target_unavailable": ("name",),
    "target_closed_hours": ("name", "unit", "next_open", "hours"),
    "transfer_no_answer": ("name",),
    "transfer_whisper": ("name",),
    "no_answer_colleague": ("name", "colleague"),
    "ring_mobile": ("name",),
    "target_away": ("name", "back"),
    "no_answer_function": ("name", "unit"),
    "no_answer_voicemail": ("name", "unit"),
    "colleague_offer": ("name", "unit", "colleague"),
    "transfer_whisper_subject": ("subject",),
    "transfer_busy": ("name",),
    "transfer_failed": ("name",),
    "returned_to_operator": ("name",),
    "queue_position": ("position", "wait"),
    "callback_confirm_number": ("number",),
    "callback_refused": ("reason",),
    "callback_confirmed_queue": ("number",),
    "callback_confirmed_next_open": ("number", "when"),
    "callback_confirmed_unit": ("number", "unit", "when"),
    "callback_confirmed_for": ("number", "unit", "when"),
    "callback_confirmed_queue_late": ("number", "when"),
}
# Prompts added after flows were already published: a stored flow without them uses these texts, so an older
# flow never goes silent where the engine learned to say more (an administrator may override them in the flow).
BUILTIN_PROMPTS: dict[str, dict[str, str]] = {
    # why the line (or the person asked for) is closed: each reason its own words (issue 16)
    "closed_eve": {"sv": "I dag är det dag före {holiday} och kommunens växel har kortare telefontid, {hours}. "
                         "Vi öppnar igen {next_open}.",
                   "en": "Today is the eve of {holiday} and the municipal switchboard has shorter hours, {hours}. "
                         "We open again {next_open}."},
    "closed_special": {"sv": "I dag har kommunens växel ändrade telefontider: {hours}. Vi öppnar igen {next_open}.",
                       "en": "Today the municipal switchboard has changed phone hours: {hours}. "
                             "We open again {next_open}."},
    "target_closure": {"sv": "{unit}: {message} Nästa telefontid börjar {next_open}.",
                       "en": "{unit}: {message} The next phone time starts {next_open}."},
    "target_closed_holiday": {"sv": "{unit} har stängt i dag, {holiday}. Nästa telefontid börjar {next_open}.",
                              "en": "{unit} is closed today, {holiday}. The next phone time starts {next_open}."},
    "target_closed_eve": {"sv": "I dag, dag före {holiday}, har {unit} kortare telefontid, {hours}. "
                                "Nästa telefontid börjar {next_open}.",
                          "en": "Today, the eve of {holiday}, {unit} has shorter hours, {hours}. "
                                "The next phone time starts {next_open}."},
    "target_closed_special": {"sv": "I dag har {unit} ändrade telefontider: {hours}. Nästa telefontid börjar "
                                    "{next_open}.",
                              "en": "Today {unit} has changed phone hours: {hours}. The next phone time starts "
                                    "{next_open}."},
    # someone absent or outside their working time, with the time they are back
    "target_away": {"sv": "{name} arbetar inte just nu och är tillbaka {back}.",
                    "en": "{name} is not working right now and is back {back}."},
    # someone away, a colleague in the same unit free now: 1 rings the colleague, 2 books a callback
    "colleague_offer": {"sv": "Tryck 1 för att bli kopplad till en kollega på {unit}. Tryck 2 för att bli uppringd "
                              "av {name}. Annars kopplas du till kundcenter.",
                        "en": "Press 1 to be connected to a colleague at {unit}. Press 2 for a callback from {name}. "
                              "Otherwise you will be connected to the citizen centre."},
    # sequential ringing: the desk did not answer, the mobile is rung next
    "ring_mobile": {"sv": "{name} svarar inte på sin telefon. Vi ringer mobilen.",
                    "en": "{name} is not answering the desk phone. We are calling the mobile."},
    # a unit's no-answer policy, told to the caller before the next ring
    "no_answer_colleague": {"sv": "{name} svarar inte just nu. Vi kopplar dig till en kollega, {colleague}.",
                            "en": "{name} is not answering right now. We are connecting you to a colleague, "
                                  "{colleague}."},
    "no_answer_function": {"sv": "{name} svarar inte just nu. Vi kopplar dig i stället till {unit}.",
                           "en": "{name} is not answering right now. We are connecting you to {unit} instead."},
    "no_answer_voicemail": {"sv": "{name} svarar inte just nu. Du kopplas till röstbrevlådan för {unit}, där du "
                                  "kan lämna ett meddelande.",
                            "en": "{name} is not answering right now. You are going to the voicemail of {unit}, "
                                  "where you can leave a message."},
    # said to staff who answer a transfer (Swedish only); nobody pressing 1 (a voicemail) = not answered
    "transfer_whisper": {"sv": "Samtal från växeln till {name}. Tryck 1 för att ta samtalet."},
    "transfer_whisper_subject": {"sv": "Samtal från växeln, en medborgare söker dig om {subject}. "
                                       "Tryck 1 för att ta samtalet."},
    "callback_confirmed_queue_late": {
        "sv": "Tack. Vi ringer dig på {number} när det är din tur. Hinner vi inte före stängning ringer vi {when}.",
        "en": "Thank you. We will call you on {number} when it is your turn; if we close first, we call {when}."},
    "callback_confirmed_unit": {"sv": "Tack. {unit} ringer dig på {number} {when}.",
                                "en": "Thank you. {unit} will call you on {number} {when}."},
    "callback_confirmed_for": {"sv": "Tack. Vi ringer dig på {number} {when}, när {unit} har telefontid.",
                               "en": "Thank you. We will call you on {number} {when}, during {unit}'s phone hours."},
}
HUMAN = {"queue", "transfer"}  # nodes where a person takes over
ENDS = HUMAN | {"hangup"}


class FlowError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def load_file(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


# A prompt text's only markup: ``{name}`` is filled in, ``{{`` and ``}}`` are a literal brace. Nothing else of
# Python's format language (``{x:>9}``, ``{x!r}``, ``{x.attr}``, ``{x[0]}``) is ever interpreted.
_TOKEN = re.compile(r"\{\{|\}\}|\{[^{}]*\}|[{}]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TEXT_KEYS = ("type", "prompt", "keys_prompt", "language", "schedule", "queue", "open", "closed", "next", "fallback", "transfer",
              "no_match", "on_failure")  # node keys that must be texts (names of nodes, prompts, schedules, ...)
MAX_TEXT_PROBLEMS = 5  # per text: a pasted novel of braces gives a readable list, not thousands of lines


def render(template: str, values: dict[str, Any]) -> str:
    """``template`` with every ``{name}`` replaced by ``str(values[name])`` (a name without a value: nothing).

    Safe whatever is stored: no format specifications, conversions, attribute or index access are
    interpreted — anything that is not a plain ``{name}`` is left as written — so a text can neither raise
    nor allocate more than its own length plus the values.
    """

    def one(match: re.Match) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = token[1:-1]
        if len(token) > 1 and _NAME.match(name):
            return str(values[name]) if name in values else ""
        return token

    return _TOKEN.sub(one, template)


def placeholders(text: str) -> set[str]:
    """The well-formed ``{name}`` placeholders of a text."""
    return {t[1:-1] for t in _TOKEN.findall(text) if len(t) > 2 and _NAME.match(t[1:-1])}


def placeholder_problems(prompt: str, lang: str, text: str) -> list[str]:
    """What is wrong with the placeholders of one prompt text (unknown names, format syntax, lone braces)."""
    allowed = PROMPT_PLACEHOLDERS.get(prompt, ())
    may = (N_("den får använda %(names)s", names=", ".join("{" + n + "}" for n in allowed)) if allowed
           else N_("den tar inga platshållare"))
    where = N_("Texten ”%(prompt)s” (%(lang)s)", prompt=prompt.replace("_", " "), lang=lang)
    problems: list[str] = []
    for token in _TOKEN.findall(text):
        if token in ("{{", "}}"):
            continue
        inner = token[1:-1]
        if token in ("{", "}"):
            problem = N_("%(where)s: ett ensamt %(token)s — skriv {namn} för en platshållare, eller %(twice)s för "
                         "själva klammern", where=where, token=token, twice=token * 2)
        elif _NAME.match(inner):
            if inner in allowed:
                continue
            problem = N_("%(where)s: okänd platshållare %(token)s; %(may)s", where=where, token=token, may=may)
        elif not inner.strip() or inner.strip().isdigit():
            problem = N_("%(where)s: %(token)s har inget namn; %(may)s", where=where, token=token, may=may)
        else:
            problem = N_("%(where)s: %(token)s är inte tillåtet — skriv en enkel platshållare som {namn}, utan "
                         "format (:), konvertering (!), attribut (.) eller index ([])", where=where, token=token[:40])
        if problem not in problems:
            problems.append(problem)
    if len(problems) > MAX_TEXT_PROBLEMS:
        problems[MAX_TEXT_PROBLEMS:] = [N_("%(where)s: %(n)s fler fel med platshållare", where=where,
                                           n=len(problems) - MAX_TEXT_PROBLEMS)]
    return problems


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def malformed(doc: Any) -> list[str]:
    """Why ``doc`` is not a flow document at all (wrong JSON types), so nothing can read it; [] if well-formed.

    A well-formed document may still have problems (:func:`validate`); a malformed one cannot even be shown
    in the editor's fields, so it is never saved.
    """
    if not isinstance(doc, dict):
        return [N_("Flödet ska vara ett JSON-objekt med nodes, prompts och languages.")]
    problems: list[str] = []
    nodes = doc.get("nodes")
    if nodes is not None and not isinstance(nodes, dict):
        problems.append(N_("nodes ska vara ett objekt med namngivna steg."))
    for name, node in (nodes or {}).items() if isinstance(nodes, dict) else ():
        if not isinstance(node, dict):
            problems.append(N_("Steget ”%(node)s” ska vara ett objekt med en type.", node=name))
            continue
        for key in _TEXT_KEYS:
            if key in node and not isinstance(node[key], str):
                problems.append(N_("Steget ”%(node)s”: %(key)s ska vara en text.", node=name, key=key))
        for key in ("timeout", "retries", "ring_timeout"):
            if key in node and not _whole_number(node[key]):
                problems.append(N_("Steget ”%(node)s”: %(key)s ska vara ett heltal.", node=name, key=key))
        if "callback" in node and not isinstance(node["callback"], bool):
            problems.append(N_("Steget ”%(node)s”: callback ska vara true eller false.", node=name))
        options = node.get("options")
        if options is not None and not isinstance(options, dict):
            problems.append(N_("Steget ”%(node)s”: options ska vara ett objekt från knapp till val.", node=name))
        for key, option in options.items() if isinstance(options, dict) else ():
            if not isinstance(option, dict):
                problems.append(N_("Steget ”%(node)s”: knapp %(key)s ska vara ett objekt med label och next.",
                                   node=name, key=key))
            elif any(k in option and not isinstance(option[k], str) for k in ("label", "next")):
                problems.append(N_("Steget ”%(node)s”: knapp %(key)s: label och next ska vara texter.", node=name,
                                   key=key))
    prompts = doc.get("prompts")
    if "prompts" in doc and not isinstance(prompts, dict):
        problems.append(N_("prompts ska vara ett objekt från text till språk."))
    for prompt, texts in prompts.items() if isinstance(prompts, dict) else ():
        if not isinstance(texts, dict) or not all(isinstance(t, str) for t in texts.values()):
            problems.append(N_("Texten ”%(prompt)s” ska vara ett objekt från språk till text.",
                               prompt=prompt.replace("_", " ")))
    languages = doc.get("languages")
    if languages is not None and (not isinstance(languages, list) or not all(isinstance(x, str) for x in languages)):
        problems.append(N_("languages ska vara en lista med språkkoder."))
    if "start" in doc and not isinstance(doc["start"], str):
        problems.append(N_("start ska vara namnet på ett steg."))
    queue = doc.get("queue")
    if "queue" in doc and not isinstance(queue, dict):
        problems.append(N_("queue ska vara ett objekt."))
    elif queue:
        for key in ("announce_every", "callback_after", "offer_timeout"):
            if key in queue and not _whole_number(queue[key]):
                problems.append(N_("Kön: %(key)s ska vara ett heltal.", key=key))
        if "callback" in queue and not isinstance(queue["callback"], bool):
            problems.append(N_("Kön: callback ska vara true eller false."))
        if "name" in queue and not isinstance(queue["name"], str):
            problems.append(N_("Kön: name ska vara en text."))
    queues = doc.get("queues")
    if "queues" in doc and (not isinstance(queues, dict) or not all(isinstance(q, dict) for q in queues.values())):
        problems.append(N_("queues ska vara ett objekt från köns id till dess inställningar (name)."))
    elif queues and not all(isinstance(q.get("name", ""), str) for q in queues.values()):
        problems.append(N_("queues: name ska vara en text."))
    for name, node in (nodes or {}).items() if isinstance(nodes, dict) else ():
        by_lang = node.get("queue_for_language") if isinstance(node, dict) else None
        if by_lang is not None and (not isinstance(by_lang, dict)
                                    or not all(isinstance(v, str) for v in by_lang.values())):
            problems.append(N_("Steget ”%(node)s”: queue_for_language ska vara ett objekt från språk till köns id.",
                               node=name))
    numbers = doc.get("numbers")
    if "numbers" in doc and (not isinstance(numbers, dict)
                             or not all(isinstance(o, dict) for o in numbers.values())):
        problems.append(N_("numbers ska vara ett objekt från nummer till inställningar."))
    elif numbers and not all(isinstance(o.get("lang", ""), str) and isinstance(o.get("start", ""), str)
                             for o in numbers.values()):
        problems.append(N_("numbers: lang ska vara en språkkod och start namnet på ett steg."))
    hints = doc.get("hints")
    if "hints" in doc and (not isinstance(hints, list) or not all(isinstance(h, str) for h in hints)):
        problems.append(N_("hints ska vara en lista med ord."))
    return problems


def validate(doc: dict[str, Any]) -> list[str]:
    """Every problem with a flow document, in words an administrator understands; [] if it is sound."""
    shape = malformed(doc)
    if shape:
        return shape
    problems: list[str] = []
    nodes = doc.get("nodes")
    prompts = doc.get("prompts", {})
    languages = doc.get("languages") or []
    if not isinstance(nodes, dict) or not nodes:
        return [N_("Flödet har inga steg.")]
    if not languages:
        problems.append(N_("Flödet anger inga språk."))
    if doc.get("start") not in nodes:
        problems.append(N_("Flödet börjar i ”%(node)s”, som inte finns.", node=str(doc.get("start"))))
    needed_prompts: set[str] = set()
    for name, node in nodes.items():
        kind = node.get("type")
        if kind not in NODE_TYPES:
            problems.append(N_("Steget ”%(node)s”: okänd typ %(kind)s.", node=name, kind=str(kind)))
            continue
        targets, required, uses = NODE_TYPES[kind]
        for key in targets + required:
            if key not in node:
                problems.append(N_("Steget ”%(node)s” (%(kind)s) behöver %(key)s.", node=name, kind=kind, key=key))
        for key in targets:
            if key in node and node[key] not in nodes:
                problems.append(N_("Steget ”%(node)s”: %(key)s går till ”%(target)s”, som inte finns.", node=name,
                                   key=key, target=str(node[key])))
        needed_prompts.update(uses)
        if "prompt" in node:
            needed_prompts.add(node["prompt"])
        if kind == "directory":  # said instead of the prompt where the platform cannot hear speech
            needed_prompts.add(node.get("keys_prompt", "ask_person_keys"))
        if kind == "menu":
            options = node.get("options") or {}
            if not options:
                problems.append(N_("Menyn ”%(node)s” har inga val.", node=name))
            for key, option in options.items():
                if key not in "0123456789*#" or len(key) != 1:
                    problems.append(N_("Menyn ”%(node)s”: valet %(key)s är inte en enda knapp.", node=name, key=key))
                if option.get("next") not in nodes:
                    problems.append(N_("Menyn ”%(node)s”: knapp %(key)s går till ”%(target)s”, som inte finns.",
                                       node=name, key=key, target=str(option.get("next") or "")))
                if not option.get("label"):
                    problems.append(N_("Menyn ”%(node)s”: knapp %(key)s har inget namn.", node=name, key=key))
        if kind == "queue":
            known = queue_names(doc)
            for lang, queue in [("", node.get("queue")), *sorted((node.get("queue_for_language") or {}).items())]:
                if queue is not None and queue not in known:
                    where = f" ({lang})" if lang else ""
                    problems.append(N_("Steget ”%(node)s”: kön %(queue)s%(where)s är inte en av flödets köer "
                                       "(%(known)s); lägg till den under [queues].", node=name, queue=str(queue),
                                       where=where, known=", ".join(sorted(known))))
                if lang and lang not in languages:
                    problems.append(N_("Steget ”%(node)s”: queue_for_language nämner %(lang)s, som inte är ett av "
                                       "flödets språk.", node=name, lang=lang))
        if kind == "language" and node.get("language") not in languages:
            problems.append(N_("Steget ”%(node)s”: språket %(lang)s är inte ett av flödets språk.", node=name,
                               lang=str(node.get("language"))))
        if kind in {"queue", "closed", "directory"} and doc.get("queue", {}).get("callback", True):
            needed_prompts.update(CALLBACK_PROMPTS)
    for prompt in sorted(needed_prompts):
        for lang in languages:
            if not (prompts.get(prompt) or {}).get(lang, "").strip() and prompt != "crisis":
                problems.append(N_("Texten ”%(prompt)s” saknas på %(lang)s.", prompt=prompt.replace("_", " "),
                                   lang=lang))
    for prompt, texts in sorted(prompts.items()):
        for lang, text in sorted(texts.items()):
            problems.extend(placeholder_problems(prompt, lang, text))
    for queue, settings in (doc.get("queues") or {}).items():
        if not QUEUE_ID.match(queue):
            problems.append(N_("Köns id %(queue)s ska vara små bokstäver, siffror och - (högst 30), som "
                               "”english”; människor ser dess namn.", queue=queue))
        if not str(settings.get("name", "")).strip():
            problems.append(N_("Kön %(queue)s behöver ett namn, det som telefonister och rapporter visar.",
                               queue=queue))
    default = (doc.get("queue") or {}).get("name", QUEUE_DEFAULTS["name"])
    if default not in queue_names(doc):
        problems.append(N_("Kön: name %(queue)s (standardkön) är inte en av flödets köer.", queue=str(default)))
    for number, options in (doc.get("numbers") or {}).items():
        if not number.startswith("+") or not number[1:].isdigit():
            problems.append(N_("Det inkommande numret %(number)s står inte som +46406280400 (E.164).", number=number))
        if (options or {}).get("lang", languages[0] if languages else None) not in languages:
            problems.append(N_("Det inkommande numret %(number)s: språket %(lang)s är inte ett av flödets.",
                               number=number, lang=str(options.get("lang"))))
        if "start" in (options or {}) and options["start"] not in nodes:
            problems.append(N_("Det inkommande numret %(number)s: startsteget %(node)s finns inte.", number=number,
                               node=str(options["start"])))
    if not problems:
        problems.extend(_dead_ends(doc))
    return problems


def queue_names(doc: dict[str, Any]) -> dict[str, str]:
    """The flow's queues, id -> the name people see, the default queue first and then by name (a stored
    document need not keep its keys' order); a flow without ``[queues]`` has the centre only."""
    queues = doc.get("queues")
    if not isinstance(queues, dict) or not queues:
        return dict(DEFAULT_QUEUE_NAMES)
    names = {qid: str((q or {}).get("name") or qid) for qid, q in queues.items() if isinstance(q, dict)}
    default = (doc.get("queue") or {}).get("name", QUEUE_DEFAULTS["name"])
    return dict(sorted(names.items(), key=lambda item: (item[0] != default, item[1].casefold())))


def _dead_ends(doc: dict[str, Any]) -> list[str]:
    """Paths that loop forever without reaching a person or a goodbye, and nodes no call can reach."""
    nodes = doc["nodes"]

    def successors(node: dict[str, Any]) -> list[str]:
        targets = [node[k] for k in NODE_TYPES[node["type"]][0] if k in node]
        return targets + [o["next"] for o in (node.get("options") or {}).values()]

    problems = []
    reachable, todo = set(), [doc["start"], *[o["start"] for o in (doc.get("numbers") or {}).values() if "start" in o]]
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo.extend(successors(nodes[name]))
    for name in sorted(set(nodes) - reachable):
        problems.append(N_("Steget ”%(node)s” kan inget samtal nå från början.", node=name))
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
        problems.append(N_("Steget ”%(node)s” kan leda till en återvändsgränd: ingen väg därifrån når en person "
                           "eller ett avsked.", node=name))
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

    @property
    def queue_names(self) -> dict[str, str]:
        """id -> the name people see (console, statistics), in the flow's order."""
        return queue_names(self.doc)

    def queue_of(self, node: dict[str, Any], lang: str) -> str:
        """The queue a caller in ``lang`` waits in at a queue node (``queue_for_language``, else ``queue``)."""
        return (node.get("queue_for_language") or {}).get(lang) or node["queue"]

    def start_for(self, called: str | None) -> str:
        """The node a call to ``called`` starts at: the number's own ``start`` ([numbers]), else the flow's."""
        return (self.doc.get("numbers", {}).get(called or "") or {}).get("start") or self.start

    def queue_node(self, queue: str | None = None) -> str:
        """The node of ``queue`` (else the first queue node): where an operator's failed transfer or "to the
        queue" leads — back to the queue the caller came from."""
        nodes = [(name, node) for name, node in self.doc["nodes"].items() if node["type"] == "queue"]
        return next((name for name, node in nodes if node["queue"] == queue), nodes[0][0])

    def node(self, name: str) -> dict[str, Any]:
        return self.doc["nodes"][name]

    def text(self, prompt: str, lang: str, **values: Any) -> str:
        texts = self.doc["prompts"].get(prompt) or BUILTIN_PROMPTS.get(prompt, {})
        template = texts.get(lang) or texts.get(self.languages[0], "")
        return render(template, values).strip()

    def hints(self) -> list[str]:
        return list(self.doc.get("hints", []))
