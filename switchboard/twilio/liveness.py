"""Does Twilio still have this call? The reconciler's question, answered with the REST API's call status."""

from __future__ import annotations

from datetime import datetime

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.rest import Client

from ivr.models import CallSession
from switchboard.reconcile import Verdict
from switchboard.twilio import rest

LIVE = {"queued", "ringing", "in-progress"}
OVER = {"completed", "busy", "failed", "no-answer", "canceled"}


class TwilioCalls:
    """``GET /Calls/{CallSid}``: live while queued, ringing or in progress; over otherwise (with its end time)."""

    def __init__(self, client: Client | None):
        self.client = client

    @classmethod
    def from_settings(cls, settings: dict, http_client: HttpClient | None = None) -> "TwilioCalls":
        return cls(rest.client(settings, http_client))

    def verdict(self, call: CallSession, now: datetime) -> Verdict:
        if self.client is None:
            return Verdict(None, rest.MISSING + " to ask Twilio")
        try:
            found = self.client.calls(call.call_id).fetch()
        except TwilioRestException as exc:
            if exc.status == 404:
                return Verdict(False, "Twilio has no such call")
            return Verdict(None, f"Twilio answered {exc.status}: {exc.msg}")
        except (TwilioException, OSError) as exc:
            return Verdict(None, f"Twilio could not be reached: {exc}")
        if found.status in LIVE:
            return Verdict(True, f"Twilio: {found.status}")
        return Verdict(False, f"Twilio: {found.status}", found.end_time if isinstance(found.end_time, datetime)
                       else None)
