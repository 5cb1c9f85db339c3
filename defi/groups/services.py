"""What a facilitator may reach: its groups, and the non-accompanied foyers of them."""

import functools
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from urllib.parse import quote

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask_login import current_user

from defi.extensions import db
from defi.figures.indicators import EntrySums
from defi.figures.indicators import foyer_values
from defi.figures.indicators import waste_kg_per_person_year
from defi.figures.sums import sums_of_entry
from defi.formatting import day
from defi.formatting import gettext as _
from defi.formatting import ngettext
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Choice
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Group
from defi.models import Household
from defi.models import Question
from defi.models import User
from defi.models import Wave
from defi.paging import FOYERS_PER_PAGE
from defi.paging import Paging
from defi.paging import name_key
from defi.paging import paging_of
from defi.paging import searcher
from defi.reach import group_with_waves_or_404


def get_group_or_404(group_id: int) -> Group:
    """A group the current user facilitates; any other group does not exist for it."""
    if group_id not in current_user.facilitated_group_ids():
        abort(404)
    return group_with_waves_or_404(group_id)


def get_named_household_or_404(group: Group, household_id: int) -> Household:
    """A non-accompanied foyer of the group. Accompanied foyers are managed by their referent."""
    household = db.session.scalar(
        sa.select(Household)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(
            Household.id == household_id,
            Household.group_id == group.id,
            Accompaniment.id.is_(None),
        )
    )
    if household is None:
        abort(404)
    return household


def get_labelled_household_or_404(group: Group, label: str) -> Household:
    """An accompanied foyer of the group, found by the label the facilitator knows it by.

    Its id and code never reach the facilitator's pages (QUALITY.md, no linkage): its
    addresses carry the label. The foyer loaded here feeds only its relevé, never a template.
    """
    household = db.session.scalar(
        sa.select(Household)
        .join(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Accompaniment.group_id == group.id, Accompaniment.label == label)
    )
    if household is None:
        abort(404)
    return household


# The state of each wave of a foyer


@dataclass(frozen=True)
class WaveState:
    """One wave of a foyer as the roster shows it; `kind` is one of:

    sent, draft (open wave), unsent (a draft of a closed wave), none (open, nothing typed),
    missing (closed, no relevé), upcoming, before (the foyer joined later), withdrawn.
    `on` is the day of the sending or of the draft's last change; `rank` the wave's.
    """

    rank: int
    kind: str
    on: datetime | None = None

    @property
    def has_releve(self) -> bool:
        return self.kind in ("sent", "draft", "unsent")


@dataclass(frozen=True)
class EntryRow:
    status: str
    submitted_at: datetime | None
    changed_at: datetime


def wave_state(wave: Wave, row: EntryRow | None, today: date, joined=None, withdrawn_on=None):
    """The state of a foyer's wave. `joined` (the rank of its first wave) is given for named
    foyers only: an accompanied foyer's enrolment date never shows, even as "avant son
    arrivée" (ARCHITECTURE.md, timestamps)."""
    if row is not None and row.status == "submitted":
        return WaveState(wave.rank, "sent", row.submitted_at)
    if row is not None:
        kind = "draft" if wave.is_open(today) else "unsent"
        return WaveState(wave.rank, kind, row.changed_at)
    if withdrawn_on is not None and wave.closes_on >= withdrawn_on:
        return WaveState(wave.rank, "withdrawn")
    if joined is not None and wave.rank < joined:
        return WaveState(wave.rank, "before")
    if wave.is_open(today):
        return WaveState(wave.rank, "none")
    return WaveState(wave.rank, "upcoming" if wave.opens_on > today else "missing")


@functools.cache
def _entry_rows_statement(by: str):
    """The SELECT of relevés, built once (a roster runs it at every view): a group's
    (`by="group"`) or those of the foyers whose ids are bound as `ids` (`by="households"`)."""
    last_line = (
        sa.select(EntryChange.entry_id, sa.func.max(EntryChange.at).label("at"))
        .group_by(EntryChange.entry_id)
        .subquery()
    )
    select = (
        sa.select(
            Entry.household_id,
            Wave.rank,
            Entry.status,
            Entry.submitted_at,
            Entry.updated_at,
            last_line.c.at,
        )
        .join(Wave, Wave.id == Entry.wave_id)
        .outerjoin(last_line, last_line.c.entry_id == Entry.id)
    )
    if by == "group":
        return select.join(Household, Household.id == Entry.household_id).where(
            Household.group_id == sa.bindparam("group_id")
        )
    return select.where(Entry.household_id.in_(sa.bindparam("ids", expanding=True)))


def entry_rows(group: Group, household_ids=None) -> dict[int, dict[int, EntryRow]]:
    """{household id: {wave rank: EntryRow}} of the group's relevés (or of the foyers of
    `household_ids` only), in one query; a relevé's last change is the latest of its own
    update and of its history's lines (a receipt added)."""
    if household_ids is None:
        statement, parameters = _entry_rows_statement("group"), {"group_id": group.id}
    elif not household_ids:
        return {}
    else:
        statement, parameters = _entry_rows_statement("households"), {"ids": household_ids}
    rows = {}
    for household_id, rank, status, submitted_at, updated_at, line_at in db.session.execute(
        statement, parameters
    ):
        changed = max(moment for moment in (updated_at, line_at) if moment is not None)
        rows.setdefault(household_id, {})[rank] = EntryRow(status, submitted_at, changed)
    return rows


def joined_rank(household: Household, waves, ranks) -> int:
    """The rank of a named foyer's first wave (as `collecte.services.joined_rank`, without a
    query): its first relevé's, or the first wave still open when it joined."""
    joined_on = household.created_at.date()
    candidates = list(ranks)
    candidates += [wave.rank for wave in waves if wave.closes_on >= joined_on][:1]
    return min(candidates, default=1)


@dataclass
class Card:
    """A foyer of the roster: a named one (`household`) or an accompanied one (`label`, and
    nothing else of it)."""

    states: tuple[WaveState, ...]
    active: bool
    household: Household | None = None
    label: str | None = None


@dataclass
class Roster:
    """The group as a facilitator may see it: `named` and `anonymous` cards, accounts; for
    a roster shown a page at a time, which page of each list, and the search of named foyers
    (`query`: the accompanied ones are never searched, their names are not the facilitator's
    to know)."""

    named: list[Card]
    anonymous: list[Card]
    usernames: dict = field(default_factory=dict)
    named_paging: Paging | None = None
    anonymous_paging: Paging | None = None
    query: str = ""
    named_total: int = 0


@functools.cache
def _roster_statements():
    """The roster's SELECTs, built once: its named foyers, their accounts, its accompanied
    foyers (their label and the programme's state only). Their order is French, set in
    Python (`paging.name_key`): a database's collation puts "Éléonore" after "Wattel"."""
    group_id = sa.bindparam("group_id")
    named = (
        sa.select(Household)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id == group_id, Accompaniment.id.is_(None))
    )
    usernames = (
        sa.select(User.household_id, User.username)
        .join(Household, Household.id == User.household_id)
        .where(Household.group_id == group_id)
    )
    anonymous = (
        sa.select(Accompaniment.label, Household.id, Household.status, Household.withdrawn_on)
        .join(Household, Household.id == Accompaniment.household_id)
        .where(Accompaniment.group_id == group_id)
    )
    return named, usernames, anonymous


def roster(group: Group, today: date) -> Roster:
    """The whole group: its named foyers with their accounts and the state of each relevé,
    and the accompanied ones under their label only (the reminders' page)."""
    named_statement, usernames_statement, anonymous_statement = _roster_statements()
    named = sorted(
        db.session.scalars(named_statement, {"group_id": group.id}).all(),
        key=lambda household: (name_key(household.display_name), household.code),
    )
    usernames = dict(db.session.execute(usernames_statement, {"group_id": group.id}).all())
    accompanied = sorted(
        db.session.execute(anonymous_statement, {"group_id": group.id}).all(),
        key=lambda row: name_key(row.label),
    )
    rows = entry_rows(group)
    return Roster(
        _named_cards(group, named, rows, today),
        _anonymous_cards(group, accompanied, rows, today),
        usernames,
        named_total=len(named),
    )


def roster_page(group: Group, today: date, query: str = "") -> Roster:
    """One page of each of the roster's lists (`?page=` of the named foyers, found by `query`
    in their name, code or commune; `?accompagnes=` of the accompanied ones): the group's
    names are read and ordered, the rest (accounts, relevés) only for the foyers shown."""
    anonymous_statement = _roster_statements()[2]
    everyone = sorted(
        db.session.execute(_named_names(), {"group_id": group.id}).all(),
        key=lambda row: (name_key(row.display_name), row.code),
    )
    search = searcher(query)
    found = (
        [row for row in everyone if search(row.display_name, row.commune, row.code)]
        if query
        else everyone
    )
    named_paging = paging_of(len(found), FOYERS_PER_PAGE)
    ids = [row.id for row in named_paging.of(found)]
    loaded = {
        household.id: household
        for household in db.session.scalars(sa.select(Household).where(Household.id.in_(ids)))
    }
    # A foyer erased between the two reads is left out, not an error.
    named = [loaded[household_id] for household_id in ids if household_id in loaded]
    accompanied = db.session.execute(anonymous_statement, {"group_id": group.id}).all()
    anonymous_paging = paging_of(len(accompanied), FOYERS_PER_PAGE, "accompagnes")
    accompanied = anonymous_paging.of(sorted(accompanied, key=lambda row: name_key(row.label)))
    rows = entry_rows(group, ids + [row.id for row in accompanied])
    usernames = dict(
        db.session.execute(
            sa.select(User.household_id, User.username).where(User.household_id.in_(ids))
        ).all()
    )
    return Roster(
        _named_cards(group, named, rows, today),
        _anonymous_cards(group, accompanied, rows, today),
        usernames,
        named_paging,
        anonymous_paging,
        query,
        len(everyone),
    )


@functools.cache
def _named_names():
    """What the roster orders and searches its named foyers by, for the whole group."""
    return (
        sa.select(Household.id, Household.display_name, Household.code, Household.commune)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id == sa.bindparam("group_id"), Accompaniment.id.is_(None))
    )


def _named_cards(group, named, rows, today):
    waves = group.challenge.waves
    cards = []
    for household in named:
        own = rows.get(household.id, {})
        joined = joined_rank(household, waves, own)
        states = tuple(
            wave_state(wave, own.get(wave.rank), today, joined, household.withdrawn_on)
            for wave in waves
        )
        cards.append(Card(states, household.is_active, household=household))
    return cards


def _anonymous_cards(group, accompanied, rows, today):
    """Only the label and the programme's state leave the query for accompanied foyers."""
    waves = group.challenge.waves
    cards = []
    for label, household_id, status, withdrawn_on in accompanied:
        own = rows.get(household_id, {})
        states = tuple(
            wave_state(wave, own.get(wave.rank), today, withdrawn_on=withdrawn_on) for wave in waves
        )
        cards.append(Card(states, status == "active", label=label))
    return cards


def waiting_count(group: Group, wave: Wave) -> int:
    """How many of the group's active foyers, named or accompanied, have not sent the wave
    (what `waiting` counts over the whole roster, counted by the database)."""
    sent = sa.select(Entry.id).where(
        Entry.household_id == Household.id, Entry.wave_id == wave.id, Entry.status == "submitted"
    )
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Household)
        .where(Household.group_id == group.id, Household.status == "active", ~sent.exists())
    )


def open_wave(group: Group, today):
    """The group's wave open today, if any."""
    return next((wave for wave in group.challenge.waves if wave.is_open(today)), None)


def waiting(cards: list[Card], wave: Wave) -> list[tuple[Card, WaveState]]:
    """The active foyers of the cards that have not sent the wave, with its state."""
    found = []
    for card in cards:
        state = next(state for state in card.states if state.rank == wave.rank)
        if card.active and state.kind != "sent":
            found.append((card, state))
    return found


# Reminders: links that open the phone's messages or e-mail with everything filled in


def phone_uri(number: str) -> str:
    """A phone number as a tel: or sms: URI wants it: its digits, and a leading + kept."""
    digits = "".join(character for character in number if character.isdigit())
    return "+" + digits if number.strip().startswith("+") else digits


def encode(text: str) -> str:
    """Percent-encoding of a URI's value (RFC 3986): spaces as %20, never "+", which a
    messages or mail app would show as is; line breaks as CR LF (RFC 6068)."""
    return quote(text.replace("\r\n", "\n").replace("\n", "\r\n"), safe="")


def sms_href(numbers: list[str], body: str, apple: bool = False) -> str:
    """An sms: link to every number with the text filled in.

    RFC 5724 lists the recipients separated by commas, then `?body=`. Android's messages
    apps read that query; iOS (since iOS 8) looks for `&body=` instead, so the body goes
    after `?&`: `sms:0611223344,0622334455?&body=…` fills the text on both. iOS keeps only
    the first of several numbers in that form, though: on an iPhone or iPad (`apple`, from
    the User-Agent) the link takes the Messages app's own form for a group,
    `sms:/open?addresses=0611223344,0622334455&body=…`, which Android does not know.
    """
    recipients = ",".join(phone_uri(number) for number in numbers)
    if apple:
        return f"sms:/open?addresses={recipients}&body={encode(body)}"
    return f"sms:{recipients}?&body={encode(body)}"


def mail_href(address: str) -> str:
    """A mailto: link to one address."""
    return "mailto:" + quote(address, safe="@")


def mailto_href(addresses: list[str], subject: str, body: str) -> str:
    """A mailto: link (RFC 6068) with every address in Bcc, so that no foyer sees another's
    address, and the subject and text filled in."""
    bcc = ",".join(quote(address, safe="@") for address in addresses)
    return f"mailto:?bcc={bcc}&subject={encode(subject)}&body={encode(body)}"


def days_left_text(wave: Wave, today: date) -> str:
    """How long the wave stays open, in words: "plus que 12 jours", or "dernier jour"."""
    left = (wave.closes_on - today).days
    if left <= 0:
        return _("dernier jour")
    return ngettext("plus que %(num)d jour", "plus que %(num)d jours", left)


def reminder_message(group: Group, wave: Wave, today: date, login_url: str):
    """(subject, text) of a reminder to the foyers that have not sent the wave, in French:
    short, as it goes by SMS too."""
    left = (wave.closes_on - today).days
    if left <= 0:
        when = _("c'est le dernier jour")
    else:
        when = ngettext("il reste %(num)d jour", "il reste %(num)d jours", left)
    subject = _("Défi Famille : votre relevé de la collecte %(rank)d", rank=wave.rank)
    body = _(
        "Bonjour, %(when)s (jusqu'au %(date)s) pour envoyer votre relevé de la collecte "
        "%(rank)d du Défi Famille. Pour vous connecter : %(url)s\n%(group)s",
        when=when,
        date=day(wave.closes_on),
        rank=wave.rank,
        url=login_url,
        group=group.name,
    )
    return subject, body


# A foyer's relevé, read by its facilitator


@dataclass
class ReadOnlyReleve:
    """What the facilitator reads of one relevé: the relevé (None before its first write),
    its wave, its rows and its questionnaire, as (question text, [ticked choice labels])."""

    wave: Wave
    entry: Entry | None
    answers: list = field(default_factory=list)
    sums: EntrySums | None = None
    state: WaveState | None = None

    @property
    def values(self) -> dict:
        """The relevé's indicators (`figures.indicators.foyer_values`)."""
        return foyer_values(self.sums) if self.sums else {}

    @property
    def waste(self) -> dict:
        """{category: (kg, kg per person and year or None)}, and "total"."""
        if self.sums is None or self.sums.waste_grams is None:
            return {}
        by_category = self.sums.waste_by_category or {}
        waste = {
            category: (grams / 1000, waste_kg_per_person_year(self.sums, category))
            for category, grams in by_category.items()
        }
        waste["total"] = (self.sums.waste_grams / 1000, waste_kg_per_person_year(self.sums))
        return waste


def read_releve(household: Household, group: Group, rank: int, today: date) -> ReadOnlyReleve:
    """The foyer's relevé of the wave of this rank (404 for a rank the défi does not have)."""
    wave = next((wave for wave in group.challenge.waves if wave.rank == rank), None)
    if wave is None:
        abort(404)
    entry = db.session.scalar(
        sa.select(Entry)
        .options(
            so.selectinload(Entry.purchases),
            so.selectinload(Entry.weighings),
            so.selectinload(Entry.recipes),
            so.selectinload(Entry.producers),
        )
        .where(Entry.household_id == household.id, Entry.wave_id == wave.id)
    )
    answers, row = [], None
    if entry is not None:
        last_line = db.session.scalar(
            sa.select(sa.func.max(EntryChange.at)).where(EntryChange.entry_id == entry.id)
        )
        changed = max(moment for moment in (entry.updated_at, last_line) if moment is not None)
        row = EntryRow(entry.status, entry.submitted_at, changed)
        ticked = {}
        for question, label in db.session.execute(
            sa.select(Question.text, Choice.label)
            .join(Answer, Answer.question_id == Question.id)
            .join(Choice, Choice.id == Answer.choice_id)
            .where(Answer.entry_id == entry.id)
            .order_by(Question.position, Question.id, Choice.position)
        ):
            ticked.setdefault(question, []).append(label)
        answers = list(ticked.items())
    read = ReadOnlyReleve(wave, entry, answers, sums_of_entry(entry.id) if entry else None)
    read.state = wave_state(wave, row, today, withdrawn_on=household.withdrawn_on)
    return read


def withdraw(household: Household, today):
    household.status = "withdrawn"
    household.withdrawn_on = today
    db.session.flush()


def reactivate(household: Household):
    household.status = "active"
    household.withdrawn_on = None
    db.session.flush()


def account_of(household: Household) -> User | None:
    return db.session.scalar(sa.select(User).where(User.household_id == household.id).limit(1))
