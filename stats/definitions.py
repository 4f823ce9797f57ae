"""What every figure means, written down once: the definitions behind the service targets.

Each figure is a pure function of counts, so the same numbers come out of the
dashboard, the CLI, the API and the tests, on SQLite and PostgreSQL alike.
Where municipalities count differently (the short-abandon threshold, whether
abandoned calls are in the service-level denominator, the targets) the choice
is a setting in ``[stats]``; README's "Statistics" section repeats this text.

Vocabulary, per call (the fact row is built in :mod:`stats.facts`):

* **offered** — the call joined a centre queue, and was not a *short abandon*.
* **short abandon** — the caller hung up in the queue within
  ``short_abandon_seconds`` (default 5 s, inclusive): a misdial or a caller
  who changed their mind. Counted on its own, in neither offered nor abandoned.
* **answered** — an operator took the call from the queue. A call counts once: by
  its first answer, with the wait until then (an operator may later put it back
  in the queue, or a transfer may bring it back).
* **abandoned** (lost) — the caller hung up while queued, never answered, after the threshold.
* **callback from the queue** — the caller left the queue for a callback: offered,
  not answered, **not** abandoned; outside the service-level denominator.
* **IVR exit** — the caller hung up in the menu or the directory, before a queue
  or a ringing transfer: counted separately, never as a lost call.
* **closed** — the call came outside phone hours.
* **service level** — answered within N seconds ÷ (answered + abandoned), or
  ÷ answered when ``abandoned_in_denominator`` is false. *Switchboard* calls are
  those whose menu choice is in ``switchboard_choices`` (default: looking for a
  person, sent to the centre after failed tries, or no choice — ``"none"``) — target 90 % within 15 s (three rings); the other
  queued calls are *customer service* — target 90 % within 300 s.
* **lost calls** — abandoned ÷ offered, target at most 10 %.
* **queue wait** — the average speed of answer (ASA: mean queue wait of the
  answered calls), target under 300 s; also its 90th percentile (nearest rank)
  and the longest wait of any offered call.
* **talk time** — the time operators talked with the caller (from the answer to the
  end, a transfer or a return to the queue), mean over answered calls that ended;
  **handle time** — talk plus the operator's wrap-up time (``wrapup_seconds`` of
  the wrap-up, else from the end of the call to the wrap-up).
* **transfers** — attempted (a person's phone rang), answered, failed by reason,
  returned to the centre, from the menu or by an operator; **reach rate** =
  answered ÷ attempted (Lund's audit of operator transfers: 11 of 26, 42 %).
  "Answered" means a person accepted the call (pressed 1 at the answer
  confirmation); a line that picked up with nobody pressing 1 (a voicemail) is
  failed with reason ``not-accepted``.
* **resolved at the centre** — wrap-ups with outcome ``answered_by_centre`` ÷ all
  wrap-ups (target 80 %, Luleå: 70 % → 80 %).
* **callbacks** — requested, completed, failed, cancelled, pending; attempts per
  completion = all dial attempts ÷ completed callbacks; time to contact = from
  the request to the completion.
* **menu** — choices per option; invalid-key and no-input rates = calls with at
  least one such event ÷ calls that reached the menu (open hours).
* **directory** — lookups with and without a match; the unmatched queries.

Every call is counted on the local (Europe/Stockholm) date and hour it started,
even when it ends after midnight. A ratio with nothing to divide is ``None``
("no data"), never a division by zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

WRAPUP_OUTCOMES = ("answered_by_centre", "transferred", "referred_to_phone_hours", "message_taken")
RESOLVED = "answered_by_centre"

# One word per call for the raw data file and the dashboard (see :func:`disposition`).
DISPOSITIONS = ("answered", "transferred", "callback", "abandoned", "in_progress", "handed_off", "transfer_hangup",
                "closed", "ivr_exit", "goodbye")


@dataclass(frozen=True)
class Definitions:
    """The configurable parts of the definitions (settings section ``[stats]``)."""

    short_abandon_seconds: int = 5
    abandoned_in_denominator: bool = True
    switchboard_choices: tuple[str | None, ...] = ("person", "fallback", None)
    switchboard_answer_seconds: int = 15
    switchboard_target_percent: float = 90.0
    service_answer_seconds: int = 300
    service_target_percent: float = 90.0
    lost_target_percent: float = 10.0
    queue_wait_target_seconds: int = 300
    resolved_target_percent: float = 80.0
    amber_margin_percent: float = 10.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Mapping]) -> "Definitions":
        s = settings.get("stats", {})
        choices = tuple(None if c == "none" else c for c in s.get("switchboard_choices", ["person", "fallback", "none"]))
        return cls(
            short_abandon_seconds=int(s.get("short_abandon_seconds", 5)),
            abandoned_in_denominator=bool(s.get("abandoned_in_denominator", True)),
            switchboard_choices=choices,
            switchboard_answer_seconds=int(s.get("switchboard_answer_seconds", 15)),
            switchboard_target_percent=float(s.get("switchboard_target_percent", 90)),
            service_answer_seconds=int(s.get("service_answer_seconds", 300)),
            service_target_percent=float(s.get("service_target_percent", 90)),
            lost_target_percent=float(s.get("lost_target_percent", 10)),
            queue_wait_target_seconds=int(s.get("queue_wait_target_seconds", 300)),
            resolved_target_percent=float(s.get("resolved_target_percent", 80)),
            amber_margin_percent=float(s.get("amber_margin_percent", 10)),
        )

    def line(self, menu_choice: str | None) -> str:
        """Which service target a queued call counts toward: ``switchboard`` or ``service``."""
        return "switchboard" if menu_choice in self.switchboard_choices else "service"

    def answer_seconds(self, line: str) -> int:
        return self.switchboard_answer_seconds if line == "switchboard" else self.service_answer_seconds

    def target_percent(self, line: str) -> float:
        return self.switchboard_target_percent if line == "switchboard" else self.service_target_percent


# --- per call --------------------------------------------------------------------------------------


def is_short_abandon(queue_outcome: str | None, wait_seconds: int | None, threshold: int) -> bool:
    """A queue hang-up within the threshold (inclusive); a threshold of 0 turns the rule off."""
    return queue_outcome == "abandoned" and threshold > 0 and (wait_seconds or 0) <= threshold


def disposition(*, ended: bool, open_: bool | None, answered_by: str | None, queue_outcome: str | None,
                callback_requested: bool, transfer_hangup: bool, end_reason: str | None) -> str:
    """The one word that says how a call ended, first match wins (order matters, see the table tests)."""
    if answered_by == "centre":
        return "answered"
    if answered_by == "transfer":
        return "transferred"
    if callback_requested:
        return "callback"
    if queue_outcome == "abandoned":
        return "abandoned"
    if not ended:
        return "in_progress"  # still queued, ringing, talking or in the menu
    if end_reason == "handed_to_pbx":
        return "handed_off"  # the adapter failed and the PBX's own fallback took the call: outcome unknown
    if transfer_hangup:
        return "transfer_hangup"
    if open_ is False:
        return "closed"
    if end_reason == "caller_hangup":
        return "ivr_exit"
    return "goodbye"


# --- ratios ----------------------------------------------------------------------------------------


def share(part: int | float, whole: int | float) -> float | None:
    """Percent, or None when there is nothing to divide."""
    return None if not whole else 100.0 * part / whole


def mean(total: int | float, count: int) -> float | None:
    return None if not count else total / count


def service_level(within: int, answered: int, abandoned: int, abandoned_in_denominator: bool) -> float | None:
    """Answered within the target time as a percent of answered (+ abandoned, by default)."""
    return share(within, answered + (abandoned if abandoned_in_denominator else 0))


def nearest_rank(total: int, q: float) -> int:
    """Which value of ``total`` sorted ones is the q-th percentile: ceil(q * total) without float surprises."""
    return max(1, -(-int(round(q * total * 1000)) // 1000))


def percentile(histogram: Iterable[tuple[int, int]], q: float) -> int | None:
    """Nearest-rank percentile of (value, count) pairs: the smallest value with at least q of all at or below it."""
    pairs = sorted((v, c) for v, c in histogram if c)
    total = sum(c for _, c in pairs)
    if not total:
        return None
    rank = nearest_rank(total, q)
    seen = 0
    for value, count in pairs:
        seen += count
        if seen >= rank:
            return value
    return pairs[-1][0]


# --- targets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Light:
    """A traffic light: the colour AND the words, so it is readable without colour."""

    state: str  # green | amber | red | none
    text: str  # Swedish, shown on the tile
    text_en: str


LIGHTS = {
    "green": ("Målet nått", "Target met"),
    "amber": ("Nära målet", "Close to target"),
    "red": ("Målet ej nått", "Target missed"),
    "none": ("Ingen data", "No data"),
}


def light(value: float | None, target: float, higher_is_better: bool, margin_percent: float) -> Light:
    """Green when the target is met; amber when it is missed by less than ``margin_percent`` of the target."""
    if value is None:
        state = "none"
    elif (value >= target) if higher_is_better else (value <= target):
        state = "green"
    else:
        slack = abs(target) * margin_percent / 100.0
        close = value >= target - slack if higher_is_better else value <= target + slack
        state = "amber" if close else "red"
    sv, en = LIGHTS[state]
    return Light(state, sv, en)
