"""What a facilitator may reach: its groups, and the non-accompanied foyers of them."""

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Group
from defi.models import Household
from defi.models import User


def get_group_or_404(group_id: int) -> Group:
    """A group the current user facilitates; any other group does not exist for it."""
    if group_id not in current_user.facilitated_group_ids():
        abort(404)
    return db.get_or_404(Group, group_id)


def get_named_household_or_404(group: Group, household_id: int) -> Household:
    """A non-accompanied foyer of the group. Accompanied foyers are managed by their referent."""
    household = db.session.scalar(
        sa.select(Household)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(
            Household.id == household_id,
            Household.group_id == group.id,
            Accompaniment.id.is_(None),
        )
    )
    if household is None:
        abort(404)
    return household


def roster(group: Group):
    """The group's named foyers with their accounts, and the labels of the accompanied ones."""
    named = db.session.scalars(
        sa.select(Household)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id == group.id, Accompaniment.id.is_(None))
        .order_by(Household.code)
    ).all()
    usernames = dict(
        db.session.execute(
            sa.select(User.household_id, User.username).where(
                User.household_id.in_([household.id for household in named])
            )
        ).all()
    )
    labels = db.session.scalars(
        sa.select(Accompaniment.label)
        .where(Accompaniment.group_id == group.id)
        .order_by(Accompaniment.label)
    ).all()
    return named, usernames, labels


def account_of(household: Household) -> User | None:
    return db.session.scalar(sa.select(User).where(User.household_id == household.id).limit(1))
