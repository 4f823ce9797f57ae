"""Issue 14, accounts and sessions: one test per finding, each failing on the code before the fix.

The back-off under parallel guesses, the ``next`` parameter, unknown and locked accounts told apart, sessions
that outlive logout / a new password / disabling, weak secret keys, the password policy, and the security
headers on every page. Tests that touch the database run on SQLite and, with ``make test-postgres``, on
PostgreSQL.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from switchboard import auth
from switchboard.app import create_app
from switchboard.auth import User, add_user, authenticate
from tests.conftest import csrf_token, login

OPERATOR, OPERATOR_PASSWORD = "operator", "demo-operator-2026"


def _user(sessions, username: str) -> User:
    with sessions() as session:
        return session.scalar(select(User).where(User.username == username))


# -- 1. the back-off is atomic ----------------------------------------------------------------------------


def test_parallel_wrong_passwords_lock_the_account_at_exactly_the_limit(app, sessions, caplog):
    """40 wrong passwords sent at once, each through its own client and database session: exactly
    FREE_ATTEMPTS of them are counted (checked against the account), the rest find the account locked."""
    guesses = 40
    clients = [app.test_client() for _ in range(guesses)]
    tokens = [csrf_token(c) for c in clients]
    start = threading.Barrier(guesses)
    replies: list = [None] * guesses

    def guess(i: int) -> None:
        start.wait()
        replies[i] = clients[i].post("/login", data={"username": OPERATOR, "password": f"wrong-guess-{i:03d}",
                                                     "csrf_token": tokens[i]})

    caplog.set_level(logging.WARNING, logger="switchboard.auth")
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None and r.status_code == 401 for r in replies), [getattr(r, "status_code", r)
                                                                          for r in replies]
    counted = [r for r in caplog.records if r.getMessage().startswith(f"failed login for {OPERATOR} ")]
    user = _user(sessions, OPERATOR)
    assert (user.failed_logins, len(counted)) == (auth.FREE_ATTEMPTS, auth.FREE_ATTEMPTS)
    assert user.locked_until is not None and user.locked_until > datetime.now(timezone.utc)
    assert login(app.test_client(), OPERATOR, OPERATOR_PASSWORD).status_code == 401  # locked, even now


# -- 2. ``next`` stays on this site -----------------------------------------------------------------------

REFUSED = [
    "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
    "https://evil.example/", "http:evil.example", "HTTPS://evil.example", "//evil.example/%2E%2E",
    "%2F%2Fevil.example", "/%2F%2Fevil.example", "/%2f/evil.example", "/%5Cevil.example", "/%252F%252Fevil.example",
    "/\t/evil.example", "\t//evil.example", " //evil.example", "/\r\nSet-Cookie: hijack=1", "/%0d%0aSet-Cookie:x=1",
    "/\x00/evil.example", "/\u2028/evil.example", "/\x85/evil.example",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>",
    "evil.example", "", "/" + "a" * 5000,
]
KEPT = [
    ("/directory", "/directory"),
    ("/stats?from=2026-11-01&to=2026-11-30", "/stats?from=2026-11-01&to=2026-11-30"),
    ("/directory?q=S%C3%B6derlund", "/directory?q=S%C3%B6derlund"),
    ("/katalog/ö?q=å", "/katalog/%C3%B6?q=%C3%A5"),  # non-ASCII goes out encoded, not as a 500
    ("/javascript:alert(1)", "/javascript:alert(1)"),  # a path on this site, harmless
]


def test_next_accepts_only_paths_on_this_site(client):
    wrong = []
    for target, expected in [(t, "/console") for t in REFUSED] + KEPT:  # refused: the operator's own page
        reply = client.post("/login", query_string={"next": target},
                            data={"username": OPERATOR, "password": OPERATOR_PASSWORD,
                                  "csrf_token": csrf_token(client)})
        location = reply.headers.get("Location")
        if "\x00" in target and reply.status_code == 400:
            continue  # a NUL anywhere in a request is refused before any view (switchboard/app.py refuse_nul)
        if reply.status_code != 302 or location != expected:
            wrong.append((target[:40], reply.status_code, location and location[:60]))
    assert wrong == []


# -- 3. unknown, locked, disabled and wrong look the same -------------------------------------------------


def test_unknown_locked_disabled_and_wrong_password_cannot_be_told_apart(client, sessions, monkeypatch):
    with sessions() as session:
        add_user(session, "locked", "operator", "locked-password-1")
        add_user(session, "disabled", "operator", "disabled-password-1").active = False
        session.commit()
    for _ in range(auth.FREE_ATTEMPTS):
        login(client, "locked", "wrong-password")
    cases = {"unknown": ("nobody-at-all", "some-password-1"), "wrong": (OPERATOR, "wrong-password"),
             "locked": ("locked", "locked-password-1"), "disabled": ("disabled", "disabled-password-1")}
    answers = {}
    for case, (username, password) in cases.items():
        reply = login(client, username, password)
        answers[case] = (reply.status_code, re.search(r'role="alert"[^>]*>([^<]*)<', reply.get_data(as_text=True))[1])
    assert len(set(answers.values())) == 1 and answers["wrong"][0] == 401, answers

    # The same work for each: one password hash check, no hash made (a made hash costs a check again), and the
    # hash checked is of the same method and cost (a dummy hash cheaper than a real one would tell them apart).
    # Counted, not timed: a timing ratio fails on a busy machine.
    work = []
    monkeypatch.setattr(auth, "check_password_hash", lambda h, p: work.append(("check", h.split("$")[0])) or False)
    real_generate = auth.generate_password_hash
    monkeypatch.setattr(auth, "generate_password_hash",
                        lambda p, *a, **k: work.append(("make", "")) or real_generate(p))
    now = datetime.now(timezone.utc)
    checked = {}
    with sessions() as session:
        authenticate(session, "warm-up", "x", now)  # a dummy hash may be made once per process
        for case, (username, password) in cases.items():
            work.clear()
            authenticate(session, username, password, now)
            assert [kind for kind, _ in work] == ["check"], (case, work)
            checked[case] = work[0][1]
        session.rollback()
    assert len(set(checked.values())) == 1 and checked["wrong"].count(":") >= 1, checked  # e.g. scrypt:32768:8:1


# -- 4. sessions can be revoked ---------------------------------------------------------------------------


def _copy_of(app, client):
    """A second browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def _logged_in(client) -> bool:
    return client.get("/console").status_code == 200


def test_logout_ends_the_session_even_for_a_copy_of_the_cookie(app, client):
    assert login(client, OPERATOR, OPERATOR_PASSWORD).status_code == 302
    copy = _copy_of(app, client)
    assert _logged_in(copy)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert not _logged_in(client) and not _logged_in(copy)
    assert login(client, OPERATOR, OPERATOR_PASSWORD).status_code == 302 and _logged_in(client)  # logs in again


def test_a_new_password_ends_other_sessions_but_keeps_this_one(app, client):
    other = app.test_client()
    assert login(client, OPERATOR, OPERATOR_PASSWORD).status_code == 302
    assert login(other, OPERATOR, OPERATOR_PASSWORD).status_code == 302
    stolen = _copy_of(app, client)
    reply = client.post("/password", data={"current": OPERATOR_PASSWORD, "new": "ett-nytt-losenord-1",
                                           "repeat": "ett-nytt-losenord-1", "csrf_token": csrf_token(client, "/password")})
    assert reply.status_code == 302
    assert _logged_in(client)
    assert not _logged_in(other) and not _logged_in(stolen)


def test_disabling_ends_the_sessions_for_good(app, client, runner, sessions):
    assert login(client, OPERATOR, OPERATOR_PASSWORD).status_code == 302
    assert runner.invoke(args=["user", "disable", OPERATOR]).exit_code == 0
    assert not _logged_in(client)
    with sessions() as session:  # enabled again: the old session stays ended
        session.scalar(select(User).where(User.username == OPERATOR)).active = True
        session.commit()
    assert not _logged_in(client)
    assert login(client, OPERATOR, OPERATOR_PASSWORD).status_code == 302 and _logged_in(client)


# -- 5. production refuses a weak secret key --------------------------------------------------------------


@pytest.mark.parametrize("secret", ["a", "short-secret", "x" * 31, "change-me", "x" * 64, "ab" * 40])
def test_production_refuses_a_weak_secret_key(database_url, monkeypatch, secret):
    monkeypatch.setenv("VAXEL_SERVICE_SECRET_KEY", secret)
    with pytest.raises(RuntimeError, match="VAXEL_SERVICE_SECRET_KEY"):
        create_app({"database": {"url": database_url}, "service": {"mode": "production"}})


def test_production_takes_a_strong_secret_key_and_development_any(database_url, monkeypatch):
    monkeypatch.setenv("VAXEL_SERVICE_SECRET_KEY", secrets.token_hex(32))
    create_app({"database": {"url": database_url}, "service": {"mode": "production"}}).extensions["vaxel"].engine.dispose()
    monkeypatch.setenv("VAXEL_SERVICE_SECRET_KEY", "a")
    create_app({"database": {"url": database_url}, "service": {"mode": "development"}}).extensions["vaxel"].engine.dispose()


# -- 6. a password policy ---------------------------------------------------------------------------------


def test_a_new_password_must_be_new_long_and_not_blank(client, sessions):
    once = "engangs-losen-123"
    with sessions() as session:
        add_user(session, "nyoperator", "operator", once, must_change=True)
        session.commit()
    login(client, "nyoperator", once)

    def change(new: str):
        return client.post("/password", data={"current": once, "new": new, "repeat": new,
                                              "csrf_token": csrf_token(client, "/password")})

    for bad in [once, " " * 12, "\t" * 12, "   kort    ", "aaaaaaaaaaaa", "abababababab", "nyoperator", "NyOperator  "]:
        assert change(bad).status_code == 400, repr(bad)
    assert change("ett-eget-losenord").status_code == 302
    with sessions() as session:
        user = session.scalar(select(User).where(User.username == "nyoperator"))
        with pytest.raises(auth.AuthError, match="skilja sig"):
            auth.set_password(user, "ett-eget-losenord")


# -- 7. security headers on every page --------------------------------------------------------------------


def _check_headers(path: str, reply) -> list[str]:
    wrong = []
    csp = reply.headers.get("Content-Security-Policy", "")
    directives = dict((d.split(" ", 1) + [""])[:2] for d in (p.strip() for p in csp.split(";")) if d)
    if reply.headers.get("X-Content-Type-Options") != "nosniff":
        wrong.append(f"{path}: no nosniff")
    if reply.mimetype == "text/html":
        script = directives.get("script-src", directives.get("default-src", ""))
        if "'self'" not in script or "unsafe-inline" in script or "unsafe-eval" in script or "*" in script:
            wrong.append(f"{path}: script-src {script!r}")
        if directives.get("frame-ancestors") != "'none'":
            wrong.append(f"{path}: frame-ancestors {directives.get('frame-ancestors')!r}")
        if reply.headers.get("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin-when-cross-origin"):
            wrong.append(f"{path}: Referrer-Policy {reply.headers.get('Referrer-Policy')!r}")
        html = reply.get_data(as_text=True)
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) or re.search(r"<[^>]+\son[a-z]+\s*=", html):
            wrong.append(f"{path}: inline script")
    return wrong


def test_every_page_has_the_security_headers_and_no_inline_script(app, admin_client):
    wrong, html_pages = [], 0
    anonymous = app.test_client()
    for path in ("/login", "/", "/hours", "/no-such-page"):
        wrong += _check_headers(path, anonymous.get(path))
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments - set(rule.defaults or {}):
            continue
        reply = admin_client.get(rule.rule)
        try:
            if reply.mimetype == "text/event-stream":
                wrong += [] if reply.headers.get("X-Content-Type-Options") == "nosniff" else [f"{rule.rule}: nosniff"]
                continue
            html_pages += reply.mimetype == "text/html"
            wrong += _check_headers(rule.rule, reply)
        finally:
            reply.close()
    for path in ("/console", "/directory", "/admin/flow", "/stats", "/password"):  # the pages with scripts
        wrong += _check_headers(path, admin_client.get(path))
    assert html_pages >= 8 and wrong == []


def test_twilio_webhook_answers_keep_nosniff(app, client, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-token-nobody-signed-with")
    app.extensions["vaxel"].settings["twilio"]["enabled"] = True
    reply = client.post("/twilio/voice", data={"CallSid": "CA1", "From": "+46701740601"})
    assert reply.status_code == 403  # not signed by Twilio: refused, and still with the headers
    assert reply.headers.get("X-Content-Type-Options") == "nosniff"
