"""The dashboard and the export API over real HTTP (Flask's test client): who may see what, and what they get."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from switchboard.auth import add_user
from tests.conftest import login
from tests.test_stats_history import write
from tests.test_stats_report import history

Q = "from=2026-11-24&to=2026-11-24"


@pytest.fixture
def day(app, sessions):
    write(sessions, *history())
    return sessions


@pytest.fixture
def stats_client(client, day):
    assert login(client, "statistik", "demo-statistik-2026").status_code == 302
    return client


@pytest.fixture
def admin_client(client, day):
    with day() as session:
        add_user(session, "chef", "admin", "chef-password-1")
        session.commit()
    assert login(client, "chef", "chef-password-1").status_code == 302
    return client


def test_anonymous_gets_the_login_page_or_401(client):
    reply = client.get("/stats")
    assert reply.status_code == 302 and "/login" in reply.headers["Location"]
    assert client.get(f"/api/stats/report?{Q}").status_code == 401
    assert client.get(f"/api/stats/calls?{Q}").status_code == 401


def test_operators_see_the_dashboard_but_not_the_export_api(operator_client, day):
    page = operator_client.get(f"/stats?{Q}")
    assert page.status_code == 200
    assert operator_client.get(f"/api/stats/report?{Q}").status_code == 403
    assert operator_client.get(f"/api/stats/calls?{Q}").status_code == 403


def test_the_dashboard_shows_targets_with_colour_and_words(stats_client):
    html = stats_client.get(f"/stats?{Q}").get_data(as_text=True)
    assert 'data-key="switchboard" data-state="red"' in html and "Målet ej nått" in html
    assert 'data-key="queue_wait" data-state="green"' in html and "Målet nått" in html
    assert "57,1\u00a0%" in html and "mål ≥ 90\u00a0%" in html  # 4 of 7 within 15 s, a decimal comma
    assert '<svg id="heatmap"' in html and 'data-hour="16" data-weekday="2" data-calls="3"' in html
    assert '<svg id="trend"' in html
    assert "Tekniska förvaltningen" in html  # reach rate per department; per person only for stats.personal_roles
    assert "Sven Olofsson" not in html and "hundskatt" not in html  # (tests/test_privacy.py)
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # offline


def test_the_dashboard_filters(stats_client):
    html = stats_client.get(f"/stats?{Q}&weekday=3").get_data(as_text=True)
    assert "0 samtal" in html and 'data-state="none"' in html and "Ingen data" in html
    html = stats_client.get(f"/stats?{Q}&hours=14-16&department=tekniska-forvaltningen").get_data(as_text=True)
    assert "2 samtal" in html


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=2026-11-25&to=2026-11-24", "hours=9", "weekday=fun"])
def test_bad_filters_are_refused_with_the_reason(stats_client, query):
    reply = stats_client.get(f"/api/stats/report?{query}")
    assert reply.status_code == 400 and reply.get_data(as_text=True).strip()


def test_the_report_api_as_json_and_csv(stats_client):
    data = stats_client.get(f"/api/stats/report?{Q}").get_json()
    assert data["calls"]["total"] == 15 and data["calls"]["offered"] == 11
    reply = stats_client.get(f"/api/stats/report?{Q}&format=csv")
    assert reply.mimetype == "text/csv" and "attachment" in reply.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(reply.get_data(as_text=True))))
    assert rows[0] == ["section", "metric", "value"]
    assert ["calls", "offered", "11"] in rows and ["callbacks", "attempts_per_completion", "2.0"] in rows


def test_the_raw_file_has_one_row_per_call_and_no_personal_data(stats_client):
    reply = stats_client.get(f"/api/stats/calls?{Q}")
    text = reply.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 15 and rows[0]["call_id"] == "a1"  # oldest first
    assert "caller" not in rows[0] and "+46701740699" not in text and "anna" not in text
    assert "Sven" not in text and "hundskatt" not in text
    tr = next(r for r in rows if r["call_id"] == "tr")
    assert (tr["outcome"], tr["transfers_returned"], tr["forvaltning"], tr["queue_outcome"]) == \
        ("answered", "1", "tekniska-forvaltningen", "answered")
    # the timeline starts with '+': neutralised with a ' so no spreadsheet reads it as a formula (issue 14)
    assert tr["timeline"].startswith("'+0 call_started; +0 hours_checked(open=True); +6 menu_choice(option=person)")
    assert "+37 transfer_failed(reason=no-answer)" in tr["timeline"]
    ab4 = next(r for r in rows if r["call_id"] == "ab4")
    assert (ab4["short_abandon"], ab4["line"], ab4["outcome"]) == ("1", "service", "abandoned")
    assert stats_client.get(f"/api/stats/calls?{Q}&personal=1").status_code == 403


def test_an_administrator_may_ask_for_personal_data(admin_client):
    rows = list(csv.DictReader(io.StringIO(
        admin_client.get(f"/api/stats/calls?{Q}&personal=1").get_data(as_text=True))))
    a1 = next(r for r in rows if r["call_id"] == "a1")
    assert (a1["caller"], a1["operator"]) == ("+46701740699", "anna")
    um = next(r for r in rows if r["call_id"] == "um")
    assert um["unmatched_query"] == "hundskatt" and "query=Hundskatt" in um["timeline"]
    data = json.loads(admin_client.get(f"/api/stats/calls?{Q}&format=json").get_data(as_text=True))
    assert len(data) == 15 and "caller" not in data[0]


def test_the_start_page_links_the_dashboard(client):
    assert 'href="/stats"' in client.get("/").get_data(as_text=True)


def test_the_queue_filter_lists_queues_by_name_and_figures_read_the_swedish_way(app, stats_client):
    """Nobody has to know a queue's internal id; decimals have commas and long waits read as hours."""
    from stats.views import duration, percent

    html = stats_client.get(f"/stats?{Q}").get_data(as_text=True)
    select_queue = re.search(r'<select name="queue">.*?</select>', html, re.S).group(0)
    assert re.search(r'<option value="centre"\s*>Kundcenter</option>', select_queue)
    assert 'name="queue" size' not in html and '<input name="queue"' not in html
    filtered = stats_client.get(f"/stats?{Q}&queue=centre").get_data(as_text=True)
    assert re.search(r'<option value="centre" selected>Kundcenter</option>', filtered)
    with app.test_request_context("/"):
        assert (duration(33023), duration(125), percent(57.14)) == ("9 h 10 min", "2:05", "57,1\u00a0%")
    with app.test_request_context("/?lang=en"):
        assert percent(57.14) == "57.1\u00a0%"
