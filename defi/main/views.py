"""The front door and the health check."""

import sqlalchemy as sa
from flask import current_app
from flask import redirect
from flask import send_from_directory
from flask import url_for
from flask_login import current_user

from defi.access import home_url
from defi.errors import RETRY_AFTER_SECONDS
from defi.errors import rollback_quietly
from defi.extensions import db
from defi.main import bp


@bp.route("/")
def index():
    """Send each user to its own home, and everyone else to the login page."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("accounts.login"))


@bp.route("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not: for the proxy and the monitoring."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        rollback_quietly()
        return {"status": "database unavailable"}, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return {"status": "ok"}


@bp.route("/sw.js")
def service_worker():
    """The service worker, served from the root so that its scope holds the relevé's pages."""
    response = send_from_directory(current_app.static_folder, "sw.js", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    return response
