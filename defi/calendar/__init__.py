"""The calendar of the groups: events, attendance at the door, and each user's iCal feed."""

from flask import Blueprint

bp = Blueprint("calendar", __name__, url_prefix="/calendrier")

from defi.calendar import views  # noqa: E402,F401 - registers the routes on bp
