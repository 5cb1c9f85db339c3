"""People: user accounts, their role memberships, referent structures and invitations."""

import secrets
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from defi.extensions import db
from defi.models.base import Versioned
from defi.models.base import utcnow
from defi.models.challenge import Group
from defi.models.challenge import Household
from defi.models.challenge import Structure

ROLES = ("household", "facilitator", "referent", "pilot", "coordinator")
STAFF_ROLES = ("facilitator", "referent", "pilot", "coordinator")


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(Versioned, db.Model):
    """An account. A foyer's member has `household`; staff roles come from memberships."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(60), unique=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    # Flask-Login's id: rotating it (logout, password change, deactivation) kills copied cookies.
    session_token: so.Mapped[str] = so.mapped_column(
        sa.String(64), unique=True, default=new_session_token
    )
    active: so.Mapped[bool] = so.mapped_column(default=True)
    # The territory whose défis the account takes part in (a foyer, its staff, its pilots);
    # NULL for a network's coordinator alone, who belongs to none.
    territory_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("territory.id", ondelete="CASCADE"), index=True
    )
    household_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_login_at: so.Mapped[datetime | None]
    password_changed_at: so.Mapped[datetime | None]
    # Hash of the secret of the user's iCal feed URL; NULL when revoked or never asked for.
    feed_token_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64), unique=True)
    # A staff member's contact, set on "Mes coordonnées" and printed on the invitations it
    # hands over (the foyers of its group, its accompanied foyers); NULL until given.
    first_name: so.Mapped[str | None] = so.mapped_column(sa.String(60))
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))

    household: so.Mapped[Household | None] = so.relationship()
    memberships: so.Mapped[list["Membership"]] = so.relationship(
        back_populates="user", cascade="all, delete-orphan", foreign_keys="Membership.user_id"
    )

    def __repr__(self):
        return f"<User {self.username!r}>"

    # Flask-Login's interface.
    @property
    def is_active(self):
        return self.active

    @property
    def is_authenticated(self):
        return True

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return self.session_token

    def rotate_session_token(self):
        """End every session of this account, here and on every other device."""
        self.session_token = new_session_token()

    @property
    def roles(self) -> frozenset[str]:
        roles = {membership.role for membership in self.memberships}
        if self.household_id is not None:
            roles.add("household")
        return frozenset(roles)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def has_contact(self) -> bool:
        """Whether the staff member gave a first name, a phone or an e-mail to print."""
        return bool(self.first_name or self.phone or self.email)

    @property
    def is_staff(self) -> bool:
        return any(membership.role in STAFF_ROLES for membership in self.memberships)

    def facilitated_group_ids(self) -> list[int]:
        return [m.group_id for m in self.memberships if m.role == "facilitator"]

    def structure_ids(self) -> list[int]:
        return [m.structure_id for m in self.memberships if m.role == "referent"]


class Membership(db.Model):
    """A staff role held by a user: facilitator of a group, referent of a structure, or pilot."""

    __table_args__ = (
        sa.UniqueConstraint("user_id", "role", "group_id", "structure_id"),
        sa.CheckConstraint(
            "(role = 'facilitator' AND group_id IS NOT NULL AND structure_id IS NULL)"
            " OR (role = 'referent' AND structure_id IS NOT NULL AND group_id IS NULL)"
            " OR (role IN ('pilot', 'coordinator') AND group_id IS NULL"
            " AND structure_id IS NULL)",
            name="membership_scope",
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    group_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("group.id", ondelete="CASCADE"), index=True
    )
    structure_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("structure.id", ondelete="CASCADE"), index=True
    )
    # When the role was given, and by whom: the referents of a structure see each new access to
    # their foyers, and may take back one given after theirs.
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    granted_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )

    user: so.Mapped[User] = so.relationship(back_populates="memberships", foreign_keys=[user_id])
    group: so.Mapped[Group | None] = so.relationship()
    structure: so.Mapped[Structure | None] = so.relationship()
    granted_by: so.Mapped[User | None] = so.relationship(foreign_keys=[granted_by_id])

    def __repr__(self):
        return f"<Membership {self.role} of user {self.user_id}>"


class Invitation(db.Model):
    """A one-time code that creates an account (or resets its password when `user` is set).

    Only the SHA-256 of the code is kept: the code has 60 bits of randomness, so a fast hash
    is enough and lets the redeeming request find it by index.
    """

    __table_args__ = (
        sa.CheckConstraint(
            "role IN ('household', 'facilitator', 'referent', 'pilot')", name="invitation_role"
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    # The territory the new account will belong to.
    territory_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("territory.id", ondelete="CASCADE"), index=True
    )
    # What the new account will be: a member of this foyer, facilitator of this group, ...
    household_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    group_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("group.id", ondelete="CASCADE"), index=True
    )
    structure_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("structure.id", ondelete="CASCADE"), index=True
    )
    # Set for a password reset: redeeming it gives this account a new password.
    user_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    issued_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    expires_at: so.Mapped[datetime]
    used_at: so.Mapped[datetime | None]
    voided_at: so.Mapped[datetime | None]

    household: so.Mapped[Household | None] = so.relationship()
    group: so.Mapped[Group | None] = so.relationship()
    structure: so.Mapped[Structure | None] = so.relationship()
    user: so.Mapped[User | None] = so.relationship(foreign_keys=[user_id])
    issued_by: so.Mapped[User | None] = so.relationship(foreign_keys=[issued_by_id])

    def __repr__(self):
        return f"<Invitation {self.id} for {self.role}>"

    def is_usable(self, now: datetime) -> bool:
        return self.used_at is None and self.voided_at is None and now < self.expires_at


AUDIT_ACTIONS = (
    "invited",  # an invitation to a staff role was printed
    "granted",  # an account took a staff role (an invitation redeemed, or the command line)
    "revoked",  # a staff role was taken away
    "invitation_voided",  # an invitation to a staff role was cancelled before use
    "password_code",  # a code to choose a new password was printed for a staff account
    "deactivated",
    "reactivated",
)


class AuditEvent(db.Model):
    """A staff role given or taken away, a staff account (de)activated: who, what, when.

    Names are copied, so the trail reads the same after an account is deleted. Only staff roles
    are recorded: never a foyer, its name or its account.
    """

    __table_args__ = (
        sa.CheckConstraint(
            "action IN (" + ", ".join(f"'{action}'" for action in AUDIT_ACTIONS) + ")",
            name="audit_event_action",
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    # Whose pilots read it; NULL for the network's own (a coordinator given its role).
    territory_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("territory.id", ondelete="CASCADE"), index=True
    )
    # Who did it: NULL for the command line.
    actor_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    actor_name: so.Mapped[str] = so.mapped_column(sa.String(60), default="")
    action: so.Mapped[str] = so.mapped_column(sa.String(20))
    # To whom: empty for an invitation that no account took yet.
    subject_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    subject_name: so.Mapped[str] = so.mapped_column(sa.String(60), default="")
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    # The group or the structure the role is about, and its name then.
    group_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("group.id", ondelete="SET NULL")
    )
    structure_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("structure.id", ondelete="SET NULL"), index=True
    )
    scope_name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")

    def __repr__(self):
        return f"<AuditEvent {self.action} {self.role} by {self.actor_name!r}>"
