"""Accounts and access: login, back-off, CSRF, cookie flags, and one rule for every route."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from switchboard.access import RULES
from switchboard.app import create_app
from switchboard.auth import User, add_user, authenticate, lock_time
from tests.conftest import csrf_token, login


def test_login_with_the_demo_operator_and_logout(client):
    reply = login(client, "operator", "demo-operator-2026")
    assert reply.status_code == 302
    assert "Olle Operatör · operatör" in client.get("/").get_data(as_text=True)
    token = csrf_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert "Logga in" in client.get("/").get_data(as_text=True)


def test_wrong_password_and_unknown_user_look_the_same(client):
    a = login(client, "operator", "wrong-password")
    b = login(client, "nobody", "wrong-password")
    assert a.status_code == b.status_code == 401
    assert "Fel användarnamn eller lösenord." in a.get_data(as_text=True)
    assert "Fel användarnamn eller lösenord." in b.get_data(as_text=True)


def test_form_without_csrf_token_is_refused(client):
    reply = client.post("/login", data={"username": "operator", "password": "demo-operator-2026"})
    assert reply.status_code == 400
    assert "Olle Operatör" not in client.get("/").get_data(as_text=True)  # not logged in


@pytest.mark.parametrize("failed, minutes", [(1, 0), (4, 0), (5, 1), (6, 2), (8, 8), (20, 60)])
def test_back_off_doubles_and_is_capped(failed, minutes):
    assert lock_time(failed) == timedelta(minutes=minutes)


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, sessions):
    for _ in range(5):
        login(client, "operator", "wrong-password")
    locked = login(client, "operator", "demo-operator-2026")
    assert locked.status_code == 401
    assert "För många felaktiga försök" in locked.get_data(as_text=True)
    with sessions() as session:
        user = session.scalar(select(User).where(User.username == "operator"))
        assert user.failed_logins == 5 and user.locked_until is not None
        later = user.locked_until + timedelta(seconds=1)
        assert authenticate(session, "operator", "demo-operator-2026", later)[0] is not None


def test_one_time_password_must_be_changed_first(client, sessions):
    with sessions() as session:
        add_user(session, "nyadmin", "admin", "engangs-losen-123", must_change=True)
        session.commit()
    login(client, "nyadmin", "engangs-losen-123")
    assert client.get("/").headers["Location"].endswith("/password")
    token = csrf_token(client, "/password")
    short = client.post("/password", data={"current": "engangs-losen-123", "new": "kort", "repeat": "kort",
                                           "csrf_token": token})
    assert short.status_code == 400 and "minst 10 tecken" in short.get_data(as_text=True)
    done = client.post("/password", data={"current": "engangs-losen-123", "new": "ett-eget-losenord",
                                          "repeat": "ett-eget-losenord", "csrf_token": token})
    assert done.status_code == 302
    assert client.get("/").status_code == 200


def test_session_cookie_flags(database_url, monkeypatch):
    monkeypatch.setenv("VAXEL_SERVICE_SECRET_KEY", "a-production-secret-of-at-least-32-chars-3f9c")
    app = create_app({"database": {"url": database_url}, "service": {"mode": "production"}})
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # Secure cookies travel only over HTTPS
    with app.extensions["vaxel"].sessions() as session:
        if session.scalar(select(User).where(User.username == "cookie")) is None:
            add_user(session, "cookie", "operator", "cookie-password-1")
            session.commit()
    reply = login(client, "cookie", "cookie-password-1")
    assert reply.status_code == 302
    cookie = next(c for c in reply.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_production_refuses_to_start_without_a_secret_key(database_url, monkeypatch):
    monkeypatch.delenv("VAXEL_SERVICE_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="VAXEL_SERVICE_SECRET_KEY"):
        create_app({"database": {"url": database_url}, "service": {"mode": "production"}})


def test_every_route_has_an_access_rule_and_anonymous_gets_no_staff_data(app, client):
    """Fails when a route is added without a rule in switchboard/access.py."""
    missing = sorted({r.endpoint for r in app.url_map.iter_rules()} - set(RULES))
    assert missing == [], f"endpoints without an access rule: {missing}"
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments - set(rule.defaults or {}):
            continue
        reply = client.get(rule.rule)
        if RULES[rule.endpoint] in ("public", "twilio", "monitoring"):  # monitoring: tests/test_metrics.py
            continue
        assert reply.status_code in (302, 401), (rule.rule, reply.status_code)
        if reply.status_code == 302:
            assert "/login" in reply.headers["Location"]


def test_the_access_table_is_complete_and_honest(app, client, monkeypatch):
    """One rule per endpoint and none for endpoints that do not exist; only Twilio's own webhooks get the
    ``twilio`` rule, and each of them refuses a request that Twilio did not sign."""
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    assert sorted(set(RULES) - endpoints) == [], "rules for endpoints that do not exist"
    assert set(RULES.values()) <= {"public", "any", "twilio", "monitoring", "admin", "operator", "stats",
                                   "operator,stats", "staff,operator"}
    assert [e for e, rule in RULES.items() if rule == "monitoring"] == ["metrics.metrics"]
    twilio_rules = sorted(e for e, rule in RULES.items() if rule == "twilio")
    assert twilio_rules == sorted(e for e in endpoints if e.startswith("twilio."))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-token-nobody-signed-with")
    app.extensions["vaxel"].settings["twilio"]["enabled"] = True
    for rule in app.url_map.iter_rules():
        if RULES[rule.endpoint] == "twilio":
            reply = client.post(rule.rule, data={"CallSid": "CA1", "From": "+46701740601"})
            assert reply.status_code == 403, rule.rule
    for rule in app.url_map.iter_rules():  # a page for staff is never public by mistake
        if rule.endpoint.split(".")[0] in ("console", "flowadmin", "hoursadmin", "audit", "callbacks"):
            assert RULES[rule.endpoint] in ("operator", "admin", "staff,operator"), rule.endpoint


def test_roles_are_enforced(app, client, sessions):
    """An endpoint for admins is refused to an operator (403) and allowed to an admin."""
    from flask import Blueprint

    secret = Blueprint("secret_test", __name__)

    @secret.get("/only-admins")
    def only_admins():
        return "admins only"

    app.register_blueprint(secret)
    RULES["secret_test.only_admins"] = "admin"
    try:
        with sessions() as session:
            add_user(session, "chef", "admin", "chef-password-1")
            session.commit()
        login(client, "operator", "demo-operator-2026")
        assert client.get("/only-admins").status_code == 403
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
        login(client, "chef", "chef-password-1")
        assert client.get("/only-admins").get_data(as_text=True) == "admins only"
    finally:
        del RULES["secret_test.only_admins"]


def test_an_endpoint_without_a_rule_is_refused(app, client):
    app.add_url_rule("/forgotten", "forgotten", lambda: "leak")
    assert client.get("/forgotten").status_code == 403


def test_user_commands(runner, sessions):
    out = runner.invoke(args=["user", "add", "anna", "--role", "operator", "--name", "Anna A"]).output
    password = re.search(r"one-time password: (\S+)", out).group(1)
    with sessions() as session:
        anna = session.scalar(select(User).where(User.username == "anna"))
        assert anna.must_change_password and anna.role == "operator"
        assert authenticate(session, "anna", password, datetime.now(timezone.utc))[0] is not None
    assert runner.invoke(args=["user", "add", "anna", "--role", "operator"]).exit_code == 2
    assert runner.invoke(args=["user", "add", "bo", "--role", "king"]).exit_code == 2
    assert "one-time password for anna" in runner.invoke(args=["user", "passwd", "anna"]).output
    assert runner.invoke(args=["user", "disable", "anna"]).exit_code == 0
    assert "anna                 operator  disabled" in runner.invoke(args=["user", "list"]).output
    first = runner.invoke(args=["user", "ensure-admin"]).output
    assert "one-time password" in first
    assert runner.invoke(args=["user", "ensure-admin"]).output == ""  # only once
