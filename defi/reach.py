"""Which groups a staff member may read (DESIGN.md, "Who sees what").

A group's recipe book, producer directory and calendar are read by its facilitators, by the
referents of a structure that accompanies one of its foyers, and by the pilot (every group of
its territory's current défi); its progress by its facilitators and the pilot.
`access.POLICY` says which *kind* of user may open a page; this module says which groups: any
other group does not exist for the user (404). Reading never gives more: a page shows each
reader what its role may see (the calendar's controls and names are its facilitators' only).
"""

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask import request
from flask_login import current_user

from defi.access import FACILITATOR
from defi.access import PILOT
from defi.access import REFERENT
from defi.database import database_id
from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Challenge
from defi.models import Group
from defi.models.challenge import current_challenge

# Who reads a group's recipe book, producer directory and calendar.
READERS = (FACILITATOR, REFERENT, PILOT)
# Who reads a group's progress: the figures are its facilitators' and the pilot's.
PROGRESS_READERS = (FACILITATOR, PILOT)


def group_ids_in_reach(user, roles=READERS) -> set[int]:
    """The ids of the groups this user may read through any of these roles."""
    ids = set()
    if FACILITATOR in roles:
        ids.update(user.facilitated_group_ids())
    if REFERENT in roles and user.structure_ids():
        # The groups of the foyers its structures accompany (withdrawn ones included, as on
        # the referent's home), whatever the défi.
        ids.update(
            db.session.scalars(
                sa.select(Accompaniment.group_id).where(
                    Accompaniment.structure_id.in_(user.structure_ids())
                )
            )
        )
    if PILOT in roles and user.has_role(PILOT):
        challenge = current_challenge(user.territory_id)
        if challenge is not None:
            ids.update(group.id for group in challenge.groups)
    return ids


def groups_in_reach(roles=READERS) -> list[Group]:
    """The groups the current user may read: the current défi's first, then by name."""
    ids = group_ids_in_reach(current_user, roles)
    if not ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Group)
            .join(Challenge, Challenge.id == Group.challenge_id)
            .where(Group.id.in_(ids))
            .order_by(Challenge.is_current.desc(), Challenge.id.desc(), Group.name, Group.id)
        )
    )


def get_group_in_reach_or_404(group_id: int, roles=READERS) -> Group:
    """A group the current user may read through these roles; any other is a 404."""
    if group_id not in group_ids_in_reach(current_user, roles):
        abort(404)
    return group_with_waves_or_404(group_id)


def group_with_waves_or_404(group_id: int) -> Group:
    """The group, with its défi and waves (every group page shows them), or a 404."""
    group = db.session.scalar(
        sa.select(Group)
        .options(so.joinedload(Group.challenge).joinedload(Challenge.waves))
        .where(Group.id == group_id)
    )
    if group is None:
        abort(404)
    return group


def chosen_group_or_404(groups: list[Group]) -> Group:
    """The group asked for in `?groupe=` among these, or the first without one; a value that
    is none of them (another group, not a number) is a 404, and so is having no group."""
    asked = request.args.get("groupe")
    if asked is None:
        return groups[0] if groups else abort(404)
    try:
        group_id = database_id(asked)
    except ValueError:
        abort(404)
    return next((group for group in groups if group.id == group_id), None) or abort(404)
