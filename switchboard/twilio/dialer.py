"""Placing a callback call through Twilio's REST API: the Twilio :class:`callback.dialer.Dialer`.

The citizen always sees the municipality's main number (``present_as``).

* Citizen first: Twilio rings the citizen; when they answer they hear who is
  calling and wait at the front of the centre queue (``/twilio/callback/answer``).
* Operator first: Twilio rings the operator endpoint; when it answers, the
  operator hears the brief and Twilio rings the citizen (``<Dial>``). Only an
  endpoint Twilio can ring (``+46...``, ``client:NAME``, ``sip:...``) works so;
  a queue name such as the default ``centre`` means "the centre's operators",
  and the citizen is rung first and put at the front of the centre queue.

How the attempt ended comes back to the *web service* — Twilio's status
callback and the ``<Dial action>`` (``outbound.py``) — which reports it once.
So the dispatcher process only places calls; configure it with
``callback.dialer = "switchboard.twilio.dialer:make_dialer"``.
"""

from __future__ import annotations

import re

from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.rest import Client

from callback.dialer import CallbackCall, DialError, OutcomeHandler
from directory import numbers
from switchboard.twilio import rest, urls

STATUS_EVENTS = ["answered", "completed"]
MAX_BRIEF = 400  # characters of the operator brief carried in the answer URL
RINGABLE = re.compile(r"\+\d{6,15}|client:\S+|sip:\S+")


class TwilioDialer:
    name = "twilio"

    def __init__(self, client: Client, public_url: str, policy: numbers.Policy | None = None):
        if not public_url:
            raise ValueError("public.url (VAXEL_PUBLIC_URL) must be set: Twilio needs an address to reach us at")
        self.client, self.base = client, public_url
        self.policy = policy or numbers.DEFAULT  # the callback number policy, checked again before dialling

    def place(self, call: CallbackCall) -> str:
        """Start the call; the Twilio call SID comes back, the outcome later through the status webhook."""
        if not numbers.dialable(call.number, self.policy, f"callback {call.request_id}"):
            raise DialError(f"callback {call.request_id}: the number policy refuses {call.number}")
        attempt = {"r": call.request_id, "a": call.attempt}
        operator = call.operator if call.operator and RINGABLE.fullmatch(call.operator) else None
        if operator:
            to = operator
            answer = urls.absolute(self.base, urls.CALLBACK_ANSWER, **attempt, o=1, n=call.number, p=call.present_as,
                                   b=call.brief[:MAX_BRIEF])
        else:
            to = call.number
            answer = urls.absolute(self.base, urls.CALLBACK_ANSWER, **attempt)
        status = urls.absolute(self.base, urls.CALLBACK_STATUS, **attempt, o=1 if operator else None)
        try:
            created = self.client.calls.create(to=to, from_=call.present_as, url=answer, method="POST",
                                               status_callback=status, status_callback_method="POST",
                                               status_callback_event=STATUS_EVENTS)
        except (TwilioException, OSError) as exc:
            raise DialError(f"Twilio did not start callback {call.request_id}/{call.attempt}: {exc}") from exc
        return created.sid


def make_dialer(settings: dict, on_outcome: OutcomeHandler | None = None,
                http_client: HttpClient | None = None) -> TwilioDialer:
    """The factory the dispatcher loads. Outcomes reach the web service, not ``on_outcome`` in this process."""
    api = rest.client(settings, http_client)
    if api is None:
        raise ValueError(rest.MISSING)
    return TwilioDialer(api, settings["public"]["url"], numbers.Policy.for_callbacks(settings))
