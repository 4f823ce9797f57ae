"""Staff accounts: users and roles, login with back-off, CSRF on every form, the access guard.

Passwords are hashed with werkzeug (scrypt). Repeated failed logins lock the
account for a doubling time, so guessing is slow; the answer to a wrong user
name and a wrong password is the same. Anonymous requests to staff pages get a
redirect to the login page, to APIs a 401 — never data.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta, timezone

from flask import Blueprint, Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import CSRFProtect
from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from switchboard.access import ROLES, RULES, allowed
from core.db import Base, UTCDateTime

log = logging.getLogger(__name__)
csrf = CSRFProtect()
login_manager = LoginManager()
bp = Blueprint("auth", __name__)

FREE_ATTEMPTS = 5  # failed logins before the back-off starts
MAX_LOCK = timedelta(hours=1)
MIN_PASSWORD = 10


class User(Base, UserMixin):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin | operator | stats
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(timezone.utc))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active


class AuthError(ValueError):
    pass


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"the password must have at least {MIN_PASSWORD} characters")


def add_user(session: Session, username: str, role: str, password: str, name: str = "",
             must_change: bool = False) -> User:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if session.scalar(select(User).where(User.username == username)):
        raise AuthError(f"user {username!r} already exists")
    check_password_rules(password)
    user = User(username=username, role=role, name=name, password_hash=generate_password_hash(password),
                must_change_password=must_change)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str, must_change: bool = False) -> None:
    check_password_rules(password)
    user.password_hash = generate_password_hash(password)
    user.must_change_password = must_change
    user.failed_logins, user.locked_until = 0, None


def lock_time(failed: int) -> timedelta:
    """No wait for the first few mistakes, then 1, 2, 4 ... minutes, at most an hour."""
    if failed < FREE_ATTEMPTS:
        return timedelta(0)
    return min(MAX_LOCK, timedelta(minutes=2 ** (failed - FREE_ATTEMPTS)))


def authenticate(session: Session, username: str, password: str, now: datetime) -> tuple[User | None, str]:
    """(user, "") on success, else (None, reason shown to the person logging in)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(generate_password_hash("x"), password)  # same work as a real check
        return None, "Fel användarnamn eller lösenord."
    if user.locked_until and now < user.locked_until:
        minutes = max(1, round((user.locked_until - now).total_seconds() / 60))
        return None, f"För många felaktiga försök. Försök igen om {minutes} min."
    if not user.active or not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        wait = lock_time(user.failed_logins)
        user.locked_until = now + wait if wait else None
        log.warning("failed login for %s (%d in a row)", username, user.failed_logins)
        return None, "Fel användarnamn eller lösenord."
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return user, ""


# --- web -----------------------------------------------------------------------------------------


def _sessions():
    from core.services import services

    return services().sessions


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    with _sessions()() as session:
        user = session.get(User, int(user_id))
        return user if user is not None and user.active else None


@login_manager.unauthorized_handler
def _unauthorized():
    if _wants_json():
        return jsonify(error="login required"), 401
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
        return jsonify(error="your role may not use this"), 403
    abort(403)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.index")


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
                return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout():
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
                error = "Nuvarande lösenord stämmer inte."
            elif new != request.form.get("repeat", ""):
                error = "De nya lösenorden är inte lika."
            else:
                try:
                    set_password(user, new)
                    session.commit()
                    flash("Lösenordet är bytt.")
                    return redirect(url_for("web.index"))
                except AuthError as exc:
                    error = str(exc)
    return render_template("password.html", error=error), (400 if error else 200)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    app.register_blueprint(bp)
    app.before_request(guard)
