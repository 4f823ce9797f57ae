"""The demo municipality loads idempotently and the IVR's directory lookup finds people in it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from directory.models import Keyword, Staff, Unit
from directory.search import lookup
from ivr.models import PhoneHours
from switchboard import demo
from switchboard.settings import CONFIG_DIR

DEMO = str(CONFIG_DIR / "demo" / "municipality.toml")


def counts(session):
    return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Unit, Staff, Keyword, PhoneHours))


def test_loading_twice_changes_nothing(app, sessions):
    with sessions() as session:
        before = counts(session)
        demo.load(session, DEMO)
        assert counts(session) == before
        units, staff, _, hours = before
        assert units >= 20 and 40 <= staff <= 60 and hours == 5  # switchboard + 4 units with own hours


def test_departments_from_the_reports_exist(app, sessions):
    with sessions() as session:
        names = set(session.scalars(select(Unit.name)))
    for name in ("Kommunkontoret", "Socialförvaltningen", "Stadsbyggnadskontoret", "Bygglov", "Kultur och fritid",
                 "Vård och omsorg", "Tekniska förvaltningen", "Miljöförvaltningen", "Renhållningen",
                 "Barn och skola", "Konsumentvägledning"):
        assert name in names


@pytest.mark.parametrize("query, first", [
    ("torghandel", "Sven Olofsson"),
    ("Torghandel", "Sven Olofsson"),
    ("4439", "Sven Olofsson"),
    ("040-628 04 39", "Sven Olofsson"),
    ("olofsson", "Sven Olofsson"),
])
def test_lookup_finds_the_right_person(app, sessions, query, first):
    with sessions() as session:
        hits = lookup(session, query)
        assert hits and hits[0].staff.name == first


def test_torghandel_finds_both_contacts_and_bygglov_its_officers(app, sessions):
    with sessions() as session:
        assert len(lookup(session, "torghandel")) == 2
        bygglov = lookup(session, "bygglov")
        assert len(bygglov) >= 3 and all(h.staff.unit.slug == "bygglov" for h in bygglov[:3])
        assert lookup(session, "xyzzy") == []
