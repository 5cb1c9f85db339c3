"""What a referent may reach: the foyers accompanied by its structures."""

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask_login import current_user

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Group
from defi.models import Household
from defi.models import Structure
from defi.models import User
from defi.models.challenge import current_challenge


def accompanied_households():
    """The current user's accompanied foyers, with their group, structure and account."""
    return db.session.execute(
        sa.select(Household, Group, Structure, User.username)
        .join(Accompaniment, Accompaniment.household_id == Household.id)
        .join(Structure, Structure.id == Accompaniment.structure_id)
        .join(Group, Group.id == Household.group_id)
        .outerjoin(User, User.household_id == Household.id)
        .where(Accompaniment.structure_id.in_(current_user.structure_ids()))
        .order_by(Group.name, Household.code)
    ).all()


def get_accompanied_household_or_404(household_id: int) -> Household:
    """A foyer accompanied by one of the current user's structures; no other exists for it."""
    # The foyer's home names its group: read it with the foyer.
    household = db.session.scalar(
        sa.select(Household)
        .options(so.joinedload(Household.group))
        .join(Accompaniment, Accompaniment.household_id == Household.id)
        .where(
            Household.id == household_id,
            Accompaniment.structure_id.in_(current_user.structure_ids()),
        )
    )
    if household is None:
        abort(404)
    return household


def my_structures():
    return db.session.scalars(
        sa.select(Structure)
        .where(Structure.id.in_(current_user.structure_ids()))
        .order_by(Structure.name)
    ).all()


def open_groups():
    """The groups of the current défi, where a referent may enrol a foyer."""
    challenge = current_challenge()
    if challenge is None:
        return []
    return challenge.groups
