"""Pure translations between the engine's words and Asterisk's, table-tested.

Nothing here touches a socket or the database: dial strings, what a
``DIALSTATUS`` means for the flow, where a caller stands in app_queue, how long
to wait before the engine has something to say, which prompts may be cut short
by a key.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from ivr.protocol import Action, Enqueue, Gather, Hangup, Input, Say, Transfer, TransferEnded

# DIALSTATUS (app_dial) -> how the transfer ended for the engine; CANCEL means the caller hung up.
DIAL_OUTCOMES = {
    "ANSWER": "answered",
    "NOANSWER": "no-answer",
    "BUSY": "busy",
    "CHANUNAVAIL": "failed",
    "CONGESTION": "failed",
    "DONTCALL": "failed",
    "TORTURE": "failed",
    "INVALIDARGS": "failed",
}
SAFE_DIAL = re.compile(r"[^0-9A-Za-z+*#._-]")
NOT_NUMBER = re.compile(r"[^0-9+]")
PRIO_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
PRIO_CLASS = 1_000_000_000  # QUEUE_PRIO is a C int: class * 1e9 + up to 1e9 - 1 stays below 2**31
MIN_WAIT, MAX_WAIT = 1, 300


def dial_string(transfer: Transfer, template: str, outbound_template: str) -> str | None:
    """What ``Dial`` rings for a transfer: an extension through ``dial_template``, else a number outbound.

    Values are stripped to dial-safe characters so a directory entry can never
    smuggle Dial options (``,``) or extra channels (``&``) into the string; the numbers rung together
    (``Transfer.also``) are joined with ``&`` here, each through ``outbound_template``.
    """
    if transfer.extension and SAFE_DIAL.sub("", transfer.extension):
        ext = SAFE_DIAL.sub("", transfer.extension)
        first = template.format(extension=ext, number=NOT_NUMBER.sub("", transfer.number or ""))
    elif transfer.number and NOT_NUMBER.sub("", transfer.number):
        first = outbound_template.format(number=NOT_NUMBER.sub("", transfer.number))
    else:
        return None
    # ringing together (a mobile besides the desk): app_dial's "&", the first to answer wins
    also = [outbound_template.format(number=NOT_NUMBER.sub("", n)) for n in transfer.also if NOT_NUMBER.sub("", n)]
    return "&".join([first, *also])


def template_problems(asterisk: dict) -> list[str]:
    """Dial templates that cannot be filled in (a typo such as ``{ext}``), in words for the log."""
    problems = []
    for key in ("dial_template", "outbound_template"):
        try:
            asterisk[key].format(extension="4439", number="+46406280439")
        except (KeyError, IndexError, ValueError) as exc:
            problems.append(f"asterisk.{key} = {asterisk[key]!r} cannot be filled in ({exc!r}); "
                            "use {extension} and {number}")
    return problems


def transfer_input(dialstatus: str | None, confirmed: bool | None = None) -> Input:
    """``DIALSTATUS`` after ``EXEC Dial`` -> the engine's input; CANCEL (the caller left) is a hang-up.

    ``confirmed`` is None when the transfer asked for no key; else whether the answer-confirmation subroutine
    returned ``accepted``. ``vaxel-confirm`` ends a refusal with ``GOSUB_RESULT=CONTINUE``, after which app_dial
    still reports ANSWER: an answer nobody confirmed (a voicemail, silence, a wrong key) is ``not-accepted``.
    """
    status = (dialstatus or "").strip().upper()
    if status == "CANCEL":
        return Hangup()
    outcome = DIAL_OUTCOMES.get(status, "failed")
    if outcome == "answered" and confirmed is False:
        return TransferEnded("not-accepted")
    return TransferEnded(outcome)


CONFIRM_CONTEXT = "vaxel-confirm"  # config/asterisk/extensions_vaxel.conf
UNSAFE_GOSUB_ARG = re.compile(r"[,^()|&\s]")


def dial_args(target: str, ring_timeout: int, whisper_file: str | None, confirm_seconds: int) -> str:
    """``Dial``'s arguments; with a whisper file, the pre-bridge subroutine (``U``) that asks whoever answers
    to press 1 before the caller is connected."""
    args = f"{target},{int(ring_timeout)}"
    if whisper_file:
        args += f",U({CONFIRM_CONTEXT}^{whisper_file}^{int(confirm_seconds)})"
    return args


def gosub_safe(path: str | None) -> bool:
    """Can this file name travel as a ``U()`` argument (no delimiters Dial or Gosub would split on)?"""
    return bool(path) and not UNSAFE_GOSUB_ARG.search(path)


def app_queue_name(queue: str) -> str:
    """The flow's queue ``centre`` is app_queue's ``vaxel-centre`` (config/asterisk/queues_vaxel.conf)."""
    return f"vaxel-{queue}"


def queue_prio(returned: bool, joined_at: datetime) -> int:
    """``QUEUE_PRIO`` that keeps app_queue in the database queue's order across re-entries.

    Returned callers (a failed transfer) form a higher class; within a class an
    earlier join gives a higher priority, so a caller re-entering app_queue after
    an announcement goes back in front of everyone who joined after them.
    """
    seconds = int((joined_at - PRIO_EPOCH).total_seconds())
    within = PRIO_CLASS - 1 - min(max(seconds, 0), PRIO_CLASS - 1)
    return (PRIO_CLASS if returned else 0) + within


def queue_wait(queue: dict, flow_queue: dict, now: datetime) -> int:
    """Seconds to wait in app_queue before the engine is due to speak (position message or callback offer)."""
    last = datetime.fromisoformat(queue["last_announce"])
    due = last.timestamp() + int(flow_queue["announce_every"])
    if flow_queue.get("callback") and not queue.get("offered"):
        due = min(due, datetime.fromisoformat(queue["joined_at"]).timestamp() + int(flow_queue["callback_after"]))
    return max(MIN_WAIT, min(MAX_WAIT, math.ceil(due - now.timestamp())))


def key_of(code: int | None) -> str | None:
    """``WAIT FOR DIGIT``/``STREAM FILE`` return the key's ASCII code; 0 or less is no key."""
    if code is None or code <= 0:
        return None
    key = chr(code)
    return key if key in "0123456789*#ABCD" else None


def interruptible(actions: list[Action]) -> list[bool]:
    """Per action: may a key cut this prompt short? Only prompts leading straight to a Gather (barge-in)."""
    flags, gathering = [False] * len(actions), False
    for i in range(len(actions) - 1, -1, -1):
        action = actions[i]
        if isinstance(action, Gather):
            gathering = True
        elif isinstance(action, (Transfer, Enqueue)):
            gathering = False
        elif isinstance(action, Say):
            flags[i] = gathering
    return flags


def caller_of(env: dict[str, str]) -> str | None:
    """``agi_callerid`` is the number or ``anonymous``/``unknown``; hidden numbers stay hidden."""
    value = (env.get("agi_callerid") or "").strip()
    return value or None


def called_of(env: dict[str, str]) -> str | None:
    """The number dialled: the dialplan passes it as the first argument, else ``agi_extension`` (not ``s``)."""
    for key in ("agi_arg_1", "agi_extension", "agi_dnid"):
        value = (env.get(key) or "").strip()
        if value and value not in {"s", "unknown"}:
            return value if value.startswith("+") or not value.isdigit() else _e164(value)
    return None


def _e164(digits: str) -> str:
    """A Swedish dialled number as the flow's ``[numbers]`` table writes it (``+46...``)."""
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0"):
        return "+46" + digits[1:]
    if digits.startswith("46") and len(digits) > 9:
        return "+" + digits
    return digits
