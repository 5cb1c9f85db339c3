"""Pages for everyone: the landing redirect and the health check."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from defi.main import views  # noqa: E402,F401 - registers the routes on bp
