"""Every user-facing string of the staff pages and their API errors comes from the gettext catalogue.

The pages are rendered in Swedish with a pseudo catalogue in which every message is wrapped in ⟦…⟧: a word
left outside the brackets was written into the page without passing through the catalogue (an English
"failed", a hard-coded heading) and fails the test. Data (names, numbers, times) is allowed by a short list.
The real English catalogue must also translate every message (nothing falls back to Swedish by accident),
with the same %(placeholders)s.
"""

from __future__ import annotations

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
SHOWN_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")


class Texts(HTMLParser):
    """The visible text and the shown attributes of a page; key names in <kbd> and scripts are not text."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style", "kbd"):
            self.skip += 1
        self.found += [attrs[a] for a in SHOWN_ATTRIBUTES if attrs.get(a)]
        if tag == "meta" and attrs.get("name") == "vaxel-texts":
            self.found += list(json.loads(attrs["content"]).values())
        if tag == "option" or (tag == "input" and attrs.get("type") in ("submit", "button")):
            self.found += [attrs.get("value") or ""] if tag == "input" else []

    def handle_endtag(self, tag):
        if tag in ("script", "style", "kbd"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
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


def words_outside(reply) -> list[str]:
    parser = Texts()
    parser.feed(reply.get_data(as_text=True))
    return sorted({w for text in parser.found for w in outside_catalogue(text)})


OPERATOR_PAGES = ("/console", "/directory", "/callbacks", "/requests", "/password", "/admin/flow", "/nowhere")


def test_every_staff_page_in_swedish_is_from_the_catalogue(pseudo):
    client = pseudo.test_client()
    assert words_outside(client.get("/login")) == []
    assert login(client, "operator", "demo-operator-2026").status_code == 302
    wrong = {path: words_outside(client.get(path)) for path in OPERATOR_PAGES}
    assert wrong == {path: [] for path in OPERATOR_PAGES}


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
