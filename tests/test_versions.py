"""Cache tokens (core.versions): what a process keeps in memory is read again after any change, from anywhere."""

from __future__ import annotations

from sqlalchemy import update

from core import versions
from core.db import make_engine, make_sessionmaker
from ivr import schedules
from ivr.models import Closure, PhoneHours
from tests.conftest import TZ, at


def token(sessions, kind: str) -> str | None:
    with sessions() as session:
        return versions.tokens(session).get(kind)


def test_a_change_to_a_watched_row_changes_its_kind_token_in_the_same_transaction(sessions):
    hours, flow = token(sessions, "hours"), token(sessions, "flow")
    with sessions() as session:
        session.add(Closure(scope="*", kind="closure", starts_at=at("2026-11-24T12:00"), ends_at=at("2026-11-24T13:00"),
                            message_sv="Stängt för möte.", message_en="", created_at=at("2026-11-24T08:00")))
        session.commit()
    assert token(sessions, "hours") not in (None, hours)
    assert token(sessions, "flow") == flow  # only the kind that changed


def test_a_bulk_update_changes_the_token_and_a_rollback_does_not(sessions):
    before = token(sessions, "hours")
    with sessions() as session:
        session.execute(update(PhoneHours).where(PhoneHours.key == "switchboard").values(eve_close="12:00"))
        session.rollback()
    assert token(sessions, "hours") == before
    with sessions() as session:
        session.execute(update(PhoneHours).where(PhoneHours.key == "switchboard").values(eve_close="12:00"))
        session.commit()
    assert token(sessions, "hours") != before


def test_a_schedule_kept_in_memory_is_read_again_after_another_process_changed_the_hours(app, sessions):
    """Two engines on one database stand for two processes: each keeps its own copy."""
    other = make_sessionmaker(make_engine(app.extensions["vaxel"].settings["database"]["url"]))
    now = at("2026-11-24T12:30")
    try:
        with sessions() as session:
            assert schedules.current(session, "switchboard", TZ, "15:00", now).closures == ()
        with other() as session:  # "the other process" closes the switchboard at lunch
            session.add(Closure(scope="switchboard", kind="closure", starts_at=at("2026-11-24T12:00"),
                                ends_at=at("2026-11-24T13:00"), message_sv="Lunchstängt.", message_en="",
                                created_at=at("2026-11-24T08:00")))
            session.commit()
        with sessions() as session:
            held = schedules.current(session, "switchboard", TZ, "15:00", now)
        assert [c.message["sv"] for c in held.closures] == ["Lunchstängt."]
    finally:
        other.kw["bind"].dispose()


def test_a_value_is_kept_while_nothing_changed(sessions):
    built = []
    held = versions.Cached("hours")
    for _ in range(3):
        with sessions() as session:
            held.get(session, "k", lambda: built.append(1) or len(built))
    assert built == [1]
    with sessions() as session:  # inside the transaction that changes it: never the old copy
        session.execute(update(PhoneHours).where(PhoneHours.key == "switchboard").values(eve_close="11:00"))
        assert held.get(session, "k", lambda: "fresh") == "fresh"
        session.commit()
    with sessions() as session:
        assert held.get(session, "k", lambda: "after") == "after"


def test_tokens_read_alongside_another_statement_are_the_ones_a_query_of_their_own_gives(sessions):
    """A call step reads the tokens in the statement that loads the call (switchboard.calls): the same values,
    and the first read of a transaction stands."""
    from sqlalchemy import select

    with sessions() as session:
        own = dict(versions.tokens(session))
    assert {"flow", "hours"} <= set(own)
    with sessions() as session:
        versions.prime(session, session.execute(select(versions.tokens_column())).scalar())
        assert versions.tokens(session) == own  # and no query of its own: primed
        versions.prime(session, "flow:something-else")
        assert versions.tokens(session) == own
    with sessions() as session:
        versions.prime(session, None)  # no tokens written yet: none, as the query would say
        assert versions.tokens(session) == {}
