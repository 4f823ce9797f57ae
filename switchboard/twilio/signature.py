"""Is a request really from Twilio? ``X-Twilio-Signature`` checked against the URL Twilio used.

Twilio signs the URL it requested — the public one. Behind a reverse proxy the
request arrives at an internal address, so the URL is rebuilt from
``VAXEL_PUBLIC_URL`` (setting ``public.url``) when it is set.
"""

from __future__ import annotations

from typing import Mapping

from twilio.request_validator import RequestValidator

HEADER = "X-Twilio-Signature"


def public_base(configured: str, host_url: str, script_root: str = "") -> str:
    """The address the world reaches this service at, without a trailing slash."""
    return configured.rstrip("/") if configured else host_url.rstrip("/") + script_root


def public_url(base: str, path: str, query_string: bytes) -> str:
    """The full URL Twilio requested: public base, path, and the query exactly as it was sent."""
    query = query_string.decode("latin-1")
    return f"{base}{path}" + (f"?{query}" if query else "")


def is_from_twilio(token: str | None, url: str, form: Mapping, signature: str | None) -> bool:
    """True only with a token and a signature that matches ``url`` and the POSTed form."""
    if not token or not signature:
        return False
    return RequestValidator(token).validate(url, form, signature)
