"""The relevé of a foyer for a wave: reading, writing each part, history, submission.

Services flush, never commit. Every change is written to the relevé's history with its author,
and marks the relevé as assisted when the author is not a member of the foyer.
"""

import functools
import uuid
from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort
from flask_login import current_user

from defi.extensions import db
from defi.figures.indicators import foyer_values
from defi.figures.sums import sums_of_household
from defi.formatting import gettext as _
from defi.formatting import ngettext
from defi.households import get_accompanied_household_or_404
from defi.models import Answer
from defi.models import Choice
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Household
from defi.models import OfflineAdd
from defi.models import Producer
from defi.models import Purchase
from defi.models import Question
from defi.models import Wave
from defi.models import Weighing
from defi.models.base import utcnow
from defi.models.collecte import CATEGORY_LABELS
from defi.models.collecte import PLACE_LABELS
from defi.producers import dedup_key


class StaleVersion(Exception):
    """The row changed since the form was shown: the caller shows both values (409)."""

    def __init__(self, current):
        super().__init__("stale version")
        self.current = current


class WaveClosed(Exception):
    """The wave is closed, or the foyer has left the défi: its relevé can be read, not changed."""


def is_writable(household: Household, wave: Wave, today: date) -> bool:
    """A relevé can change while its wave is open and its foyer takes part (one that left the
    défi reads its relevés, never changes them)."""
    return wave.is_open(today) and household.is_active


def get_household_or_404(household_id: int | None) -> Household:
    """The foyer whose relevé is open: one's own, or one the referent accompanies."""
    if household_id is None:
        if current_user.household is None:
            abort(404)
        return current_user.household
    if "referent" not in current_user.roles:
        abort(404)
    return get_accompanied_household_or_404(household_id)


@functools.cache
def _wave_and_entry_statement():
    return (
        sa.select(Wave, Entry)
        .outerjoin(
            Entry,
            sa.and_(Entry.wave_id == Wave.id, Entry.household_id == sa.bindparam("household_id")),
        )
        .where(Wave.challenge_id == sa.bindparam("challenge_id"), Wave.rank == sa.bindparam("rank"))
    )


def get_wave_and_entry_or_404(household: Household, rank: int) -> tuple[Wave, Entry | None]:
    """The wave of this rank and the foyer's relevé of it (None before its first write),
    read together: every page of a relevé needs both."""
    row = db.session.execute(
        _wave_and_entry_statement(),
        {"household_id": household.id, "challenge_id": household.challenge_id, "rank": rank},
    ).first()
    if row is None:
        abort(404)
    wave, entry = row
    return wave, entry


@functools.cache
def _waves_statement():
    return (
        sa.select(Wave)
        .options(so.joinedload(Wave.challenge))
        .where(Wave.challenge_id == sa.bindparam("challenge_id"))
        .order_by(Wave.rank)
    )


def waves_of(household: Household) -> list[Wave]:
    """The waves of the foyer's défi, by rank; the défi's `waves` are these, not read again."""
    waves = db.session.scalars(_waves_statement(), {"challenge_id": household.challenge_id}).all()
    if waves and "waves" in sa.inspect(waves[0].challenge).unloaded:
        so.attributes.set_committed_value(waves[0].challenge, "waves", list(waves))
    return waves


def entries_by_wave(household: Household) -> dict[int, Entry]:
    entries = db.session.scalars(sa.select(Entry).where(Entry.household_id == household.id))
    return {entry.wave_id: entry for entry in entries}


def find_entry(household: Household, wave: Wave) -> Entry | None:
    return db.session.scalar(
        sa.select(Entry).where(Entry.household_id == household.id, Entry.wave_id == wave.id)
    )


def get_or_create_entry(household: Household, wave: Wave, today: date) -> Entry:
    """The relevé to write into, locked, created on the first write; refused once closed.

    Every write to a relevé goes through here first: on PostgreSQL the row lock makes two
    writers of the same relevé (the foyer's phone and its referent) take turns, as SQLite's
    `BEGIN IMMEDIATE` does, so that version checks compare with what is really stored.
    """
    if not is_writable(household, wave, today):
        raise WaveClosed
    if find_entry(household, wave) is None:
        try:
            # Two first writes at once (two phones, a double tap): the unique key keeps one.
            with db.session.begin_nested():
                db.session.add(Entry(household=household, wave=wave, persons=household.persons))
        except sa.exc.IntegrityError:
            pass
    return db.session.scalar(
        sa.select(Entry)
        .where(Entry.household_id == household.id, Entry.wave_id == wave.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def first_add(entry: Entry, key: str) -> bool:
    """Whether the add whose outbox key is `key` comes for the first time (and note it).

    The phone keeps what is added offline and sends it when the network returns; when an
    answer is lost on the way, it sends it again with the same key. The relevé is locked
    (`get_or_create_entry`), so two sends of one key take turns, and the second finds the
    first. An add without a key (a plain form) always comes for the first time.
    """
    if not key:
        return True
    seen = db.session.scalar(
        sa.select(OfflineAdd.id).where(OfflineAdd.entry_id == entry.id, OfflineAdd.key == key)
    )
    if seen is not None:
        return False
    db.session.add(OfflineAdd(entry_id=entry.id, key=key))
    db.session.flush()
    return True


def is_assisted(household: Household) -> bool:
    return current_user.household_id != household.id


def record(entry: Entry, field: str, old, new):
    """Write a line of the relevé's history (and mark it assisted when a referent wrote it)."""
    assisted = is_assisted(entry.household)
    if assisted:
        entry.assisted = True
    db.session.add(
        EntryChange(
            entry=entry,
            user_id=current_user.id,
            field=field,
            old_value="" if old is None else str(old)[:200],
            new_value="" if new is None else str(new)[:200],
            assisted=assisted,
        )
    )


def check_version(row, version: str | None):
    """Refuse a write made from a form shown before the row last changed."""
    if version and str(row.version) != version:
        raise StaleVersion(row)


def update_entry_fields(entry: Entry, values: dict, version: str | None):
    """Save the relevé's own fields that were typed; report nothing if nothing changed."""
    check_version(entry, version)
    changed = False
    for name, value in values.items():
        old = getattr(entry, name)
        if old != value:
            setattr(entry, name, value)
            record(entry, name, old, value)
            changed = True
    if changed:
        entry.updated_at = utcnow()
    db.session.flush()
    return changed


def add_purchase(entry: Entry, form) -> Purchase:
    purchase = Purchase(entry=entry)
    form.populate_obj(purchase)
    db.session.add(purchase)
    record(entry, "achat ajouté", None, describe_purchase(purchase))
    db.session.flush()
    return purchase


def update_purchase(purchase: Purchase, form):
    check_version(purchase, form.version.data)
    before = describe_purchase(purchase)
    form.populate_obj(purchase)
    after = describe_purchase(purchase)
    if before != after:
        record(purchase.entry, "achat modifié", before, after)
    db.session.flush()


def describe_purchase(purchase: Purchase) -> str:
    """A receipt in words, for the relevé's history: "12,50 € — Marché, le 20/11/2026 (…)"."""
    place = PLACE_LABELS.get(purchase.place_type, purchase.place_type)
    day = f", le {purchase.bought_on:%d/%m/%Y}" if purchase.bought_on else ""
    return (
        f"{_money(purchase.total)} — {place}{day} "
        f"(dont bio {_money(purchase.organic)}, local {_money(purchase.local)})"
    )


def _money(amount) -> str:
    return f"{amount:.2f} €".replace(".", ",")


# The rows' names that are feminine in French, for the agreement of a history line.
FEMININE = {"pesée", "recette"}


def agreed(label: str, participle: str) -> str:
    """ "recette" + "supprimé" → "recette supprimée"; "achat" + "ajouté" → "achat ajouté"."""
    return f"{label} {participle}{'e' if label in FEMININE else ''}"


def delete_row(entry: Entry, row, label: str):
    record(entry, agreed(label, "supprimé"), describe(row), None)
    db.session.delete(row)
    db.session.flush()


def describe(row) -> str:
    if isinstance(row, Purchase):
        return describe_purchase(row)
    if isinstance(row, Weighing):
        category = CATEGORY_LABELS.get(row.category, row.category)
        day = f", le {row.weighed_on:%d/%m/%Y}" if row.weighed_on else ""
        return f"{row.kg:.3f} kg".replace(".", ",") + f" — {category}{day}"
    return getattr(row, "title", None) or getattr(row, "name", "")


def grams_on_day(entry: Entry, day: date | None) -> int:
    if day is None:
        return 0
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Weighing.grams), 0)).where(
            Weighing.entry_id == entry.id, Weighing.weighed_on == day
        )
    )


def add_weighing(entry: Entry, form) -> Weighing:
    weighing = Weighing(entry=entry)
    form.populate_obj(weighing)
    db.session.add(weighing)
    record(entry, "pesée ajoutée", None, describe(weighing))
    db.session.flush()
    return weighing


def add_text_row(entry: Entry, model, form, fields: tuple[str, ...], label: str):
    """A recipe or producer, created when it is first saved with its title or name."""
    row = model(entry=entry, **{name: getattr(form, name).data or "" for name in fields})
    if isinstance(row, Producer):
        row.dedup_key = dedup_key(row.name, row.commune)
    db.session.add(row)
    record(entry, agreed(label, "ajouté"), None, describe(row))
    db.session.flush()
    return row


def update_text_row(row, form, fields: tuple[str, ...], label: str):
    """Save the typed fields of a recipe or a producer."""
    check_version(row, form.version.data)
    for name in fields:
        old = getattr(row, name)
        new = getattr(form, name).data or ""
        if old != new:
            setattr(row, name, new)
            record(row.entry, f"{label} : {name}", old, new)
    if isinstance(row, Producer):
        row.dedup_key = dedup_key(row.name, row.commune)
    db.session.flush()


# The statements that every page of a relevé runs are built once, their values bound: their
# construction and cache key cost more than their execution (issue 14).


@functools.cache
def _joined_rank_statement():
    # A relevé is always of a wave of the foyer's défi: the waves of its relevés are among
    # those of its défi.
    has_entry = (
        sa.select(Entry.id)
        .where(Entry.wave_id == Wave.id, Entry.household_id == sa.bindparam("household_id"))
        .exists()
    )
    return sa.select(sa.func.min(Wave.rank)).where(
        Wave.challenge_id == sa.bindparam("challenge_id"),
        sa.or_(has_entry, Wave.closes_on >= sa.bindparam("joined_on")),
    )


def joined_rank(household: Household) -> int:
    """The rank of the foyer's first wave: its first relevé's, or the first wave still open
    when it joined the défi, whichever is earlier (an imported foyer has past relevés)."""
    rank = db.session.scalar(
        _joined_rank_statement(),
        {
            "household_id": household.id,
            "challenge_id": household.challenge_id,
            "joined_on": household.created_at.date(),
        },
    )
    return 1 if rank is None else rank


@functools.cache
def _questions_statement():
    return (
        sa.select(Question)
        .where(
            Question.challenge_id == sa.bindparam("challenge_id"),
            Question.from_rank + sa.bindparam("offset") <= sa.bindparam("rank"),
        )
        .order_by(Question.position, Question.id)
    )


def questions_for(wave: Wave, joined: int = 1) -> list[Question]:
    """The questions asked at `wave` to a foyer whose first wave is `joined`.

    A question's `from_rank` counts the foyer's own collectes: "have you kept your actions
    since the last collecte?" (from the 2nd) is not asked at the first relevé of a foyer that
    joined at wave 3.
    """
    values = {"challenge_id": wave.challenge_id, "offset": joined - 1, "rank": wave.rank}
    return db.session.scalars(_questions_statement(), values).all()


def section_states(entry: Entry | None, sums, questions) -> dict[str, tuple[str, str]]:
    """Each section of a relevé: ("done" | "todo" | "optional", a short French state).

    Done and to-do follow `missing_parts`, so that a section is never marked done while the
    relevé says it lacks something; weighings, recipes and producers are optional.
    """
    lacking = {section for section, _text in missing_by_section(entry, sums, questions)}
    answered = {choice.split(":", 1)[0] for choice in (sums.choices if sums else ())}
    done = sum(1 for question in questions if question.key in answered)
    states = {
        "meals": ("todo", _("à faire")) if "meals" in lacking else ("done", _("fait")),
        "questions": ("done", _("fait"))
        if "questions" not in lacking
        else ("todo", _("%(done)d sur %(total)d", done=done, total=len(questions))),
    }
    optional = {
        "weighings": (1 if sums and sums.waste_grams else 0, None),
        "recipes": (sums.recipes if sums else 0, ("%(num)d recette", "%(num)d recettes")),
        "producers": (sums.producers if sums else 0, ("%(num)d producteur", "%(num)d producteurs")),
    }
    for key, (count, words) in optional.items():
        if not count:
            states[key] = ("optional", _("facultatif"))
        else:
            states[key] = ("done", ngettext(*words, count) if words else _("fait"))
    return states


def answers_of(entry: Entry | None) -> dict[str, list[str]]:
    """{question key: [choice keys]} of a relevé, in one query."""
    if entry is None or entry.id is None:
        return {}
    picked: dict[str, list[str]] = {}
    for question, choice in db.session.execute(
        sa.select(Question.key, Choice.key)
        .join(Answer, Answer.question_id == Question.id)
        .join(Choice, Choice.id == Answer.choice_id)
        .where(Answer.entry_id == entry.id)
        .order_by(Choice.position)
    ):
        picked.setdefault(question, []).append(choice)
    return picked


def save_answers(entry: Entry, questions, form):
    """Replace the relevé's answers by the ticked choices; unknown choices are ignored."""
    current = answers_of(entry)
    for question in questions:
        data = getattr(form, f"q_{question.key}").data
        wanted = [data] if isinstance(data, str) else list(data or [])
        valid = {choice.key: choice for choice in question.choices}
        wanted = [key for key in wanted if key in valid]
        if question.kind == "single":
            wanted = wanted[:1]
        if sorted(wanted) == sorted(current.get(question.key, [])):
            continue
        for answer in list(entry.answers):
            if answer.question_id == question.id:
                entry.answers.remove(answer)
        db.session.flush()
        for key in wanted:
            entry.answers.append(Answer(question_id=question.id, choice=valid[key]))
        record(entry, f"question {question.key}", current.get(question.key), wanted)
    db.session.flush()


def missing_parts(entry: Entry | None, sums, questions) -> list[str]:
    """What the relevé still needs before it can be sent (weighings are optional).

    `sums` are the relevé's EntrySums (figures.sums_for), so that no row is loaded here.
    """
    return [text for _section, text in missing_by_section(entry, sums, questions)]


def missing_by_section(entry: Entry | None, sums, questions) -> list[tuple[str, str]]:
    """(section, what it lacks) of each thing the relevé still needs."""
    if entry is None:
        return [("meals", _("Repas et achats")), ("questions", _("Questionnaire"))]
    missing = []
    if not entry.persons or not entry.period_days:
        missing.append(("meals", _("Repas et achats : la période et le nombre de personnes")))
    if entry.cost_mode == "direct":
        if entry.direct_cost_cents is None:
            missing.append(("meals", _("Repas et achats : le coût d'un repas par personne")))
    else:
        if not entry.meal_covers:
            missing.append(("meals", _("Repas et achats : le nombre de repas-convives")))
        if not sums or not sums.spend_total_cents:
            missing.append(("meals", _("Repas et achats : au moins un achat")))
    answered = {choice.split(":", 1)[0] for choice in (sums.choices if sums else ())}
    if any(question.key not in answered for question in questions):
        missing.append(("questions", _("Questionnaire : une réponse à chaque question")))
    return missing


def submit_entry(entry: Entry, submission_id: str) -> bool:
    """Mark the relevé as sent. The same submission sent again (or ten times) sends once.

    Returns False when it was already sent.
    """
    # Lock the row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises) and read it anew.
    locked = db.session.scalar(
        sa.select(Entry)
        .where(Entry.id == entry.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked.status == "submitted":
        return False
    locked.status = "submitted"
    locked.submission_id = submission_id
    locked.submitted_at = utcnow()
    record(locked, "relevé envoyé", "brouillon", "envoyé")
    db.session.flush()
    return True


def new_submission_id() -> str:
    return uuid.uuid4().hex


def own_and_group_figures(household: Household, waves, table):
    """Per wave: the foyer's values and its group's published cell ("tous") of each indicator.

    `table` is the group's table of the défi's publication (`figures.publication`). Also
    returns the foyer's own EntrySums by wave id, for the state of each section.
    """
    keys = ("cout_repas_personne", "part_bio", "part_locale", "gaspillage_kg_pers_an",
            "recettes", "producteurs")  # fmt: skip
    sums = sums_of_household(household.id)
    by_wave = {entry_sums.wave_id: entry_sums for entry_sums in sums.values()}
    rows = []
    own_sums = {}
    for wave in waves:
        own = own_sums[wave.id] = by_wave.get(wave.id)
        own_values = foyer_values(own) if own else {}
        group = {key: table[key][wave.rank]["tous"] for key in keys}
        rows.append((wave, {key: own_values.get(key) for key in keys}, group))
    return keys, rows, own_sums
