"""SQLite's one writer at a time: threads of a process take turns on a lock, and every way a transaction ends
gives the turn back (core.db.begin_write). PostgreSQL writers lock rows, not the database: not concerned."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from core import db

pytestmark = pytest.mark.db


@pytest.fixture
def writer(app):
    engine = app.extensions["vaxel"].engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL writers lock rows, not the database")
    return db._WRITERS[engine]


@pytest.mark.parametrize("ending", ["commit", "rollback", "close", "error"])
def test_every_ending_of_a_write_gives_the_turn_back(sessions, writer, ending):
    session = sessions()
    db.begin_write(session)
    assert writer.locked()
    try:
        if ending == "error":
            with pytest.raises(Exception):
                session.execute(text("INSERT INTO no_such_table VALUES (1)"))
            session.rollback()
        elif ending == "commit":
            session.commit()
        elif ending == "rollback":
            session.rollback()
    finally:
        session.close()
    assert not writer.locked()


def test_a_second_writer_waits_for_the_first_then_goes_on(sessions, writer):
    first = db.begin_write(sessions())
    began, done = threading.Event(), threading.Event()

    def second():
        with sessions() as session:
            began.set()
            db.begin_write(session)
            session.commit()
        done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert began.wait(10)
    assert not done.wait(0.3)  # still the first's turn
    first.commit()
    first.close()
    assert done.wait(10)
    thread.join(10)
    assert not writer.locked()
