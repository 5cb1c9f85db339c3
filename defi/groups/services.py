"""What a facilitator may reach: its groups, and the non-accompanied foyers of them."""

from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask_login import current_user

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Challenge
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import User
from defi.models import Wave


def get_group_or_404(group_id: int) -> Group:
    """A group the current user facilitates; any other group does not exist for it."""
    if group_id not in current_user.facilitated_group_ids():
        abort(404)
    # The défi and its waves are on every group page: read them with the group.
    group = db.session.scalar(
        sa.select(Group)
        .options(so.joinedload(Group.challenge).joinedload(Challenge.waves))
        .where(Group.id == group_id)
    )
    if group is None:
        abort(404)
    return group


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


@dataclass
class Roster:
    """The group as a facilitator may see it.

    `named`: non-accompanied foyers; `anonymous`: (label, active, statuses) of accompanied
    ones, nothing else; `statuses`: {household id or label: {wave rank: state}}.
    """

    named: list
    usernames: dict
    anonymous: list
    statuses: dict


def roster(group: Group) -> Roster:
    """The group's named foyers with their accounts and the state of each relevé, and the
    accompanied ones under their label only."""
    named = db.session.scalars(
        sa.select(Household)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id == group.id, Accompaniment.id.is_(None))
        .order_by(Household.display_name, Household.code)
    ).all()
    usernames = dict(
        db.session.execute(
            sa.select(User.household_id, User.username)
            .join(Household, Household.id == User.household_id)
            .where(Household.group_id == group.id)
        ).all()
    )
    states = {}
    for household_id, rank, status in db.session.execute(
        sa.select(Entry.household_id, Wave.rank, Entry.status)
        .join(Wave, Wave.id == Entry.wave_id)
        .join(Household, Household.id == Entry.household_id)
        .where(Household.group_id == group.id)
    ):
        states.setdefault(household_id, {})[rank] = status
    # Only the label and the programme's state leave this query for accompanied foyers.
    anonymous = []
    for label, household_id, status in db.session.execute(
        sa.select(Accompaniment.label, Household.id, Household.status)
        .join(Household, Household.id == Accompaniment.household_id)
        .where(Accompaniment.group_id == group.id)
        .order_by(Accompaniment.label)
    ):
        anonymous.append((label, status == "active", states.get(household_id, {})))
    statuses = {household.id: states.get(household.id, {}) for household in named}
    return Roster(named, usernames, anonymous, statuses)


def open_wave(group: Group, today):
    """The group's wave open today, if any."""
    return next((wave for wave in group.challenge.waves if wave.is_open(today)), None)


def not_filled(group: Group, wave) -> tuple[list, int]:
    """Active foyers without a submitted relevé for the wave: the named ones, and how many
    accompanied ones (a count only)."""
    submitted = sa.select(Entry.household_id).where(
        Entry.wave_id == wave.id, Entry.status == "submitted"
    )
    rows = db.session.execute(
        sa.select(Household, Accompaniment.id.is_not(None))
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(
            Household.group_id == group.id,
            Household.status == "active",
            Household.id.not_in(submitted),
        )
        .order_by(Household.display_name, Household.code)
    ).all()
    named = [household for household, accompanied in rows if not accompanied]
    return named, sum(1 for _household, accompanied in rows if accompanied)


def withdraw(household: Household, today):
    household.status = "withdrawn"
    household.withdrawn_on = today
    db.session.flush()


def reactivate(household: Household):
    household.status = "active"
    household.withdrawn_on = None
    db.session.flush()


def account_of(household: Household) -> User | None:
    return db.session.scalar(sa.select(User).where(User.household_id == household.id).limit(1))
