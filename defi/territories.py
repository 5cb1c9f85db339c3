"""Territories: several on one install, each sealed from the others (issue 15).

Every account but a network coordinator's belongs to one territory (`User.territory_id`), and
so does every défi, structure, invitation and audit event. What a user reaches is found from its
own territory: the pilot's défi is its territory's current one (`current_challenge`), the
structures it invites referents to are its territory's, the staff it manages and the journal it
reads are its territory's. Groups, foyers and their relevés hang from a défi, so the facilitators'
and referents' own `*_or_404` helpers, which start from their memberships, never leave their
territory either. An id of another territory is answered as if it did not exist: 404.
"""

import sqlalchemy as sa
from flask_login import current_user

from defi.extensions import db
from defi.models import Challenge
from defi.models import Territory
from defi.models.challenge import current_challenge


class TerritoryError(ValueError):
    """A territory that cannot be made or found, in a sentence for the operator's command line."""


def my_territory_id() -> int | None:
    """The current user's territory (None for a coordinator or an anonymous visitor)."""
    if not current_user.is_authenticated:
        return None
    return current_user.territory_id


def my_current_challenge() -> Challenge | None:
    """The défi the current user's territory runs."""
    return current_challenge(my_territory_id())


def territory_named(name: str) -> Territory | None:
    return db.session.scalar(sa.select(Territory).where(Territory.name == name.strip()))


def territory_like(name: str) -> Territory | None:
    """A territory whose name reads the same whatever the case, accents and spaces."""
    from defi.producers import fold

    wanted = fold(" ".join(name.split()))
    territories = db.session.scalars(sa.select(Territory)).all()
    return next((t for t in territories if fold(t.name) == wanted), None)


def find_territory(name: str | None) -> Territory:
    """The territory of that name; without a name, the only one there is.

    For the commands that act on one territory (`--territory NAME`): with several territories
    and no name, or an unknown name, a TerritoryError lists the names there are.
    """
    if name:
        territory = territory_named(name)
        if territory is not None:
            return territory
    territories = db.session.scalars(sa.select(Territory).order_by(Territory.name)).all()
    if not name and len(territories) == 1:
        return territories[0]
    names = ", ".join(repr(t.name) for t in territories) or "none yet"
    if name:
        raise TerritoryError(f"No territory named {name!r}. Territories: {names}.")
    raise TerritoryError(f"Say which territory with --territory NAME. Territories: {names}.")


def create_territory(name: str) -> Territory:
    """A new territory of that name (unique); the caller commits."""
    name = " ".join(name.split())
    if not name:
        raise TerritoryError("The territory's name is empty.")
    if len(name) > 120:
        raise TerritoryError("The territory's name is longer than 120 characters.")
    if territory_like(name) is not None:
        raise TerritoryError(f"A territory named like {name!r} exists already.")
    territory = Territory(name=name)
    db.session.add(territory)
    db.session.flush()
    return territory
