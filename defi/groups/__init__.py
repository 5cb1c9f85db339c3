"""The facilitator's group: roster, invitations, progress (issue 4 grows it)."""

from flask import Blueprint

bp = Blueprint("groups", __name__, url_prefix="/groupe")

from defi.groups import views  # noqa: E402,F401 - registers the routes on bp
