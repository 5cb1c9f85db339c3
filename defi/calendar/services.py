"""A group's events, attendance ticked at the door, and each user's secret iCal feed.

Times: `Event.starts_at` and `ends_at` are naive UTC, like every datetime of the models
(`models.base.utcnow`; Flask-Babel's `format_datetime` shows them in Europe/Paris). The form is
typed in the territory's time zone and converted here, both ways.

Accompanied foyers are not on the attendance sheet one by one: the facilitator enters how many
came (`event_group.accompanied_present`). Ticking them under their label at the door would tell
which family each label hides, and the label is what keeps their relevés anonymous.

Services flush, never commit.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort
from flask import current_app

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Attendance
from defi.models import Event
from defi.models import Group
from defi.models import Household
from defi.models import User
from defi.models import event_groups
from defi.models.base import utcnow
from defi.paging import name_key
from defi.paging import searcher

# secrets.token_urlsafe(32) gives 43 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 100


def territory_zone() -> ZoneInfo:
    """The time zone the foyers and facilitators live in (Europe/Paris)."""
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def to_utc(day: date, at: time) -> datetime:
    """A date and a wall-clock time in the territory → the naive UTC datetime stored."""
    local = datetime.combine(day, at, tzinfo=territory_zone())
    return local.astimezone(UTC).replace(tzinfo=None)


def to_local(moment: datetime) -> datetime:
    """A stored naive UTC datetime → the territory's wall-clock time."""
    return moment.replace(tzinfo=UTC).astimezone(territory_zone())


# Events


def _in_groups(group_ids):
    return Event.id.in_(
        sa.select(event_groups.c.event_id).where(event_groups.c.group_id.in_(group_ids))
    )


def group_events(group_ids) -> list[Event]:
    """The events of any of these groups, in date order."""
    return list(
        db.session.scalars(
            sa.select(Event).where(_in_groups(group_ids)).order_by(Event.starts_at, Event.id)
        )
    )


def split_by_date(events, now: datetime) -> tuple[list[Event], list[Event]]:
    """(events to come, soonest first; events gone, latest first). One under way is to come."""
    upcoming = [event for event in events if (event.ends_at or event.starts_at) >= now]
    past = [event for event in events if (event.ends_at or event.starts_at) < now]
    return upcoming, past[::-1]


def get_event_or_404(group: Group, event_id: int) -> Event:
    """An event of the group; another group's event does not exist for its facilitator."""
    event = db.session.scalar(sa.select(Event).where(Event.id == event_id, _in_groups([group.id])))
    if event is None:
        abort(404)
    return event


def _apply(event: Event, fields: dict):
    event.kind = fields["kind"]
    event.title = fields["title"]
    event.place = fields["place"]
    event.description = fields["description"]
    event.starts_at = to_utc(fields["day"], fields["starts"])
    event.ends_at = to_utc(fields["day"], fields["ends"]) if fields["ends"] else None


def create_event(group: Group, fields: dict) -> Event:
    """Put a new event in the group's calendar."""
    event = Event(challenge_id=group.challenge_id, groups=[group])
    _apply(event, fields)
    db.session.add(event)
    db.session.flush()
    return event


def update_event(event: Event, fields: dict):
    """Change an event's kind, title, date, times, place or description."""
    _apply(event, fields)
    db.session.flush()


def event_form_data(event: Event) -> dict:
    """The event as its form shows it: date and times in the territory's time zone."""
    starts = to_local(event.starts_at)
    return {
        "version": event.version,
        "kind": event.kind,
        "title": event.title,
        "day": starts.date(),
        "starts": starts.time().replace(tzinfo=None),
        "ends": to_local(event.ends_at).time().replace(tzinfo=None) if event.ends_at else None,
        "place": event.place,
        "description": event.description,
    }


def cancel_event(event: Event):
    """Mark the event as cancelled: it stays in the calendar, shown as such."""
    event.cancelled_at = utcnow()
    db.session.flush()


def restore_event(event: Event):
    """Take back a cancellation."""
    event.cancelled_at = None
    db.session.flush()


# Attendance


def _group_foyers(group: Group):
    """(id, display name, active, label or None) of every foyer of the group."""
    return db.session.execute(
        sa.select(
            Household.id,
            Household.display_name,
            Household.status == "active",
            Accompaniment.label,
        )
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id == group.id)
    ).all()


def _key(household_id: int, label: str | None) -> str:
    """The value of a foyer's box: the label of an accompanied foyer, never its id."""
    return label if label is not None else str(household_id)


def _present_ids(group: Group, event: Event) -> set[int]:
    """The named (non-accompanied) foyers of the group ticked at the event."""
    return set(
        db.session.scalars(
            sa.select(Attendance.household_id)
            .join(Household, Household.id == Attendance.household_id)
            .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
            .where(
                Attendance.event_id == event.id,
                Household.group_id == group.id,
                Accompaniment.id.is_(None),
            )
        )
    )


def accompanied_present(group: Group, event: Event) -> int:
    """How many of the group's accompanied foyers came (a count, never who)."""
    return (
        db.session.scalar(
            sa.select(event_groups.c.accompanied_present).where(
                event_groups.c.event_id == event.id, event_groups.c.group_id == group.id
            )
        )
        or 0
    )


@dataclass
class Sheet:
    """The attendance sheet of an event for one group.

    `named`: (key, display name) of non-accompanied foyers, ticked one by one; `present`:
    keys of those ticked. Accompanied foyers are only a count (`accompanied_present`, at most
    `accompanied_active`): ticking them by label would tell which family a label hides.
    Active foyers are on it, and withdrawn ones that were ticked, so that a tick can be
    taken back.
    """

    named: list
    present: set
    accompanied_active: int
    accompanied_present: int

    @property
    def choices(self) -> list[tuple[str, str]]:
        return self.named

    @property
    def count(self) -> int:
        return len(self.present) + self.accompanied_present

    def found(self, query: str) -> list:
        """The named foyers whose name holds `query`, whatever the case and the accents
        ("helene" finds "Hélène")."""
        if not query:
            return self.named
        search = searcher(query)
        return [(key, name) for key, name in self.named if search(name)]


def _sheet_and_ids(group: Group, event: Event) -> tuple[Sheet, dict[str, int]]:
    present_ids = _present_ids(group, event)
    named, present, ids, accompanied = [], set(), {}, 0
    for household_id, name, active, label in _group_foyers(group):
        if label is not None:
            accompanied += 1 if active else 0
            continue
        if not active and household_id not in present_ids:
            continue
        key = _key(household_id, label)
        ids[key] = household_id
        if household_id in present_ids:
            present.add(key)
        named.append((key, name))
    named.sort(key=lambda row: (name_key(row[1]), row[0]))
    sheet = Sheet(named, present, accompanied, accompanied_present(group, event))
    return sheet, ids


def attendance_sheet(group: Group, event: Event) -> Sheet:
    """Who of the group can be ticked at the event, and who is ticked."""
    return _sheet_and_ids(group, event)[0]


# Lines left blank at the foot of the printed sheet, for a foyer enrolled since it was printed.
PAPER_BLANK_LINES = 4


@dataclass
class PaperSheet:
    """The attendance sheet to print for one group: `named`, the display names of its active
    non-accompanied foyers in the attendance page's order; `accompanied_active`, how many
    accompanied foyers may be counted at the door (a count, as on the attendance page)."""

    named: list[str]
    accompanied_active: int


def paper_sheet(group: Group) -> PaperSheet:
    """Who of the group goes on the printed sheet: the active named foyers, by name."""
    named, accompanied = [], 0
    for _household_id, name, active, label in _group_foyers(group):
        if not active:
            continue
        if label is None:
            named.append(name)
        else:
            accompanied += 1
    return PaperSheet(sorted(named, key=name_key), accompanied)


def _lock(event: Event):
    # Two phones ticking at the same door: the second waits for the first (SQLite's
    # BEGIN IMMEDIATE already serialises writers; PostgreSQL needs the row lock).
    db.session.execute(sa.select(Event.id).where(Event.id == event.id).with_for_update())


def _write(event: Event, household_id: int, present: bool, existing, user: User):
    if present and existing is None:
        db.session.add(
            Attendance(event_id=event.id, household_id=household_id, recorded_by_id=user.id)
        )
    elif not present and existing is not None:
        db.session.delete(existing)


def set_accompanied(group: Group, event: Event, count: int):
    """Record how many of the group's accompanied foyers came."""
    db.session.execute(
        sa.update(event_groups)
        .where(event_groups.c.event_id == event.id, event_groups.c.group_id == group.id)
        .values(accompanied_present=count)
    )


def set_attendance(
    group: Group,
    event: Event,
    present_keys,
    user: User,
    accompanied: int | None = None,
    among=None,
) -> int:
    """Tick exactly these foyers among those of the sheet (or among the keys of `among`
    only, the boxes a page of the sheet showed: the others stay as they were); return how
    many are present."""
    _lock(event)
    if accompanied is not None:
        set_accompanied(group, event, accompanied)
    sheet, ids = _sheet_and_ids(group, event)
    existing = {
        row.household_id: row
        for row in db.session.scalars(
            sa.select(Attendance).where(
                Attendance.event_id == event.id, Attendance.household_id.in_(ids.values())
            )
        )
    }
    wanted = set(present_keys)
    shown = ids.keys() if among is None else ids.keys() & set(among)
    for key in shown:
        household_id = ids[key]
        _write(event, household_id, key in wanted, existing.get(household_id), user)
    db.session.flush()
    return present_count(group, event)


def mark_attendance(group: Group, event: Event, key: str, present: bool, user: User) -> bool:
    """Tick or untick one foyer of the sheet; False when the key is none of the sheet's."""
    _lock(event)
    household_id = _sheet_and_ids(group, event)[1].get(key)
    if household_id is None:
        return False
    existing = db.session.scalar(
        sa.select(Attendance).where(
            Attendance.event_id == event.id, Attendance.household_id == household_id
        )
    )
    _write(event, household_id, present, existing, user)
    db.session.flush()
    return True


def present_count(group: Group, event: Event) -> int:
    """How many foyers of the group were at the event (named ticks + accompanied count)."""
    return len(_present_ids(group, event)) + accompanied_present(group, event)


def present_counts(group: Group, event_ids) -> dict[int, int]:
    """{event id: foyers of the group at it}, in two queries."""
    counts = dict(
        db.session.execute(
            sa.select(Attendance.event_id, sa.func.count(Attendance.id))
            .join(Household, Household.id == Attendance.household_id)
            .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
            .where(
                Attendance.event_id.in_(list(event_ids)),
                Household.group_id == group.id,
                Accompaniment.id.is_(None),
            )
            .group_by(Attendance.event_id)
        ).all()
    )
    for event_id, accompanied in db.session.execute(
        sa.select(event_groups.c.event_id, event_groups.c.accompanied_present).where(
            event_groups.c.event_id.in_(list(event_ids)), event_groups.c.group_id == group.id
        )
    ):
        counts[event_id] = counts.get(event_id, 0) + accompanied
    return counts


@dataclass
class FoyerAttendance:
    """Attendance of each foyer over the défi's events of the group that took place.

    `named`: (display name, code, active, count); `accompanied`: how many times accompanied
    foyers came in all (counted at each event, never who).
    """

    held: int
    named: list
    accompanied: int


def foyer_attendance(group: Group, now: datetime) -> FoyerAttendance:
    """How many of the group's events each named foyer came to; accompanied ones as a total."""
    held_events = sa.select(Event.id).where(
        _in_groups([group.id]), Event.cancelled_at.is_(None), Event.starts_at <= now
    )
    held = db.session.scalar(sa.select(sa.func.count()).select_from(held_events.subquery()))
    counts = dict(
        db.session.execute(
            sa.select(Attendance.household_id, sa.func.count(Attendance.id))
            .join(Household, Household.id == Attendance.household_id)
            .where(Household.group_id == group.id, Attendance.event_id.in_(held_events))
            .group_by(Attendance.household_id)
        ).all()
    )
    codes = dict(
        db.session.execute(
            sa.select(Household.id, Household.code)
            .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
            .where(Household.group_id == group.id, Accompaniment.id.is_(None))
        ).all()
    )
    named = [
        (name, codes[household_id], active, counts.get(household_id, 0))
        for household_id, name, active, label in _group_foyers(group)
        if label is None
    ]
    named.sort(key=lambda row: (name_key(row[0]), row[1]))
    accompanied = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(event_groups.c.accompanied_present), 0)).where(
            event_groups.c.group_id == group.id, event_groups.c.event_id.in_(held_events)
        )
    )
    return FoyerAttendance(held or 0, named, accompanied or 0)


def attended_event_ids(household: Household) -> set[int]:
    """The events the foyer was ticked at."""
    return set(
        db.session.scalars(
            sa.select(Attendance.event_id).where(Attendance.household_id == household.id)
        )
    )


# The iCal feed


def _feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_feed_token(user: User) -> str:
    """Give the user a new secret feed URL token; the previous one stops working.

    Only its SHA-256 is kept: 256 random bits need no slow hash, and the feed finds the
    user by index.
    """
    token = secrets.token_urlsafe(32)
    user.feed_token_hash = _feed_hash(token)
    db.session.flush()
    return token


def revoke_feed(user: User):
    """End the user's feed URL."""
    user.feed_token_hash = None
    db.session.flush()


def user_of_feed(token: str) -> User | None:
    """The active user whose feed URL carries this token, if any."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return db.session.scalar(
        sa.select(User).where(User.feed_token_hash == _feed_hash(token), User.active.is_(True))
    )


def feed_groups(user: User) -> list[Group]:
    """The groups whose calendar the user follows: its foyer's group, the groups it leads."""
    ids = set(user.facilitated_group_ids())
    if user.household is not None:
        ids.add(user.household.group_id)
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Group).where(Group.id.in_(ids)).order_by(Group.name)))
