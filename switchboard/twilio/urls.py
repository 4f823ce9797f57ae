"""Every URL the Twilio adapter serves, and absolute links to them for the TwiML we hand out.

Routes are named here once: the views register them and the TwiML points at
them, so a link and its route cannot drift apart. Links are absolute, built
on the public base URL, because Twilio signs exactly the URL it requests.
"""

from __future__ import annotations

from urllib.parse import urlencode

PREFIX = "/twilio"

# the inbound call (a citizen calling the municipality's number)
VOICE = "/voice"  # the number's "A call comes in" webhook
STEP = "/step"  # <Gather action> and the <Redirect> after it (silence)
DIAL = "/dial"  # <Dial action>: how a transfer ended
WHISPER = "/whisper"  # <Number url>: "press 1 to accept" on the staff leg
WHISPER_ANSWER = "/whisper/answer"
WAIT = "/wait"  # <Enqueue waitUrl> and the wait loop's <Redirect>
OFFER = "/offer"  # <Gather action> of the callback offer inside the wait loop
QUEUE_RESULT = "/queue-result"  # <Enqueue action>
STATUS = "/status"  # the number's "Call status changes" callback
FALLBACK = "/fallback"  # the number's "Primary handler fails" URL; needs no database

# operators taking callers from the centre queue
OPERATOR = "/operator"
OPERATOR_NEXT = "/operator/next"
DEQUEUED = "/dequeued"  # <Queue url>: runs for the caller about to be bridged

# the operator console acting on a live call (control.py: REST updates of the caller's call)
CONSOLE_DIAL = "/console/dial"  # <Dial action> of an operator's followed transfer, and of the dial back to them
CONSOLE_HOLD = "/console/hold"  # the caller on hold: hold audio and a loop back here; never steps the engine
CONSOLE_CONSULT = "/console/consult"  # <Dial action> on the operator's consult leg (attended transfer)

# outbound callback calls (placed by dialer.py)
CALLBACK_ANSWER = "/callback/answer"
CALLBACK_WAIT = "/callback/wait"
CALLBACK_LEFT = "/callback/left"
CALLBACK_DIALLED = "/callback/dialled"
CALLBACK_STATUS = "/callback/status"

WAIT_ROUTES = (WAIT, CALLBACK_WAIT)  # TwiML for these runs inside a queue: no <Enqueue>, no <Dial>


def absolute(base: str, route: str, **params: object) -> str:
    """``https://public.example/twilio/step?s=7`` — empty parameters are left out."""
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{base.rstrip('/')}{PREFIX}{route}" + (f"?{query}" if query else "")
