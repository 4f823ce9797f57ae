"""The Twilio adapter: the whole call flow over TwiML webhooks, outbound callbacks over the REST API.

A Twilio number's voice webhook points at ``POST /twilio/voice``; every later
request arrives at a URL our own TwiML handed out (``action``, ``waitUrl``,
``<Redirect>``, ``<Queue url>``) or at the status callback. Each webhook feeds
the engine one input through :class:`switchboard.calls.CallRunner` and renders
the actions it returns (:mod:`.twiml`, pure). The modules:

``views``      the blueprint to register (``from switchboard.twilio.views import bp``)
``blueprint``  the blueprint's shared parts: signature check, startup checks, the rescue TwiML
``inbound``    the citizen's call: voice, step, dial, whisper, wait, offer, queue-result, status, fallback
``operator``   operators taking callers with ``<Dial><Queue>``
``dialer``     outbound callback calls (``calls.create``); ``outbound`` their webhooks and outcome
``replies``    idempotency; ``signature``, ``urls``, ``models`` as named

Design choices
--------------

*Returned callers first.* Twilio queues are first in, first out, and an
``<Enqueue>`` cannot jump the line. So a caller returned from a failed
transfer (and a citizen being rung back) is enqueued in a second Twilio
queue, ``centre-returned``, and new callers in ``centre``. The operator
endpoint asks our own queue (:func:`callback.queue.waiting`, which orders
by priority, then arrival) who stands first and dials that Twilio queue; if
it turns out empty after ``twilio.hold_seconds``, the operator is sent to the
other one. Positions told to callers come from our queue too, so they count
returned callers ahead; Twilio's ``QueuePosition`` is only logged.

*Idempotency.* Twilio retries webhooks. Every URL we hand out carries the
engine step it answers (``?s=<CallSession.step>``); a request is the key
(CallSid, route:step) in ``twilio_responses``. The first request claims the
key, steps the engine once and stores its TwiML; a retry gets the stored TwiML
back. A request for a step the call has already left is answered with what
the caller hears now, without feeding the engine. Inputs that are harmless to
repeat (a hang-up, ``OperatorAnswered`` only while queued) are not stored.

*Never a dead call.* Any error in a webhook answers with an apology in
Swedish and the centre queue (inside a queue: hold music);
``/twilio/fallback`` does the same without touching the database.
"""
