"""Which numbers we will ring back: an allow-list, so nobody can use the municipality to call premium lines.

Allowed by default: valid Swedish fixed-line and mobile numbers. Everything
else is refused with a reason the caller hears (hidden, invalid, international,
not_allowed). ``phonenumbers`` marks 0900/0939/0944 as premium but leaves 099x
and 071x unknown — an allow-list refuses both without a special case.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

TYPE_NAMES = {
    "fixed_line": PhoneNumberType.FIXED_LINE,
    "mobile": PhoneNumberType.MOBILE,
    "fixed_line_or_mobile": PhoneNumberType.FIXED_LINE_OR_MOBILE,
    "voip": PhoneNumberType.VOIP,
    "uan": PhoneNumberType.UAN,
    "toll_free": PhoneNumberType.TOLL_FREE,
}
HIDDEN = {"", "anonymous", "unknown", "restricted", "private", "unavailable"}


@dataclass(frozen=True)
class NumberDecision:
    ok: bool
    number: str | None = None  # E.164
    spoken: str | None = None  # national format: 070-123 45 67
    reason: str | None = None  # hidden | invalid | international | not_allowed


def national(number: str, region: str = "SE") -> str:
    """An E.164 number in the national format people read and say."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(number, region), PhoneNumberFormat.NATIONAL)
    except NumberParseException:
        return number


def check(raw: str | None, allowed_types: list[str], region: str = "SE") -> NumberDecision:
    text = (raw or "").strip()
    word = text.lower().lstrip("+")
    if not text or (word and word in HIDDEN):
        return NumberDecision(False, reason="hidden")
    if not any(ch.isdigit() for ch in text):
        return NumberDecision(False, reason="invalid")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException:
        return NumberDecision(False, reason="invalid")
    if parsed.country_code != phonenumbers.country_code_for_region(region):
        return NumberDecision(False, reason="international")
    if not phonenumbers.is_valid_number(parsed) or parsed.extension:
        return NumberDecision(False, reason="invalid")
    if phonenumbers.number_type(parsed) not in {TYPE_NAMES[t] for t in allowed_types if t in TYPE_NAMES}:
        return NumberDecision(False, reason="not_allowed")
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    return NumberDecision(True, e164, phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL))
