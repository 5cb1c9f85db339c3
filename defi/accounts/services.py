"""Account services: authentication, invitations and their redemption, password changes,
and a foyer's own data in French words (the "Mes données" page and its downloads).

Services flush but never commit: the view commits once per request.
"""

import csv
import hashlib
import io
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import format_date
from flask_babel import format_datetime
from flask_babel import to_user_timezone
from sqlalchemy.orm.attributes import set_committed_value

from defi.accounts.passwords import hash_password
from defi.accounts.passwords import needs_rehash
from defi.accounts.passwords import verify_password
from defi.collecte.forms import PRODUCER_KIND_LABELS
from defi.extensions import db
from defi.figures.files import csv_cell
from defi.formatting import _formatted
from defi.formatting import change_field
from defi.formatting import change_value
from defi.formatting import lazy_gettext as _l
from defi.formatting import today
from defi.models import AuditEvent
from defi.models import Choice
from defi.models import Group
from defi.models import Household
from defi.models import Invitation
from defi.models import Membership
from defi.models import Question
from defi.models import User
from defi.models import Wave
from defi.models.accounts import STAFF_ROLES
from defi.models.base import utcnow
from defi.models.challenge import current_challenge
from defi.models.collecte import CATEGORY_LABELS
from defi.models.collecte import PLACE_LABELS
from defi.models.collecte import PURPOSE_LABELS
from defi.models.collecte import VALUE_LABELS
from defi.rights import household_data

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


def territory_of(*, household=None, group=None, structure=None, user=None, territory_id=None):
    """The territory an invitation or an audit line is about, from what it names."""
    if territory_id is not None:
        return territory_id
    if household is not None:
        group = household.group
    if group is not None:
        return group.challenge.territory_id
    if structure is not None:
        return structure.territory_id
    if user is not None:
        return user.territory_id
    return None


def issue_invitation(
    role,
    issued_by,
    *,
    household=None,
    group=None,
    structure=None,
    user=None,
    days=None,
    territory_id=None,
):
    """Create an invitation and return it with its code, which is shown once and never stored.

    It stays valid `days` days (the inviter's choice), or the setting's INVITATION_LIFETIME.
    A new code for the same foyer or the same account voids the previous one. The account it
    makes belongs to the territory of the foyer, group, structure or account it names (a
    pilot's invitation names its territory).
    """
    territory_id = territory_of(
        household=household, group=group, structure=structure, user=user, territory_id=territory_id
    )
    now = utcnow()
    lifetime = timedelta(days=days) if days else current_app.config["INVITATION_LIFETIME"]
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
        expires_at=now + lifetime,
        territory_id=territory_id,
    )
    db.session.add(invitation)
    db.session.flush()
    if role in STAFF_ROLES:
        action = "invited" if user is None else "password_code"
        record_staff_event(
            action,
            issued_by,
            role,
            subject=user,
            group=group,
            structure=structure,
            territory_id=territory_id,
        )
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


def expired_invitation(code: str) -> Invitation | None:
    """The invitation with this code when it would still work but for its date: the redeem
    page then says when it expired. Only whoever holds the code learns it (60 bits)."""
    normalised = normalise_code(code)
    if len(normalised) != CODE_LENGTH:
        return None
    invitation = db.session.scalar(
        sa.select(Invitation).where(Invitation.code_hash == hash_code(normalised))
    )
    if invitation is None or invitation.used_at is not None or invitation.voided_at is not None:
        return None
    if invitation.expires_at > utcnow():
        return None
    if invitation.user is not None and not invitation.user.active:
        return None  # a deactivated account's code says nothing more than an unknown one
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
        user = User(username=normalise_username(username), territory_id=invitation.territory_id)
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
            territory_id=invitation.territory_id,
        )
    return user


def set_password(user: User, password: str):
    """Store a new password and end every session of the account."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.rotate_session_token()


def create_pilot(username: str, password: str, territory_id: int) -> User:
    """A pilot of the territory (the command line's `create-pilot`, `create-territory`)."""
    return _created_by_the_command_line(username, password, "pilot", territory_id)


def create_coordinator(username: str, password: str) -> User:
    """A coordinator of the network: of no territory, reading every one's published figures."""
    return _created_by_the_command_line(username, password, "coordinator", None)


def _created_by_the_command_line(username, password, role, territory_id) -> User:
    user = User(username=normalise_username(username), territory_id=territory_id)
    user.memberships.append(Membership(role=role))
    set_password(user, password)
    db.session.add(user)
    db.session.flush()
    record_staff_event("granted", None, role, subject=user)
    return user


def record_staff_event(
    action, actor, role, *, subject=None, group=None, structure=None, territory_id=None
):
    """Write a line of the staff audit trail: who did what to which staff role, when.

    `actor` None is the command line. Names are copied: the line reads the same later. The
    line is the territory's whose group, structure or account it names (None: the network's).
    """
    scope = group or structure
    db.session.add(
        AuditEvent(
            territory_id=territory_of(
                group=group, structure=structure, user=subject, territory_id=territory_id
            ),
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


# The printout of an invitation: what the family needs to join in, on one A4 page.


@_formatted
def long_day(value: date) -> str:
    """date(2025, 10, 1) → "mercredi 1er octobre 2025"."""
    return _first(format_date(value, "EEEE d MMMM y"))


@_formatted
def long_moment(value: datetime) -> str:
    """A stored time (UTC) in the défi's time zone, in words: "mardi 14 octobre 2025 à 18:05"."""
    return _first(format_datetime(value, "EEEE d MMMM y 'à' HH:mm"))


def _first(text: str) -> str:
    # French says "1er octobre", not "1 octobre"; the weekday comes first.
    return re.sub(r"^(\S+) 1 ", r"\1 1er ", text)


@dataclass
class Contact:
    """Someone the family can reach: who it is for them, and what that person gave."""

    role: str
    first_name: str | None
    phone: str | None
    email: str | None


@dataclass
class InvitationSheet:
    """What the printout says besides the code: the group, whom to call, the next collecte."""

    group: Group | None
    contacts: list[Contact]
    wave: Wave | None
    wave_open: bool
    valid_days: int


def invitation_sheet(invitation: Invitation) -> InvitationSheet:
    """The group, the contacts and the collecte printed with a code.

    A foyer's printout names the active facilitators of its own group who gave their contact
    (never another group's), and, when a referent prints it for a foyer its structure
    accompanies, that referent; a staff invitation names whoever printed it.
    """
    household = invitation.household
    group = invitation.group or (household.group if household is not None else None)
    contacts = []
    if household is not None:
        contacts = [_contact(_l("animateur·rice du groupe"), user) for user in facilitators(group)]
        issuer = invitation.issued_by
        accompaniment = household.accompaniment
        if (
            issuer is not None
            and accompaniment is not None
            and accompaniment.structure_id in issuer.structure_ids()
            and issuer.has_contact
        ):
            contacts.append(_contact(_l("votre référent·e"), issuer))
    elif invitation.issued_by is not None and invitation.issued_by.has_contact:
        contacts.append(_contact(_l("qui vous a remis ce code"), invitation.issued_by))
    challenge = group.challenge if group is not None else current_challenge(invitation.territory_id)
    wave, wave_open = next_wave(challenge.waves if challenge else [], today())
    valid_days = round((invitation.expires_at - invitation.created_at) / timedelta(days=1))
    return InvitationSheet(group, contacts, wave, wave_open, valid_days)


def facilitators(group: Group | None) -> list[User]:
    """The group's active facilitators who gave a first name or a contact, by first name."""
    if group is None:
        return []
    return db.session.scalars(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.role == "facilitator",
            Membership.group_id == group.id,
            User.active,
            # NULL or empty: not given (NULL != '' is not true either).
            sa.or_(User.first_name != "", User.phone != "", User.email != ""),
        )
        .order_by(User.first_name, User.id)
    ).all()


def _contact(role, user: User) -> Contact:
    return Contact(str(role), user.first_name, user.phone, user.email)


def next_wave(waves, day: date) -> tuple[Wave | None, bool]:
    """The collecte open on that day (True), else the next one to open (False), else None."""
    ordered = sorted(waves, key=lambda wave: wave.rank)
    for wave in ordered:
        if wave.is_open(day):
            return wave, True
    for wave in ordered:
        if wave.manual_state is None and wave.opens_on > day:
            return wave, False
    return None, False


class InvitationAlreadyUsed(Exception):
    """Two requests raced for the same code; the other one won."""


# A foyer's own data ("Mes données"): the same facts as defi.rights.household_data, with
# the stored codes ("submitted", "supermarche", "q_x:y") in the words the pages use.
HOUSEHOLD_STATUS_LABELS = {"active": _l("actif"), "withdrawn": _l("retiré")}


def _words(labels, value):
    """The French word for a stored code; the code itself if it has none (never lost)."""
    return value if value is None else str(labels.get(value, value))


def my_household_data(household: Household) -> tuple[dict, list[dict]]:
    """Everything the défi holds about the foyer, with its words in French (what the page
    "Mes données" shows and its JSON and CSV downloads hold; numbers stay numbers), and
    each collecte of the défi with the foyer's relevé, or None when not started."""
    waves, questions = _challenge_frame(household)
    data = household_data(household)
    sent = {r["collecte"] for r in data["releves"] if r["statut"] == "submitted"}
    data["foyer"]["statut"] = _words(HOUSEHOLD_STATUS_LABELS, data["foyer"]["statut"])
    for releve in data["releves"]:
        releve["statut"] = _words(VALUE_LABELS, releve["statut"])
        releve["mode_depenses"] = _words(VALUE_LABELS, releve["mode_depenses"])
        for purchase in releve["achats"]:
            purchase["lieu"] = _words(PLACE_LABELS, purchase["lieu"])
        for weighing in releve["pesees"]:
            weighing["categorie"] = _words(CATEGORY_LABELS, weighing["categorie"])
        for recipe in releve["recettes"]:
            recipe["but"] = _words(PURPOSE_LABELS, recipe["but"])
        for producer in releve["producteurs"]:
            producer["type"] = _words(PRODUCER_KIND_LABELS, producer["type"])
        releve["reponses"] = _answers_in_words(releve["reponses"], questions)
        for change in releve["historique"]:
            change["champ"] = change_field(change["champ"])
            change["avant"] = change_value(change["avant"])
            change["apres"] = change_value(change["apres"])
    releves = {releve["collecte"]: releve for releve in data["releves"]}
    collectes = [
        {"wave": wave, "releve": releves.get(wave.rank), "sent": wave.rank in sent}
        for wave in waves
    ]
    return data, collectes


def _challenge_frame(household: Household) -> tuple[list[Wave], dict]:
    """The défi around the foyer, in one query: its waves in order, and the words of its
    questionnaire {"question:choice": (question key, question text, choice label)}.

    One query, not three, keeps the page within QUALITY.md's 12 queries; the foyer's group
    comes with it, so that `household_data` reads the group's name without a query.
    """
    rows = db.session.execute(
        sa.select(Group, Wave, Question.key, Question.text, Choice.key, Choice.label)
        .join(Wave, Wave.challenge_id == Group.challenge_id)
        # The questionnaire beside the first wave only: once, not once per wave.
        .outerjoin(Question, sa.and_(Question.challenge_id == Wave.challenge_id, Wave.rank == 1))
        .outerjoin(Choice, Choice.question_id == Question.id)
        .where(Group.id == household.group_id)
        .order_by(Wave.rank, Question.position, Question.id, Choice.position, Choice.id)
    ).all()
    if rows:  # the group as if `household.group` had loaded it
        set_committed_value(household, "group", rows[0].Group)
    waves = list(dict.fromkeys(row.Wave for row in rows))
    questions = {
        f"{question}:{choice}": (question, text, label)
        for _group, _wave, question, text, choice, label in rows
        if choice is not None
    }
    return waves, questions


def _answers_in_words(ticked: list[str], questions: dict) -> list[dict]:
    """The choices ticked, one item per question: its text and the labels of its choices."""
    grouped: dict[str, dict] = {}
    for key, (question, text, label) in questions.items():
        if key in ticked:
            grouped.setdefault(question, {"question": text, "choix": []})["choix"].append(label)
    for key in ticked:  # a choice the questionnaire no longer has: its code, not nothing
        if key not in questions:
            question, _sep, choice = key.partition(":")
            grouped.setdefault(question, {"question": question, "choix": []})["choix"].append(
                choice
            )
    return list(grouped.values())


def _plain(value):
    """A date or a time as ISO 8601 text (a time in the défi's time zone, with its offset)."""
    if isinstance(value, datetime):
        return to_user_timezone(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def data_as_json(data: dict) -> bytes:
    """The foyer's data as one JSON document, readable as it is (indented, accents kept)."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=_plain).encode("utf-8")


def _csv_cell(value) -> str:
    """A cell as a French spreadsheet reads it (`figures.files.csv_cell`), with dates in ISO
    form and six decimals, which keep grams (kg to 3 decimals) and shares exact enough."""
    if isinstance(value, (date, datetime)):
        return _plain(value)
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:.6f}".rstrip("0").rstrip(".").replace(".", ",")
    return csv_cell(value)


def data_as_csv(data: dict) -> bytes:
    """The same data, one line per value: section; collecte; champ; valeur (UTF-8 with BOM,
    `;`, decimal comma, so that a French spreadsheet opens it as it is)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["section", "collecte", "champ", "valeur"])

    def flat(section, rank, values):
        for name, value in values.items():
            if isinstance(value, list):
                for index, item in enumerate(value, start=1):
                    flat(
                        f"{section}/{name}/{index}",
                        rank,
                        item if isinstance(item, dict) else {name: item},
                    )
            elif isinstance(value, dict):
                flat(f"{section}/{name}", rank, value)
            else:
                writer.writerow([section, rank, name, _csv_cell(value)])

    flat("foyer", "", data["foyer"])
    for index, account in enumerate(data["comptes"], start=1):
        flat(f"compte/{index}", "", account)
    for index, reminder in enumerate(data.get("rappels", []), start=1):
        flat(f"rappel/{index}", reminder["collecte"], reminder)
    for releve in data["releves"]:
        flat("releve", releve["collecte"], releve)
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")
