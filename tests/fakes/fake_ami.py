"""A fake Asterisk Manager Interface over real TCP, answering as ``wire/ami-session.txt`` shows.

Banner ``Asterisk Call Manager/13.0.0``; ``Response: Success`` with the client's own ActionID; list
actions (``QueueStatus``, ``DeviceStateList``) answered with ``EventList: start``, their events and a
``...Complete`` event; events from the capture interleaved before and between responses, plus a stray
response for somebody else's ActionID; ``Originate`` queued, then an ``OriginateResponse`` event.
:meth:`drop` cuts every connection, as a restarting Asterisk would.
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
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # queue members (interface -> headers)
    received: list[dict[str, str]] = field(default_factory=list)  # every action, headers in order
    logins: int = 0
    _clients: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.members.setdefault("Local/100@ops-slow/n", {"Name": "Local/100@ops-slow/n", "Paused": "0"})
        threading.Thread(target=self._accept, daemon=True).start()

    # -- the server ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            conn.sendall(f"{BANNER}\r\n".encode())
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
                for message in self.answer(headers):
                    conn.sendall(frame(message))
                if headers.get("Action") == "Logoff":
                    return
        except OSError:
            return
        finally:
            conn.close()

    def answer(self, a: dict[str, str]) -> list[dict[str, object]]:
        action, aid = a.get("Action", ""), a.get("ActionID", "")
        ok = {"Response": "Success", "ActionID": aid}
        noise = [dict(e) for e in NOISE[:2]]  # events interleave freely with responses
        if action == "Login":
            if a.get("Secret") != self.secret:
                return [{"Response": "Error", "ActionID": aid, "Message": "Authentication failed"}]
            self.logins += 1
            return [{**ok, "Message": "Authentication accepted"}, dict(FIRST_EVENT["FullyBooted"])]
        if action == "Ping":
            return [{"Response": "Success", "ActionID": "somebody-else"}, *noise, {**ok, "Ping": "Pong"}]
        if action == "QueueStatus":
            queue = a.get("Queue", "centre")
            params = {**FIRST_EVENT["QueueParams"], "Queue": queue, "ActionID": aid}
            members = [{**FIRST_EVENT["QueueMember"], **m, "Queue": queue, "Location": i, "StateInterface": i,
                        "ActionID": aid} for i, m in self.members.items()]
            return [noise[0], {**ok, "EventList": "start", "Message": "Queue status will follow"}, params, noise[1],
                    *members, {"Event": "QueueStatusComplete", "ActionID": aid, "EventList": "Complete",
                               "ListItems": str(1 + len(members))}]
        if action == "DeviceStateList":
            states = [{"Event": "DeviceStateChange", "Device": "PJSIP/4439", "State": "NOT_INUSE", "ActionID": aid},
                      {"Event": "DeviceStateChange", "Device": "PJSIP/4417", "State": "UNAVAILABLE", "ActionID": aid}]
            return [{**ok, "EventList": "start", "Message": "Device State Changes will follow"}, *states,
                    {"Event": "DeviceStateListComplete", "ActionID": aid, "EventList": "Complete", "ListItems": "2"}]
        if action == "Originate":
            if "fail" in a.get("Channel", ""):
                return [{"Response": "Error", "ActionID": aid, "Message": "Originate failed"}]
            reply = dict(FIRST_EVENT["OriginateResponse"])
            reason = self.originate_reason
            reply.update(ActionID=aid, Channel=a.get("Channel", "") + "-00000001;1", Reason=reason,
                         Response="Success" if reason == "4" else "Failure", Uniqueid=f"1795469900.{len(self.received)}")
            return [{**ok, "Message": "Originate successfully queued"}, *noise, reply]
        if action == "QueueAdd":
            interface = a.get("Interface", "")
            if interface in self.members:
                return [{"Response": "Error", "ActionID": aid, "Message": "Unable to add interface: Already there"}]
            self.members[interface] = {"Name": a.get("MemberName", interface), "Paused": "1" if a.get("Paused") == "true" else "0"}
            return [{**ok, "Message": "Added interface to queue"},
                    {"Event": "QueueMemberAdded", "Queue": a.get("Queue", ""), "Interface": interface,
                     "MemberName": a.get("MemberName", interface), "Paused": self.members[interface]["Paused"]}]
        if action == "QueueRemove":
            if self.members.pop(a.get("Interface", ""), None) is None:
                return [{"Response": "Error", "ActionID": aid, "Message": "Unable to remove interface: Not there"}]
            return [{**ok, "Message": "Removed interface from queue"},
                    {"Event": "QueueMemberRemoved", "Queue": a.get("Queue", ""), "Interface": a.get("Interface", "")}]
        if action == "QueuePause":
            member = self.members.get(a.get("Interface", ""))
            if member is None:
                return [{"Response": "Error", "ActionID": aid, "Message": "Interface not found"}]
            member["Paused"] = "1" if a.get("Paused") == "true" else "0"
            return [{**ok, "Message": "Interface paused successfully"},
                    {"Event": "QueueMemberPause", "Queue": a.get("Queue", ""), "Interface": a.get("Interface", ""),
                     "MemberName": member["Name"], "Paused": member["Paused"], "Reason": a.get("Reason", "")}]
        if action == "Logoff":
            return [{"Response": "Goodbye", "ActionID": aid, "Message": "Thanks for all the fish."}]
        return [{"Response": "Error", "ActionID": aid, "Message": "Invalid/unknown command"}]

    # -- test controls ------------------------------------------------------------------------

    def push(self, *events: dict[str, str]) -> None:
        """Send events to every connected client (as Asterisk does when something happens)."""
        with self._lock:
            clients = list(self._clients)
        for conn in clients:
            try:
                conn.sendall(b"".join(frame(e) for e in events))
            except OSError:
                pass

    def drop(self) -> None:
        """Cut every connection, as a restart of Asterisk would."""
        with self._lock:
            clients, self._clients = self._clients, []
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
