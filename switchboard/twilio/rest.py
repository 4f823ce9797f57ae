"""The one way vaxel builds a Twilio REST client: credentials only from the environment, the API address from
``twilio.api_url`` (Twilio's own by default; a regional edge, or a local double in the fault benchmark)."""

from __future__ import annotations

import os

from twilio.http import HttpClient
from twilio.rest import Client

MISSING = "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set in the environment"


def client(settings: dict, http_client: HttpClient | None = None) -> Client | None:
    """A REST client, or None when the credentials are not set."""
    account, token = os.environ.get("TWILIO_ACCOUNT_SID"), os.environ.get("TWILIO_AUTH_TOKEN")
    if not account or not token:
        return None
    rest = Client(account, token, http_client=http_client)
    rest.api.base_url = settings["twilio"]["api_url"].rstrip("/")
    return rest
