"""Answer each Twilio request once: a retried webhook gets the TwiML it got before, and the engine steps once.

Every URL we hand to Twilio carries the engine step it answers (``?s=7``), so
a request is identified by (CallSid, route and step). The first request for a
key claims it with a row whose TwiML is still empty, then feeds the engine and
stores its answer; a repeat finds the row and gets the stored answer back. A
repeat that arrives while the first is still being answered is told to come
back in two seconds; a claim left empty by a crash is answered with the
rescue (the centre queue) once it is older than :data:`STUCK_AFTER`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from switchboard.twilio.models import TwilioResponse

log = logging.getLogger(__name__)

STUCK_AFTER = timedelta(seconds=30)
CALL_ROUTES = ("voice", "step", "dial")  # answers that run in the call's normal flow, not inside a queue


def once(session: Session, call_sid: str, key: str, now: datetime, answer: Callable[[], str],
         retry: Callable[[], str], rescue: Callable[[], str]) -> str:
    """The answer to the request ``key`` of ``call_sid``: stored if it was answered before, else ``answer()``.

    The claim, the engine's step inside ``answer()`` (in the same ``session``) and the stored answer are one
    transaction, committed here. A repeat that arrives meanwhile waits at its own claim (the unique key)
    until this one commits, then gets the stored answer."""
    table = TwilioResponse.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    claim = session.connection().execute(  # one statement; a repeat in flight makes this wait, then do nothing
        insert(table).values(call_sid=call_sid, request_key=key, twiml=None, created_at=now)
        .on_conflict_do_nothing(index_elements=["call_sid", "request_key"]).returning(table.c.id)).scalar()
    if claim is None:
        row = session.execute(select(table.c.twiml, table.c.created_at)
                              .where(table.c.call_sid == call_sid, table.c.request_key == key)).first()
        if row is not None and row.twiml is not None:
            log.info("call %s: %s answered before; repeating the answer", call_sid, key)
            return row.twiml
        if row is None or now - row.created_at < STUCK_AFTER:
            return retry()
        log.error("call %s: %s was claimed but never answered; rescuing the caller", call_sid, key)
        return rescue()
    try:
        twiml = answer()
        # by key, not by the claim's id: a step that failed rolled the claim back with it (switchboard.calls)
        session.connection().execute(insert(table).values(call_sid=call_sid, request_key=key, twiml=twiml,
                                                          created_at=now)
                                     .on_conflict_do_update(index_elements=["call_sid", "request_key"],
                                                            set_={"twiml": twiml}))
        session.commit()
    except Exception:
        session.rollback()
        try:  # a retry must not step the engine again either
            twiml = rescue()
            session.add(TwilioResponse(call_sid=call_sid, request_key=key, twiml=twiml, created_at=now))
            session.commit()
        except Exception:
            session.rollback()
            log.exception("call %s: could not store the rescue for %s", call_sid, key)
        raise
    return twiml


def put(session: Session, call_sid: str, key: str, twiml: str, now: datetime) -> None:
    """Remember an answer for a request still to come (the TwiML after ``<Leave>``, an accepted whisper); the
    caller's transaction commits it."""
    row = session.scalar(_row(call_sid, key))
    if row is None:
        session.add(TwilioResponse(call_sid=call_sid, request_key=key, twiml=twiml, created_at=now))
    else:
        row.twiml = twiml


def get(session: Session, call_sid: str, key: str) -> str | None:
    row = session.scalar(_row(call_sid, key))
    return row.twiml if row else None


def latest(session: Session, call_sid: str) -> str | None:
    """The last answer given in the call's normal flow: what the caller is listening to now."""
    rows = session.scalars(
        select(TwilioResponse).where(TwilioResponse.call_sid == call_sid, TwilioResponse.twiml.is_not(None))
        .order_by(TwilioResponse.id.desc())
    )
    return next((r.twiml for r in rows if r.request_key.split(":")[0] in CALL_ROUTES), None)


def forget(session: Session, call_sid: str) -> None:
    """The call is over: its answers will not be asked for again."""
    session.flush()  # answers added in this transaction go too
    table = TwilioResponse.__table__  # Core: the ORM's bulk delete would also look for the rows in the session
    session.connection().execute(delete(table).where(table.c.call_sid == call_sid))


def _row(call_sid: str, key: str):
    return select(TwilioResponse).where(TwilioResponse.call_sid == call_sid, TwilioResponse.request_key == key)
