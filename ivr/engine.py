"""The call-flow engine: ``step(flow, state, input, now) -> Step``.

A pure state machine. It never touches a database, a clock or a telephone:
facts it needs (phone hours, directory hits, a queue place, a stored callback)
are asked for with a :class:`~ivr.protocol.Request` and come back as the next
input. Whatever goes wrong, a live call ends with a person (the centre queue)
or an explicit goodbye — never silence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from ivr import speech
from ivr.flow import Flow
from ivr.hours import parse_intervals, parse_weekly
from ivr.protocol import (
    Action, Bridged, Callback, CallbackStored, CheckHours, CheckNumber, CheckOperator, Digits, Enqueue, Event, Gather,
    HangUp, Hangup, HoursChecked, Input, JoinQueue, Lookup, LookupResult, Match, NoInput, NumberChecked,
    OperatorAnswered, OperatorFree, OperatorToQueue, OperatorTransfer,
    QueuePlace, QueueStatus, Request, Say, Speech, Start, StoreCallback, Tick, Transfer, TransferEnded,
)

# a line that picked up but where nobody pressed 1 (a voicemail) is, for the caller, nobody answering
FAILED_TRANSFER_PROMPTS = {"no-answer": "transfer_no_answer", "not-accepted": "transfer_no_answer",
                           "busy": "transfer_busy"}
MAX_CALLBACK_TRIES = 2
# states in which the call listens for the caller's keys or speech
LISTENING = {"menu", "directory", "directory_choice", "directory_confirm", "target_offer", "queue_offer",
             "closed_offer", "callback_confirm", "callback_enter"}
SUBJECT_MATCHES = {"keyword", "unit", "title"}  # the caller named a matter, not a person
TIE_MARGIN = 10.0  # scores this close are equally good answers
MAX_CHOICES = 3
MAX_QUESTIONS = 2  # "Menar du ...?" or a list of choices; after two the caller goes to the centre
SURE_SPEECH = 0.5  # a recogniser less confident than this: even a clear hit is confirmed first
YES, NO = ("ja", "japp", "jo", "precis", "stämmer", "yes", "yeah", "correct"), ("nej", "nä", "no", "nope")


CLOSED_REASONS = ("closure", "holiday", "eve", "special", "hours")  # why a line is closed: each its own words


def ring_together(target: dict) -> tuple[str, ...]:
    """The numbers rung at the same time as the desk: the mobile, for someone rung "together"."""
    mobile = target.get("mobile")
    if target.get("ring") == "together" and mobile and mobile != target.get("number"):
        return (mobile,)
    return ()


def closed_why(closed: dict) -> str:
    """closure | holiday | eve | special | hours; a call state stored before ``why`` existed still answers."""
    if closed.get("closure"):
        return "closure"
    if closed.get("holiday"):
        return "holiday"
    why = closed.get("why") or "hours"
    return why if why in CLOSED_REASONS else "hours"


def choose(matches: tuple[Match, ...], heard_clearly: bool = True) -> tuple[str, list[Match]]:
    """From directory hits: what to do — ``connect`` one, ``confirm`` (ask about each in turn), ``choose``
    (read them out) or ``none`` — and whom.

    A wrong transfer costs a citizen more than a question. One hit, or a clearly
    best one, found for sure is connected. A hit found by a sound-alike, a typo or
    only part of what was said (or heard unclearly) is confirmed first. Several
    equally good hits found by subject in one unit ("torghandel") are
    interchangeable: the first who can answer now is connected; in several units
    ("hemtjänst") the caller chooses, one per unit. Several equally good people
    found by name are read out as a choice.
    """
    usable = [m for m in matches if m.number or m.extension or m.forward_to]
    if not usable:
        return "none", []
    tied = [m for m in usable if m.score >= usable[0].score - TIE_MARGIN]
    if not usable[0].sure or not heard_clearly:
        return "confirm", tied[:MAX_QUESTIONS]
    if len(tied) == 1:
        return "connect", tied
    if all(m.matched_by in SUBJECT_MATCHES for m in tied):
        units = list(dict.fromkeys(m.unit for m in tied))
        if len(units) == 1:
            ready = [m for m in tied if m.status in ("available", "busy", "forwarded") and m.open_now]
            return "connect", [(ready or tied)[0]]
        return "choose", [next(m for m in tied if m.unit == unit) for unit in units][:MAX_CHOICES]
    return "choose", tied[:MAX_CHOICES]


@dataclass
class CallState:
    """Everything the engine remembers between steps; stored as JSON outside the process."""

    node: str = ""
    awaiting: str = ""  # the input we wait for; "" once the call is over
    lang: str = "sv"
    caller: str | None = None
    called: str | None = None
    retries: int = 0
    menu_choice: str | None = None
    target: dict[str, Any] | None = None  # the person being rung
    returned_from: str | None = None
    hours: dict[str, Any] | None = None
    queue: dict[str, Any] | None = None  # name, joined_at, position, last_announce, offered
    callback: dict[str, Any] | None = None  # number, spoken, when, back_to, tries
    bridged_at: str | None = None
    choices: list[dict[str, Any]] | None = None  # directory hits read out for the caller to pick, or to confirm
    questions: int = 0  # questions asked about directory hits in this call (at most MAX_QUESTIONS)
    speech: bool = True  # the platform hears speech on this call; if not, option 1 asks for keys only
    heard_clearly: bool = True  # the last request was keys, or speech the recogniser was sure of
    party: str | None = None  # whom the caller talks to while bridged
    transfer_by: str | None = None  # the operator following the transfer now ringing
    failed_reason: str | None = None  # why the operator's transfer failed, while we ask whether they are free
    ring_started: str | None = None  # when the transfer now ringing started (ISO), for the console
    query: str | None = None  # what the caller last asked the directory for (a callback's subject)
    whisper: str = ""  # what whoever answers the transfer now ringing hears before pressing 1 ("" = no key needed)
    joining: str | None = None  # the queue the caller is being placed in (its id), while the place is asked for

    def to_dict(self) -> dict[str, Any]:
        """A deep copy as plain JSON values (faster than ``dataclasses.asdict``: every field is JSON already)."""
        return {name: _plain(getattr(self, name)) for name in _STATE_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CallState":
        return cls(**data)

    @property
    def ended(self) -> bool:
        return self.awaiting == ""


_STATE_FIELDS = tuple(f.name for f in fields(CallState))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


@dataclass
class Step:
    state: CallState
    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    request: Request | None = None


class _Run:
    """One step in progress: accumulates actions and events while walking nodes."""

    def __init__(self, flow: Flow, state: CallState, now: datetime):
        self.flow, self.now = flow, now
        self.out = Step(CallState.from_dict(state.to_dict()))

    # -- helpers ----------------------------------------------------------------------------

    @property
    def s(self) -> CallState:
        return self.out.state

    def say(self, prompt: str, **values: Any) -> None:
        self.out.actions.append(Say(prompt, self.flow.text(prompt, self.s.lang, **values), self.s.lang))

    def event(self, type_: str, **data: Any) -> None:
        self.out.events.append(Event(type_, data))

    def ask(self, request: Request, awaiting: str) -> None:
        self.out.request = request
        self.s.awaiting = awaiting

    def gather(self, awaiting: str, **options: Any) -> None:
        self.out.actions.append(Gather(lang=self.s.lang, **options))
        self.s.awaiting = awaiting

    def end(self, reason: str, **data: Any) -> None:
        self.event("call_ended", reason=reason, node=self.s.node, **data)
        self.s.awaiting = ""

    def waited(self) -> int:
        return int((self.now - datetime.fromisoformat(self.s.queue["joined_at"])).total_seconds())

    # -- entering nodes ---------------------------------------------------------------------

    def enter(self, name: str) -> None:
        self.s.node, self.s.retries = name, 0
        node = self.flow.node(name)
        getattr(self, f"_enter_{node['type']}")(node)

    def _enter_hours(self, node: dict) -> None:
        self.ask(CheckHours(node["schedule"]), "hours")

    def _enter_say(self, node: dict) -> None:
        self.say(node["prompt"])
        self.enter(node["next"])

    def _enter_language(self, node: dict) -> None:
        self.s.lang = node["language"]
        self.enter(node["next"])

    def _enter_menu(self, node: dict) -> None:
        self.say(node["prompt"])
        self.gather("menu", timeout=node.get("timeout", 6))

    def _enter_directory(self, node: dict) -> None:
        """Ask who or what the caller wants — by speech only where the platform can hear it."""
        if self.s.speech:
            self.say(node["prompt"])
            self.gather("directory", input="dtmf speech", max_digits=None, finish_on_key="#",
                        timeout=node.get("timeout", 8), hints=tuple(self.flow.hints()))
        else:
            self.say(node.get("keys_prompt", "ask_person_keys"))
            self.gather("directory", max_digits=None, finish_on_key="#", timeout=node.get("timeout", 8))

    def _enter_transfer(self, node: dict) -> None:
        self.say("connecting", name=self.s.target["name"], unit=self.s.target["unit"])
        self._ring(node)

    def _ring(self, node: dict) -> None:
        target = self.s.target
        ring = int(node.get("ring_timeout", 25))
        self.s.whisper = self._whisper(target)
        self.out.actions.append(
            Transfer(target["id"], target["name"], target.get("number"), target.get("extension"), ring,
                     whisper=self.s.whisper, also=ring_together(target))
        )
        self.event("transfer_started", target_id=target["id"], target=target["name"], unit=target["unit"],
                   ring_timeout=ring, departments=target.get("departments") or {}, confirm=bool(self.s.whisper),
                   **({"voicemail": True} if target.get("voicemail") else {}))
        self.s.awaiting, self.s.ring_started = "transfer", self.now.isoformat()

    def _enter_queue(self, node: dict) -> None:
        self._join(self.flow.queue_of(node, self.s.lang))

    def _join(self, queue: str) -> None:
        self.s.joining = queue
        self.ask(JoinQueue(queue, returned_from=self.s.returned_from), "queue_join")

    def _back_to_queue(self) -> None:
        """Back to the queue the caller last waited in (first in line when returned), else the flow's default."""
        queue = (self.s.queue or {}).get("name") or self.flow.queue["name"]
        self.s.node, self.s.retries = self.flow.queue_node(queue), 0
        self._join(queue)

    def _enter_closed(self, node: dict) -> None:
        hours = self.s.hours or {}
        next_open = hours.get("next_open")
        self._say_closed(hours, hours.get("weekly", {}), next_open)
        if node.get("callback", True) and next_open and self.flow.queue["callback"]:
            self.event("callback_offered", where="closed")
            self.say("closed_callback_offer")
            self.gather("closed_offer", timeout=self.flow.queue["offer_timeout"])
        else:
            self.enter(node["next"])

    def _enter_hangup(self, node: dict) -> None:
        self.say(node["prompt"])
        self.out.actions.append(HangUp("goodbye"))
        self.end("goodbye")

    # -- reacting to input ------------------------------------------------------------------

    def handle(self, inp: Input) -> None:
        if isinstance(inp, Hangup):
            return self._caller_hung_up()
        handler = getattr(self, f"_on_{self.s.awaiting}", None)
        if handler is None:
            raise ValueError(f"input {inp.kind!r} while awaiting {self.s.awaiting or 'nothing (call over)'}")
        handler(inp)

    def _caller_hung_up(self) -> None:
        if self.s.ended:
            return
        if self.s.awaiting == "bridged":
            self.end("completed", talk_seconds=int((self.now - datetime.fromisoformat(self.s.bridged_at)).total_seconds()))
            return
        if self.s.awaiting == "transfer":
            self.event("transfer_failed", target_id=self.s.target["id"], target=self.s.target["name"],
                       reason="caller_hangup")
        if self.s.queue and not self.s.queue.get("left"):
            self.s.queue["left"] = True
            self.event("queue_left", queue=self.s.queue["name"], reason="abandoned", waited=self.waited())
        self.end("caller_hangup", awaiting=self.s.awaiting)

    def _on_hours(self, inp: Input) -> None:
        if not isinstance(inp, HoursChecked):
            raise ValueError(f"expected hours_checked, got {inp.kind}")
        node = self.flow.node(self.s.node)
        self.s.hours = asdict(inp)
        self.event("hours_checked", schedule=node["schedule"], open=inp.open, reason=inp.reason,
                   next_open=inp.next_open, holiday=inp.holiday, crisis=bool(inp.crisis))
        if inp.crisis:
            self.say("crisis", message=inp.crisis.get(self.s.lang) or next(iter(inp.crisis.values())))
        self.enter(node["open"] if inp.open else node["closed"])

    def _retry(self, node: dict, why: str, **data: Any) -> bool:
        """Count a failed attempt; True if the caller gets another try, False when it is time for a human."""
        self.event("input_timeout" if why == "no_input" else "input_invalid", node=self.s.node, **data)
        self.s.retries += 1
        return self.s.retries <= int(node.get("retries", 2))

    def _on_menu(self, inp: Input) -> None:
        node = self.flow.node(self.s.node)
        digit = inp.digits[:1] if isinstance(inp, Digits) else ""
        option = node["options"].get(digit) if digit else None
        if option is not None:
            self.event("menu_choice", node=self.s.node, digit=digit, option=option["label"])
            if option["label"] != "english":
                self.s.menu_choice = option["label"]
            return self.enter(option["next"])
        why = "no_input" if isinstance(inp, NoInput) or not digit else "invalid"
        data = {} if why == "no_input" else {"digits": inp.digits if isinstance(inp, Digits) else inp.kind}
        if self._retry(node, why, **data):
            self.say(why)
            retries = self.s.retries
            self.enter(self.s.node)
            self.s.retries = retries
        else:
            self.s.menu_choice = self.s.menu_choice or "fallback"
            self.say("to_centre")
            self.enter(node["fallback"])

    def _on_directory(self, inp: Input) -> None:
        node = self.flow.node(self.s.node)
        if isinstance(inp, Speech) and inp.text.strip():
            self.s.heard_clearly = inp.confidence is None or inp.confidence >= SURE_SPEECH
            return self.ask(Lookup(inp.text.strip(), "speech", self.s.lang), "lookup")
        if isinstance(inp, Digits) and inp.digits.strip("#"):
            self.s.heard_clearly = True
            return self.ask(Lookup(inp.digits.strip("#"), "dtmf", self.s.lang), "lookup")
        if self._retry(node, "no_input"):
            self.say("no_input")
            retries = self.s.retries
            self.enter(self.s.node)
            self.s.retries = retries
        else:
            self.say("to_centre")
            self.enter(node["no_match"])

    def _on_lookup(self, inp: Input) -> None:
        if not isinstance(inp, LookupResult):
            raise ValueError(f"expected lookup_result, got {inp.kind}")
        node = self.flow.node(self.s.node)
        self.s.query = inp.query
        self.event("directory_lookup", query=inp.query, hits=len(inp.matches), matched=bool(inp.matches),
                   top=[m.id for m in inp.matches[:3]])
        what, picked = choose(inp.matches, self.s.heard_clearly)
        if what == "none":
            self.say("no_match")
            return self.enter(node["no_match"])
        if what == "connect":
            return self._reach(picked[0])
        self.s.choices = [asdict(m) for m in picked]
        self.s.questions += 1
        if what == "confirm":
            return self._confirm()
        self._read_choices()

    def _confirm(self) -> None:
        """Ask about the first hit left: "Menar du Sara Lundqvist på Barn och familj? Tryck 1 för ja, 2 för nej"."""
        first = self.s.choices[0]
        self.s.retries = 0  # a new question: silence or a wrong key may be repeated once, as at the directory
        self.event("directory_confirm", target_id=first["id"], question=self.s.questions)
        self.say("directory_confirm", name=first["name"], unit=first["unit"])
        self.gather("directory_confirm", timeout=self.flow.node(self.s.node).get("timeout", 8))

    def _on_directory_confirm(self, inp: Input) -> None:
        node = self.flow.node(self.s.node)
        answer = inp.digits[:1] if isinstance(inp, Digits) else ""
        if isinstance(inp, Speech):
            said = inp.text.strip().casefold().split()[:1]
            answer = "1" if said and said[0] in YES else "2" if said and said[0] in NO else ""
        if answer == "1":
            return self._reach(Match(**self.s.choices[0]))
        if answer == "2":
            self.event("directory_declined", target_id=self.s.choices[0]["id"], question=self.s.questions)
            self.s.choices = self.s.choices[1:]
            if self.s.choices and self.s.questions < MAX_QUESTIONS:
                self.s.questions += 1
                return self._confirm()
        elif self._retry(node, "no_input" if not answer else "invalid", **({"digits": answer} if answer else {})):
            self.say("no_input" if not answer else "invalid")
            first = self.s.choices[0]
            self.say("directory_confirm", name=first["name"], unit=first["unit"])
            return self.gather("directory_confirm", timeout=node.get("timeout", 8))
        self.say("to_centre")
        self.enter(node["no_match"])

    def _read_choices(self) -> None:
        items = " ".join(self.flow.text("directory_choice_item", self.s.lang, key=i, name=m["name"], unit=m["unit"])
                         for i, m in enumerate(self.s.choices, start=1))
        self.say("directory_choice", choices=items)
        self.gather("directory_choice", timeout=self.flow.node(self.s.node).get("timeout", 8))

    def _on_directory_choice(self, inp: Input) -> None:
        node = self.flow.node(self.s.node)
        key = inp.digits[:1] if isinstance(inp, Digits) else ""
        if key.isdigit() and 1 <= int(key) <= len(self.s.choices):
            return self._reach(Match(**self.s.choices[int(key) - 1]))
        if key != "0" and self._retry(node, "no_input" if not key else "invalid", **({"digits": key} if key else {})):
            self.say("no_input" if not key else "invalid")
            return self._read_choices()
        self.say("to_centre")
        self.enter(node["no_match"])

    def _reach(self, match: Match) -> None:
        """Ring the person found — unless they cannot answer now; then say why and offer a callback or the centre."""
        node = self.flow.node(self.s.node)
        self.s.target = asdict(match)
        if match.status in ("closed", "absent") and match.back:
            back = speech.moment(datetime.fromisoformat(match.back), self.now, self.s.lang)
            self.say("target_away", name=match.name, back=back)
            return self._offer_instead(node)
        if match.status in ("closed", "absent"):
            self.say("target_unavailable", name=match.name)
            return self._offer_instead(node)
        if not match.open_now:
            self._say_closed(match.closed, match.weekly, match.next_open, target=match)
            return self._offer_instead(node)
        if match.status == "forwarded":
            self.s.target.update(number=match.forward_to, extension=None, ring="desk")
        self.enter(node["transfer"])

    def _say_closed(self, closed: dict, weekly: dict, next_open: str | None, target: Match | None = None) -> None:
        """Say why a line is closed — its closure's own text, the holiday, an eve's or a special day's hours, or
        the weekly hours — and when it opens next; about ``target`` (a person or unit asked for) or the line.
        ``closed``: :class:`HoursChecked` fields or ``Match.closed``."""
        lang = self.s.lang
        when = speech.moment(datetime.fromisoformat(next_open), self.now, lang) if next_open else ""
        why = closed_why(closed)
        name, unit = (target.name, target.unit) if target else ("", "")
        if why == "closure":
            message = closed["closure"].get(lang) or next(iter(closed["closure"].values()))
            if target:
                return self.say("target_closure", name=name, unit=unit, message=message, next_open=when)
            return self.say("closure", message=message, next_open=when)
        if why == "holiday":
            if target:
                return self.say("target_closed_holiday", name=name, unit=unit, holiday=closed["holiday"],
                                next_open=when)
            return self.say("closed_holiday", holiday=closed["holiday"], next_open=when)
        if why in ("eve", "special"):
            today = parse_intervals(closed.get("today") or [])
            hours = speech.spans(today, lang) if today else speech.WORDS[lang]["closed"]
            if why == "eve" and target:
                return self.say("target_closed_eve", name=name, unit=unit, holiday=closed.get("eve_of") or "",
                                hours=hours, next_open=when)
            if why == "eve":
                return self.say("closed_eve", holiday=closed.get("eve_of") or "", hours=hours, next_open=when)
            if target:
                return self.say("target_closed_special", name=name, unit=unit, hours=hours, next_open=when)
            return self.say("closed_special", hours=hours, next_open=when)
        week = speech.weekly(parse_weekly(weekly), lang)
        if target:
            return self.say("target_closed_hours", name=name, unit=unit, hours=week, next_open=when)
        self.say("closed", hours=week, next_open=when)

    def _offer_instead(self, node: dict) -> None:
        """Someone who cannot answer now: a free colleague of theirs (1) or a callback (2) when one can answer
        now, else a callback (1); silence or any other key goes to the centre."""
        if not self.flow.queue["callback"]:
            self.say("to_centre")
            return self.enter(node["no_match"])
        target, colleague = self.s.target, self.s.target.get("colleague") or {}
        if colleague and target.get("open_now"):
            self.event("colleague_offered", target_id=target["id"], colleague_id=colleague["id"])
            self.event("callback_offered", where="directory", target_id=target["id"])
            self.say("colleague_offer", name=target["name"], unit=colleague.get("unit") or target["unit"],
                     colleague=colleague["name"])
            return self.gather("target_offer", timeout=self.flow.queue["offer_timeout"])
        target["colleague"] = {}  # the keys mean what was said: 1 is the callback
        self.event("callback_offered", where="directory", target_id=target["id"])
        self.say("unavailable_offer")
        self.gather("target_offer", timeout=self.flow.queue["offer_timeout"])

    def _on_target_offer(self, inp: Input) -> None:
        node = self.flow.node(self.s.node)
        key = inp.digits[:1] if isinstance(inp, Digits) else ""
        colleague = self.s.target.get("colleague") or {}
        if colleague and key == "1":
            self.event("colleague_chosen", target_id=self.s.target["id"], colleague_id=colleague["id"])
            self.s.target = {**colleague, "matched_by": "", "no_answer": {}}
            return self.enter(node["transfer"])
        if key == ("2" if colleague else "1"):
            target = self.s.target
            later = not target["open_now"] and target["next_open"]
            self._start_callback("next_open" if later else "queue", due=target["next_open"] if later else None,
                                 back=node["no_match"])
            self.s.callback["target"] = target["id"]  # for whom: the booking asks the directory who answers
            return None
        self.say("to_centre")
        self.enter(node["no_match"])

    def _on_transfer(self, inp: Input) -> None:
        if not isinstance(inp, TransferEnded):
            raise ValueError(f"expected transfer_ended, got {inp.kind}")
        target = self.s.target
        if inp.status == "answered" and target.get("voicemail"):
            self.event("voicemail_answered", target_id=target["id"], target=target["name"])  # not a person reached
            return self._bridge(target["name"], "voicemail")
        if inp.status == "answered":
            self.event("transfer_answered", target_id=target["id"], target=target["name"])
            self.s.transfer_by = None  # the operator's part in this call is over
            return self._bridge(target["name"], "transfer")
        if self.s.transfer_by:
            self.event("transfer_failed", target_id=target["id"], target=target["name"], reason=inp.status,
                       by=self.s.transfer_by)
            self.s.failed_reason = inp.status
            return self.ask(CheckOperator(self.s.transfer_by), "operator_check")
        node = self.flow.node(self.s.node)
        self.event("transfer_failed", target_id=target["id"], target=target["name"], reason=inp.status)
        if target.get("ring") == "sequential" and target.get("mobile") and inp.status != "canceled":
            return self._ring_mobile(node, target, inp.status)
        if (target.get("no_answer") or {}).get("to"):
            return self._ring_instead(node, target, inp.status)
        self.say(FAILED_TRANSFER_PROMPTS.get(inp.status, "transfer_failed"), name=target["name"])
        self.s.returned_from = target["name"]
        self.event("returned_to_queue", target_id=target["id"], target=target["name"], reason=inp.status)
        self.enter(node["on_failure"])

    def _whisper(self, target: dict) -> str:
        """What whoever answers hears before pressing 1 — who calls and about what — or "" where the unit
        turned answer confirmation off. Always Swedish: it is said to staff, not to the caller."""
        if not target.get("confirm_answer", True):
            return ""
        subject = self.s.query if target.get("matched_by") in SUBJECT_MATCHES and self.s.query else ""
        if subject:
            return self.flow.text("transfer_whisper_subject", "sv", subject=subject)
        return self.flow.text("transfer_whisper", "sv", name=target["name"])

    def _ring_mobile(self, node: dict, target: dict, reason: str) -> None:
        """Sequential ringing: the desk did not answer, so the person's mobile is rung next (once)."""
        self.say("ring_mobile", name=target["name"])
        self.event("ring_next", target_id=target["id"], target=target["name"], to="mobile", reason=reason)
        self.s.target = {**target, "number": target["mobile"], "extension": None, "ring": "desk"}
        self._ring(node)

    def _ring_instead(self, node: dict, target: dict, reason: str) -> None:
        """The unit's no-answer policy: ring a free colleague with the same keyword, the unit's function number
        or its voicemail instead — saying which. Once only: if that fails too, the caller goes to the centre."""
        policy, to = target["no_answer"]["policy"], target["no_answer"]["to"]
        if policy == "colleague":
            self.say("no_answer_colleague", name=target["name"], colleague=to["name"])
        elif policy == "function":
            self.say("no_answer_function", name=target["name"], unit=to["unit"])
        else:
            self.say("no_answer_voicemail", name=target["name"], unit=to["unit"])
        self.event("no_answer_policy", policy=policy, target_id=target["id"], target=target["name"], to=to["id"],
                   reason=reason)
        self.s.target = {**to, "matched_by": "", "no_answer": {}, "voicemail": policy == "voicemail"}
        self._ring(node)

    def _bridge(self, party: str, via: str) -> None:
        self.out.actions.append(Bridged(party, via))
        self.s.bridged_at, self.s.party = self.now.isoformat(), party
        self.s.awaiting = "bridged"

    # -- an operator holds the call ---------------------------------------------------------

    def _on_bridged(self, inp: Input) -> None:
        if isinstance(inp, OperatorAnswered):
            return None  # the platform reported the answer twice (AMI event and the queue's own return)
        if isinstance(inp, OperatorTransfer):
            target = asdict(inp.target)
            if inp.target.status == "forwarded" and inp.target.forward_to:
                target.update(number=inp.target.forward_to, extension=None, ring="desk")
            self.s.target, self.s.transfer_by = target, inp.operator
            self.s.whisper = "" if inp.attended else self._whisper(target)
            self.out.actions.append(Transfer(target["id"], target["name"], target.get("number"), target.get("extension"),
                                             inp.ring_timeout, by=inp.operator, attended=inp.attended,
                                             whisper=self.s.whisper, also=ring_together(target)))
            self.event("transfer_started", target_id=target["id"], target=target["name"], unit=target["unit"],
                       ring_timeout=inp.ring_timeout, by=inp.operator, attended=inp.attended,
                       break_through=inp.break_through, departments=target.get("departments") or {},
                       confirm=bool(self.s.whisper))
            self.s.awaiting, self.s.ring_started = "transfer", self.now.isoformat()
            return None
        if isinstance(inp, OperatorToQueue):
            self.s.party = None
            if not inp.returned:
                self.s.returned_from = None
            self.say("to_queue")
            return self._back_to_queue()
        raise ValueError(f"input {inp.kind!r} while the caller talks to {self.s.party}")

    def _on_operator_check(self, inp: Input) -> None:
        """An operator's transfer failed: back to that operator if they are free, else first in the queue."""
        if not isinstance(inp, OperatorFree):
            raise ValueError(f"expected operator_free, got {inp.kind}")
        target, operator, reason = self.s.target, self.s.transfer_by, self.s.failed_reason
        self.s.transfer_by, self.s.failed_reason = None, None
        if inp.free:
            self.event("returned_to_queue", target_id=target["id"], target=target["name"], reason=reason,
                       to="operator", operator=operator)
            self.say("returned_to_operator", name=target["name"])
            self.s.returned_from = target["name"]
            return self._bridge(operator, "returned")
        self.event("returned_to_queue", target_id=target["id"], target=target["name"], reason=reason, to="queue",
                   operator=operator)
        self.say(FAILED_TRANSFER_PROMPTS.get(reason, "transfer_failed"), name=target["name"])
        self.s.returned_from, self.s.party = target["name"], None
        self._back_to_queue()

    def _on_queue_join(self, inp: Input) -> None:
        if not isinstance(inp, QueuePlace):
            raise ValueError(f"expected queue_place, got {inp.kind}")
        queue = self.s.joining or self.flow.queue_of(self.flow.node(self.s.node), self.s.lang)
        self.s.joining = None
        self.s.queue = {"name": queue, "joined_at": self.now.isoformat(), "position": inp.position,
                        "last_announce": self.now.isoformat(), "offered": False, "left": False}
        self.event("queue_joined", queue=queue, position=inp.position, estimated_wait=inp.estimated_wait,
                   returned=self.s.returned_from is not None, menu_choice=self.s.menu_choice)
        self.say("queue_position", position=inp.position, wait=speech.wait(inp.estimated_wait, self.s.lang))
        self.out.actions.append(Enqueue(queue, inp.position, inp.estimated_wait,
                                        returned=self.s.returned_from is not None))
        self.s.awaiting = "queue"

    def _offer_due(self) -> bool:
        settings = self.flow.queue
        return bool(settings["callback"]) and self.waited() >= int(settings["callback_after"])

    def _offer_callback(self) -> None:
        self.s.queue["offered"] = True
        self.event("callback_offered", where="queue", waited=self.waited())
        self.say("callback_offer")
        self.gather("queue_offer", timeout=self.flow.queue["offer_timeout"])

    def _on_queue(self, inp: Input) -> None:
        if isinstance(inp, OperatorAnswered):
            self.s.queue["left"] = True
            self.event("queue_left", queue=self.s.queue["name"], reason="answered", waited=self.waited(),
                       operator=inp.operator)
            return self._bridge(inp.operator, "queue")
        if isinstance(inp, (Digits, Speech, NoInput)):
            return  # keys pressed on hold without an offer are ignored; the caller keeps waiting
        if not isinstance(inp, Tick):
            raise ValueError(f"input {inp.kind!r} while the caller waits in the queue")
        since = (self.now - datetime.fromisoformat(self.s.queue["last_announce"])).total_seconds()
        if since >= int(self.flow.queue["announce_every"]):
            self.ask(QueueStatus(self.s.queue["name"]), "queue_status")
        elif self._offer_due() and not self.s.queue["offered"]:
            self._offer_callback()

    def _on_queue_status(self, inp: Input) -> None:
        if not isinstance(inp, QueuePlace):
            raise ValueError(f"expected queue_place, got {inp.kind}")
        self.s.queue.update(position=inp.position, last_announce=self.now.isoformat())
        self.say("queue_position", position=inp.position, wait=speech.wait(inp.estimated_wait, self.s.lang))
        self.s.awaiting = "queue"
        if self._offer_due():
            self._offer_callback()

    def _on_queue_offer(self, inp: Input) -> None:
        if isinstance(inp, OperatorAnswered):
            self.s.awaiting = "queue"
            return self._on_queue(inp)
        if isinstance(inp, Digits) and inp.digits[:1] == "1":
            return self._start_callback("queue")
        self.s.awaiting = "queue"  # declined or silent: keep waiting
        if isinstance(inp, Tick):
            self._on_queue(inp)

    def _on_closed_offer(self, inp: Input) -> None:
        if isinstance(inp, Digits) and inp.digits[:1] == "1":
            return self._start_callback("next_open")
        self.enter(self.flow.node(self.s.node)["next"])

    # -- callback capture -------------------------------------------------------------------

    def _start_callback(self, when: str, due: str | None = None, back: str | None = None) -> None:
        """Capture a callback; ``due`` defaults to the line's next opening, ``back`` is where a give-up goes."""
        if due is None and when == "next_open":
            due = (self.s.hours or {}).get("next_open")
        self.s.callback = {"when": when, "due": due, "back": back, "tries": 0, "number": None, "spoken": None,
                           "from_caller": True}
        self.ask(CheckNumber(self.s.caller), "callback_check")

    def _callback_give_up(self) -> None:
        """Too many failed tries: back to where the caller came from, never a drop."""
        if self.s.callback.get("back"):
            self.say("to_centre")
            self.enter(self.s.callback["back"])
        elif self.s.callback["when"] == "queue":
            self.say("back_in_queue")
            self.s.awaiting = "queue"
        else:
            self.enter(self.flow.node(self.s.node)["next"])

    def _ask_for_number(self) -> None:
        self.say("callback_enter_number")
        self.gather("callback_enter", max_digits=15, finish_on_key="#", timeout=10)

    def _on_callback_check(self, inp: Input) -> None:
        if not isinstance(inp, NumberChecked):
            raise ValueError(f"expected number_checked, got {inp.kind}")
        cb = self.s.callback
        if inp.ok:
            cb.update(number=inp.number, spoken=inp.spoken)
            self.say("callback_confirm_number", number=inp.spoken)
            return self.gather("callback_confirm", timeout=6)
        self.say("callback_refused", reason=self.flow.text(f"refusal_{inp.reason}", self.s.lang))
        if not cb["from_caller"]:
            cb["tries"] += 1
            if cb["tries"] >= MAX_CALLBACK_TRIES:
                return self._callback_give_up()
        self._ask_for_number()

    def _on_callback_confirm(self, inp: Input) -> None:
        cb = self.s.callback
        key = inp.digits[:1] if isinstance(inp, Digits) else ""
        if key == "1":
            queue = self.s.queue["name"] if self.s.queue else self.flow.queue["name"]
            target = cb.get("target")
            return self.ask(StoreCallback(cb["number"], cb["when"], cb["due"], queue, self.s.menu_choice,
                                          target_id=target, subject=self.s.query if target else None),
                            "callback_store")
        if key == "2":
            return self._ask_for_number()
        cb["tries"] += 1
        if cb["tries"] >= MAX_CALLBACK_TRIES:
            return self._callback_give_up()
        self.say("callback_confirm_number", number=cb["spoken"])
        self.gather("callback_confirm", timeout=6)

    def _on_callback_enter(self, inp: Input) -> None:
        cb = self.s.callback
        number = inp.digits.strip("#") if isinstance(inp, Digits) else ""
        if number:
            cb["from_caller"] = False
            return self.ask(CheckNumber(number), "callback_check")
        cb["tries"] += 1
        if cb["tries"] >= MAX_CALLBACK_TRIES:
            return self._callback_give_up()
        self._ask_for_number()

    def _on_callback_store(self, inp: Input) -> None:
        if not isinstance(inp, CallbackStored):
            raise ValueError(f"expected callback_stored, got {inp.kind}")
        cb = self.s.callback
        if not inp.ok:
            if inp.reason == "error":
                self.say("callback_error")
            else:
                self.say("callback_refused", reason=self.flow.text(f"refusal_{inp.reason}", self.s.lang))
            return self._callback_give_up()
        self.event("callback_requested", request_id=inp.request_id, when=cb["when"], menu_choice=self.s.menu_choice,
                   **({"target_id": cb["target"], "unit": inp.unit, "answered_by": inp.answered_by,
                       "due_by": inp.due_by} if cb.get("target") else {}))
        due = inp.due_at or cb["due"]
        self.out.actions.append(Callback(inp.request_id, cb["number"], cb["when"], due))
        if self.s.queue and not self.s.queue.get("left"):
            self.s.queue["left"] = True
            self.event("queue_left", queue=self.s.queue["name"], reason="callback", waited=self.waited())
        self._confirm_callback(inp, due)
        self.out.actions.append(HangUp("callback_requested"))
        self.end("callback_requested")

    def _confirm_callback(self, inp: CallbackStored, due: str | None) -> None:
        """Tell the caller what was booked, as the booking decided it — never "when it is your turn" when the
        turn cannot come before closing, and the unit's own promise when the unit answers."""
        number = self.s.callback["spoken"]
        if not due:
            return self.say("callback_confirmed_queue", number=number)
        first = datetime.fromisoformat(due)
        if self.s.callback["when"] == "queue" and not inp.unit:  # the turn may not come before closing
            return self.say("callback_confirmed_queue_late", number=number,
                            when=speech.moment(first, self.now, self.s.lang))
        if inp.unit:
            when = speech.promise(first, datetime.fromisoformat(inp.until) if inp.until else None,
                                  datetime.fromisoformat(inp.due_by) if inp.due_by else None, self.now, self.s.lang)
            if inp.answered_by == "unit":
                return self.say("callback_confirmed_unit", number=number, unit=inp.unit, when=when)
            return self.say("callback_confirmed_for", number=number, unit=inp.unit, when=when)
        self.say("callback_confirmed_next_open", number=number, when=speech.moment(first, self.now, self.s.lang))


def step(flow: Flow, state: CallState | None, inp: Input, now: datetime) -> Step:
    """Advance one call by one input. ``state`` is None only for :class:`Start`."""
    if isinstance(inp, Start):
        if state is not None:
            raise ValueError("the call has already started")
        lang = inp.lang if inp.lang in flow.languages else flow.language_for(inp.called)
        run = _Run(flow, CallState(lang=lang, caller=inp.caller, called=inp.called, speech=inp.speech), now)
        run.event("call_started", caller=inp.caller, called=inp.called, lang=lang, flow_version=flow.version)
        run.enter(flow.start_for(inp.called))
        return run.out
    if state is None:
        raise ValueError(f"input {inp.kind!r} before the call started")
    run = _Run(flow, state, now)
    run.handle(inp)
    return run.out
