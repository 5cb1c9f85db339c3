"""The foyer's home: the open wave and its relevé."""

from flask import render_template
from flask_login import current_user

from defi.collecte import bp
from defi.collecte.services import waves_with_entries
from defi.formatting import today


@bp.route("/")
def index():
    """The foyer's collecte: the open wave first, past waves below."""
    household = current_user.household
    waves = waves_with_entries(household)
    now = today()
    open_waves = [(wave, entry) for wave, entry in waves if wave.is_open(now)]
    return render_template(
        "collecte/index.html", household=household, waves=waves, open_waves=open_waves
    )
