"""The operator's day in a real browser (Playwright + Debian's Chromium at 1366×768) over real HTTP.

Log in → the console; a call arrives → the tab title and the alert change within 2 s; answer → focus in the
transfer search; transfer → the ringing names the target and the time; it comes back → an alert, and the
bounce history is kept; wrap-up after the call (keys, with confirmation); server stopped → a red banner
within 5 s. The screenshots for the README are taken here (``VAXEL_SCREENSHOTS=1`` writes them to
docs/screenshots/, otherwise to a temporary folder: a test run never changes the checkout).
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


class StoppableServer:
    """A real threaded HTTP server that can be stopped the way a crashed process stops: the listening socket
    and every open connection (the console's event stream among them) are closed at once."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.connections: list[socket.socket] = []
        handle = self.server.process_request

        def track(request, address):
            self.connections.append(request)
            handle(request, address)

        self.server.process_request = track
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.stopped = False

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.server.shutdown()
        self.server.server_close()
        for conn in self.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def server(app):
    running = StoppableServer(app)
    yield running
    running.stop()


@pytest.fixture
def browser_page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, "--autoplay-policy=no-user-gesture-required"])
        context = browser.new_context(base_url=server.url, locale="sv-SE", viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def screenshot_dir(tmp_path: Path) -> Path:
    if os.environ.get("VAXEL_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


def log_in(page, username: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def wrapups_of(svc, call_id: str) -> list[dict]:
    from stats.events import events_of

    with svc.sessions() as session:  # a new session each time, to see the browser's commit
        return [e.data for e in events_of(session, call_id) if e.type == "operator_wrapup"]


def test_the_operators_day(browser_page, server, app, tmp_path):
    from datetime import timedelta

    from playwright.sync_api import expect

    from ivr.models import Closure
    from ivr.protocol import Digits, TransferEnded
    from switchboard.calls import CallRunner

    page, svc = browser_page, app.extensions["vaxel"]
    shots = screenshot_dir(tmp_path)
    calls = CallRunner(svc.sessions, svc.settings, channel="simulator")
    now = svc.clock.now()
    with svc.sessions() as session:  # a crisis message callers hear now: the operators see it too
        session.add(Closure(kind="crisis", starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=3),
                            message_sv="Vattenläcka på Storgatan: räddningstjänsten informerar på 113 13.",
                            created_at=now))
        session.commit()

    # log in → the console, the operator's own page
    log_in(page, "operator", "demo-operator-2026")
    assert page.url.endswith("/console")
    expect(page.locator("#notices li[data-kind=crisis]")).to_contain_text("Vattenläcka på Storgatan")
    expect(page.locator("#live")).to_have_text("ansluten")
    page.keyboard.press("r")
    expect(page.locator("#my-state")).to_have_text("Redo")
    expect(page.locator("#queue-empty")).to_be_visible()
    assert page.title() == "Konsol – vaxel"

    # a call arrives → the tab title and the visual alert change within 2 s (the sound plays with them)
    calls.start("day-1", svc.clock.now(), caller="+447700900123")  # a UK mobile: shown internationally
    calls.handle("day-1", Digits("2"), svc.clock.now())
    expect(page).to_have_title("(1) väntar, längst 0:00 – Konsol – vaxel", timeout=2000)
    expect(page.locator("#alert")).to_have_text("Nytt samtal i kön: +44 7700 900123", timeout=2000)
    assert page.locator("body").get_attribute("data-alerts") == "1"
    row = page.locator("#queue li[data-call=day-1]")
    expect(row).to_contain_text("1. +44 7700 900123")
    assert "1. 1." not in row.inner_text()
    expect(page.locator("#queue-count")).to_contain_text("(1) · längst 0:")
    expect(page.locator("#queue-empty")).to_be_hidden()

    # answer with A → focus in the transfer search
    page.keyboard.press("a")
    search = page.locator("#my-call .target")
    expect(search).to_be_focused()
    expect(page.locator("#my-call .script")).to_contain_text("Välkommen till Sjöbacka kommun, du pratar med Olle Operatör")
    expect(page).to_have_title("Konsol – vaxel")

    # a blind transfer → the ringing names the target and the time; no consultation buttons
    search.type("torghandel", delay=10)
    first = page.locator("#my-call .targets li").first
    expect(first).to_contain_text("Sven Olofsson")
    expect(first).to_contain_text("träff på sökord")
    search.press("Enter")
    ring = page.locator("#my-call .ring")
    expect(ring).to_contain_text("Kopplar till Sven Olofsson")
    expect(ring).to_contain_text("ringt 0:0")
    expect(ring.locator("[data-consult]")).to_have_count(0)
    expect(page.locator("#ringing li[data-call=day-1]")).to_contain_text("Sven Olofsson")
    page.locator("#my-call .target").blur()
    page.keyboard.press("1")  # wrap-up keys do nothing while the call is in my hands
    expect(page.locator("#console-error")).to_contain_text("efter samtalet")
    assert wrapups_of(svc, "day-1") == []

    # nobody answers → it comes back: an alert, and the bounce is kept
    calls.handle("day-1", TransferEnded("no-answer"), svc.clock.now())
    expect(page.locator("#alert")).to_have_text("Tillbaka från Sven Olofsson (svarar inte)", timeout=2000)
    bounces = page.locator("#my-call .bounces li")
    expect(bounces).to_have_count(1)
    expect(bounces.first).to_contain_text("Tillbaka från Sven Olofsson – svarar inte")

    # a consultation (Shift+Enter) shows complete/cancel; it comes back busy: both bounces stay listed
    search = page.locator("#my-call .target")
    search.fill("")
    search.type("torghandel", delay=10)
    expect(page.locator("#my-call .targets li").first).to_contain_text("Sven Olofsson")
    search.press("Shift+Enter")
    expect(ring).to_contain_text("Rådfrågar Sven Olofsson")
    expect(ring.locator("[data-consult=complete]")).to_be_visible()
    calls.handle("day-1", TransferEnded("busy"), svc.clock.now())
    expect(bounces).to_have_count(2)
    expect(bounces.nth(1)).to_contain_text("upptaget")
    expect(page.locator("#my-call .bounces li").first).to_contain_text("svarar inte")

    # another caller waits meanwhile: the picture the README shows
    calls.start("day-2", svc.clock.now(), caller="+46701740632")
    calls.handle("day-2", Digits("2"), svc.clock.now())
    expect(page.locator("#queue li[data-call=day-2]")).to_contain_text("070-174 06 32")
    page.locator("#my-call .target").fill("")
    page.locator("#my-call .target").type("bygglov", delay=10)
    expect(page.locator("#my-call .targets li")).not_to_have_count(0)
    page.screenshot(path=str(shots / "console.png"))

    # transfer again, and this time it is answered → the panel gives way to the wrap-up after the call
    page.locator("#my-call .target").fill("")
    page.locator("#my-call .target").type("torghandel", delay=10)
    expect(page.locator("#my-call .targets li").first).to_contain_text("Sven Olofsson")
    page.locator("#my-call .target").press("Enter")
    expect(ring).to_contain_text("Kopplar till Sven Olofsson")
    calls.handle("day-1", TransferEnded("answered"), svc.clock.now())
    due = page.locator("#my-call .to-wrap-up li[data-call=day-1]")
    expect(due).to_contain_text("kopplat till Sven Olofsson")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("2")  # choose "Kopplat vidare" …
    expect(page.locator("#my-call .confirm")).to_contain_text("Spara ”Kopplat vidare”")
    page.wait_for_timeout(300)
    assert wrapups_of(svc, "day-1") == []  # … nothing is recorded before it is confirmed
    page.keyboard.press("Enter")
    expect(page.locator("#my-call .to-wrap-up")).to_have_count(0)
    assert wrapups_of(svc, "day-1") == [{"outcome": "transferred", "operator": "operator"}]

    # a pause takes its reason from the menu, one key each
    page.keyboard.press("p")
    expect(page.locator("#pause-menu")).to_be_visible()
    page.keyboard.press("2")
    expect(page.locator("#my-state")).to_have_text("Paus – Lunch")

    # the server stops → a red banner within 5 s, and the stale picture is greyed out
    server.stop()
    banner = page.locator("#offline-banner")
    expect(banner).to_be_visible(timeout=5000)
    expect(banner).to_contain_text("Servern svarar inte")
    assert "stale" in page.locator("body").get_attribute("class")
    assert page.evaluate("getComputedStyle(document.getElementById('offline-banner')).backgroundColor") == \
        "rgb(161, 25, 25)"


def test_the_directory_reads_at_a_glance(browser_page, app, tmp_path):
    """Compact rows that say why they matched; an absence a week ahead keeps its date; numbers as people read
    them; a closed line never shows a green "open"; the highlight stays with the entry whose status changed;
    a refused change is said in Swedish at the top of the entry."""
    from datetime import timedelta

    from playwright.sync_api import expect

    from directory import presence
    from directory.models import Staff
    from sqlalchemy import select

    page, svc = browser_page, app.extensions["vaxel"]
    now = svc.clock.now()
    with svc.sessions() as session:
        nadia = session.scalar(select(Staff).where(Staff.name == "Nadia Karimi"))
        presence.set_status(session, nadia.id, "absent", by="operator", now=now, reason="semester",
                            until=now + timedelta(days=7, hours=-2))
        session.commit()
    log_in(page, "operator", "demo-operator-2026")
    page.goto("/directory")
    search = page.locator("#q")
    search.type("torghandel", delay=10)
    rows = page.locator("#results li")
    expect(rows.first).to_contain_text("Sven Olofsson")
    expect(rows.first).to_contain_text("träff på sökord")
    assert rows.first.bounding_box()["height"] < 40  # ~15 hits on a 768 px screen, not 5
    nadia_row = page.locator("#results li", has_text="Nadia Karimi")
    expect(nadia_row).to_contain_text("semester till tis 1 dec. 08:00")  # the date a week ahead is kept
    expect(nadia_row.locator("[data-status=open]")).to_have_count(0)  # absent: no green "open" beside it
    search.press("Enter")
    detail = page.locator("#detail")
    expect(detail.locator("h2")).to_have_text("Sven Olofsson")
    expect(detail).not_to_contain_text("+46")
    page.screenshot(path=str(screenshot_dir(tmp_path) / "directory.png"))

    page.locator("select[name=status]").select_option("forwarded")  # forwarded without a number: refused
    page.click(".status-form button[type=submit]")
    expect(page.locator("#detail-error")).to_have_text("En hänvisad anknytning behöver ett nummer att hänvisa till.")
    assert page.locator("#detail-error").bounding_box()["y"] < 200  # at the top, not below the fold

    page.once("dialog", lambda dialog: dialog.accept("sjuk"))
    page.click("#toggle-closed")
    expect(detail.locator(".presence").first).to_have_text("Stängd")
    selected = page.locator("#results li[aria-selected=true]")
    expect(selected).to_contain_text("Sven Olofsson")  # the list re-sorted; the highlight followed him
    expect(page.locator("#detail-saved")).to_have_text("Status sparad för Sven Olofsson.")


def test_the_callback_list_keeps_rows_on_one_line_speaks_swedish_and_refreshes_itself(browser_page, app):
    from datetime import datetime, timezone

    from playwright.sync_api import expect

    from callback.models import CallbackAttempt
    from tests.test_callbacks_web import add

    page, svc = browser_page, app.extensions["vaxel"]
    with svc.sessions() as session:
        failed = add(session, "cb-1", "+46701740680", status="failed", attempts=3)
        session.add(CallbackAttempt(request_id=failed, attempt=3, outcome="no-answer",
                                    started_at=datetime.now(timezone.utc), ended_at=datetime.now(timezone.utc),
                                    worker="test", dial_order="operator_first"))
        session.commit()
    log_in(page, "operator", "demo-operator-2026")
    page.goto("/callbacks")
    row = page.locator(f"#callback-{failed}")
    expect(row).to_contain_text("svarade inte")  # the last attempt's outcome, in Swedish
    expect(row).not_to_contain_text("no-answer")
    number, since = row.locator("td").nth(1), row.locator("td").nth(2)
    lines = "c => { const r = document.createRange(); r.selectNodeContents(c); return r.getClientRects().length; }"
    for cell in (number, since):  # numbers and dates stay on one line
        assert cell.evaluate(lines) == 1, cell.inner_text()
    with svc.sessions() as session:  # a new request arrives while the page is open …
        later = add(session, "cb-2", "+46701740690")
    expect(page.locator(f"#callback-{later}")).to_contain_text("070-174 06 90", timeout=15_000)  # … and shows
