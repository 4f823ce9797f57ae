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
        context = browser.new_context(base_url=live_server, locale="sv-SE")
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
    expect(first.locator(".status")).to_have_text("Ledig")
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
    expect(detail.locator(".status").first).to_have_text("Stängd")
    expect(detail).to_contain_text("sjuk")
    sven = page.locator("#results li", has_text="Sven Olofsson")
    expect(sven.locator(".status")).to_have_text("Stängd")
    expect(sven.locator(".status")).to_have_attribute("data-status", "closed")
    expect(page.locator("#results li").first).to_contain_text("Nadia Karimi")  # free people first

    search.focus()
    search.press("Escape")
    expect(search).to_have_value("")
    expect(page.locator("#results li")).to_have_count(0)


def test_anonymous_browser_gets_the_login_page_not_data(page):
    page.goto("/api/directory/search?q=torghandel")
    assert "Sven" not in page.content()
