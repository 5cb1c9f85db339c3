"""Secret key, response headers, and the life of a session (QUALITY.md, security)."""

import functools
import secrets
from datetime import UTC
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask import current_app
from flask import request
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


@functools.cache
def _user_by_token():
    """The SELECT of a user by its session token, built once: every request runs it."""
    from defi.models import User

    # Roles and the foyer are read on every page: load them with the user, in one query.
    return (
        sa.select(User)
        .options(so.joinedload(User.memberships), so.joinedload(User.household))
        .where(User.session_token == sa.bindparam("token"))
    )


@login_manager.user_loader
def load_user(session_token):
    """Find the user by the random token of its session: a rotated token logs it out."""
    user = db.session.scalar(_user_by_token(), {"token": session_token})
    if user is None or not user.active:
        return None
    return user


def _now_ts():
    return int(datetime.now(UTC).timestamp())


def start_session(user):
    """Mark the session's start, for the staff's idle and absolute timeouts."""
    session.permanent = True
    session["started_at"] = session["seen_at"] = _now_ts()


# How stale a session's `seen_at` may grow before it is written again. The session cookie is
# signed and sent again only when the session changes (SESSION_REFRESH_EACH_REQUEST is off), not
# on every response: a staff member's idle time is counted to the minute, and a foyer's cookie,
# valid PERMANENT_SESSION_LIFETIME after it was last written, is renewed once a day of use.
STAFF_SEEN_EVERY = 60
FOYER_SEEN_EVERY = 24 * 3600


def check_session_age(app):
    """Log staff out after 30 min idle or 12 h in all; foyers stay logged in on their phone."""
    if not current_user.is_authenticated:
        return
    now = _now_ts()
    seen = session.get("seen_at", 0)
    if not current_user.is_staff:
        if now - seen >= FOYER_SEEN_EVERY:
            session["seen_at"] = now
        return
    idle = app.config["STAFF_IDLE_TIMEOUT"].total_seconds()
    absolute = app.config["STAFF_ABSOLUTE_TIMEOUT"].total_seconds()
    started = session.get("started_at", 0)
    if now - seen > idle or now - started > absolute:
        logout_user()
        session.clear()
        session["expired"] = True
        return
    if now - seen >= STAFF_SEEN_EVERY:
        session["seen_at"] = now


def body_limit(size: int):
    """Let a view take a body larger than MAX_CONTENT_LENGTH (a file to import)."""

    def mark(view):
        view.max_body_bytes = size
        return view

    return mark


def route_body_limit(app, endpoint) -> int:
    """The largest body a route takes: its `body_limit`, or MAX_CONTENT_LENGTH."""
    view = app.view_functions.get(endpoint)
    return getattr(view, "max_body_bytes", app.config["MAX_CONTENT_LENGTH"])


def limit_body():
    """Refuse a body over the route's limit with a French 413, before a byte of it is read.

    Forms are small: MAX_CONTENT_LENGTH (a few hundred KB) is theirs. A body sent without its
    size (chunked) is refused too (411): browsers always send the size of a form, and Werkzeug
    would cut such a body at the limit without a word, saving half a text.
    """
    limit = route_body_limit(current_app, request.endpoint)
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        abort(413)
    if (
        request.content_length is None
        and "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    ):
        abort(411)


def set_headers(app, response):
    """The security headers of QUALITY.md, on every response."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.vary.add("HX-Request")
    static = request.endpoint == "static" and response.status_code in (200, 304)
    if not static and current_user.is_authenticated:
        # Pages are personal: never kept by a shared browser or a proxy (static files are
        # the same for everyone: assets.py says how long they are kept).
        response.headers["Cache-Control"] = "no-store"
    if app.config.get("HSTS"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def init_app(app):
    # Before any other check of the request: an oversized body is refused without reading it.
    app.before_request_funcs.setdefault(None, []).insert(0, limit_body)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    app.before_request(lambda: check_session_age(app))
    app.after_request(lambda response: set_headers(app, response))
