"""A fake Asterisk Manager Interface over real TCP, answering as ``wire/ami-session.txt`` shows.

Banner ``Asterisk Call Manager/13.0.0``; ``Response: Success`` with the client's own ActionID; list
actions (``QueueStatus``, ``DeviceStateList``) answered with ``EventList: start``, their events and a
``...Complete`` event; events from the capture interleaved before and between responses, plus a stray
response for somebody else's ActionID; ``Originate`` queued, then an ``OriginateResponse`` event;
``CoreShowChannels`` listing :attr:`FakeAmi.channels` as Asterisk's ``action_coreshowchannels`` does.
:meth:`drop` cuts every connection, as a restarting Asterisk would.

A booting Asterisk (``FakeAmi(booting=True)``) accepts logins but sends no ``FullyBooted`` yet, and
answers the actions of modules it has not loaded (app_queue, res_manager_devicestate) as it answers
any unknown action, until :meth:`FakeAmi.finish_booting` sends ``FullyBooted`` to every logged-in
session. ``hidden_events`` are never sent (a proxy or an event filter in between).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from tests.fakes.captures import ami_messages

BANNER = "Asterisk Call Manager/13.0.0"


def _captured() -> tuple[list[dict[str, str]], dict[str, dict[str, str]]]:
    events, by_name = [], {}
    for sent, headers in ami_messages():
        if not sent and "Event" in headers:
            events.append(headers)
            by_name.setdefault(headers["Event"], headers)
    return events, by_name


CAPTURED_EVENTS, FIRST_EVENT = _captured()
NOISE = [e for e in CAPTURED_EVENTS if e["Event"] in ("Newchannel", "VarSet", "DialBegin", "Newexten")][:6]
# the actions of modules a starting Asterisk loads after it already accepts AMI logins
MODULE_ACTIONS = {"QueueStatus", "QueueSummary", "QueueAdd", "QueueRemove", "QueuePause", "QueuePenalty",
                  "QueueLog", "QueueReload", "QueueReset", "Queues", "DeviceStateList"}
# ast_manager_build_channel_state_string_prefix(), as every channel event starts (see Newchannel in the capture)
CHANNEL_STATE = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                 "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid")


def unknown_command(action: str, aid: str) -> dict[str, str]:
    """main/manager.c process_message() for an action nobody registered (yet)."""
    return {"Response": "Error", "ActionID": aid,
            "Message": f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."}


def core_show_channel(channel: dict[str, str], aid: str) -> dict[str, str]:
    """One ``CoreShowChannel`` event, headers in main/manager.c action_coreshowchannels()'s order."""
    base = FIRST_EVENT["Newchannel"]
    event = {"Event": "CoreShowChannel", "ActionID": aid}
    event.update({key: channel.get(key, base[key]) for key in CHANNEL_STATE})
    event.update(Application=channel.get("Application", ""), ApplicationData=channel.get("ApplicationData", ""),
                 Duration=channel.get("Duration", "00:00:01"), BridgeId=channel.get("BridgeId", ""))
    return event


def frame(headers: dict[str, object]) -> bytes:
    lines = []
    for key, value in headers.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{key}: {item}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


@dataclass
class FakeAmi:
    secret: str = "test"
    originate_reason: str = "4"  # OriginateResponse Reason: 4 answered, 5 busy, 3 no answer
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # vaxel-centre's members (interface -> headers)
    other_queues: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # any other queue's members
    received: list[dict[str, str]] = field(default_factory=list)  # every action, headers in order
    logins: int = 0
    booting: bool = False  # still loading modules: no FullyBooted, app_queue's actions unknown
    channels: list[dict[str, str]] = field(default_factory=list)  # what CoreShowChannels lists (missing: defaults)
    hidden_events: set[str] = field(default_factory=set)  # never sent, as if filtered on the way
    queues: set[str] | None = None  # the queues app_queue has; None = every queue asked about
    _clients: list[socket.socket] = field(default_factory=list)
    _authed: set[socket.socket] = field(default_factory=set)
    _send_locks: dict[socket.socket, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _boot: threading.Lock = field(default_factory=threading.Lock)  # a login is before FullyBooted or after

    def __post_init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.members.setdefault("Local/100@ops-slow/n", {"Name": "Local/100@ops-slow/n", "Paused": "0"})
        threading.Thread(target=self._accept, daemon=True).start()

    def members_of(self, queue: str) -> dict[str, dict[str, str]]:
        """app_queue keeps members per queue: an operator may be in vaxel-centre and not in vaxel-english."""
        return self.members if queue in ("vaxel-centre", "centre", "") else self.other_queues.setdefault(queue, {})

    # -- the server ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(conn)
                self._send_locks[conn] = threading.Lock()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _send(self, conn: socket.socket, messages: list[dict[str, object]]) -> None:
        """Whole messages at a time (answers and pushed events never interleave mid-message)."""
        self._write(conn, b"".join(frame(m) for m in messages if m.get("Event") not in self.hidden_events))

    def _write(self, conn: socket.socket, data: bytes) -> None:
        with self._lock:
            lock = self._send_locks.get(conn) or threading.Lock()
        with lock:
            conn.sendall(data)

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            self._write(conn, f"{BANNER}\r\n".encode())
            while True:
                headers: dict[str, str] = {}
                multi: dict[str, list[str]] = {}
                while True:
                    raw = reader.readline()
                    if not raw:
                        return
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if not line:
                        break
                    key, _, value = line.partition(":")
                    multi.setdefault(key.strip(), []).append(value.strip())
                    headers.setdefault(key.strip(), value.strip())
                if not headers:
                    continue
                headers["_all"] = multi  # type: ignore[assignment]
                self.received.append(headers)
                if headers.get("Action") == "Login":
                    with self._boot:
                        answer = self.answer(headers)
                        if answer and answer[0].get("Response") == "Success":
                            with self._lock:
                                self._authed.add(conn)
                        self._send(conn, answer)
                else:
                    self._send(conn, self.answer(headers))
                if headers.get("Action") == "Logoff":
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._authed.discard(conn)
                self._send_locks.pop(conn, None)
            conn.close()

    def answer(self, a: dict[str, str]) -> list[dict[str, object]]:
        action, aid = a.get("Action", ""), a.get("ActionID", "")
        ok = {"Response": "Success", "ActionID": aid}
        noise = [dict(e) for e in NOISE[:2]]  # events interleave freely with responses
        if action == "Login":
            if a.get("Secret") != self.secret:
                return [{"Response": "Error", "ActionID": aid, "Message": "Authentication failed"}]
            self.logins += 1
            if self.booting:  # action_login() sends FullyBooted only once ast_fully_booted
                return [{**ok, "Message": "Authentication accepted"}]
            return [{**ok, "Message": "Authentication accepted"}, dict(FIRST_EVENT["FullyBooted"])]
        if self.booting and action in MODULE_ACTIONS:
            return [unknown_command(action, aid)]
        if action == "Ping":
            return [{"Response": "Success", "ActionID": "somebody-else"}, *noise, {**ok, "Ping": "Pong"}]
        if action == "QueueStatus":
            queue = a.get("Queue", "centre")
            if self.queues is not None and queue not in self.queues:  # app_queue lists nothing for it
                return [{**ok, "EventList": "start", "Message": "Queue status will follow"},
                        {"Event": "QueueStatusComplete", "ActionID": aid, "EventList": "Complete", "ListItems": "0"}]
            params = {**FIRST_EVENT["QueueParams"], "Queue": queue, "ActionID": aid}
            members = [{**FIRST_EVENT["QueueMember"], **m, "Queue": queue, "Location": i, "StateInterface": i,
                        "ActionID": aid} for i, m in self.members_of(queue).items()]
            return [noise[0], {**ok, "EventList": "start", "Message": "Queue status will follow"}, params, noise[1],
                    *members, {"Event": "QueueStatusComplete", "ActionID": aid, "EventList": "Complete",
                               "ListItems": str(1 + len(members))}]
        if action == "DeviceStateList":
            states = [{"Event": "DeviceStateChange", "Device": "PJSIP/4439", "State": "NOT_INUSE", "ActionID": aid},
                      {"Event": "DeviceStateChange", "Device": "PJSIP/4417", "State": "UNAVAILABLE", "ActionID": aid}]
            return [{**ok, "EventList": "start", "Message": "Device State Changes will follow"}, *states,
                    {"Event": "DeviceStateListComplete", "ActionID": aid, "EventList": "Complete", "ListItems": "2"}]
        if action == "CoreShowChannels":
            listed = [core_show_channel(c, aid) for c in self.channels]
            return [{**ok, "EventList": "start", "Message": "Channels will follow"}, *listed,
                    {"Event": "CoreShowChannelsComplete", "ActionID": aid, "EventList": "Complete",
                     "ListItems": str(len(listed))}]
        if action == "Originate":
            if "fail" in a.get("Channel", ""):
                return [{"Response": "Error", "ActionID": aid, "Message": "Originate failed"}]
            reply = dict(FIRST_EVENT["OriginateResponse"])
            reason = self.originate_reason
            reply.update(ActionID=aid, Channel=a.get("Channel", "") + "-00000001;1", Reason=reason,
                         Response="Success" if reason == "4" else "Failure", Uniqueid=f"1795469900.{len(self.received)}")
            return [{**ok, "Message": "Originate successfully queued"}, *noise, reply]
        if action == "QueueAdd":
            interface, members = a.get("Interface", ""), self.members_of(a.get("Queue", ""))
            if interface in members:
                return [{"Response": "Error", "ActionID": aid, "Message": "Unable to add interface: Already there"}]
            members[interface] = {"Name": a.get("MemberName", interface), "Paused": "1" if a.get("Paused") == "true" else "0"}
            return [{**ok, "Message": "Added interface to queue"},
                    {"Event": "QueueMemberAdded", "Queue": a.get("Queue", ""), "Interface": interface,
                     "MemberName": a.get("MemberName", interface), "Paused": members[interface]["Paused"]}]
        if action == "QueueRemove":
            if self.members_of(a.get("Queue", "")).pop(a.get("Interface", ""), None) is None:
                return [{"Response": "Error", "ActionID": aid, "Message": "Unable to remove interface: Not there"}]
            return [{**ok, "Message": "Removed interface from queue"},
                    {"Event": "QueueMemberRemoved", "Queue": a.get("Queue", ""), "Interface": a.get("Interface", "")}]
        if action == "QueuePause":
            member = self.members_of(a.get("Queue", "")).get(a.get("Interface", ""))
            if member is None:
                return [{"Response": "Error", "ActionID": aid, "Message": "Interface not found"}]
            member["Paused"] = "1" if a.get("Paused") == "true" else "0"
            return [{**ok, "Message": "Interface paused successfully"},
                    {"Event": "QueueMemberPause", "Queue": a.get("Queue", ""), "Interface": a.get("Interface", ""),
                     "MemberName": member["Name"], "Paused": member["Paused"], "Reason": a.get("Reason", "")}]
        if action == "Logoff":
            return [{"Response": "Goodbye", "ActionID": aid, "Message": "Thanks for all the fish."}]
        return [unknown_command(action, aid)]

    # -- test controls ------------------------------------------------------------------------

    def push(self, *events: dict[str, str]) -> None:
        """Send events to every connected client (as Asterisk does when something happens)."""
        with self._lock:
            clients = list(self._clients)
        for conn in clients:
            try:
                self._send(conn, list(events))
            except OSError:
                pass

    def finish_booting(self) -> None:
        """Asterisk has loaded its modules: their actions answer now, and every logged-in session gets
        ``FullyBooted`` (asterisk.c publish_fully_booted())."""
        with self._boot:
            self.booting = False
            with self._lock:
                sessions = list(self._authed)
            for conn in sessions:
                try:
                    self._send(conn, [dict(FIRST_EVENT["FullyBooted"])])
                except OSError:
                    pass

    def drop(self) -> None:
        """Cut every connection, as a restart of Asterisk would."""
        with self._lock:
            clients, self._clients = self._clients, []
            self._authed.clear()
        for conn in clients:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def actions(self, name: str) -> list[dict[str, str]]:
        return [a for a in self.received if a.get("Action") == name]

    def close(self) -> None:
        self.drop()
        self.server.close()
