"""What the PBX sees, in vaxel's words: AMI events become call events and directory presence.

The mapping functions are pure and table-tested against the real sessions in ``tests/fakes/wire/``:
``presence_of_device`` (``DeviceStateChange``), ``presence_of_extension``
(``ExtensionStatus``), ``extension_of_device`` (which directory extension a
device is, read through the dial template) and ``call_event`` (dials, hang-ups,
transfers and queue events).

:class:`PbxWatcher` subscribes to an :class:`~switchboard.asterisk.ami.AmiClient`:
presence changes go to ``on_presence(extension, state)`` with state one of
available/busy/unavailable (the directory's presence model plugs in there),
call events to ``on_call_event``, and :class:`QueueMirror` keeps app_queue's
members and waiting callers — rebuilt from ``QueueStatus`` after every
(re)connection, with device states from ``DeviceStateList``.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)

AVAILABLE, BUSY, UNAVAILABLE = "available", "busy", "unavailable"
DEVICE_STATES = {
    "NOT_INUSE": AVAILABLE,
    "INUSE": BUSY, "BUSY": BUSY, "RINGING": BUSY, "RINGINUSE": BUSY, "ONHOLD": BUSY,
    "UNAVAILABLE": UNAVAILABLE, "INVALID": UNAVAILABLE,
}  # UNKNOWN says nothing (e.g. an endpoint without qualify): no change
BUSY_BITS = 1 | 2 | 8 | 16  # ExtensionStatus: InUse, Busy, Ringing, OnHold

PresenceHandler = Callable[[str, str], None]


def presence_of_device(state: str | None) -> str | None:
    return DEVICE_STATES.get((state or "").strip().upper())


def presence_of_extension(status: str | None) -> str | None:
    """``ExtensionStatus`` Status: 0 idle, 1 in use, 2 busy, 4 unavailable, 8 ringing, 16 on hold; -1/-2 removed."""
    try:
        value = int(status or "")
    except ValueError:
        return None
    if value < 0 or value & 4:
        return UNAVAILABLE
    if value & BUSY_BITS:
        return BUSY
    return AVAILABLE


def device_pattern(template: str) -> re.Pattern[str]:
    """``PJSIP/{extension}`` -> a regex reading the extension back out of a device name."""
    parts = re.split(r"(\{extension\}|\{number\})", template)
    regex = "".join(
        "(?P<extension>[0-9A-Za-z+*#._]+)" if p == "{extension}" else "[^/@;&,]*" if p == "{number}" else re.escape(p)
        for p in parts
    )
    return re.compile(f"^{regex}$")


def extension_of_device(device: str | None, pattern: re.Pattern[str]) -> str | None:
    m = pattern.match(device or "")
    return m.group("extension") if m and "extension" in pattern.groupindex else None


@dataclass(frozen=True)
class PbxEvent:
    """A call event as the PBX saw it; ``uniqueid`` is the caller's channel (vaxel's call id is ``ast-<uniqueid>``)."""

    kind: str
    uniqueid: str
    channel: str
    data: dict[str, Any] = field(default_factory=dict)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def call_event(e: dict[str, str]) -> PbxEvent | None:
    """DialBegin/End, Hangup, Blind/AttendedTransfer and the queue events; None for everything else."""
    name = e.get("Event", "")
    uid, chan = e.get("Uniqueid") or e.get("DestUniqueid", ""), e.get("Channel") or e.get("DestChannel", "")
    if name == "DialBegin":
        return PbxEvent("dial_begin", uid, chan, {"dest": e.get("DestChannel"), "dial_string": e.get("DialString")})
    if name == "DialEnd":
        return PbxEvent("dial_end", uid, chan, {"dest": e.get("DestChannel"), "status": e.get("DialStatus")})
    if name == "Hangup":
        return PbxEvent("hangup", uid, chan, {"cause": _int(e.get("Cause")), "cause_txt": e.get("Cause-txt")})
    if name == "BlindTransfer":
        return PbxEvent("transfer", e.get("TransfererUniqueid", uid), e.get("TransfererChannel", chan),
                        {"type": "blind", "result": e.get("Result"), "to": e.get("Extension")})
    if name == "AttendedTransfer":
        return PbxEvent("transfer", e.get("OrigTransfererUniqueid", uid), e.get("OrigTransfererChannel", chan),
                        {"type": "attended", "result": e.get("Result")})
    queue = {"queue": e.get("Queue")}
    if name == "QueueCallerJoin":
        return PbxEvent("queue_join", uid, chan, {**queue, "position": _int(e.get("Position")),
                                                  "count": _int(e.get("Count"))})
    if name == "QueueCallerLeave":
        return PbxEvent("queue_leave", uid, chan, {**queue, "position": _int(e.get("Position")),
                                                   "count": _int(e.get("Count"))})
    if name == "QueueCallerAbandon":
        return PbxEvent("queue_abandon", uid, chan, {**queue, "position": _int(e.get("Position")),
                                                     "hold_time": _int(e.get("HoldTime"))})
    member = {**queue, "member": e.get("MemberName") or e.get("Interface")}
    if name == "AgentConnect":
        return PbxEvent("operator_answered", uid, chan, {**member, "hold_time": _int(e.get("HoldTime")),
                                                         "ring_time": _int(e.get("RingTime"))})
    if name == "AgentComplete":
        return PbxEvent("operator_done", uid, chan, {**member, "talk_time": _int(e.get("TalkTime")),
                                                     "reason": e.get("Reason")})
    if name == "AgentRingNoAnswer":
        return PbxEvent("operator_no_answer", uid, chan, {**member, "ring_time": _int(e.get("RingTime"))})
    return None


class QueueMirror:
    """app_queue's members (operators) and waiting callers per queue, as AMI last told them."""

    def __init__(self) -> None:
        self.members: dict[str, dict[str, dict[str, Any]]] = {}
        self.callers: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def reset(self, queue: str) -> None:
        with self._lock:
            self.members[queue], self.callers[queue] = {}, {}

    def apply(self, e: dict[str, str]) -> None:
        name, queue = e.get("Event", ""), e.get("Queue", "")
        if not queue:
            return
        with self._lock:
            members = self.members.setdefault(queue, {})
            callers = self.callers.setdefault(queue, {})
            interface = e.get("Interface") or e.get("Location") or ""
            if name in {"QueueMember", "QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause"} and interface:
                member = members.setdefault(interface, {})
                member.update(name=e.get("MemberName") or e.get("Name") or member.get("name") or interface,
                              paused=e.get("Paused", "0") == "1", status=_int(e.get("Status")),
                              in_call=e.get("InCall", "0") == "1")
            elif name == "QueueMemberRemoved":
                members.pop(interface, None)
            elif name in {"QueueEntry", "QueueCallerJoin"}:
                callers[e.get("Uniqueid", "")] = {"position": _int(e.get("Position")),
                                                  "caller": e.get("CallerIDNum")}
            elif name in {"QueueCallerLeave", "QueueCallerAbandon"}:
                callers.pop(e.get("Uniqueid", ""), None)

    def operators(self, queue: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self.members.get(queue, {}).items()}


class PbxWatcher:
    """Subscribes to AMI: presence and call events out, queue state mirrored and resynchronised."""

    def __init__(self, dial_template: str, queues: list[str], on_presence: PresenceHandler | None = None,
                 on_call_event: Callable[[PbxEvent], None] | None = None):
        self.pattern = device_pattern(dial_template)
        self.queues = queues
        self.on_presence = on_presence or (lambda ext, state: log.debug("presence %s: %s", ext, state))
        self.on_call_event = on_call_event or (lambda ev: log.debug("pbx %s", ev))
        self.mirror = QueueMirror()

    def attach(self, client) -> None:
        client.subscribe(self.handle)
        client.on_connect(self.resync)

    def resync(self, client) -> None:
        """After every (re)connect: the queues' members and callers, and every device's state."""
        for queue in self.queues:
            self.mirror.reset(queue)
            for event in client.listing("QueueStatus", Queue=queue):
                self.mirror.apply(event)
        try:
            for event in client.listing("DeviceStateList"):
                self._presence(event)
        except Exception as exc:  # Asterisk before 13 has no DeviceStateList; events still arrive
            log.info("AMI DeviceStateList unavailable (%s); presence follows events only", exc)

    def handle(self, e: dict[str, str]) -> None:
        if "ActionID" in e:
            return  # part of a list we asked for (QueueStatus, DeviceStateList): resync applies those
        name = e.get("Event", "")
        if name in {"DeviceStateChange", "ExtensionStatus"}:
            self._presence(e)
            return
        if name.startswith("Queue"):
            self.mirror.apply(e)
        event = call_event(e)
        if event is not None:
            self.on_call_event(event)

    def _presence(self, e: dict[str, str]) -> None:
        if e.get("Event") == "ExtensionStatus":
            extension, state = e.get("Exten"), presence_of_extension(e.get("Status"))
        else:
            extension, state = extension_of_device(e.get("Device"), self.pattern), presence_of_device(e.get("State"))
        if extension and state:
            self.on_presence(extension, state)
