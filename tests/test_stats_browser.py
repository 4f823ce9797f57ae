"""The statistics dashboard in a real browser (headless Chromium), on demo traffic made through the engine."""

from __future__ import annotations

import os
import re

import pytest

from switchboard import traffic
from tests.test_browser import ARGS, CHROMIUM, live_server  # noqa: F401  (fixtures)
from tests.test_console_browser import VIEWPORT, screenshot_dir
from tests.test_stats_history import at

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)")


@pytest.fixture
def demo_page(app, live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    svc = app.extensions["vaxel"]
    counts = traffic.generate(svc.sessions, svc.settings, at("2026-11-21T07:00:00"), days=5, per_day=20, seed=7)
    assert counts["calls"] > 40
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(base_url=live_server, locale="sv-SE", viewport=VIEWPORT).new_page()
        page.set_default_timeout(10_000)
        yield page, counts
        browser.close()


def test_dashboard_tiles_and_heatmap_render_with_demo_traffic(demo_page, tmp_path):
    from playwright.sync_api import expect

    page, counts = demo_page
    page.goto("/stats?from=2026-11-16&to=2026-11-20")
    assert "/login" in page.url
    page.fill("input[name=username]", "statistik")
    page.fill("input[name=password]", "demo-statistik-2026")
    page.click("button[type=submit]")
    page.wait_for_url("**/stats?from=2026-11-16&to=2026-11-20")

    expect(page.locator("h1")).to_have_text("Statistik")
    tiles = page.locator("#tiles .tile")
    expect(tiles).to_have_count(6)
    words = {"green": "Målet nått", "amber": "Nära målet", "red": "Målet ej nått", "none": "Ingen data",
             "info": "Jämförelse"}
    for key in ("switchboard", "service", "lost", "queue_wait", "resolved", "reach"):
        tile = page.locator(f'#tiles .tile[data-key="{key}"]')
        expect(tile).to_be_visible()
        state = tile.get_attribute("data-state")
        assert state in words and state != "none", key  # demo traffic gives every target a figure
        expect(tile.locator(".state")).to_contain_text(words[state])  # the words, not only the colour
        assert re.fullmatch(r"\d+,\d\u00a0%|\d+:\d\d", tile.locator(".value").inner_text().strip()), key
        colour = tile.evaluate("el => getComputedStyle(el).borderTopColor")
        assert colour != "rgb(0, 0, 0)", key

    heatmap = page.locator("svg#heatmap")
    expect(heatmap).to_be_visible()
    page.screenshot(path=str(screenshot_dir(tmp_path) / "statistics.png"))
    box = heatmap.bounding_box()
    assert box["width"] > 300 and box["height"] > 150
    cells = heatmap.locator("g.cell")
    assert cells.count() % 7 == 0 and cells.count() >= 7 * 9  # at least 08-17 for every weekday
    shown = sum(int(c) for c in cells.evaluate_all("els => els.map(e => e.dataset.calls)"))
    total = int(re.search(r"(\d+) samtal", page.locator("main p").first.inner_text()).group(1))
    assert shown == total > 0
    busy = heatmap.locator('g.cell:not([data-calls="0"]) rect').first
    assert busy.get_attribute("fill") != "#ffffff"
    expect(page.locator("svg#trend")).to_be_visible()
    expect(page.locator("#transfers tbody tr").first).to_be_visible()
