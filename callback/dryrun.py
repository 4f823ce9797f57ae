"""A dialer without telephony: prints what would be dialled, for ``vaxel callbacks run --dry-run``.

It implements the same :class:`~callback.dialer.Dialer` protocol as the Twilio
and Asterisk adapters, so a dry run exercises exactly the dispatcher's path.
Given an outcome (``--simulate``) it reports it as an adapter would, which
lets a demo walk a request through retries without a phone.
"""

from __future__ import annotations

from typing import Callable

from callback.dialer import OUTCOMES, CallbackCall, OutcomeHandler
from callback.policy import national


class DryRunDialer:
    name = "dry-run"

    def __init__(self, echo: Callable[[str], None] = print, on_outcome: OutcomeHandler | None = None,
                 outcome: str | None = None):
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        self.echo, self.on_outcome, self.outcome = echo, on_outcome, outcome
        self.placed: list[CallbackCall] = []

    def place(self, call: CallbackCall) -> str:
        citizen = f"ring {national(call.number)} ({call.number}) showing {national(call.present_as)}"
        if call.operator:
            steps = f"connect a free operator on '{call.operator}', tell them: \"{call.brief}\"; then {citizen}"
        else:
            steps = f"{citizen}; when answered, connect the centre and tell the operator: \"{call.brief}\""
        self.echo(f"DIAL request {call.request_id} attempt {call.attempt}: {steps}")
        self.placed.append(call)
        if self.on_outcome is not None and self.outcome is not None:
            self.echo(f"     request {call.request_id} attempt {call.attempt}: {self.outcome} (simulated)")
            self.on_outcome(call.request_id, call.attempt, self.outcome)
        return f"dry-run-{call.request_id}-{call.attempt}"
