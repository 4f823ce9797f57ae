"""The operator's directory in a real browser: headless Chromium driven by Playwright over real HTTP."""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(base_url=live_server, locale="sv-SE", viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def test_operator_searches_moves_with_keys_and_closes_an_extension(page):
    from playwright.sync_api import expect

    page.goto("/directory")
    assert "/login" in page.url
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "demo-operator-2026")
    page.click("button[type=submit]")
    page.wait_for_url("**/directory")

    search = page.locator("#q")
    expect(search).to_be_focused()
    search.type("torghandel", delay=20)
    first = page.locator("#results li").first
    expect(first).to_contain_text("Sven Olofsson")
    expect(first.locator(".presence")).to_have_text("Ledig")
    expect(first).to_have_attribute("aria-selected", "true")

    search.press("ArrowDown")
    expect(page.locator("#results li").nth(1)).to_have_attribute("aria-selected", "true")
    search.press("ArrowUp")
    search.press("Enter")
    detail = page.locator("#detail")
    expect(detail.locator("h2")).to_have_text("Sven Olofsson")
    expect(detail).to_contain_text("Nadia Karimi")  # a free colleague in the same unit

    page.once("dialog", lambda dialog: dialog.accept("sjuk"))
    page.click("#toggle-closed")
    expect(detail.locator(".presence").first).to_have_text("Stängd")
    expect(detail).to_contain_text("sjuk")
    sven = page.locator("#results li", has_text="Sven Olofsson")
    expect(sven.locator(".presence")).to_have_text("Stängd")
    expect(sven.locator(".presence")).to_have_attribute("data-status", "closed")
    expect(page.locator("#results li").first).to_contain_text("Nadia Karimi")  # free people first

    search.focus()
    search.press("Escape")
    expect(search).to_have_value("")
    expect(page.locator("#results li")).to_have_count(0)


def test_anonymous_browser_gets_the_login_page_not_data(page):
    page.goto("/api/directory/search?q=torghandel")
    assert "Sven" not in page.content()


def log_in(page, username, password):
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def admin(app):
    from switchboard.auth import add_user
    from tests.conftest import ADMIN_PASSWORD

    with app.extensions["vaxel"].sessions() as session:
        add_user(session, "chefen", "admin", ADMIN_PASSWORD, "Cecilia Chef")
        session.commit()
    return "chefen", ADMIN_PASSWORD


def test_admin_edits_refuses_a_dead_end_test_calls_and_publishes(page, admin, app, tmp_path):
    import json

    from tests.test_console_browser import screenshot_dir

    from playwright.sync_api import expect

    new_menu = "Välkommen! Tryck 1 för en person eller 2 för ett ärende."
    log_in(page, *admin)
    page.goto("/admin/flow")
    page.fill("textarea[name=prompt__menu__sv]", new_menu)
    page.fill("input[name=newoption__menu__key]", "3")
    page.fill("input[name=newoption__menu__label]", "tappad")  # a key that leads nowhere: a dead end
    page.click("#save-draft")
    expect(page.locator("#problems")).to_contain_text("knapp 3 går till ””, som inte finns")
    page.once("dialog", lambda dialog: dialog.accept())  # "Publicera utkastet? …": confirmed
    page.click("#publish")
    expect(page.locator("body")).to_contain_text("Utkastet publicerades inte")

    page.check("input[name=option__menu__3__remove]")
    page.click("#save-draft")
    expect(page.locator("#problems")).to_contain_text("Utkastet är giltigt")

    page.uncheck("#tc-speak")
    page.fill("#tc-at", "2026-11-24T10:00")
    page.click("#tc-start")
    expect(page.locator("#tc-log li[data-prompt=menu]")).to_contain_text(new_menu)
    page.click(".tc-key[data-token='2']")
    expect(page.locator("#tc-log li[data-action=enqueue]")).to_have_count(1)
    expect(page.locator("#tc-state")).to_contain_text("queue")

    page.once("dialog", lambda dialog: dialog.dismiss())  # a slip of the mouse publishes nothing
    page.click("#publish")
    expect(page.locator("#publish")).to_be_visible()
    out = app.test_cli_runner().invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "--json", "2"]).output
    assert json.loads(out.splitlines()[1])["text"] != new_menu
    page.evaluate("window.scrollTo(0, 0)")  # the test call stays beside the editor, not 3000 px down
    assert page.locator("#testcall").bounding_box()["y"] < 768
    page.screenshot(path=str(screenshot_dir(tmp_path) / "flow-editor.png"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#publish")
    expect(page.locator("body")).to_contain_text("är publicerad")
    out = app.test_cli_runner().invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "--json", "2"]).output
    assert json.loads(out.splitlines()[1])["text"] == new_menu


def test_admin_adds_a_closure_and_a_test_call_hears_it(page, admin):
    from playwright.sync_api import expect

    log_in(page, *admin)
    page.goto("/admin/hours")
    page.select_option("#notice-form select[name=kind]", "closure")
    page.fill("#notice-form input[name=starts]", "2026-11-24T12:00")
    page.fill("#notice-form input[name=ends]", "2026-11-24T13:00")
    page.fill("#notice-form textarea[name=message_sv]", "Växeln är stängd för personalmöte.")
    page.click("#notice-form button[type=submit]")
    expect(page.locator("#notices")).to_contain_text("Växeln är stängd för personalmöte.")

    page.goto("/admin/flow")
    page.uncheck("#tc-speak")
    page.select_option("#tc-flow", "published")
    page.fill("#tc-at", "2026-11-24T12:15")
    page.click("#tc-start")
    expect(page.locator("#tc-log li[data-prompt=closure]")).to_contain_text(
        "Växeln är stängd för personalmöte. Vi öppnar igen i dag klockan 13:00.")


def test_operator_cannot_open_admin_pages(page):
    log_in(page, "operator", "demo-operator-2026")
    for path in ("/admin/flow", "/admin/hours", "/admin/directory", "/admin/audit"):
        response = page.goto(path)
        assert response.status == 403, path


def test_operator_console_follows_a_transfer_that_comes_back_and_records_a_wrapup(page, app):
    from playwright.sync_api import expect

    from ivr.protocol import Digits, TransferEnded
    from stats.events import events_of
    from switchboard.calls import CallRunner
    from core.clock import Clock
    from tests.conftest import TZ, at

    svc = app.extensions["vaxel"]
    svc.clock = Clock(TZ, start=at("2026-11-24T10:00"))
    calls = CallRunner(svc.sessions, svc.settings, channel="demo")

    log_in(page, "operator", "demo-operator-2026")
    page.goto("/console")
    page.click("#me button[data-state=ready]")
    expect(page.locator("#my-state")).to_have_text("Redo")

    calls.start("web-1", svc.clock.now(), caller="+46701740630")  # a call from the simulator
    calls.handle("web-1", Digits("2"), svc.clock.now())
    queued = page.locator("#queue li[data-call=web-1]")
    expect(queued).to_contain_text("070-174 06 30")
    expect(queued).to_contain_text("ärende")
    queued.locator("button").click()

    panel = page.locator("#my-call .call")
    expect(panel.locator(".script")).to_contain_text("du pratar med Olle Operatör")
    expect(page.locator("#operators")).to_contain_text("i samtal 070-174 06 30")
    assert "[object" not in page.locator("#operators").inner_text()
    panel.locator(".target").type("torghandel", delay=10)
    expect(panel.locator(".targets li").first).to_contain_text("Sven Olofsson")
    panel.locator(".target").press("Enter")
    expect(page.locator("#ringing li[data-call=web-1]")).to_contain_text("Sven Olofsson")

    calls.handle("web-1", TransferEnded("no-answer"), svc.clock.now())  # what the telephony reports
    back = page.locator("#returned li[data-call=web-1]")
    expect(back).to_contain_text("tillbaka (svarar inte)")
    expect(back).to_have_attribute("data-reason", "no-answer")
    expect(page.locator("#ringing li")).to_have_count(0)
    expect(panel.locator(".context")).to_contain_text("Ringer från 070-174 06 30")

    page.click("[data-wrapup=answered_by_centre]")
    for _ in range(50):
        with svc.sessions() as session:  # a new session each time, to see the browser's commit
            wrapups = [e.data for e in events_of(session, "web-1") if e.type == "operator_wrapup"]
        if wrapups:
            break
        page.wait_for_timeout(100)
    assert wrapups == [{"outcome": "answered_by_centre", "operator": "operator"}]


def test_operator_takes_a_message_for_a_person_in_the_console(page, app):
    """Issue 15: "4. Meddelande taget" with somewhere to write the message and someone who receives it."""
    from playwright.sync_api import expect
    from sqlalchemy import select

    from callback.models import CallbackRequest
    from core.clock import Clock
    from ivr.protocol import Digits
    from stats.events import events_of
    from switchboard.calls import CallRunner
    from tests.conftest import TZ, at

    svc = app.extensions["vaxel"]
    svc.clock = Clock(TZ, start=at("2026-11-24T10:00"))
    calls = CallRunner(svc.sessions, svc.settings, channel="demo")
    log_in(page, "operator", "demo-operator-2026")
    page.goto("/console")
    page.click("#me button[data-state=ready]")
    calls.start("msg-web", svc.clock.now(), caller="+46701740631")
    calls.handle("msg-web", Digits("2"), svc.clock.now())
    page.locator("#queue li[data-call=msg-web] button").click()
    panel = page.locator("#my-call .call")
    panel.locator(".target").type("Jonas Björk", delay=10)
    panel.locator(".targets li").first.locator("[data-message]").click()
    form = panel.locator("form.message")
    expect(form.locator(".message-to")).to_have_text("Jonas Björk, LSS-handläggning")
    expect(form.locator(".message-number")).to_have_value("070-174 06 31")  # the caller's, editable
    form.locator(".message-subject").fill("Ledsagarservice")
    form.locator(".message-text").fill("Undrar om beslutet.")
    form.locator("button[type=submit]").click()
    expect(form.locator(".message-result")).to_contain_text("sparat för LSS-handläggning")
    expect(form.locator(".message-result")).to_contain_text("Ingen e-post (e-post är avstängd)")
    with svc.sessions() as session:
        request = session.scalar(select(CallbackRequest).where(CallbackRequest.kind == "message"))
        assert (request.target_name, request.subject, request.message, request.number, request.taken_by) == (
            "Jonas Björk", "Ledsagarservice", "Undrar om beslutet.", "+46701740631", "operator")
    for _ in range(50):
        with svc.sessions() as session:
            wrapups = [e.data for e in events_of(session, "msg-web") if e.type == "operator_wrapup"]
        if wrapups:
            break
        page.wait_for_timeout(100)
    assert wrapups == [{"outcome": "message_taken", "operator": "operator"}]
