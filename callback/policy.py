"""Which numbers we will ring back: the number policy of :mod:`directory.numbers`, with the callback's settings.

Allowed by default: valid Swedish fixed-line and mobile numbers
(``callback.allowed_types``, ``callback.region``; callbacks get no
``numbers.exceptions`` — they ring a citizen's own number, so they may stay
stricter than transfers). Everything else is refused with a reason the caller
hears (hidden, invalid, international, not_allowed — premium rate is
``not_allowed`` here, as the flow's prompts name it). ``phonenumbers`` marks
0900/0939/0944 as premium but leaves 099x and 071x unknown — an allow-list
refuses both without a special case.
"""

from __future__ import annotations

from directory import numbers
from directory.numbers import TYPE_NAMES, NumberDecision  # noqa: F401  (part of this module's API)

HIDDEN = numbers.HIDDEN
SPOKEN_REASONS = {"hidden", "invalid", "international", "not_allowed"}  # refusal_<reason> prompts of the flow


def national(number: str, region: str = "SE") -> str:
    """A number as people here read it (:func:`directory.numbers.display`)."""
    return numbers.display(number, region)


def check(raw: str | None, allowed_types: list[str], region: str = "SE") -> NumberDecision:
    decision = numbers.check(raw, numbers.Policy(tuple(allowed_types), region))
    if decision.ok:
        return decision
    reason = decision.reason if decision.reason in SPOKEN_REASONS else "not_allowed"
    return NumberDecision(False, reason=reason, message=decision.message)
