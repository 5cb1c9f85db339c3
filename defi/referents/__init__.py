"""The referent's pages: the foyers its structure accompanies, and their accounts."""

from flask import Blueprint

bp = Blueprint("referents", __name__, url_prefix="/accompagnement")

from defi.referents import views  # noqa: E402,F401 - registers the routes on bp
