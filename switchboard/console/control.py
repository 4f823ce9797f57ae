"""One interface for acting on a live call from the console, whatever the telephony.

The console asks the engine what should happen (through the call runner) and
gives the resulting actions to the call's adapter here. The wiring registers
each adapter's :class:`CallControl` for its channel in the app's services; calls from the simulator or the demo use
:class:`SimulatedControl`, which only remembers what it was asked to do.
Outcomes come back the usual way: the adapter reports ``TransferEnded`` to the
runner when the transfer it placed is answered, not answered, busy or failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Protocol

from ivr.protocol import Action

log = logging.getLogger(__name__)


class ControlError(RuntimeError):
    """The platform refused or could not be reached; the console shows the message."""


class CallControl(Protocol):
    name: str

    def perform(self, call_id: str, actions: list[Action]) -> None:
        """Carry out engine actions on a live call held by an operator.

        ``Transfer`` (``by`` set: ring the target, follow the ring and report ``TransferEnded``;
        ``attended``: the operator talks to the target first), ``Bridged`` (connect the caller with
        ``party``, e.g. back to the same operator), ``Say`` and ``Enqueue`` (back to the centre queue,
        returned callers first), ``HangUp``.
        """
        ...

    def hold(self, call_id: str, on: bool) -> None:
        """Put the caller on hold (music) or take them back."""
        ...

    def complete(self, call_id: str) -> None:
        """Attended transfer: connect the caller to the target the operator consulted."""
        ...

    def cancel(self, call_id: str) -> None:
        """Attended transfer: end the consultation; the caller goes back to the operator (reported as canceled)."""
        ...

    def set_operator(self, operator: str, endpoint: str, state: str, reason: str = "") -> None:
        """Queue membership: ready = takes calls, paused = logged in but not offered calls, offline = out."""
        ...


@dataclass
class SimulatedControl:
    """For the simulator and demo calls: records what a platform would have been asked to do."""

    name: str = "simulated"
    log: list[tuple[str, str, object]] = field(default_factory=list)

    def perform(self, call_id: str, actions: list[Action]) -> None:
        self.log.extend((call_id, "perform", a.to_dict()) for a in actions)

    def hold(self, call_id: str, on: bool) -> None:
        self.log.append((call_id, "hold", on))

    def complete(self, call_id: str) -> None:
        self.log.append((call_id, "complete", None))

    def cancel(self, call_id: str) -> None:
        self.log.append((call_id, "cancel", None))

    def set_operator(self, operator: str, endpoint: str, state: str, reason: str = "") -> None:
        self.log.append((operator, "operator", state))


_SIMULATED = SimulatedControl()


def register(services, channel: str, factory: Callable[[object], CallControl]) -> None:
    """The wiring (``create_app``, ``asterisk.service.start``) gives a channel's calls their control."""
    services.controls[channel] = factory


def control_for(channel: str, services) -> CallControl:
    factory = services.controls.get(channel)
    return factory(services) if factory else _SIMULATED


def simulated() -> SimulatedControl:
    return _SIMULATED
