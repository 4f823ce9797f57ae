"""Administration: the flow editor (draft, validation, test call, publish, history, roll back), the phone-hours
editor (weekly hours, special days, closures, crisis), directory editing, and the audit log."""

from __future__ import annotations

import csv
import html
import io
import json
import re

from sqlalchemy import select

from ivr.models import FlowVersion
from core.audit import AuditEntry
from tests.conftest import csrf_token

NEW_MENU = "Tryck 1 för en person, tryck 2 för ärenden. Nytt menyval för testet."


def text(reply) -> str:
    return html.unescape(reply.get_data(as_text=True))


def form_of(client, path="/admin/flow"):
    """The editor's fields as a browser would post them (textareas and inputs with their current values)."""
    page = client.get(path).get_data(as_text=True)
    fields = dict(re.findall(r'<textarea name="([^"]+)"[^>]*>([^<]*)</textarea>', page))
    fields |= dict(re.findall(r'<input name="((?:node|queue)__[^"]+)" value="([^"]*)"', page))
    fields |= dict(re.findall(r'<input name="(option__[^"]+__label)" value="([^"]*)"', page))
    for name, options in re.findall(r'<select name="(option__[^"]+__next)">(.*?)</select>', page, re.S):
        fields[name] = re.search(r'<option value="([^"]*)" selected', options).group(1)
    fields.pop("json", None)
    fields["queue__callback"] = "1"
    fields["csrf_token"] = csrf_token(client, path)
    return {k: v.replace("&#39;", "'").replace("&amp;", "&") for k, v in fields.items()}


def test_edit_validate_test_call_publish_and_the_simulator_speaks_it(admin_client, runner, sessions):
    fields = form_of(admin_client)
    fields["prompt__menu__sv"] = NEW_MENU
    assert admin_client.post("/admin/flow/draft", data=fields).status_code == 302
    page = admin_client.get("/admin/flow").get_data(as_text=True)
    assert "utkast (version 2)" in page and "Utkastet är giltigt" in page

    # a dead end: a new key that leads nowhere is saved in the draft but refused at publishing
    fields = form_of(admin_client)
    fields |= {"newoption__menu__key": "3", "newoption__menu__label": "oops", "newoption__menu__next": ""}
    admin_client.post("/admin/flow/draft", data=fields)
    refused = admin_client.post("/admin/flow/publish", data={"csrf_token": fields["csrf_token"]}, follow_redirects=True)
    assert "Utkastet publicerades inte" in text(refused)
    assert "Menyn ”Huvudmenyn”: knapp 3 går till ””, som inte finns." in text(refused)  # named as the editor names it
    fields = form_of(admin_client)
    fields["option__menu__3__remove"] = "1"
    admin_client.post("/admin/flow/draft", data=fields)

    # the test call runs the draft, not the published flow, and writes nothing
    token = csrf_token(admin_client, "/admin/flow")
    test = admin_client.post("/api/admin/flow/testcall", headers={"X-CSRFToken": token},
                             json={"at": "2026-11-24T10:00", "tokens": ["2"], "flow": "draft"}).get_json()
    said = [a for a in test["actions"] if a["action"] == "say"]
    assert said[1]["text"] == NEW_MENU and test["status"] == "draft" and test["awaiting"] == "queue"
    before = runner.invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "--json", "2"]).output
    assert NEW_MENU not in before

    admin_client.post("/admin/flow/publish", data={"csrf_token": token})
    after = runner.invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "--json", "2"]).output
    menu = [json.loads(line) for line in after.splitlines()][1]
    assert menu["prompt"] == "menu" and menu["text"] == NEW_MENU

    with sessions() as session:
        versions = {v.version: v.status for v in session.scalars(select(FlowVersion))}
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert versions == {1: "archived", 2: "published"}
    assert actions.count("flow.draft_save") == 3 and actions[-1] == "flow.publish"


def test_history_diff_and_roll_back(admin_client, runner, sessions):
    fields = form_of(admin_client)
    fields["prompt__greeting__sv"] = "Hej och välkommen!"
    admin_client.post("/admin/flow/draft", data=fields)
    admin_client.post("/admin/flow/publish", data={"csrf_token": fields["csrf_token"]})
    with sessions() as session:
        ids = {v.version: v.id for v in session.scalars(select(FlowVersion))}
    diff = text(admin_client.get(f"/admin/flow/diff/{ids[1]}/{ids[2]}"))
    assert '-      "sv": "Välkommen till Sjöbacka kommun."' in diff and '+      "sv": "Hej och välkommen!"' in diff
    assert "ändringar mot 1" in text(admin_client.get("/admin/flow/history"))
    admin_client.post(f"/admin/flow/rollback/{ids[1]}", data={"csrf_token": fields["csrf_token"]})
    out = runner.invoke(args=["call", "--at", "2026-11-24T10:00:00+01:00", "--json", "2"]).output
    assert json.loads(out.splitlines()[0])["text"] == "Välkommen till Sjöbacka kommun."
    with sessions() as session:
        assert session.scalar(select(FlowVersion).where(FlowVersion.status == "published")).version == 3


def test_json_editing_and_bad_input_are_refused_with_reasons(admin_client):
    token = csrf_token(admin_client, "/admin/flow")
    bad = admin_client.post("/admin/flow/draft", data={"csrf_token": token, "json": "{not json"},
                            follow_redirects=True)
    assert "JSON-texten går inte att läsa" in bad.get_data(as_text=True)
    fields = form_of(admin_client)
    fields["node__menu__timeout"] = "soon"
    reply = text(admin_client.post("/admin/flow/draft", data=fields, follow_redirects=True))
    assert "Huvudmenyn: väntar på svar (s): ”soon” är inte ett heltal." in reply
    test = admin_client.post("/api/admin/flow/testcall", headers={"X-CSRFToken": token},
                             json={"tokens": ["ring:busy"]})
    assert test.status_code == 400 and "ingen koppling ringer" in test.get_json()["error"]


def test_closure_and_preview(admin_client, sessions):
    token = csrf_token(admin_client, "/admin/hours")
    reply = admin_client.post("/admin/hours/notice", data={
        "csrf_token": token, "kind": "closure", "scope": "switchboard", "starts": "2026-11-24T12:00",
        "ends": "2026-11-24T13:00", "message_sv": "Vi har stängt för personalmöte.", "message_en": "Staff meeting."})
    assert reply.status_code == 302
    preview = admin_client.get("/admin/hours?preview_at=2026-11-24T12:30").get_data(as_text=True)
    assert "Vi har stängt för personalmöte. Vi öppnar igen i dag klockan 13:00." in preview
    open_again = admin_client.get("/admin/hours?preview_at=2026-11-24T13:00").get_data(as_text=True)
    assert 'data-prompt="greeting"' in open_again
    refused = admin_client.post("/admin/hours/notice", data={
        "csrf_token": token, "kind": "crisis", "starts": "2026-11-24T12:00", "ends": "2026-11-24T11:00",
        "message_sv": "x"}, follow_redirects=True)
    assert "slutet måste komma efter början" in refused.get_data(as_text=True)
    with sessions() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "hours.closure_add")) is not None


def test_crisis_message_plays_before_the_menu(admin_client):
    token = csrf_token(admin_client, "/admin/hours")
    admin_client.post("/admin/hours/notice", data={
        "csrf_token": token, "kind": "crisis", "scope": "*", "starts": "2026-11-24T06:00",
        "ends": "2026-11-25T06:00", "message_sv": "Stormen har stängt färjan till Ön."})
    preview = admin_client.get("/admin/hours?preview_at=2026-11-24T10:00").get_data(as_text=True)
    assert re.search(r'data-prompt="crisis">Stormen har stängt färjan till Ön.</li>\s*<li data-prompt="greeting"',
                     preview)


def test_weekly_hours_and_special_days(admin_client, runner):
    token = csrf_token(admin_client, "/admin/hours")
    bad = admin_client.post("/admin/hours/schedule", data={"csrf_token": token, "key": "unit:bygglov",
                                                           "day__mon": "tio till tolv"}, follow_redirects=True)
    assert "Inte sparat" in bad.get_data(as_text=True) and "skriv till exempel 8-17" in bad.get_data(as_text=True)
    backwards = admin_client.post("/admin/hours/schedule", data={"csrf_token": token, "key": "unit:bygglov",
                                                                 "day__mon": "17-8"}, follow_redirects=True)
    assert "går inte ihop" in backwards.get_data(as_text=True)
    fields = {"csrf_token": token, "key": "unit:bygglov", "observe_holidays": "1",
              **{f"day__{d}": "13-15" for d in ("mon", "tue", "wed", "thu", "fri")}}  # as people write it
    assert admin_client.post("/admin/hours/schedule", data=fields).status_code == 302
    hours = admin_client.get("/hours").get_data(as_text=True)
    assert "måndag till fredag 13:00–15:00" in hours
    # julafton kept open 09–12 for the switchboard, by an administrator's special day
    admin_client.post("/admin/hours/special", data={"csrf_token": token, "day": "2026-12-24",
                                                    "intervals": "09:00-12:00", "scope": "switchboard"})
    out = runner.invoke(args=["call", "--at", "2026-12-24T10:00:00+01:00", "--json", "2"]).output
    assert json.loads(out.splitlines()[0])["prompt"] == "greeting"


def test_directory_editing_is_validated_and_audited(admin_client, sessions):
    token = csrf_token(admin_client, "/admin/directory")
    bad = admin_client.post("/admin/directory/entries/new", data={
        "csrf_token": token, "id": "n1", "kind": "person", "name": "", "unit": "bygglov", "phone": "abc"})
    assert bad.status_code == 400 and "name saknas" in bad.get_data(as_text=True)
    good = admin_client.post("/admin/directory/entries/new", data={
        "csrf_token": token, "id": "n1", "kind": "person", "name": "Nora Ny", "unit": "bygglov",
        "extension": "4499", "keywords": "sjöbodsdispens|dispens"})
    assert good.status_code == 302
    operator_view = admin_client.get("/api/directory/search?q=sjöbodsdispens").get_json()
    assert operator_view["results"][0]["name"] == "Nora Ny"
    admin_client.post("/admin/directory/units", data={"csrf_token": token, "slug": "hamn", "name": "Hamnen",
                                                      "kind": "enhet", "parent": "tekniska-forvaltningen",
                                                      "keywords": "båtplats, gästhamn"})
    with sessions() as session:
        actions = {e.action for e in session.scalars(select(AuditEntry))}
    assert {"directory.entry_save", "directory.unit_save"} <= actions
    exported = admin_client.get("/admin/audit.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["action"] for r in rows} >= {"directory.entry_save", "directory.unit_save"}
    assert all(r["user"] == "chefen" for r in rows)
    assert "Nora Ny" in admin_client.get("/admin/audit").get_data(as_text=True)


def test_operators_cannot_administer(operator_client):
    for path in ("/admin/flow", "/admin/hours", "/admin/audit", "/admin/directory", "/admin/flow/history"):
        assert operator_client.get(path).status_code == 403, path
    token = csrf_token(operator_client, "/directory")
    assert operator_client.post("/api/admin/flow/testcall", json={}, headers={"X-CSRFToken": token}).status_code == 403


def test_hours_are_read_as_people_write_them():
    import pytest

    from switchboard.admin.hours import span

    assert [span(t) for t in ("8-17", "8.30–16", "08:00-12:00", " 13 - 15:30 ")] == [
        "08:00-17:00", "08:30-16:00", "08:00-12:00", "13:00-15:30"]
    with pytest.raises(ValueError, match="skriv till exempel 8-17"):
        span("åtta till fem")


def test_the_hours_page_lists_coming_holidays_and_when_eves_close(admin_client):
    page = admin_client.get("/admin/hours").get_data(as_text=True)  # the service clock: 2026-11-24
    assert "2026-01-06" not in page and "2026-12-24" in page  # trettondagen is past; julafton to come
    next_year = admin_client.get("/admin/hours?year=2027").get_data(as_text=True)
    assert "2027-01-05" in next_year and "stänger kl. 15:00" in next_year  # the eve of trettondagen, with its time


def test_a_directory_import_can_be_tried_on_the_web_without_saving(admin_client, app):
    import io

    from sqlalchemy import func, select

    from directory import csv_io
    from directory.models import Staff

    with app.extensions["vaxel"].sessions() as session:
        before = session.scalar(select(func.count(Staff.id)))
        text = csv_io.export_csv(session) + "\n"
    token = csrf_token(admin_client, "/admin/directory")
    import csv

    unit = next(csv.DictReader(io.StringIO(text)))["unit"]
    line = ",".join(["ny01", "person", "Nina Ny", "", unit] + [""] * (len(csv_io.COLUMNS) - 5))
    reply = admin_client.post("/admin/directory", data={"csrf_token": token, "dry_run": "1",
                                                        "file": (io.BytesIO((text + line + "\n").encode()), "k.csv")})
    page = reply.get_data(as_text=True)
    with app.extensions["vaxel"].sessions() as session:
        after = session.scalar(select(func.count(Staff.id)))
    assert reply.status_code == 200, page
    assert after == before  # a trial saves nothing …
    assert "Provkörning – ingenting är sparat. Importen skulle ge 1 nya" in page  # … and says what it would do
    assert 'id="entries"' in admin_client.get("/admin/directory").get_data(as_text=True)  # a table to filter


def test_the_audit_log_names_actions_and_people_in_swedish_time(admin_client):
    token = csrf_token(admin_client, "/admin/hours")
    admin_client.post("/admin/hours/schedule", data={"csrf_token": token, "key": "switchboard",
                                                     "day__mon": "8-17", "observe_holidays": "1"})
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "Ändrade telefontider" in page and "Cecilia Chef" in page
    assert " UTC" not in page and "svensk tid" in page


def test_a_flow_diff_says_what_changed_in_words():
    from switchboard.admin.flow import changes

    old = {"nodes": {"menu": {"type": "menu", "timeout": 6, "options": {"1": {"label": "person", "next": "person"}}}},
           "queue": {"announce_every": 60}, "prompts": {"menu": {"sv": "Tryck 1.", "en": "Press 1."}}}
    new = {"nodes": {"menu": {"type": "menu", "timeout": 8, "options": {"1": {"label": "person", "next": "centre"}}}},
           "queue": {"announce_every": 90}, "prompts": {"menu": {"sv": "Tryck 1 eller 2.", "en": "Press 1."}}}
    assert changes(old, new) == [
        ("Huvudmenyn: knapp 1 – går till", "person", "centre"), ("Huvudmenyn: väntar på svar (s)", 6, 8),
        ("Text ”menu” (sv)", "Tryck 1.", "Tryck 1 eller 2."), ("Kö: köplatsen sägs var (s)", 60, 90)]
