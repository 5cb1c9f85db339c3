"""The défi's overview for the pilot, the staff it invites, and the attendance of its events."""

import unicodedata

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Attendance
from defi.models import AuditEvent
from defi.models import Entry
from defi.models import Event
from defi.models import Group
from defi.models import Household
from defi.models import Membership
from defi.models import Structure
from defi.models import User
from defi.models import Wave
from defi.models import event_groups
from defi.pilot.imports.write import IMPORT_STRUCTURE
from defi.territories import my_territory_id


def group_overview(challenge):
    """Per group: foyers enrolled, still active, and submitted relevés per wave rank."""
    enrolled = dict(
        db.session.execute(
            sa.select(Household.group_id, sa.func.count(Household.id))
            .where(Household.challenge_id == challenge.id)
            .group_by(Household.group_id)
        ).all()
    )
    active = dict(
        db.session.execute(
            sa.select(Household.group_id, sa.func.count(Household.id))
            .where(Household.challenge_id == challenge.id, Household.status == "active")
            .group_by(Household.group_id)
        ).all()
    )
    submitted = {}
    for group_id, rank, count in db.session.execute(
        sa.select(Household.group_id, Wave.rank, sa.func.count(Entry.id))
        .join(Entry, Entry.household_id == Household.id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Household.challenge_id == challenge.id, Entry.status == "submitted")
        .group_by(Household.group_id, Wave.rank)
    ):
        submitted[(group_id, rank)] = count
    return [
        {
            "group": group,
            "enrolled": enrolled.get(group.id, 0),
            "active": active.get(group.id, 0),
            "submitted": {
                wave.rank: submitted.get((group.id, wave.rank), 0) for wave in challenge.waves
            },
        }
        for group in challenge.groups
    ]


def staff():
    """Every facilitator and referent of the territory, with what they lead."""
    return db.session.execute(
        sa.select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(
            User.territory_id == my_territory_id(),
            Membership.role.in_(("facilitator", "referent")),
        )
        .order_by(Membership.role, User.username)
    ).all()


AUDIT_PAGE = 100


def audit_events(before: int | None = None):
    """A page of the territory's staff audit trail, newest first: (events, id to ask for older
    ones)."""
    query = (
        sa.select(AuditEvent)
        .where(AuditEvent.territory_id == my_territory_id())
        .order_by(AuditEvent.id.desc())
        .limit(AUDIT_PAGE + 1)
    )
    if before is not None:
        query = query.where(AuditEvent.id < before)
    events = db.session.scalars(query).all()
    older = events[AUDIT_PAGE - 1].id if len(events) > AUDIT_PAGE else None
    return events[:AUDIT_PAGE], older


def structures() -> list[Structure]:
    """The territory's structures a referent may be invited to: not the one of imported
    foyers, which no referent follows (nobody would see that a new one reads their names)."""
    return db.session.scalars(
        sa.select(Structure)
        .where(Structure.territory_id == my_territory_id(), Structure.name != IMPORT_STRUCTURE)
        .order_by(Structure.name)
    ).all()


def territory_structure(structure_id: int | None) -> Structure | None:
    """The territory's structure of that id (None for another territory's, or none)."""
    if not structure_id:
        return None
    return db.session.scalar(
        sa.select(Structure).where(
            Structure.id == structure_id, Structure.territory_id == my_territory_id()
        )
    )


LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})


def structure_key(name: str) -> str:
    """What a structure's name reads as: "MJEP d’Isbergues", "mjep  D'ISBERGUES" and
    "ＭＪＥＰ dIsbergues" are one name (accents, case, spaces and punctuation aside)."""
    plain = unicodedata.normalize("NFKD", name).casefold().translate(LIGATURES)
    return "".join(ch for ch in plain if ch.isalnum() and not unicodedata.combining(ch))


def structure_name_taken(name: str) -> bool:
    """Whether a structure of the territory has a name that reads the same (the import's one
    included)."""
    names = db.session.scalars(
        sa.select(Structure.name).where(Structure.territory_id == my_territory_id())
    ).all()
    return structure_key(name) in {structure_key(taken) for taken in names}


def staff_membership(user: User) -> Membership:
    """The facilitator or referent role of a staff account (its first, if several)."""
    return next(m for m in user.memberships if m.role in ("facilitator", "referent"))


def get_staff_or_404(user_id: int) -> User:
    user = db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            User.id == user_id,
            User.territory_id == my_territory_id(),
            Membership.role.in_(("facilitator", "referent")),
        )
    )
    if user is None:
        abort(404)
    return user


def groups_of(challenge) -> list[Group]:
    return list(challenge.groups) if challenge else []


def event_attendance(challenge):
    """Each event of the défi, its groups and the foyers present, counted as the calendar
    counts them: the named foyers ticked at the door and the accompanied foyers counted
    there (`calendar/services.present_counts`, summed over the event's groups)."""
    named = dict(
        db.session.execute(
            sa.select(Attendance.event_id, sa.func.count(Attendance.id))
            .join(Event, Event.id == Attendance.event_id)
            .join(Household, Household.id == Attendance.household_id)
            .join(
                event_groups,
                sa.and_(
                    event_groups.c.event_id == Attendance.event_id,
                    event_groups.c.group_id == Household.group_id,
                ),
            )
            .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
            .where(Event.challenge_id == challenge.id, Accompaniment.id.is_(None))
            .group_by(Attendance.event_id)
        ).all()
    )
    # Each event's groups are shown beside it, and their accompanied foyers counted at the door.
    events = (
        db.session.scalars(
            sa.select(Event)
            .options(so.joinedload(Event.groups))
            .where(Event.challenge_id == challenge.id)
            .order_by(Event.starts_at)
        )
        .unique()
        .all()
    )
    counted = dict(
        db.session.execute(
            sa.select(event_groups.c.event_id, sa.func.sum(event_groups.c.accompanied_present))
            .join(Event, Event.id == event_groups.c.event_id)
            .where(Event.challenge_id == challenge.id)
            .group_by(event_groups.c.event_id)
        ).all()
    )
    return [(event, named.get(event.id, 0) + (counted.get(event.id) or 0)) for event in events]
