"""Staff accounts: users and roles, login with back-off, CSRF on every form, the access guard.

Passwords are hashed with werkzeug (scrypt). Repeated failed logins lock the
account for a doubling time, so guessing is slow: the count and the lock move in
one guarded ``UPDATE``, so guesses sent in parallel cannot pass the limit. A
wrong user name, a wrong password, a locked and a disabled account get the same
answer after the same work (one password hash check). Every session carries the
account's session generation; logout, a new password and disabling the account
move it, which ends every session made before. Anonymous requests to staff pages
get a redirect to the login page, to APIs a 401 — never data.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from flask_babel import gettext, lazy_gettext as _l
from flask import Blueprint, Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import CSRFProtect
from sqlalchemy import Boolean, Integer, String, and_, case, literal, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, validates
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.urls import iri_to_uri

from switchboard.access import ROLES, RULES, allowed
from core.db import Base, UTCDateTime

log = logging.getLogger(__name__)
csrf = CSRFProtect()
login_manager = LoginManager()
bp = Blueprint("auth", __name__)

FREE_ATTEMPTS = 5  # failed logins before the back-off starts
MAX_LOCK = timedelta(hours=1)
MIN_PASSWORD = 10
MIN_DISTINCT = 4  # "aaaaaaaaaa" and "ababababab" are not passwords
MAX_NEXT = 2000  # longer ``next`` values are refused
# One answer for a wrong user name, a wrong password, a locked and a disabled account.
LOGIN_FAILED = _l("Fel användarnamn eller lösenord. För många felaktiga försök i rad låser kontot en stund; "
                  "vänta då några minuter.")


class User(Base, UserMixin):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin | operator | stats | staff
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(timezone.utc))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Part of every session; moving it ends all sessions of the account (logout, new password, disabled).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unit_slug: Mapped[str | None] = mapped_column(String(80), nullable=True)  # role staff: the unit they work in
    # operators: the ids of the flow's queues they take callers from, comma-separated; "" = the default queue
    queues: Mapped[str] = mapped_column(String(400), default="", server_default="")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:  # what Flask-Login keeps in the session
        return f"{self.id}:{self.session_generation or 0}"

    def end_sessions(self) -> None:
        self.session_generation = (self.session_generation or 0) + 1

    @validates("active")
    def _disabling_ends_sessions(self, _key: str, value: bool) -> bool:
        if self.active and not value:
            self.end_sessions()
        return value


class AuthError(ValueError):
    pass


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def check_password_rules(password: str, username: str = "", old_hash: str | None = None) -> None:
    """At least MIN_PASSWORD characters not counting spaces around them, not blank, not one or two characters
    repeated, not the user name, and not the password it replaces (the one-time one included)."""
    if not password.strip():
        raise AuthError(_l("Lösenordet får inte vara tomt."))
    if len(password.strip()) < MIN_PASSWORD:
        raise AuthError(_l("Lösenordet ska ha minst %(n)s tecken.", n=MIN_PASSWORD))
    if len(set(password.strip())) < MIN_DISTINCT:
        raise AuthError(_l("Lösenordet ska ha minst %(n)s olika tecken.", n=MIN_DISTINCT))
    if username and password.strip().casefold() == username.casefold():
        raise AuthError(_l("Lösenordet får inte vara användarnamnet."))
    if old_hash and check_password_hash(old_hash, password):
        raise AuthError(_l("Det nya lösenordet ska skilja sig från det nuvarande."))


def add_user(session: Session, username: str, role: str, password: str, name: str = "",
             must_change: bool = False, unit: str | None = None) -> User:
    """An account; role ``staff`` needs ``unit``, the slug of the unit whose list they work (and only that)."""
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if role == "staff":
        from directory.models import Unit

        if not unit or session.scalar(select(Unit.id).where(Unit.slug == unit)) is None:
            raise AuthError(f"role staff needs --unit, the id of a unit in the directory (not {unit!r})")
    elif unit:
        raise AuthError("only role staff belongs to a unit")
    if session.scalar(select(User).where(User.username == username)):
        raise AuthError(f"user {username!r} already exists")
    check_password_rules(password, username)
    user = User(username=username, role=role, name=name, password_hash=generate_password_hash(password),
                must_change_password=must_change, unit_slug=unit)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str, must_change: bool = False) -> None:
    """A new password (checked by the rules) ends every session of the account."""
    check_password_rules(password, user.username, user.password_hash)
    user.password_hash = generate_password_hash(password)
    user.must_change_password = must_change
    user.failed_logins, user.locked_until = 0, None
    user.end_sessions()


def lock_time(failed: int) -> timedelta:
    """No wait for the first few mistakes, then 1, 2, 4 ... minutes, at most an hour."""
    if failed < FREE_ATTEMPTS:
        return timedelta(0)
    return min(MAX_LOCK, timedelta(minutes=2 ** (failed - FREE_ATTEMPTS)))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash made like every real one, checked when there is no account, so that costs the same work."""
    return generate_password_hash(secrets.token_urlsafe(16))


def _not_locked(now: datetime):
    return or_(User.locked_until.is_(None), User.locked_until <= now)


def _count_failure(session: Session, user_id: int, now: datetime) -> int | None:
    """One atomic, guarded step: count a failure and set the lock it earns, unless the account is locked now.

    The new count and lock are computed in the same ``UPDATE`` from the row as the database has it, so guesses
    running in parallel are counted one by one (PostgreSQL re-checks the guard after waiting for the row, SQLite
    runs one writer at a time): at most FREE_ATTEMPTS of them are checked before the lock. Returns the new
    count, or None when the account was locked.
    """
    after = User.failed_logins + 1
    steps = [(after < FREE_ATTEMPTS, literal(None, UTCDateTime()))]
    failed = FREE_ATTEMPTS
    while lock_time(failed) < MAX_LOCK:
        steps.append((after == failed, literal(now + lock_time(failed), UTCDateTime())))
        failed += 1
    locked_until = case(*steps, else_=literal(now + MAX_LOCK, UTCDateTime()))
    row = session.execute(
        update(User).where(and_(User.id == user_id, _not_locked(now)))
        .values(failed_logins=after, locked_until=locked_until)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    ).first()
    return None if row is None else row[0]


def authenticate(session: Session, username: str, password: str, now: datetime) -> tuple[User | None, str]:
    """(user, "") on success, else (None, LOGIN_FAILED) — the same answer for every failure.

    Every attempt checks exactly one password hash (a dummy one for an unknown user name), whether the account
    exists, is locked or disabled. The caller commits.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None, LOGIN_FAILED
    right = check_password_hash(user.password_hash, password)
    if right and user.active:
        done = session.execute(
            update(User).where(and_(User.id == user.id, _not_locked(now)))
            .values(failed_logins=0, locked_until=None, last_login_at=now)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:
            session.refresh(user)
            return user, ""
    else:
        failed = _count_failure(session, user.id, now)
        if failed is not None:
            log.warning("failed login for %s (%d in a row)", username, failed)
    session.expire(user)
    return None, LOGIN_FAILED


# --- web -----------------------------------------------------------------------------------------


def _sessions():
    from core.services import services

    return services().sessions


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """The account of a session made at its current session generation, if still active."""
    user_id, _, generation = session_id.partition(":")
    if not (user_id.isdigit() and generation.isdigit()):
        return None  # a session from before generations, or not ours
    with _sessions()() as session:
        user = session.get(User, int(user_id))
        if user is None or not user.active or (user.session_generation or 0) != int(generation):
            return None
        return user


@login_manager.unauthorized_handler
def _unauthorized():
    if _wants_json():
        return jsonify(error=gettext("Logga in först.")), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def guard():
    """Before every request: the endpoint must have a rule and the user must satisfy it."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404/405 follow
    rule = RULES.get(endpoint)
    if rule is None:
        log.error("no access rule for endpoint %s; refusing", endpoint)
        abort(403)
    role = current_user.role if current_user.is_authenticated else None
    if allowed(rule, role):
        if role and current_user.must_change_password and endpoint not in ("auth.password", "auth.logout",
                                                                             "static"):
            return redirect(url_for("auth.password"))
        return None
    if role is None:
        return login_manager.unauthorized()
    if _wants_json():
        return jsonify(error=gettext("Din roll får inte använda det här.")), 403
    abort(403)


def _safe_next(target: str | None, fallback: str) -> str:
    """``target`` if it is a path on this site, else ``fallback`` (the role's own page).

    Refused: anything with a scheme or host (``https://x``, ``javascript:``, ``//x``), a backslash (browsers read
    it as a slash), control characters (browsers drop tabs and newlines, so slash-tab-slash is ``//``; in a
    header they break it), and any of these hidden by percent-encoding. What passes is sent as ASCII.
    """
    if not target or len(target) > MAX_NEXT:
        return fallback
    seen = target
    for _ in range(4):  # %252F%252F... is %2F%2F... is //...
        if _unsafe_path(seen):
            return fallback
        decoded = unquote(seen)
        if decoded == seen:
            break
        seen = decoded
    else:
        return fallback
    try:
        return iri_to_uri(target)
    except Exception:  # e.g. lone surrogates
        return fallback


def _unsafe_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return True
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in path):
        return True
    parts = urlsplit(path)
    return bool(parts.scheme or parts.netloc)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = ""
    if request.method == "POST":
        from core.services import services

        svc = services()
        with svc.sessions() as session:
            user, error = authenticate(session, request.form.get("username", "").strip(),
                                       request.form.get("password", ""), datetime.now(timezone.utc))
            session.commit()
            if user is not None:
                login_user(user)
                from switchboard.navigation import home_for

                # where they were going, else (or if that is not a path here) the role's own page
                return redirect(_safe_next(request.args.get("next"), home_for(user.role)))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout():
    """Ends this session and every other session of the account: a copy of the cookie no longer works."""
    with _sessions()() as session:
        session.execute(update(User).where(User.id == current_user.id)
                        .values(session_generation=User.session_generation + 1)
                        .execution_options(synchronize_session=False))
        session.commit()
    logout_user()
    return redirect(url_for("web.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    error = ""
    if request.method == "POST":
        new = request.form.get("new", "")
        with _sessions()() as session:
            user = session.get(User, current_user.id)
            if not check_password_hash(user.password_hash, request.form.get("current", "")):
                error = gettext("Nuvarande lösenord stämmer inte.")
            elif new != request.form.get("repeat", ""):
                error = gettext("De nya lösenorden är inte lika.")
            else:
                try:
                    set_password(user, new)  # ends every session of the account ...
                    session.commit()
                    login_user(user)  # ... but this one, which goes on at the new generation
                    flash(gettext("Lösenordet är bytt."))
                    from switchboard.navigation import home_for

                    return redirect(home_for(user.role))
                except AuthError as exc:
                    error = str(exc)
    return render_template("password.html", error=error), (400 if error else 200)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    app.register_blueprint(bp)
    app.before_request(guard)
