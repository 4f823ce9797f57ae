"""Loading the demo municipality (``config/demo/municipality.toml``): units, staff, keywords, unit hours.

Idempotent: rows are matched by their stable ids and updated in place.
"""

from __future__ import annotations

import tomllib

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from directory import promises
from directory.index import bump_version, fold
from directory.models import Keyword, Staff, StaffNumber, Unit
from ivr.hours import parse_weekly
from ivr.models import PhoneHours


def _keywords(terms: list[str], **owner: int) -> list[Keyword]:
    return [Keyword(term=t, folded=fold(t), **owner) for t in dict.fromkeys(terms)]


def load(session: Session, path: str) -> dict[str, int]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    units: dict[str, Unit] = {u.slug: u for u in session.scalars(select(Unit))}
    for item in data.get("units", []):
        unit = units.get(item["id"]) or Unit(slug=item["id"])
        unit.name, unit.kind = item["name"], item["kind"]
        unit.answered_by, unit.promise_days, unit.email = promises.parse_choice(
            item.get("answered_by", ""), str(item.get("promise_days", "")), item.get("email", ""))
        unit.parent = units[item["parent"]] if item.get("parent") else None
        session.add(unit)
        units[unit.slug] = unit
        session.flush()
        session.execute(delete(Keyword).where(Keyword.unit_id == unit.id))
        session.add_all(_keywords(item.get("keywords", []), unit_id=unit.id))
        if "hours" in item:
            parse_weekly(item["hours"])  # refuse bad hours before storing them
            key = f"unit:{unit.slug}"
            hours = session.scalar(select(PhoneHours).where(PhoneHours.key == key)) or PhoneHours(key=key)
            hours.name, hours.weekly, hours.observe_holidays = unit.name, item["hours"], True
            session.add(hours)
    staff_by_id = {s.external_id: s for s in session.scalars(select(Staff))}
    entries = [(item, "person") for item in data.get("staff", [])] + \
              [(item, "function") for item in data.get("functions", [])]
    for item, kind in entries:
        person = staff_by_id.get(item["id"]) or Staff(external_id=item["id"])
        person.kind, person.hidden_number = kind, bool(item.get("hidden_number", False))
        person.name, person.title = item["name"], item.get("title", "")
        person.unit = units[item["unit"]]
        person.extension, person.phone, person.mobile = item.get("extension"), item.get("phone"), item.get("mobile")
        person.email, person.notes = item.get("email", ""), item.get("notes", "")
        person.keywords = _keywords(item.get("keywords", []))
        person.numbers = [StaffNumber(value=n, label="") for n in item.get("other_numbers", [])]
        session.add(person)
    _demo_users(session)
    bump_version(session)
    session.commit()
    return {"units": len(data.get("units", [])), "staff": len(data.get("staff", [])),
            "functions": len(data.get("functions", []))}


# Demo accounts, documented in README; real installations create theirs with `vaxel user add`.
DEMO_USERS = (("operator", "operator", "Olle Operatör", "demo-operator-2026"),
              ("statistik", "stats", "Stina Statistik", "demo-statistik-2026"))
DEMO_STAFF = (("lss", "lss", "Lena LSS", "demo-lss-2026"),)  # role staff: (user, unit, name, password)


def _demo_users(session: Session) -> None:
    from switchboard.auth import User, add_user

    for username, role, name, password in DEMO_USERS:
        if session.scalar(select(User).where(User.username == username)) is None:
            add_user(session, username, role, password, name)
    for username, unit, name, password in DEMO_STAFF:
        if session.scalar(select(User).where(User.username == username)) is None:
            add_user(session, username, "staff", password, name, unit=unit)
