"""The demo municipality loads idempotently and the IVR's directory lookup finds people in it."""

from __future__ import annotations

from sqlalchemy import func, select

from directory.models import Keyword, Staff, Unit
from ivr.models import PhoneHours
from switchboard import demo
from core.settings import CONFIG_DIR

DEMO = str(CONFIG_DIR / "demo" / "municipality.toml")


def counts(session):
    return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Unit, Staff, Keyword, PhoneHours))


def test_loading_twice_changes_nothing(app, sessions):
    with sessions() as session:
        before = counts(session)
        demo.load(session, DEMO)
        assert counts(session) == before
        units, staff, _, hours = before
        assert units >= 20 and staff == 58 + 3 and hours == 5  # 58 people, 3 functions; switchboard + 4 units


def test_departments_from_the_reports_exist(app, sessions):
    with sessions() as session:
        names = set(session.scalars(select(Unit.name)))
    for name in ("Kommunkontoret", "Socialförvaltningen", "Stadsbyggnadskontoret", "Bygglov", "Kultur och fritid",
                 "Vård och omsorg", "Tekniska förvaltningen", "Miljöförvaltningen", "Renhållningen",
                 "Barn och skola", "Konsumentvägledning"):
        assert name in names
