"""What a referent may reach: the foyers accompanied by its structures."""

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask_login import current_user

from defi.accounts.services import record_staff_event
from defi.accounts.services import void_invitations
from defi.extensions import db
from defi.models import Accompaniment
from defi.models import AuditEvent
from defi.models import Group
from defi.models import Household
from defi.models import Invitation
from defi.models import Membership
from defi.models import Structure
from defi.models import User
from defi.models.base import utcnow
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


# Who else sees the names of the structure's foyers


def my_memberships() -> dict[int, Membership]:
    """{structure id: the current user's referent role there}."""
    return {m.structure_id: m for m in current_user.memberships if m.role == "referent"}


def structure_referents():
    """Every referent of the current user's structures, with who gave the access and when."""
    return db.session.scalars(
        sa.select(Membership)
        .options(
            so.joinedload(Membership.user),
            so.joinedload(Membership.granted_by),
            so.joinedload(Membership.structure),
        )
        .where(
            Membership.role == "referent",
            Membership.structure_id.in_(current_user.structure_ids()),
        )
        .order_by(Membership.structure_id, Membership.created_at, Membership.id)
    ).all()


def is_newer_access(membership: Membership) -> bool:
    """Given after the current user's own access to the same structure: one it may take back."""
    mine = my_memberships().get(membership.structure_id)
    return (
        mine is not None
        and membership.user_id != current_user.id
        and (membership.created_at, membership.id) > (mine.created_at, mine.id)
    )


def pending_referent_invitations():
    """The codes that would open the structures' foyers to someone: an invitation of a new
    referent, or a code to choose a new password for one of theirs (whoever holds it takes
    the account)."""
    mine = current_user.structure_ids()
    return db.session.scalars(
        sa.select(Invitation)
        .options(
            so.joinedload(Invitation.issued_by),
            so.joinedload(Invitation.structure),
            so.joinedload(Invitation.user),
        )
        .where(
            Invitation.role == "referent",
            sa.or_(
                sa.and_(Invitation.user_id.is_(None), Invitation.structure_id.in_(mine)),
                Invitation.user_id.in_(referents_of(mine)),
            ),
            Invitation.used_at.is_(None),
            Invitation.voided_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at)
    ).all()


def referents_of(structure_ids):
    """The ids of the accounts that are referents of these structures (a subquery)."""
    return sa.select(Membership.user_id).where(
        Membership.role == "referent", Membership.structure_id.in_(structure_ids)
    )


def structure_events(limit=20):
    """The latest lines of the audit trail about the current user's structures (and those
    about one of their referents that name no structure)."""
    mine = current_user.structure_ids()
    return db.session.scalars(
        sa.select(AuditEvent)
        .where(
            sa.or_(
                AuditEvent.structure_id.in_(mine),
                sa.and_(
                    AuditEvent.structure_id.is_(None),
                    AuditEvent.role == "referent",
                    AuditEvent.subject_id.in_(referents_of(mine)),
                ),
            )
        )
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()


def get_revocable_membership_or_404(membership_id: int) -> Membership:
    """Another referent's access to one of the user's structures, given after the user's own."""
    membership = db.session.scalar(
        sa.select(Membership).where(
            Membership.id == membership_id,
            Membership.role == "referent",
            Membership.structure_id.in_(current_user.structure_ids()),
        )
    )
    if membership is None or not is_newer_access(membership):
        abort(404)
    return membership


def get_pending_invitation_or_404(invitation_id: int) -> Invitation:
    invitation = next((i for i in pending_referent_invitations() if i.id == invitation_id), None)
    if invitation is None:
        abort(404)
    return invitation


def revoke_referent(membership: Membership, actor: User):
    """Take a referent's access to a structure away: its sessions and open codes end with it."""
    user, structure = membership.user, membership.structure
    user.memberships.remove(membership)
    user.rotate_session_token()
    void_invitations(Invitation.user_id == user.id, utcnow())
    # The foyers it invited meanwhile get new codes from the structure's other referents.
    void_invitations(Invitation.issued_by_id == user.id, utcnow())
    if not user.memberships and user.household_id is None:
        user.active = False  # no role is left: nothing to log in for
    record_staff_event("revoked", actor, "referent", subject=user, structure=structure)


def cancel_referent_invitation(invitation: Invitation, actor: User):
    """Void a code to the structure's foyers (an invitation, a password code) before its use."""
    invitation.voided_at = utcnow()
    record_staff_event(
        "invitation_voided",
        actor,
        invitation.role,
        subject=invitation.user,
        structure=invitation.structure,
    )
