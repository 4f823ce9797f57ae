"""Stored numbers in E.164 (issue 16, item 5): numbers stored before they were validated where they enter are
migrated (revision 0016b); text that is no number is taken out of the number column and kept where people read
it. Runs on SQLite, and on PostgreSQL under ``make test-postgres``."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import MetaData, create_engine, select

from switchboard import db
from tests.test_upgrade import empty_database


NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


@pytest.mark.db
def test_stored_numbers_become_e164_and_free_text_is_kept_readable(tmp_path):
    with empty_database(tmp_path, "numbers") as url:
        db.upgrade(url, "0016")
        engine = create_engine(url)
        meta = MetaData()
        meta.reflect(engine)
        t = meta.tables
        with engine.begin() as conn:
            conn.execute(t["units"].insert(), [{"id": 1, "slug": "bygglov", "name": "Bygglov", "kind": "avdelning"}])
            conn.execute(t["staff"].insert(), [
                {"id": 1, "external_id": "p1", "kind": "person", "name": "Eva", "title": "", "unit_id": 1,
                 "phone": "040-628 04 39", "mobile": "ring mig på mobilen", "email": "", "notes": "Deltid",
                 "hidden_number": False},
                {"id": 2, "external_id": "p2", "kind": "person", "name": "Per", "title": "", "unit_id": 1,
                 "phone": "+46406280440", "mobile": "0046 70 174 06 50", "email": "", "notes": "",
                 "hidden_number": False}])
            conn.execute(t["staff_numbers"].insert(), [
                {"id": 1, "staff_id": 2, "value": "4441", "label": "andra skrivbordet"},
                {"id": 2, "staff_id": 2, "value": "070-174 06 51", "label": "jour"},
                {"id": 3, "staff_id": 2, "value": "växeln", "label": "fax"}])
            conn.execute(t["presence"].insert(), [
                {"staff_id": 1, "status": "forwarded", "reason": "på torget", "forward_to": "070-174 06 50",
                 "set_by": "anna", "set_at": NOW, "line": "unknown"},
                {"staff_id": 2, "status": "forwarded", "reason": "", "forward_to": "ring mig på mobilen",
                 "set_by": "anna", "set_at": NOW, "line": "unknown"}])

        db.upgrade(url)

        with engine.connect() as conn:
            staff = {r.id: r for r in conn.execute(select(t["staff"]))}
            assert (staff[1].phone, staff[1].mobile) == ("+46406280439", None)
            assert staff[1].notes.startswith("Deltid\n") and "mobile: ring mig på mobilen" in staff[1].notes
            assert (staff[2].phone, staff[2].mobile) == ("+46406280440", "+46701740650")
            others = {r.id: r.value for r in conn.execute(select(t["staff_numbers"]))}
            assert others == {1: "4441", 2: "+46701740651"}  # the extension as it was; "växeln" taken out
            assert "fax: växeln" in staff[2].notes
            presence = {r.staff_id: r for r in conn.execute(select(t["presence"]))}
            assert (presence[1].status, presence[1].forward_to) == ("forwarded", "+46701740650")
            assert (presence[2].status, presence[2].forward_to) == ("absent", None)
            assert presence[2].reason == "hänvisning: ring mig på mobilen"
        engine.dispose()


@pytest.mark.parametrize("stored, shown", [
    ("+46701740650", "070-174 06 50"),
    ("+46406280439", "040-628 04 39"),
    ("+4915112345678", "+49 1511 2345678"),  # abroad: international form
    ("4439", "4439"),  # an extension as it is
    (None, None),
])
def test_numbers_are_shown_in_national_form(stored, shown):
    from directory import numbers

    assert numbers.display(stored) == shown


def test_the_directory_api_sends_e164_and_the_national_form_to_show(operator_client):
    entry = operator_client.get("/api/directory/entries/p039").get_json()
    assert entry["phone"] == "+46406280439" and entry["display"]["phone"] == "040-628 04 39"
    assert entry["mobile"] == "+46701740631" and entry["display"]["mobile"] == "070-174 06 31"
