"""Secret key, response headers, and the life of a session (QUALITY.md, security)."""

import secrets
from datetime import UTC
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import session
from flask_login import current_user
from flask_login import logout_user

from defi.extensions import db
from defi.extensions import login_manager

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
)


def require_secret_key(app):
    """Refuse to start in production without `SECRET_KEY`; in development keep one on disk."""
    if app.config.get("SECRET_KEY"):
        return
    if app.config["ENV_NAME"] != "development":
        raise RuntimeError(
            "SECRET_KEY is not set. Set it in the environment, e.g. "
            "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
        )
    # gunicorn's workers must share one key, or a session opened on one dies on the other.
    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    app.config["SECRET_KEY"] = path.read_text().strip()


@login_manager.user_loader
def load_user(session_token):
    """Find the user by the random token of its session: a rotated token logs it out."""
    from defi.models import User

    # Roles and the foyer are read on every page: load them with the user, in one query.
    user = db.session.scalar(
        sa.select(User)
        .options(so.joinedload(User.memberships), so.joinedload(User.household))
        .where(User.session_token == session_token)
    )
    if user is None or not user.active:
        return None
    return user


def _now_ts():
    return int(datetime.now(UTC).timestamp())


def start_session(user):
    """Mark the session's start, for the staff's idle and absolute timeouts."""
    session.permanent = True
    session["started_at"] = session["seen_at"] = _now_ts()


def check_session_age(app):
    """Log staff out after 30 min idle or 12 h in all; foyers stay logged in on their phone."""
    if not current_user.is_authenticated or not current_user.is_staff:
        return
    now = _now_ts()
    idle = app.config["STAFF_IDLE_TIMEOUT"].total_seconds()
    absolute = app.config["STAFF_ABSOLUTE_TIMEOUT"].total_seconds()
    started = session.get("started_at", 0)
    seen = session.get("seen_at", 0)
    if now - seen > idle or now - started > absolute:
        logout_user()
        session.clear()
        session["expired"] = True
        return
    session["seen_at"] = now


def set_headers(app, response):
    """The security headers of QUALITY.md, on every response."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.vary.add("HX-Request")
    if current_user.is_authenticated:
        # Pages are personal: never kept by a shared browser or a proxy.
        response.headers["Cache-Control"] = "no-store"
    if app.config.get("HSTS"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def init_app(app):
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    app.before_request(lambda: check_session_age(app))
    app.after_request(lambda response: set_headers(app, response))
