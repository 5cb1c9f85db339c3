"""The pilot's pages: the défi, its groups and waves, staff invitations (issue 5 grows it)."""

from flask import Blueprint

bp = Blueprint("pilot", __name__, url_prefix="/pilote")

from defi.pilot import views  # noqa: E402,F401 - registers the routes on bp
