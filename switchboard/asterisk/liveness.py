"""Does Asterisk still run this call through vaxel? The reconciler's question for FastAGI calls.

A call is ours while a vaxel process holds its FastAGI connection; that process
beats ``alive_at`` (:func:`switchboard.reconcile.heartbeat`). So when the beat
is stale, no process holds it any more (vaxel was killed or restarted): the
call is over in our books whatever Asterisk says. AMI's ``CoreShowChannels``
tells which ending it was — the caller is gone, or the dialplan's fallback took
the channel to the operators — and when AMI cannot be asked we still close it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from ivr.models import CallSession
from switchboard.reconcile import Verdict


class AsteriskChannels:
    def __init__(self, ami, held: Callable[[], set[str]] = set):
        self.ami, self.held = ami, held

    def verdict(self, call: CallSession, now: datetime) -> Verdict:
        if call.call_id in self.held():
            return Verdict(True, "this process holds its FastAGI connection")
        uniqueid = call.call_id.removeprefix("ast-")
        try:
            channels = self.ami.channels() if self.ami is not None else None
        except Exception as exc:  # AMI down or still booting: the stale beat decides alone
            channels, why = None, f"{type(exc).__name__}: {exc}"
        else:
            why = "AMI not configured"
        if channels is None:
            return Verdict(False, f"no vaxel process holds its FastAGI connection; Asterisk not asked ({why})")
        if any(uniqueid in (c.get("Uniqueid"), c.get("Linkedid")) for c in channels):
            return Verdict(False, "no vaxel process holds its FastAGI connection; Asterisk still has the channel "
                                  "(the dialplan's fallback takes it to the operators when its current application "
                                  "returns)", with_pbx=True)
        return Verdict(False, "no vaxel process holds its FastAGI connection and Asterisk has no such channel")
