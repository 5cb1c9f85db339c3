"""The territory, its défis and their structure: waves (collectes), groups, foyers and social
accompaniment."""

import secrets
from datetime import date
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from defi.extensions import db
from defi.models.base import Versioned
from defi.models.base import utcnow

WAVE_LABELS = {1: "début", 2: "milieu", 3: "fin"}


class Territory(db.Model):
    """A territory that runs its own défis, e.g. the Béthune-Bruay agglomeration.

    Sealed from the others: its défis, groups, foyers, structures, staff and invitations are
    its own, and no user of another territory reaches any of them (`defi/territories.py`). A
    network's coordinator sees every territory's published figures, never a name or a relevé.
    """

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    def __repr__(self):
        return f"<Territory {self.name!r}>"


class Challenge(Versioned, db.Model):
    """One edition of the défi, e.g. "Défi Famille à alimentation positive 2021-2022"."""

    __table_args__ = (
        sa.UniqueConstraint("territory_id", "name"),
        # At most one current défi per territory.
        sa.Index(
            "uq_challenge_current",
            "territory_id",
            unique=True,
            sqlite_where=sa.text("is_current"),
            postgresql_where=sa.text("is_current"),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    territory_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("territory.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # The défi a settings copy was started from, for "start next year's défi from this one".
    previous_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("challenge.id", ondelete="SET NULL")
    )
    # The défi being run, chosen by the pilot: its pages, the referents' enrolment and an import
    # without a défi's name are about it. An import of a past year's défi never changes it.
    is_current: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())

    waves: so.Mapped[list["Wave"]] = so.relationship(
        back_populates="challenge", order_by="Wave.rank", cascade="all, delete-orphan"
    )
    groups: so.Mapped[list["Group"]] = so.relationship(
        back_populates="challenge", order_by="Group.name", cascade="all, delete-orphan"
    )
    territory: so.Mapped[Territory] = so.relationship()

    def __repr__(self):
        return f"<Challenge {self.name!r}>"

    def ends_on(self) -> date | None:
        """The closing date of the last wave: the retention period starts there."""
        closing = [wave.closes_on for wave in self.waves]
        return max(closing) if closing else None


def current_challenge(territory_id: int | None) -> Challenge | None:
    """The défi the territory is running, as its pilot chose it (None for no territory)."""
    if territory_id is None:
        return None
    return db.session.scalar(
        sa.select(Challenge).where(Challenge.territory_id == territory_id, Challenge.is_current)
    )


def make_current(challenge: Challenge):
    """Make this défi the one its territory runs (and no other of the territory)."""
    db.session.execute(
        sa.update(Challenge)
        .where(
            Challenge.territory_id == challenge.territory_id,
            Challenge.is_current,
            Challenge.id != challenge.id,
        )
        .values(is_current=False)
    )
    challenge.is_current = True
    db.session.flush()


class Wave(Versioned, db.Model):
    """A collecte: rank 1 to 3, open between two dates unless the pilot forces it."""

    __table_args__ = (
        sa.UniqueConstraint("challenge_id", "rank"),
        sa.CheckConstraint("rank BETWEEN 1 AND 3", name="wave_rank_range"),
        sa.CheckConstraint("closes_on >= opens_on", name="wave_dates_order"),
        sa.CheckConstraint(
            "manual_state IS NULL OR manual_state IN ('open', 'closed')", name="wave_manual_state"
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    challenge_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("challenge.id", ondelete="CASCADE"), index=True
    )
    rank: so.Mapped[int]
    opens_on: so.Mapped[date]
    closes_on: so.Mapped[date]
    # NULL follows the dates; 'open' or 'closed' is the pilot's decision by hand.
    manual_state: so.Mapped[str | None] = so.mapped_column(sa.String(10))

    challenge: so.Mapped[Challenge] = so.relationship(back_populates="waves")

    def __repr__(self):
        return f"<Wave {self.rank} of challenge {self.challenge_id}>"

    @property
    def label(self) -> str:
        return WAVE_LABELS[self.rank]

    def is_open(self, today: date) -> bool:
        if self.manual_state is not None:
            return self.manual_state == "open"
        return self.opens_on <= today <= self.closes_on


class Group(Versioned, db.Model):
    """A group of about 20 foyers with its facilitators, e.g. Les LokoMotiv' (Secteur Est)."""

    __table_args__ = (sa.UniqueConstraint("challenge_id", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    challenge_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("challenge.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    sector: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    # Start of the foyers' codes: "EST" gives EST-7KQ2, EST-M3XD... (households.new_code)
    code_prefix: so.Mapped[str] = so.mapped_column(sa.String(10))

    challenge: so.Mapped[Challenge] = so.relationship(back_populates="groups")
    households: so.Mapped[list["Household"]] = so.relationship(
        back_populates="group", order_by="Household.display_name"
    )

    def __repr__(self):
        return f"<Group {self.name!r}>"


def random_household_id(context=None) -> int:
    """A foyer's id drawn at random, not the next number: ids appear in a facilitator's links,
    and a gap in a sequence would show where a referent enrolled an accompanied foyer."""
    while True:
        candidate = secrets.randbelow(2**31 - 2) + 1  # within DatabaseId's range
        if context is None:
            return candidate
        taken = context.connection.execute(
            sa.select(sa.literal(1))
            .where(sa.column("id") == candidate)
            .select_from(sa.table("household"))
        ).first()
        if taken is None:
            return candidate


class Household(Versioned, db.Model):
    """A foyer: a stable pseudonymous code, a display name it chose, its persons and commune."""

    __table_args__ = (
        sa.UniqueConstraint("challenge_id", "code"),
        sa.CheckConstraint("adults BETWEEN 1 AND 20", name="household_adults_range"),
        sa.CheckConstraint("children BETWEEN 0 AND 20", name="household_children_range"),
        sa.CheckConstraint("status IN ('active', 'withdrawn')", name="household_status"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True, default=random_household_id)
    # Denormalised from the group so that the database keeps codes unique within a défi.
    challenge_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("challenge.id", ondelete="CASCADE"), index=True
    )
    group_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("group.id", ondelete="CASCADE"), index=True
    )
    code: so.Mapped[str] = so.mapped_column(sa.String(20))
    display_name: so.Mapped[str] = so.mapped_column(sa.String(120))
    adults: so.Mapped[int] = so.mapped_column(default=1)
    children: so.Mapped[int] = so.mapped_column(default=0)
    commune: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    phone: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    email: so.Mapped[str] = so.mapped_column(sa.String(254), default="")
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="active")
    withdrawn_on: so.Mapped[date | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # Set by `defi purge`: the name and contacts are gone, the measurements stay.
    anonymised_at: so.Mapped[datetime | None]

    group: so.Mapped[Group] = so.relationship(back_populates="households")
    accompaniment: so.Mapped[Optional["Accompaniment"]] = so.relationship(
        back_populates="household", cascade="all, delete-orphan", uselist=False
    )

    def __repr__(self):
        return f"<Household {self.code}>"

    @property
    def persons(self) -> int:
        return self.adults + self.children

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class Structure(db.Model):
    """A structure that accompanies foyers socially, e.g. MJEP d'Isbergues.

    Of one territory: the same name in two territories is two structures."""

    __table_args__ = (sa.UniqueConstraint("territory_id", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    territory_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("territory.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(120))

    def __repr__(self):
        return f"<Structure {self.name!r}>"


class RetiredCode(db.Model):
    """The code of an erased foyer: never given again (QUALITY.md, no linkage).

    Of the territory the foyer was in (None: retired before codes had a territory, of every
    territory). A code drawn for a new foyer is never one retired anywhere; a code an import
    names is refused where it was retired in the import's own territory alone: another
    territory's erasures are none of its pilot's business.
    """

    __table_args__ = (sa.UniqueConstraint("territory_id", "code"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    territory_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("territory.id", ondelete="CASCADE")
    )
    code: so.Mapped[str] = so.mapped_column(sa.String(20), index=True)
    retired_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    def __repr__(self):
        return f"<RetiredCode {self.code}>"


class Accompaniment(db.Model):
    """Sensitive: this foyer is socially accompanied by a referent structure. Nothing more.

    Read only through the access rules of DESIGN.md. `label` is drawn at random for the group
    (never derived from the foyer's id or code) and is all a facilitator ever sees of the foyer.
    """

    __table_args__ = (sa.UniqueConstraint("group_id", "label"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    household_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("household.id", ondelete="CASCADE"), unique=True
    )
    structure_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("structure.id", ondelete="RESTRICT"), index=True
    )
    # Copied from the household so that labels are unique within a group in the database.
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("group.id", ondelete="CASCADE"))
    label: so.Mapped[str] = so.mapped_column(sa.String(40))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    household: so.Mapped[Household] = so.relationship(back_populates="accompaniment")
    structure: so.Mapped[Structure] = so.relationship()

    def __repr__(self):
        return f"<Accompaniment of household {self.household_id}>"
