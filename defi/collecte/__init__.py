"""The foyer's relevé of each wave (issue 3 grows it)."""

from flask import Blueprint

bp = Blueprint("collecte", __name__, url_prefix="/collecte")

from defi.collecte import book  # noqa: E402,F401 - the group's recipe book and directory
from defi.collecte import views  # noqa: E402,F401 - registers the routes on bp
