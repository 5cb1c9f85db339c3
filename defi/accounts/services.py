"""Account services: authentication, invitations and their redemption, password changes.

Services flush but never commit: the view commits once per request.
"""

import hashlib
import secrets
import unicodedata
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from defi.accounts.passwords import hash_password
from defi.accounts.passwords import needs_rehash
from defi.accounts.passwords import verify_password
from defi.extensions import db
from defi.models import AuditEvent
from defi.models import Invitation
from defi.models import Membership
from defi.models import User
from defi.models.accounts import STAFF_ROLES
from defi.models.base import utcnow

# Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 60 bits
_CODE_FOLD = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """'abcd-efgh ijkl' → 'ABCDEFGH1JK1': case, spaces and dashes do not matter."""
    cleaned = "".join(ch for ch in (text or "").upper() if ch.isalnum())
    return cleaned.translate(_CODE_FOLD)


def format_code(code: str) -> str:
    """'ABCDEFGHJKMN' → 'ABCD-EFGH-JKMN', easier to read and type."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


USERNAME_LENGTH = 60


def normalise_username(text: str | None) -> str:
    """The account a typed username names: compatibility forms folded (NFKC), no space, control
    or invisible character, lower case. The login and its throttling both go through here, so
    that `foyer-est-20` and `Foyer-Est-20\x01` are one account and one count of failures."""
    folded = unicodedata.normalize("NFKC", text or "")
    kept = "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "CZ")
    return kept.lower()[:USERNAME_LENGTH]


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same work whether or not it exists)."""
    user = db.session.scalar(sa.select(User).where(User.username == normalise_username(username)))
    if not verify_password(user.password_hash if user else None, password):
        return None
    if user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def issue_invitation(role, issued_by, *, household=None, group=None, structure=None, user=None):
    """Create an invitation and return it with its code, which is shown once and never stored.

    A new code for the same foyer or the same account voids the previous one.
    """
    now = utcnow()
    if user is not None:
        void_invitations(Invitation.user_id == user.id, now)
    elif household is not None:
        void_invitations(Invitation.household_id == household.id, now)
    code = new_code()
    invitation = Invitation(
        code_hash=hash_code(code),
        role=role,
        household=household,
        group=group,
        structure=structure,
        user=user,
        issued_by_id=issued_by.id if issued_by is not None else None,
        created_at=now,
        expires_at=now + current_app.config["INVITATION_LIFETIME"],
    )
    db.session.add(invitation)
    db.session.flush()
    if role in STAFF_ROLES:
        action = "invited" if user is None else "password_code"
        record_staff_event(action, issued_by, role, subject=user, group=group, structure=structure)
    return invitation, code


def void_invitations(condition, now: datetime) -> int:
    """Void the open codes that meet the condition; how many there were."""
    return db.session.execute(
        sa.update(Invitation)
        .where(condition, Invitation.used_at.is_(None), Invitation.voided_at.is_(None))
        .values(voided_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def find_invitation(code: str) -> Invitation | None:
    """The usable invitation with this code, or None when unknown, used, voided or expired."""
    normalised = normalise_code(code)
    if len(normalised) != CODE_LENGTH:
        return None
    invitation = db.session.scalar(
        sa.select(Invitation).where(Invitation.code_hash == hash_code(normalised))
    )
    if invitation is None or not invitation.is_usable(utcnow()):
        return None
    if invitation.user is not None and not invitation.user.active:
        return None  # a deactivated account stays so: only the pilot brings it back
    return invitation


def username_taken(username: str) -> bool:
    return (
        db.session.scalar(
            sa.select(sa.func.count(User.id)).where(User.username == normalise_username(username))
        )
        > 0
    )


def redeem_invitation(invitation: Invitation, password: str, username: str = "") -> User:
    """Use the code: create the account it was issued for, or give the account a new password.

    Every other session of the account ends (its session token rotates).
    """
    now = utcnow()
    # Only one request may use a code: the conditional update wins once.
    claimed = db.session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise InvitationAlreadyUsed
    if invitation.user is not None:
        user = invitation.user
        if not user.active:  # deactivated since the code was found
            raise InvitationAlreadyUsed
    else:
        user = User(username=normalise_username(username))
        if invitation.role == "household":
            user.household = invitation.household
        else:
            user.memberships.append(
                Membership(
                    role=invitation.role,
                    group=invitation.group,
                    structure=invitation.structure,
                    granted_by_id=invitation.issued_by_id,
                )
            )
        db.session.add(user)
    set_password(user, password)
    db.session.flush()
    if invitation.user is None and invitation.role in STAFF_ROLES:
        record_staff_event(
            "granted",
            invitation.issued_by,
            invitation.role,
            subject=user,
            group=invitation.group,
            structure=invitation.structure,
        )
    return user


def set_password(user: User, password: str):
    """Store a new password and end every session of the account."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.rotate_session_token()


def create_pilot(username: str, password: str) -> User:
    user = User(username=normalise_username(username))
    user.memberships.append(Membership(role="pilot"))
    set_password(user, password)
    db.session.add(user)
    db.session.flush()
    record_staff_event("granted", None, "pilot", subject=user)
    return user


def record_staff_event(action, actor, role, *, subject=None, group=None, structure=None):
    """Write a line of the staff audit trail: who did what to which staff role, when.

    `actor` None is the command line. Names are copied: the line reads the same later.
    """
    scope = group or structure
    db.session.add(
        AuditEvent(
            actor_id=actor.id if actor is not None else None,
            actor_name=actor.username if actor is not None else "",
            action=action,
            subject_id=subject.id if subject is not None else None,
            subject_name=subject.username if subject is not None else "",
            role=role,
            group_id=group.id if group is not None else None,
            structure_id=structure.id if structure is not None else None,
            scope_name=scope.name if scope is not None else "",
        )
    )


def deactivate_staff(user: User, actor: User) -> int:
    """A staff member leaves: every session ends, every open code of the account and every code
    it printed (a foyer's invitation or new password: whoever keeps one gets into that foyer)
    is void. Returns how many codes it had printed, to print again for the foyers."""
    user.active = False
    user.rotate_session_token()
    void_invitations(Invitation.user_id == user.id, utcnow())
    printed = void_invitations(Invitation.issued_by_id == user.id, utcnow())
    record_for_each_role("deactivated", actor, user)
    return printed


def reactivate_staff(user: User, actor: User):
    """Bring a staff account back (it then needs a new password code or its old password)."""
    user.active = True
    record_for_each_role("reactivated", actor, user)


def record_for_each_role(action, actor, user: User):
    """One line of the trail per staff role of the account (each group's, each structure's)."""
    for membership in user.memberships:
        record_staff_event(
            action,
            actor,
            membership.role,
            subject=user,
            group=membership.group,
            structure=membership.structure,
        )


class InvitationAlreadyUsed(Exception):
    """Two requests raced for the same code; the other one won."""
