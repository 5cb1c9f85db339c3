"""The calendar: ateliers, farm visits and other events of one or more groups, and attendance."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from defi.extensions import db
from defi.models.base import Versioned
from defi.models.base import utcnow
from defi.models.challenge import Challenge
from defi.models.challenge import Group
from defi.models.challenge import Household

EVENT_KINDS = ("atelier", "visite", "temps_fort", "conference", "atelier_culinaire")

event_groups = sa.Table(
    "event_group",
    db.metadata,
    sa.Column("event_id", sa.ForeignKey("event.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_id", sa.ForeignKey("group.id", ondelete="CASCADE"), primary_key=True),
    # How many of the group's accompanied foyers came: a count, never who (DESIGN.md: a
    # facilitator ticking them one by one would learn which family hides behind a label).
    sa.Column("accompanied_present", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("accompanied_present BETWEEN 0 AND 1000", name="accompanied_present_range"),
)


class Event(Versioned, db.Model):
    """An atelier, a visit to a producer, a temps fort, a conference or a cooking workshop."""

    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('atelier', 'visite', 'temps_fort', 'conference', 'atelier_culinaire')",
            name="event_kind",
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    challenge_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("challenge.id", ondelete="CASCADE"), index=True
    )
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    starts_at: so.Mapped[datetime] = so.mapped_column(index=True)
    ends_at: so.Mapped[datetime | None]
    place: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    cancelled_at: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    challenge: so.Mapped[Challenge] = so.relationship()
    groups: so.Mapped[list[Group]] = so.relationship(secondary=event_groups)
    attendances: so.Mapped[list["Attendance"]] = so.relationship(
        back_populates="event", cascade="all, delete-orphan"
    )

    def __repr__(self):
        return f"<Event {self.kind} {self.title!r}>"


class Attendance(db.Model):
    """A foyer was at an event (ticked by a facilitator at the door)."""

    __table_args__ = (sa.UniqueConstraint("event_id", "household_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    event_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    household_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    recorded_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    recorded_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    event: so.Mapped[Event] = so.relationship(back_populates="attendances")
    household: so.Mapped[Household] = so.relationship()

    def __repr__(self):
        return f"<Attendance of household {self.household_id} at event {self.event_id}>"
