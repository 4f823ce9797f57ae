"""How a callback reaches a telephone: the one interface every telephony adapter implements.

The dispatcher (``callback``) decides *when* and *whom* to call; an adapter in
``switchboard/`` (Twilio REST, Asterisk AMI ``Originate``, the simulator's dry
run) only places the call and later reports how it ended. Keeping this a small
protocol means the domain never imports ``twilio`` or ``asterisk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

# How an attempt ended, as every adapter reports it.
OUTCOMES = ("answered", "no-answer", "busy", "failed")


@dataclass(frozen=True)
class CallbackCall:
    request_id: int
    attempt: int  # 1, 2, 3 ... — with request_id, the idempotency key of one dial
    number: str  # the citizen, E.164
    present_as: str  # the caller id shown to the citizen: the municipality's main number, E.164
    operator: str | None  # whom to connect first (operator-first order); None = citizen first
    brief: str  # what the operator is told before the citizen is dialled


class DialError(RuntimeError):
    """The call could not even be started (platform unreachable, refused); the attempt counts as failed."""


# Adapters call this when an attempt ends: (request_id, attempt, outcome in OUTCOMES).
OutcomeHandler = Callable[[int, int, str], None]


class Dialer(Protocol):
    name: str

    def place(self, call: CallbackCall) -> str:
        """Start the outbound call and return the platform's id for it; raise :class:`DialError` if impossible.

        The outcome arrives later, through the :data:`OutcomeHandler` the adapter was built with
        (Twilio status callback, AMI ``OriginateResponse``/``Hangup``), exactly once per attempt.
        """
        ...
