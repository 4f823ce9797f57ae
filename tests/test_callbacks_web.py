"""The operators' callback list at /callbacks: who, since when, attempts, place, reason, status; call now,
mark done, cancel with a note — operators only, every form with its CSRF token."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from callback.models import CallbackRequest
from stats.events import events_of
from tests.conftest import csrf_token, login


def add(session, call_id, number, status="pending", attempts=0, menu_choice="case", kind="next_open"):
    from datetime import datetime, timezone

    request = CallbackRequest(call_id=call_id, number=number, requested_at=datetime.now(timezone.utc)
                              - timedelta(minutes=10), kind=kind, queue="centre", menu_choice=menu_choice,
                              status=status, attempts=attempts)
    session.add(request)
    session.commit()
    return request.id


def test_only_logged_in_operators_see_the_list(client, app):
    assert client.get("/callbacks").status_code == 302  # to the login page
    with app.extensions["vaxel"].sessions() as session:
        from switchboard.auth import add_user

        add_user(session, "statistiker", "stats", "statistik-losen-1")
        session.commit()
    login(client, "statistiker", "statistik-losen-1")
    assert client.get("/callbacks").status_code == 403


def test_the_list_shows_who_since_attempts_place_reason_status(operator_client, sessions):
    with sessions() as session:
        waiting = add(session, "w1", "+46701740680")
        failed = add(session, "f1", "+4646355000", status="failed", attempts=3, menu_choice="person")
    page = operator_client.get("/callbacks").get_data(as_text=True)
    assert "070-174 06 80" in page and "046-35 50 00" in page  # national format
    assert "+46701740680" not in page
    failed_row = re.search(rf'<tr id="callback-{failed}">.*?</tr>', page, re.S).group(0)
    assert "3 av 3" in failed_row and "misslyckad" in failed_row and "söker en person" in failed_row
    assert page.index(f'id="callback-{failed}"') < page.index(f'id="callback-{waiting}"')  # failed first
    assert page.count('name="csrf_token"') >= 7  # logout + three forms per actionable row


def test_call_now_done_and_cancel(operator_client, sessions):
    with sessions() as session:
        a = add(session, "a1", "+46701740681", status="failed", attempts=3)
        b = add(session, "b1", "+46701740682")
        c = add(session, "c1", "+46701740683")
    token = csrf_token(operator_client, "/callbacks")
    assert operator_client.post(f"/callbacks/{a}/call-now", data={"csrf_token": token}).status_code == 302
    assert operator_client.post(f"/callbacks/{b}/done", data={"csrf_token": token}).status_code == 302
    refused = operator_client.post(f"/callbacks/{c}/cancel", data={"csrf_token": token, "note": "  "})
    assert refused.status_code == 409 and "skriv varför" in refused.get_data(as_text=True)
    assert operator_client.post(f"/callbacks/{c}/cancel",
                                data={"csrf_token": token, "note": "Ringde själv"}).status_code == 302
    with sessions() as session:
        ra, rb, rc = (session.get(CallbackRequest, i) for i in (a, b, c))
        assert (ra.status, ra.call_now) == ("pending", True)
        assert (rb.status, rb.closed_by) == ("done", "operator")
        assert (rc.status, rc.closed_by, rc.note) == ("cancelled", "operator", "Ringde själv")
        assert [e.type for e in events_of(session, "b1")] == ["callback_completed"]
        assert [(e.type, e.data["by"]) for e in events_of(session, "c1")] == [("callback_cancelled", "operator")]
    # a closed request cannot be acted on again
    again = operator_client.post(f"/callbacks/{b}/cancel", data={"csrf_token": token, "note": "x"})
    assert again.status_code == 409 and "kan inte ändras" in again.get_data(as_text=True)
    assert operator_client.post("/callbacks/9999/done", data={"csrf_token": token}).status_code == 409


def test_actions_need_the_csrf_token(operator_client, sessions):
    with sessions() as session:
        rid = add(session, "x1", "+46701740684")
    assert operator_client.post(f"/callbacks/{rid}/done").status_code == 400
    with sessions() as session:
        assert session.scalar(select(CallbackRequest.status).where(CallbackRequest.id == rid)) == "pending"


def test_a_request_being_dialled_cannot_be_closed_by_hand(operator_client, sessions):
    with sessions() as session:
        rid = add(session, "d1", "+46701740685", status="dialling", attempts=1)
    token = csrf_token(operator_client, "/callbacks")
    reply = operator_client.post(f"/callbacks/{rid}/done", data={"csrf_token": token})
    assert reply.status_code == 409 and "ringer upp" in reply.get_data(as_text=True)


def test_a_failed_request_stays_listed_until_its_number_is_purged(operator_client, sessions, app):
    from datetime import datetime, timezone

    from callback import operators, retention

    with sessions() as session:
        rid = add(session, "p1", "+46701740686", status="failed", attempts=3)
        session.get(CallbackRequest, rid).closed_at = datetime.now(timezone.utc) - timedelta(days=40)
        session.commit()
    assert 'id="callback-%d"' % rid in operator_client.get("/callbacks").get_data(as_text=True)
    with sessions() as session:
        assert retention.purge(session, datetime.now(timezone.utc), 30) == 1
    assert 'id="callback-%d"' % rid not in operator_client.get("/callbacks").get_data(as_text=True)
    with sessions() as session, pytest.raises(operators.ActionError, match="numret är raderat"):
        operators.call_now(session, rid, "operator", datetime.now(timezone.utc))
