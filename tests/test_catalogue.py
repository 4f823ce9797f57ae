"""Every user-facing string of the staff pages and their API errors comes from the gettext catalogue.

The pages are rendered in Swedish with a pseudo catalogue in which every message is wrapped in ⟦…⟧: a word
left outside the brackets was written into the page without passing through the catalogue (an English
"failed", a hard-coded heading) and fails the test. Data (names, numbers, times) is allowed by a short list.
The real English catalogue must also translate every message (nothing falls back to Swedish by accident),
with the same %(placeholders)s.
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from switchboard import i18n
from tests.conftest import csrf_token, login

POT = i18n.SOURCE / "messages.pot"
# Words that are data or names, not interface text: the product, the language links, the demo people
ALLOWED = {"vaxel", "English", "Svenska", "Olle", "Operatör", "operator", "IVR", "Cecilia", "Chef", "chefen"}
SHOWN_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt", "data-confirm")
SKIPPED = ("script", "style", "kbd", "textarea", "pre", "code")


class Texts(HTMLParser):
    """The visible text and the shown attributes of a page; key names in <kbd>, scripts, and data shown as it is
    stored (<textarea>, <pre>, <code>, and what is marked translate="no": texts the administrator edits, JSON,
    ids, notes) are not interface text."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.skipping: list = []  # [tag, depth] while inside a skipped element

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.skipping:
            self.skipping[1] += tag == self.skipping[0]
            return
        if tag in SKIPPED or attrs.get("translate") == "no":
            self.skipping = [tag, 1]
            return
        self.found += [attrs[a] for a in SHOWN_ATTRIBUTES if attrs.get(a)]
        if tag == "meta" and attrs.get("name") == "vaxel-texts":
            self.found += list(json.loads(attrs["content"]).values())
        if tag == "input" and attrs.get("type") in ("submit", "button"):
            self.found.append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if self.skipping and tag == self.skipping[0]:
            self.skipping[1] -= 1
            if not self.skipping[1]:
                self.skipping = []

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.found.append(data)


def outside_catalogue(text: str) -> list[str]:
    """The words of ``text`` that did not come from the catalogue (nor are allowed data)."""
    rest = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
    while "⟦" in rest:  # a message with a translated message inside it
        rest = re.sub(r"⟦[^⟦⟧]*⟧", " ", rest)
    return [w for w in re.findall(r"[^\W\d_]{2,}", rest) if w not in ALLOWED]


@pytest.fixture
def pseudo(app, tmp_path):
    """The app with every catalogue message shown as ⟦message⟧ in Swedish."""
    with POT.open("rb") as fp:
        template = read_po(fp)
    catalog = Catalog(locale="sv_SE")
    for message in template:
        if message.id:
            catalog.add(message.id, f"⟦{message.id}⟧")
    target = tmp_path / "sv" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as fp:
        write_mo(fp, catalog)
    babel = app.extensions["babel"]
    babel.translation_directories = [str(tmp_path)]
    with app.app_context():
        babel.instance.domain_instance.cache.clear()
    return app


def words_outside(reply, data: frozenset[str] = frozenset()) -> list[str]:
    """The page's words that are neither from the catalogue nor ``data`` (what the pages show of the directory,
    the flow's own texts, what the test typed)."""
    parser = Texts()
    parser.feed(reply.get_data(as_text=True))
    return sorted({w for text in parser.found for w in outside_catalogue(text) if w not in data})


def data_words(app, *typed: str) -> frozenset[str]:
    """Words that are data on the administrators' pages: the directory's names, titles, keywords and notes,
    the published flow's texts, the holidays' names, and what the test itself typed."""
    from datetime import date, timedelta

    from sqlalchemy import select

    from directory.models import Keyword, Staff, Unit
    from babel import Locale

    from ivr import hours, speech
    from switchboard.seed import published_flow

    with app.extensions["vaxel"].sessions() as session:
        texts = [json.dumps(published_flow(session).document, ensure_ascii=False)]
        for model in (Staff, Unit, Keyword):
            for row in session.scalars(select(model)):
                texts += [str(v) for k, v in vars(row).items() if isinstance(v, str) and not k.startswith("_")]
    days = (date(2026, 1, 1) + timedelta(days=n) for n in range(2 * 366))
    texts += [hours.holiday_name(day) or "" for day in days]
    sv = Locale.parse("sv_SE")  # Babel's names of days and months, and the spoken calendar words of ivr.speech
    texts += [*speech.DAYS["sv"], *speech.MONTHS["sv"], *sv.months["format"]["abbreviated"].values(),
              *sv.days["format"]["abbreviated"].values()]
    return frozenset(re.findall(r"[^\W\d_]{2,}", " ".join((*texts, *typed))))


def walk(client, steps, data: frozenset[str]) -> dict[str, list[str]]:
    """Each step (a GET path, or a POST with its form or file) followed to the page it shows: its stray words."""
    wrong = {}
    for step in steps:
        if isinstance(step, str):
            reply = client.get(step)
        else:
            path, form = step
            token = csrf_token(client, "/admin/directory")
            reply = client.post(path, data={**form, "csrf_token": token}, content_type="multipart/form-data",
                                follow_redirects=True)
        assert reply.status_code < 500, step
        words = words_outside(reply, data)
        if words:
            wrong[str(step)[:60]] = words
            print(str(step)[:60], words)
    return wrong


def csv_file(text: str, name: str = "file.csv"):
    return (io.BytesIO(text.encode()), name)


def test_every_administrators_page_and_answer_in_swedish_is_from_the_catalogue(pseudo, admin_client):
    """Statistics, the flow editor (test-call panel, history, diff), hours, directory admin with its imports,
    the audit log: rendered after the actions that fill them, refusals and flashed answers included."""
    from sqlalchemy import select

    from ivr.models import FlowVersion

    client = admin_client
    with pseudo.extensions["vaxel"].sessions() as session:
        published = session.scalar(select(FlowVersion).where(FlowVersion.status == "published"))
        document = json.dumps(published.document | {"start": "nowhere"})
    bad_import = "id,name\np1,Anna\n"
    entries = "\n".join(["id,kind,name,title,unit,extension,phone,mobile,other_numbers,email,keywords,"
                          "hidden_number,notes,working_hours,ring",
                          "x1,robot,Anna,,ingen,1,07,,,,,maybe,,sön-lör 25-26,both"])
    steps = [
        "/stats", "/stats?queue=centre", "/stats?from=2026-13-01", "/admin/flow", "/admin/flow/history",
        ("/admin/flow/draft", {"json": document}), ("/admin/flow/publish", {}),
        ("/admin/flow/draft", {"json": "[1"}), ("/admin/flow/discard", {}),
        ("/admin/flow/draft", {"json": json.dumps(published.document | {"languages": ["sv", "en"]})}),
        ("/admin/flow/publish", {}), "/admin/flow/history", "/admin/flow/diff/1/2",
        ("/admin/flow/rollback/1", {}),
        "/admin/hours", "/admin/hours?preview_at=2026-11-24T12:15", "/admin/hours?preview_at=igår",
        "/admin/hours?year=2027",
        ("/admin/hours/schedule", {"key": "switchboard", "day__mon": "8-17", "day__tue": "lunch"}),
        ("/admin/hours/schedule", {"key": "switchboard", "day__mon": "17-8"}),
        ("/admin/hours/schedule", {"key": "switchboard", "day__mon": "8-17", "eve_close": "25:00"}),
        ("/admin/hours/schedule", {"key": "nowhere"}),
        ("/admin/hours/special", {"day": "2026-12-30", "intervals": "9-12", "note": "inventering"}),
        ("/admin/hours/special", {"day": "someday"}),
        ("/admin/hours/notice", {"kind": "closure", "ends": "2026-11-24T12:00", "message_sv": "Stängt"}),
        ("/admin/hours/notice", {"kind": "crisis", "ends": "2026-11-24T09:00", "message_sv": "Kris"}),
        ("/admin/hours/notice", {"kind": "crisis", "ends": "2026-11-24T12:00", "message_sv": ""}),
        ("/admin/hours/notice", {"kind": "party", "ends": "imorgon"}),
        ("/admin/hours/notice/1/end", {}), ("/admin/hours/special/1/delete", {}),
        "/admin/directory", ("/admin/directory", {"file": csv_file(bad_import)}),
        ("/admin/directory", {"file": csv_file(entries)}),
        ("/admin/directory", {"file": csv_file(csv_io_export(pseudo)), "dry_run": "1"}),
        ("/admin/directory", {"file": csv_file("id,kind\n"), "prune": "1"}),
        ("/admin/directory", {}),
        ("/admin/directory/units.csv", {"file": csv_file("id,name\nnone,x\n")}),
        ("/admin/directory/units.csv", {"file": csv_file("id,answered_by,promise_days,email,confirm_answer,"
                                                         "no_answer,no_answer_number\nnone,x,y,z,w,v,u\n")}),
        ("/admin/directory/units.csv", {}),
        ("/admin/directory/rota.csv", {"file": csv_file("function,when,person\nnobody,someday,nobody\n")}),
        ("/admin/directory/rota.csv", {"file": csv_file("x\n")}),
        ("/admin/directory/units", {"slug": "X", "kind": "party", "parent": "none", "answered_by": "x",
                                    "promise_days": "many", "confirm_answer": "kanske", "no_answer": "x"}),
        ("/admin/directory/units", {"slug": "test-enhet", "name": "Testenheten", "kind": "enhet",
                                    "parent": "bygglov"}),
        "/admin/directory/entries/p040", "/admin/directory/entries/new", "/admin/directory/entries/none",
        ("/admin/directory/entries/new", {"id": "p040", "kind": "robot", "name": "", "unit": "x",
                                          "extension": "1", "phone": "0900-123", "working_hours": "mån 25-26",
                                          "ring": "together"}),
        ("/admin/directory/entries/p040", {"id": "p040", "kind": "person", "name": "Anna Test",
                                           "unit": "bygglov", "extension": "4711"}),
        ("/admin/directory/entries/f001/rota", {"rota": "someday p040\nmån nobody"}),
        ("/admin/directory/entries/f001/rota.ics", {"file": (io.BytesIO(b"not ical"), "x.ics")}),
        ("/admin/directory/entries/f001/rota.ics", {}),
        ("/admin/directory/entries/p041/delete", {}),
        "/admin/audit", "/admin/audit?action=flow.", "/callbacks", "/requests", "/console", "/directory",
        "/password", "/",
    ]
    typed = [str(v) for step in steps if isinstance(step, tuple) for v in step[1].values() if isinstance(v, str)]
    data = data_words(pseudo, bad_import, entries, *typed)
    wrong = walk(client, steps, data)
    assert wrong == {}


def csv_io_export(app) -> str:
    from directory import csv_io

    with app.extensions["vaxel"].sessions() as session:
        return csv_io.export_csv(session)


def test_refusals_and_missing_pages_are_from_the_catalogue(pseudo):
    """A role's forbidden page and a missing page are the layout's, in Swedish, for every role."""
    client = pseudo.test_client()
    assert words_outside(client.get("/admin/flow", follow_redirects=True)) == []  # not logged in: to login
    assert login(client, "operator", "demo-operator-2026").status_code == 302
    for path in ("/admin/flow", "/admin/audit", "/admin/hours", "/admin/directory", "/nowhere"):
        reply = client.get(path)
        assert reply.status_code in (403, 404) and words_outside(reply) == [], path


def test_the_check_catches_a_string_written_past_the_catalogue(pseudo):
    """The test above can fail: a page with one hard-coded word is caught."""
    client = pseudo.test_client()
    page = client.get("/login").get_data(as_text=True).replace("</h1>", " Failed</h1>")
    parser = Texts()
    parser.feed(page)
    assert {w for text in parser.found for w in outside_catalogue(text)} == {"Failed"}


def test_api_errors_in_swedish_are_from_the_catalogue(pseudo):
    client = pseudo.test_client()
    errors = [client.get("/api/console/snapshot").get_json()["error"]]  # 401: not logged in
    assert login(client, "operator", "demo-operator-2026").status_code == 302
    token = csrf_token(client, "/console")
    post = lambda path, body: client.post(path, json=body, headers={"X-CSRFToken": token}).get_json()["error"]  # noqa: E731
    errors += [
        client.get("/api/directory/search?q=x&limit=many").get_json()["error"],
        client.get("/api/directory/entries/nobody").get_json()["error"],
        client.get("/api/stats/report").get_json()["error"],  # 403: not for operators
        post("/api/console/calls/nothing/answer", {}),
        post("/api/console/state", {"state": "paused"}),
        post("/api/console/state", {"state": "sleeping"}),
        post("/api/console/calls/nothing/wrapup", {"outcome": "lunch"}),
        post("/api/directory/entries/p040/status", {"status": "forwarded"}),
        post("/api/directory/entries/p040/status", {"status": "absent", "until": "tomorrow"}),
        client.post("/api/console/state", data="[1]", content_type="application/json",
                    headers={"X-CSRFToken": token}).get_json()["error"],
    ]
    wrong = {error: outside_catalogue(error) for error in errors if outside_catalogue(error)}
    assert wrong == {}


def test_the_english_catalogue_translates_every_message_with_the_same_placeholders():
    with POT.open("rb") as fp:
        wanted = {m.id for m in read_po(fp) if m.id}
    with (i18n.SOURCE / "en" / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        english = {m.id: m.string for m in read_po(fp) if m.id}
    assert sorted(wanted - {k for k, v in english.items() if v}) == []
    placeholders = lambda text: sorted(re.findall(r"%\(\w+\)s", text))  # noqa: E731
    assert [k for k in wanted if placeholders(k) != placeholders(english[k])] == []


def test_the_catalogue_is_current_with_the_code(tmp_path):
    """messages.pot is what pybabel extracts today (`make translations` rewrites it and the .po files)."""
    from babel.messages.frontend import CommandLineInterface

    out = tmp_path / "messages.pot"
    root = Path(i18n.__file__).resolve().parent.parent
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(root / "babel.cfg"), "-k", "_l", "-k", "N_",
                                "--no-location", "--sort-output", "-o", str(out), str(root)])
    with out.open("rb") as fp:
        fresh = {m.id for m in read_po(fp) if m.id}
    with POT.open("rb") as fp:
        stored = {m.id for m in read_po(fp) if m.id}
    assert sorted(fresh - stored) == [] and sorted(stored - fresh) == []


def test_swedish_formats_for_numbers_durations_and_dates(app):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    with app.test_request_context("/"):
        assert i18n.number(1234567) == "1\u00a0234\u00a0567"
        assert i18n.number(12.5, 1) == "12,5"
        assert i18n.percent(0.873) == "87\u00a0%"
        assert i18n.duration(42) == "0:42" and i18n.duration(605) == "10:05"
        assert i18n.duration(33023) == "9 h 10 min"  # never "550:23"
        assert i18n.when(datetime(2026, 12, 1, 7, 0, tzinfo=ZoneInfo("UTC")), "day") == "tis 1 dec. 08:00"
    with app.test_request_context("/?lang=en"):
        assert i18n.number(12.5, 1) == "12.5"
