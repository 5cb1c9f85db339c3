"""What a referent may reach: the foyers accompanied by its structures, and how each is doing."""

from dataclasses import dataclass
from datetime import date
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask_babel import format_date
from flask_babel import to_user_timezone
from flask_login import current_user

from defi.accounts.services import record_staff_event
from defi.accounts.services import void_invitations
from defi.extensions import db
from defi.formatting import day
from defi.formatting import gettext as _
from defi.formatting import ngettext
from defi.formatting import today
from defi.models import Accompaniment
from defi.models import AuditEvent
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Group
from defi.models import Household
from defi.models import Invitation
from defi.models import Membership
from defi.models import Question
from defi.models import Structure
from defi.models import User
from defi.models import Wave
from defi.models.base import utcnow
from defi.models.challenge import current_challenge
from defi.paging import name_key


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
    """The groups of the territory's current défi, where a referent may enrol a foyer."""
    challenge = current_challenge(current_user.territory_id)
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


# The follow-up: each foyer's state at each wave, and who needs a hand first


@dataclass
class WaveState:
    """A foyer's relevé at one wave, in a few French words (`kind` for the page's style)."""

    wave: Wave
    kind: str  # sent, draft, not_sent, not_started, upcoming, before, withdrawn, none
    text: str


@dataclass
class FollowUp:
    """One accompanied foyer on the referent's home: every wave's state, and its wave of the
    moment (the open one, else the next, else the last) with the time left to fill it."""

    household: Household
    group: Group
    structure: Structure
    username: str | None
    waves: list[WaveState]
    current: WaveState | None
    deadline: str
    days_left: int | None  # None unless the current wave is open with a closing date ahead
    is_open: bool  # the current wave is open today

    @property
    def needs_hand(self) -> bool:
        """Taking part, and the open wave's relevé not sent yet."""
        return (
            self.household.is_active
            and self.is_open
            and self.current.kind in ("draft", "not_started")
        )

    def sort_key(self):
        """Who needs a hand first: the open wave not sent, fewest days left, not started
        before a draft; then the others taking part; the withdrawn last; then by group and
        name, in French order."""
        if self.needs_hand:
            days = self.days_left if self.days_left is not None else 10**6
            urgency = (0, days, self.current.kind != "not_started")
        else:
            urgency = (1 if self.household.is_active else 2, 0, False)
        return (
            *urgency,
            name_key(self.group.name),
            name_key(self.household.display_name),
            self.household.code,
        )


def follow_up() -> list[FollowUp]:
    """The current user's accompanied foyers, each with every wave's state, neediest first.

    A few queries whatever the number of foyers: the foyers, their défis' waves, their
    relevés, and the last change of each draft.
    """
    rows = accompanied_households()
    households = [household for household, _group, _structure, _username in rows]
    waves = waves_by_challenge({household.challenge_id for household in households})
    entries = entries_by_household([household.id for household in households])
    drafts = [entry.id for found in entries.values() for entry in found.values()
              if entry.status == "draft"]  # fmt: skip
    changed = last_changes(drafts)
    on = today()
    items = []
    for household, group, structure, username in rows:
        own = entries.get(household.id, {})
        joined = joined_rank_of(household, waves.get(household.challenge_id, []), own)
        states = [
            wave_state(household, wave, own.get(wave.id), joined, changed, on)
            for wave in waves.get(household.challenge_id, [])
        ]
        wave = current_wave([state.wave for state in states], on)
        current = next((state for state in states if state.wave is wave), None)
        deadline, days_left = deadline_of(household, current, on)
        is_open = current is not None and current.wave.is_open(on)
        items.append(
            FollowUp(
                household,
                group,
                structure,
                username,
                states,
                current,
                deadline,
                days_left,
                is_open,
            )
        )
    return sorted(items, key=FollowUp.sort_key)


def waves_by_challenge(challenge_ids) -> dict[int, list[Wave]]:
    waves: dict[int, list[Wave]] = {}
    for wave in db.session.scalars(
        sa.select(Wave).where(Wave.challenge_id.in_(challenge_ids)).order_by(Wave.rank)
    ):
        waves.setdefault(wave.challenge_id, []).append(wave)
    return waves


def entries_by_household(household_ids) -> dict[int, dict[int, Entry]]:
    """{foyer id: {wave id: relevé}}."""
    found: dict[int, dict[int, Entry]] = {}
    for entry in db.session.scalars(sa.select(Entry).where(Entry.household_id.in_(household_ids))):
        found.setdefault(entry.household_id, {})[entry.wave_id] = entry
    return found


def last_changes(entry_ids) -> dict[int, datetime]:
    """{relevé id: when it last changed}, from its history (a row added changes the relevé
    without touching its own columns)."""
    if not entry_ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(EntryChange.entry_id, sa.func.max(EntryChange.at))
            .where(EntryChange.entry_id.in_(entry_ids))
            .group_by(EntryChange.entry_id)
        ).all()
    )


def joined_rank_of(household: Household, waves: list[Wave], entries: dict[int, Entry]) -> int:
    """`collecte.services.joined_rank` from rows already read: the rank of its first relevé,
    or of the first wave still open when it joined, whichever is earlier."""
    ranks = {wave.id: wave.rank for wave in waves}
    joined_on = household.created_at.date()
    candidates = [ranks[wave_id] for wave_id in entries if wave_id in ranks]
    candidates += [wave.rank for wave in waves if wave.closes_on >= joined_on]
    return min(candidates, default=1)


def wave_state(household, wave, entry, joined, changed, on) -> WaveState:
    """A foyer's relevé at one wave, as its referent reads it."""
    if entry is not None:
        who = _("saisie accompagnée") if entry.assisted else _("par le foyer")
        if entry.status == "submitted":
            sent = day_text(entry.submitted_at or entry.updated_at)
            return WaveState(wave, "sent", _("envoyé le %(day)s, %(who)s", day=sent, who=who))
        last = day_text(changed.get(entry.id) or entry.updated_at)
        if wave.is_open(on):
            text = _("brouillon, modifié le %(day)s, %(who)s", day=last, who=who)
            return WaveState(wave, "draft", text)
        return WaveState(wave, "not_sent", _("pas envoyé (brouillon du %(day)s)", day=last))
    if wave.rank < joined:
        return WaveState(wave, "before", _("avant son arrivée dans le défi"))
    if not household.is_active and (
        household.withdrawn_on is None or household.withdrawn_on <= wave.closes_on
    ):
        return WaveState(wave, "withdrawn", withdrawn_text(household))
    if wave.is_open(on):
        return WaveState(wave, "not_started", _("pas commencé"))
    if wave.opens_on > on:
        return WaveState(wave, "upcoming", _("à venir, du %(start)s au %(end)s",
                                             start=day_text(wave.opens_on),
                                             end=day_text(wave.closes_on)))  # fmt: skip
    return WaveState(wave, "none", _("pas de relevé"))


def withdrawn_text(household: Household) -> str:
    if household.withdrawn_on is None:
        return _("retiré du défi")
    return _("retiré du défi le %(day)s", day=day_text(household.withdrawn_on))


def current_wave(waves: list[Wave], on: date) -> Wave | None:
    """The wave of the moment: the open one, else the next to open, else the last."""
    for wave in waves:
        if wave.is_open(on):
            return wave
    upcoming = [wave for wave in waves if wave.opens_on > on]
    if upcoming:
        return upcoming[0]
    return waves[-1] if waves else None


def deadline_of(household, current: WaveState | None, on: date) -> tuple[str, int | None]:
    """The time left to fill the wave of the moment, in words, and the days left (or None):
    "encore 12 jours, jusqu'au 29 décembre", "dernier jour", "close depuis le …"."""
    if current is None:
        return _("aucune collecte"), None
    wave = current.wave
    if not household.is_active:
        return withdrawn_text(household), None
    if wave.is_open(on):
        left = (wave.closes_on - on).days
        if left < 0:  # opened by hand after its dates
            return _("ouverte jusqu'à ce que la cheffe de projet la ferme"), None
        if left == 0:
            return _("dernier jour"), 0
        words = ngettext(
            "encore %(num)d jour, jusqu'au %(day)s",
            "encore %(num)d jours, jusqu'au %(day)s",
            left,
            day=long_day(wave.closes_on, on),
        )
        return words, left
    if wave.opens_on > on:
        return _("ouvre le %(day)s", day=long_day(wave.opens_on, on)), None
    return _("close depuis le %(day)s", day=long_day(wave.closes_on, on)), None


def day_text(value) -> str:
    """A date, or a moment in UTC, as its day in France: "12 sept. 2021"."""
    if isinstance(value, datetime):
        value = to_user_timezone(value).date()
    return day(value)


def long_day(value: date, on: date) -> str:
    """ "29 décembre" (in the year of `on`), "1er mars 2026" (in another year)."""
    text = format_date(value, "d MMMM" if value.year == on.year else "d MMMM y")
    return "1er" + text[1:] if value.day == 1 else text


# The paper relevé


def paper_wave_or_404(household: Household, rank: int | None) -> Wave:
    """The wave a paper relevé is printed for: the one asked (`?collecte=<rank>`), else the
    open one, else the next to open, else the last."""
    waves = waves_by_challenge([household.challenge_id]).get(household.challenge_id, [])
    if rank is not None:
        wave = next((wave for wave in waves if wave.rank == rank), None)
    else:
        wave = current_wave(waves, today())
    if wave is None:
        abort(404)
    return wave


def with_choices(questions: list[Question]) -> list[Question]:
    """The questions with their choices, read in one query whatever their number (the paper
    relevé lists every choice of every question)."""
    if questions:
        db.session.scalars(
            sa.select(Question)
            .options(so.selectinload(Question.choices))
            .where(Question.id.in_([question.id for question in questions]))
        ).all()
    return questions
