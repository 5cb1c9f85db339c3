"""The foyer's waves and relevés."""

import sqlalchemy as sa

from defi.extensions import db
from defi.models import Entry
from defi.models import Wave


def waves_with_entries(household):
    """Each wave of the foyer's défi with the foyer's relevé for it (or None)."""
    entries = {
        entry.wave_id: entry
        for entry in db.session.scalars(sa.select(Entry).where(Entry.household_id == household.id))
    }
    waves = db.session.scalars(
        sa.select(Wave).where(Wave.challenge_id == household.challenge_id).order_by(Wave.rank)
    ).all()
    return [(wave, entries.get(wave.id)) for wave in waves]
