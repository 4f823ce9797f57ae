"""Operators in and out of the queues they serve from vaxel: AMI ``QueueAdd``/``QueueRemove``/``QueuePause``.

A small function API for the operator console to come. An operator is an
app_queue member whose interface is their phone through the dial template
(``PJSIP/4400``); app_queue then rings them for callers waiting in the queue.
Every function raises :class:`~switchboard.asterisk.ami.AmiError` when Asterisk
refuses (e.g. "Unable to add interface: Already there") and
:class:`~switchboard.asterisk.ami.AmiUnavailable` when AMI is not connected.
"""

from __future__ import annotations

from switchboard.asterisk.ami import AmiClient
from switchboard.asterisk.mapping import SAFE_DIAL, app_queue_name


def interface_of(extension: str, dial_template: str) -> str:
    """The operator's phone as an app_queue interface: ``4400`` -> ``PJSIP/4400``."""
    return dial_template.format(extension=SAFE_DIAL.sub("", extension), number="")


def log_in(client: AmiClient, interface: str, name: str | None = None, queue: str = "centre",
           paused: bool = False) -> None:
    client.action("QueueAdd", Queue=app_queue_name(queue), Interface=interface, MemberName=name or interface,
                  Paused="true" if paused else "false", Penalty="0")


def log_out(client: AmiClient, interface: str, queue: str = "centre") -> None:
    client.action("QueueRemove", Queue=app_queue_name(queue), Interface=interface)


def pause(client: AmiClient, interface: str, paused: bool = True, reason: str = "", queue: str = "centre") -> None:
    """Pause (a break, after-call work) or resume; a paused operator is not rung."""
    headers = {"Queue": app_queue_name(queue), "Interface": interface, "Paused": "true" if paused else "false"}
    if reason:
        headers["Reason"] = reason
    client.action("QueuePause", **headers)
