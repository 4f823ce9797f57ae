"""The words spoken between the call-flow engine and whoever runs it.

* Inputs: what happened on the call (digits, speech, silence, how a transfer ended, ...).
* Actions: what the telephony adapter must do (say, gather, transfer, enqueue, hang up, ...).
* Requests: facts the engine needs from the database before it can go on
  (phone hours, a directory lookup, a queue place, storing a callback). The call
  runner answers each with a result input, so the engine itself stays pure.

Everything here is a plain dataclass; ``to_dict`` gives its JSON form (logs, the simulator, test calls).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


class Message:
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"action" if isinstance(self, Action) else "kind": self.kind, **asdict(self)}


# --- inputs from the call ---------------------------------------------------------------------


class Input(Message):
    pass


@dataclass(frozen=True)
class Start(Input):
    kind: ClassVar[str] = "start"
    caller: str | None = None
    called: str | None = None
    lang: str | None = None  # a per-number language, or None for the flow's default
    speech: bool = True  # can the platform hear speech on this call? If not, prompts ask for keys only


@dataclass(frozen=True)
class Digits(Input):
    kind: ClassVar[str] = "digits"
    digits: str = ""


@dataclass(frozen=True)
class Speech(Input):
    kind: ClassVar[str] = "speech"
    text: str = ""
    confidence: float | None = None


@dataclass(frozen=True)
class NoInput(Input):
    kind: ClassVar[str] = "silence"


@dataclass(frozen=True)
class TransferEnded(Input):
    kind: ClassVar[str] = "transfer_ended"
    status: str = "answered"  # answered | no-answer | not-accepted | busy | failed | canceled
    # not-accepted: the line picked up (a voicemail, a mobile's answering service, a person who did not press 1)
    # but nobody confirmed the call: it comes back like no-answer


@dataclass(frozen=True)
class Tick(Input):
    """Time passes while the caller waits (Twilio waitUrl, an Asterisk loop, the simulator's wait:)."""

    kind: ClassVar[str] = "tick"


@dataclass(frozen=True)
class OperatorAnswered(Input):
    kind: ClassVar[str] = "operator_answered"
    operator: str = "centre"


@dataclass(frozen=True)
class Hangup(Input):
    kind: ClassVar[str] = "hangup"


@dataclass(frozen=True)
class OperatorTransfer(Input):
    """An operator holding the call transfers it to someone found in the directory, and follows it."""

    kind: ClassVar[str] = "operator_transfer"
    target: "Match"
    operator: str
    ring_timeout: int = 25
    attended: bool = False  # consult first: the operator talks to the target before the caller is connected
    break_through: bool = False  # ringing a closed extension in an emergency, as agreed per department


@dataclass(frozen=True)
class OperatorToQueue(Input):
    """An operator puts the call they hold back in the queue it came from (the flow's default queue if none)."""

    kind: ClassVar[str] = "operator_to_queue"
    operator: str
    returned: bool = False  # the call came back to the operator, who did not take it: still ahead of new callers


# --- results the runner feeds back for a request ----------------------------------------------


@dataclass(frozen=True)
class HoursChecked(Input):
    kind: ClassVar[str] = "hours_checked"
    open: bool = True
    reason: str = "open"
    weekly: dict[str, list[str]] = field(default_factory=dict)
    next_open: str | None = None  # ISO-8601
    holiday: str | None = None
    closure: dict[str, str] | None = None  # language -> message
    crisis: dict[str, str] | None = None
    why: str = "hours"  # why it is closed: closure | holiday | eve | special | hours (ivr.hours.HoursStatus)
    today: list[str] = field(default_factory=list)  # today's hours ("08:00-15:00"), on an eve or a special day
    eve_of: str | None = None  # on an eve: the holiday it is the eve of


@dataclass(frozen=True)
class Match:
    """A directory hit as the flow needs it: whom to ring, and whether they can answer now."""

    id: str
    name: str
    unit: str = ""
    title: str = ""
    number: str | None = None
    extension: str | None = None
    status: str = "available"  # available | busy | absent | forwarded | closed
    forward_to: str | None = None
    open_now: bool = True  # within the phone hours that apply to them
    weekly: dict[str, list[str]] = field(default_factory=dict)
    next_open: str | None = None  # ISO, when closed now
    score: float = 0.0
    matched_by: str = ""  # keyword | name | unit | title | number | keypad
    sure: bool = True  # False: found by a sound-alike, a typo or only some of the words said — ask first
    departments: dict[str, str] = field(default_factory=dict)  # forvaltning/avdelning/enhet at call time
    confirm_answer: bool = True  # whoever answers must press 1 first (the unit's choice, else the site's)
    closed: dict[str, Any] = field(default_factory=dict)  # when closed now: why, today, holiday, eve_of, closure
    ring: str = "desk"  # desk | together (with ``mobile`` at once) | sequential (``mobile`` after the desk)
    mobile: str | None = None  # E.164, for together / sequential
    back: str | None = None  # ISO; when someone absent (or outside their working time) is back, if known
    # the unit's no-answer policy: {"policy": colleague|function|voicemail, "to": whom to ring}; {} = the centre
    no_answer: dict[str, Any] = field(default_factory=dict)
    # someone who cannot answer now: a free colleague in their unit (a shared keyword, or the unit's function)
    # offered instead, as a target to ring (id, name, unit, number, extension, ...); {} = none free
    colleague: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LookupResult(Input):
    kind: ClassVar[str] = "lookup_result"
    query: str = ""
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True)
class QueuePlace(Input):
    kind: ClassVar[str] = "queue_place"
    position: int = 1
    estimated_wait: int = 0  # seconds


@dataclass(frozen=True)
class NumberChecked(Input):
    kind: ClassVar[str] = "number_checked"
    ok: bool = False
    number: str | None = None  # E.164 when ok
    spoken: str | None = None  # national format, read back to the caller
    reason: str | None = None  # why it was refused: hidden, invalid, premium, ...


@dataclass(frozen=True)
class OperatorFree(Input):
    kind: ClassVar[str] = "operator_free"
    operator: str = ""
    free: bool = False


@dataclass(frozen=True)
class CallbackStored(Input):
    kind: ClassVar[str] = "callback_stored"
    ok: bool = False
    request_id: int | None = None
    reason: str | None = None  # error | limit | a number-policy reason
    # what was booked, so the caller hears the truth the database decided (None: when their turn comes)
    due_at: str | None = None  # ISO; the first moment we call
    until: str | None = None  # ISO; the end of that phone time
    due_by: str | None = None  # ISO; the promise
    unit: str | None = None  # the unit it is for
    answered_by: str = "centre"  # centre | unit


# --- actions for the adapter ------------------------------------------------------------------


class Action(Message):
    pass


@dataclass(frozen=True)
class Say(Action):
    kind: ClassVar[str] = "say"
    prompt: str
    text: str
    lang: str


@dataclass(frozen=True)
class Gather(Action):
    """Collect input. ``max_digits`` None means until ``finish_on_key`` or timeout."""

    kind: ClassVar[str] = "gather"
    input: str = "dtmf"  # dtmf | dtmf speech
    max_digits: int | None = 1
    timeout: int = 5
    finish_on_key: str = ""
    lang: str = "sv"
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transfer(Action):
    kind: ClassVar[str] = "transfer"
    target_id: str
    name: str
    number: str | None
    extension: str | None
    ring_timeout: int
    by: str | None = None  # the operator who transfers (None: the caller chose in the menu)
    attended: bool = False
    whisper: str = ""  # said to whoever answers, who must press 1 to take the call; "" = connect on answer
    also: tuple[str, ...] = ()  # E.164 numbers rung at the same time (a mobile besides the desk); first answer wins


@dataclass(frozen=True)
class Enqueue(Action):
    kind: ClassVar[str] = "enqueue"
    queue: str
    position: int
    estimated_wait: int
    returned: bool = False


@dataclass(frozen=True)
class Bridged(Action):
    """The caller now talks to a person; the engine's work on this call is done."""

    kind: ClassVar[str] = "bridged"
    party: str
    via: str  # transfer | queue


@dataclass(frozen=True)
class Callback(Action):
    kind: ClassVar[str] = "callback"
    request_id: int
    number: str
    when: str  # queue | next_open
    due_at: str | None = None


@dataclass(frozen=True)
class HangUp(Action):
    kind: ClassVar[str] = "hangup"
    reason: str


# --- requests the runner answers ---------------------------------------------------------------


class Request(Message):
    pass


@dataclass(frozen=True)
class CheckHours(Request):
    kind: ClassVar[str] = "check_hours"
    schedule: str


@dataclass(frozen=True)
class Lookup(Request):
    kind: ClassVar[str] = "lookup"
    query: str
    mode: str  # speech | dtmf
    lang: str = "sv"  # the caller's language: its fillers and synonyms


@dataclass(frozen=True)
class JoinQueue(Request):
    kind: ClassVar[str] = "join_queue"
    queue: str
    returned_from: str | None = None


@dataclass(frozen=True)
class QueueStatus(Request):
    kind: ClassVar[str] = "queue_status"
    queue: str


@dataclass(frozen=True)
class CheckNumber(Request):
    kind: ClassVar[str] = "check_number"
    number: str | None


@dataclass(frozen=True)
class CheckOperator(Request):
    """Is this operator free to take back a call whose transfer failed?"""

    kind: ClassVar[str] = "check_operator"
    operator: str


@dataclass(frozen=True)
class StoreCallback(Request):
    kind: ClassVar[str] = "store_callback"
    number: str
    when: str  # queue | next_open
    due_at: str | None
    queue: str
    menu_choice: str | None
    target_id: str | None = None  # the directory entry the caller wanted (None: the centre)
    subject: str | None = None  # what the caller asked the directory for


@dataclass(frozen=True)
class Event:
    """One entry for the call event log; the runner numbers and stores it."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
