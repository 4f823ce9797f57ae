"""Replays a captured FastAGI session as Asterisk: sends its env block and replies, checks what is sent."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from tests.fakes.captures import Exchange, agi_capture


@dataclass
class Replay:
    """Connects to ``port`` as Asterisk would and plays ``exchanges``; ``received`` is what the script sent."""

    port: int
    env: list[str]
    exchanges: list[Exchange]
    received: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def of(cls, port: int, capture: str) -> "Replay":
        env, exchanges = agi_capture(capture)
        return cls(port, env, exchanges)

    def start(self) -> "Replay":
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
                reader = sock.makefile("rb")
                sock.sendall(("\n".join(self.env) + "\n\n").encode("utf-8"))
                for exchange in self.exchanges:
                    raw = reader.readline()
                    if not raw:
                        return
                    self.received.append(raw.decode("utf-8").rstrip("\n"))
                    sock.sendall("".join(f"{r}\n" for r in exchange.replies).encode("utf-8"))
                reader.readline()  # wait until the script closes
        except OSError:
            pass
        finally:
            self.done.set()

    @property
    def expected(self) -> list[str]:
        return [e.sent for e in self.exchanges]
