"""The number policy: which numbers vaxel may dial or hand to a telephony platform — one allow-list for all.

Every number that can end up in a ``<Dial>``/``Dial()`` or a REST call — a
directory entry's phone, mobile and other numbers, a forward (``forward_to``),
an operator's endpoint, a callback number — is checked twice with this module:
where it enters (the status API, :func:`directory.presence.set_status`, the CSV
import and the admin's entry form, the console's operator endpoint, the IVR's
callback capture) and again just before it is dialled (the Twilio and Asterisk
adapters and the callback dialers). A refused number is never dialled: the call
goes on as after a failed transfer.

**PSTN numbers** (:func:`check`): allowed are the valid numbers of
``numbers.region`` (Sweden) whose ``phonenumbers`` type is in
``numbers.allowed_types`` — by default fixed line and mobile. It is an
allow-list, not a deny-list: ``phonenumbers`` marks 0900/0939/0944 as premium
rate but leaves 099x (mass-call, televoting) and 071x (telematics) invalid or
unknown, and an allow-list refuses those without a special case. Premium-rate
numbers (including 099x) are named as such in the refusal. ``numbers.exceptions``
lists E.164 numbers always allowed (e.g. the foreign mobile one named person may
forward to). The decision carries the E.164 form (what is stored), the national
form (what people read), a reason code and a Swedish message for the user.

Callbacks use the same check with their own, possibly stricter, settings
(``callback.allowed_types``, ``callback.region``) and without the exceptions:
:mod:`callback.policy`.

**Extensions** (2–6 digits) are internal: never a PSTN number, they are dialled
only through the PBX's dial template. **Operator endpoints** (``client:anna``,
``sip:...``, a number, an extension; :func:`check_endpoint`) are not judged as
numbers: an endpoint must be an internal extension or be listed in
``twilio.operators`` — the same list that may call the operator line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from core.text import N_

log = logging.getLogger(__name__)

TYPE_NAMES = {
    "fixed_line": PhoneNumberType.FIXED_LINE,
    "mobile": PhoneNumberType.MOBILE,
    "fixed_line_or_mobile": PhoneNumberType.FIXED_LINE_OR_MOBILE,
    "voip": PhoneNumberType.VOIP,
    "uan": PhoneNumberType.UAN,
    "toll_free": PhoneNumberType.TOLL_FREE,
}
DEFAULT_TYPES = ("fixed_line", "mobile", "fixed_line_or_mobile")
HIDDEN = {"", "anonymous", "unknown", "restricted", "private", "unavailable"}
# Swedish premium-rate ranges by national significant number: 0900, 0939, 0944 (betalnummer) and 099x (massanrop),
# which phonenumbers does not know. Only used to name the refusal; the allow-list refuses them anyway.
PREMIUM_PREFIXES = {"SE": ("900", "939", "944", "99")}
EXTENSION = re.compile(r"\d{2,6}")

# reason -> the message shown to whoever entered the number ({number}: as they wrote it)
MESSAGES = {
    "hidden": N_("Numret saknas"),
    "invalid": N_("%(number)s går inte att tolka som ett telefonnummer"),
    "premium": N_("Numret %(number)s är ett betalnummer och får inte användas"),
    "international": N_("Numret %(number)s är inte ett svenskt fast- eller mobilnummer"),
    "not_allowed": N_("Numret %(number)s är inte ett svenskt fast- eller mobilnummer"),
    "endpoint": N_("%(number)s är varken en anknytning (2–6 siffror) eller en operatörstelefon i twilio.operators"),
}


@dataclass(frozen=True)
class NumberDecision:
    ok: bool
    number: str | None = None  # E.164 (or the extension / endpoint as given, for check_entry / check_endpoint)
    spoken: str | None = None  # national format: 070-123 45 67
    reason: str | None = None  # hidden | invalid | premium | international | not_allowed | endpoint
    message: str = ""  # Swedish, for the person who entered the number; "" when ok

    @property
    def national(self) -> str | None:
        return self.spoken


@dataclass(frozen=True)
class Policy:
    """What may be dialled: the allowed types of ``region``, plus exceptions; operator endpoints besides extensions."""

    allowed_types: tuple[str, ...] = DEFAULT_TYPES
    region: str = "SE"
    exceptions: frozenset[str] = field(default_factory=frozenset)  # E.164
    operators: frozenset[str] = field(default_factory=frozenset)  # endpoints as written in twilio.operators

    @classmethod
    def from_settings(cls, settings: dict) -> "Policy":
        """The policy for numbers vaxel dials: ``[numbers]``, and ``twilio.operators`` for operator endpoints."""
        section = settings.get("numbers") or {}
        region = section.get("region") or "SE"
        exceptions = set()
        for raw in section.get("exceptions") or ():
            e164 = _e164(str(raw), region)
            if e164 is None:
                log.warning("numbers.exceptions: %r is not a phone number; ignored", raw)
            else:
                exceptions.add(e164)
        return cls(tuple(section.get("allowed_types", DEFAULT_TYPES)), region, frozenset(exceptions),
                   frozenset(str(o).strip() for o in (settings.get("twilio") or {}).get("operators") or ()))

    @classmethod
    def for_callbacks(cls, settings: dict) -> "Policy":
        """Callbacks: ``callback.allowed_types`` and ``callback.region``, no exceptions (a citizen's own number)."""
        section = settings.get("callback") or {}
        return cls(tuple(section.get("allowed_types", DEFAULT_TYPES)), section.get("region") or "SE")


DEFAULT = Policy()


def current() -> Policy:
    """The running service's policy; outside an app (a script, a pure test) the built-in defaults."""
    from flask import current_app, has_app_context

    if has_app_context() and "vaxel" in current_app.extensions:
        return Policy.from_settings(current_app.extensions["vaxel"].settings)
    return DEFAULT


def _e164(raw: str, region: str) -> str | None:
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164) if phonenumbers.is_possible_number(
        parsed) else None


def display(number: str | None, region: str = "SE") -> str | None:
    """How people read a stored number: national form at home ("070-174 06 50"), international abroad; an
    extension or anything unparseable as stored. Stored numbers are E.164; this is for display only."""
    if not number or EXTENSION.fullmatch(number):
        return number
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return number
    home = parsed.country_code == phonenumbers.country_code_for_region(region)
    return phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL if home else PhoneNumberFormat.INTERNATIONAL)


def _refuse(reason: str, shown: str) -> NumberDecision:
    message = MESSAGES[reason]
    return NumberDecision(False, reason=reason, message=N_(message, number=shown) if "%(" in message else N_(message))


def check(raw: str | None, policy: Policy | None = None) -> NumberDecision:
    """May vaxel dial this number? E.164 and national form when it may; a reason and a Swedish message if not."""
    policy = policy or DEFAULT
    text = (raw or "").strip()
    word = text.lower().lstrip("+")
    if not text or (word and word in HIDDEN):
        return _refuse("hidden", text)
    quoted = f"”{text}”"
    if not any(ch.isdigit() for ch in text):
        return _refuse("invalid", quoted)
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, policy.region)
    except NumberParseException:
        return _refuse("invalid", quoted)
    if parsed.extension or not phonenumbers.is_possible_number(parsed):
        return _refuse("invalid", quoted)
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    home = parsed.country_code == phonenumbers.country_code_for_region(policy.region)
    shown = phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL if home else PhoneNumberFormat.INTERNATIONAL)
    if e164 in policy.exceptions:
        return NumberDecision(True, e164, shown)
    written = (raw or "").strip()  # a refusal names the number as the person wrote it
    if not home:
        return _refuse("international", written)
    nsn = str(parsed.national_number)
    if phonenumbers.number_type(parsed) == PhoneNumberType.PREMIUM_RATE or nsn.startswith(
            PREMIUM_PREFIXES.get(policy.region, ())):
        return _refuse("premium", written)
    if not phonenumbers.is_valid_number(parsed):
        return _refuse("not_allowed", written)
    if phonenumbers.number_type(parsed) not in {TYPE_NAMES[t] for t in policy.allowed_types if t in TYPE_NAMES}:
        return _refuse("not_allowed", written)
    return NumberDecision(True, e164, shown)


def is_extension(raw: str | None) -> bool:
    return bool(raw) and EXTENSION.fullmatch(raw.strip()) is not None


def check_entry(raw: str | None, policy: Policy | None = None) -> NumberDecision:
    """A directory entry's further number: an internal extension (kept as written) or a number :func:`check` allows."""
    if is_extension(raw):
        return NumberDecision(True, raw.strip(), raw.strip())
    return check(raw, policy)


def check_endpoint(raw: str | None, policy: Policy | None = None) -> NumberDecision:
    """An operator's endpoint: "" (none), an internal extension, or one listed in ``twilio.operators``."""
    policy = policy or DEFAULT
    text = (raw or "").strip()
    if not text or is_extension(text) or text in policy.operators:
        return NumberDecision(True, text, text)
    e164 = _e164(text, policy.region) if not text.startswith(("client:", "sip:")) else None
    if e164 is not None and e164 in {_e164(o, policy.region) for o in policy.operators}:
        return NumberDecision(True, e164, text)
    return _refuse("endpoint", f"”{text}”")


def dialable(number: str | None, policy: Policy | None = None, where: str = "") -> bool:
    """The check just before dialling: refuse (and log) what the policy does not allow."""
    if not number:
        return False
    decision = check(number, policy)
    if not decision.ok:
        log.warning("number policy: %s not dialled%s: %s (%s)", number, f" ({where})" if where else "",
                    decision.reason, decision.message)
    return decision.ok


def endpoint_dialable(endpoint: str | None, policy: Policy | None = None, where: str = "") -> bool:
    """The check just before ringing an operator's endpoint."""
    if not endpoint:
        return False
    decision = check_endpoint(endpoint, policy)
    if not decision.ok:
        log.warning("number policy: operator endpoint %s not rung%s: %s", endpoint, f" ({where})" if where else "",
                    decision.message)
    return decision.ok

