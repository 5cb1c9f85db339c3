"""The network's coordinator: its territories, their figures side by side, and new territories
(issue 15). Never a name, a contact, a code or a relevé: published figures only."""

from flask import Blueprint

bp = Blueprint("network", __name__, url_prefix="/reseau")

from defi.network import views  # noqa: E402,F401 - registers the routes on bp
