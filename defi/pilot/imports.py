"""Import of past relevés from the pilot's spreadsheets (DESIGN.md's CSV format).

The whole file is read and checked first; one bad row rejects it with its line number and the
reason in French, and nothing is written. A good file creates what is missing (the défi with 3
waves, its groups, its foyers by code) and writes each relevé; importing the same file again
changes nothing.
"""

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from decimal import InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext as _

from defi.extensions import db
from defi.formatting import today
from defi.forms import strip
from defi.households import accompany
from defi.households import create_household
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Challenge
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Question
from defi.models import Structure
from defi.models import Wave
from defi.questionnaire import seed_default_questions

HEADER = (
    "foyer",
    "groupe",
    "accompagne",
    "collecte",
    "personnes",
    "jours",
    "depenses_eur",
    "dont_bio_eur",
    "dont_local_eur",
    "repas_convives",
    "cout_repas_personne_eur",
    "gaspillage_kg",
    "recettes",
    "producteurs",
    "manger_mieux",
    "j_agis_sur",
    "maintien",
)
QUESTION_COLUMNS = ("manger_mieux", "j_agis_sur", "maintien")
IMPORT_STRUCTURE = "Structure non précisée (import)"
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")


class ImportRejected(Exception):
    """The file is refused; `message` says where and why, in French."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class Row:
    line: int
    code: str
    group: str
    accompanied: bool
    rank: int
    persons: int
    days: int | None
    spend: Decimal | None
    organic: Decimal | None
    local: Decimal | None
    covers: int | None
    cost: Decimal | None
    waste_kg: Decimal | None
    recipes: int | None
    producers: int | None
    choices: dict = field(default_factory=dict)


def fold(text):
    plain = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRejected(
            _("Le fichier n'est pas en UTF-8. Enregistrez-le en « CSV UTF-8 ».")
        ) from error


def parse(data: bytes) -> list[Row]:
    """Read and check the whole file; raise ImportRejected at the first bad line."""
    text = decode(data)
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = tuple(cell.strip() for cell in next(reader, ()))
    if header != HEADER:
        raise ImportRejected(
            _(
                "Ligne 1 : les colonnes doivent être exactement : %(header)s.",
                header=";".join(HEADER),
            )
        )
    try:
        return read_rows(reader)
    except csv.Error as error:
        raise ImportRejected(
            _("Ligne %(line)d : le fichier CSV est mal formé.", line=reader.line_num)
        ) from error


def read_rows(reader) -> list[Row]:
    rows, seen = [], set()
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(HEADER):
            raise ImportRejected(
                _(
                    "Ligne %(line)d : %(n)d colonnes au lieu de %(m)d.",
                    line=line,
                    n=len(cells),
                    m=len(HEADER),
                )
            )
        row = parse_row(line, dict(zip(HEADER, (cell.strip() for cell in cells), strict=True)))
        key = (row.code, row.rank)
        if key in seen:
            raise ImportRejected(
                _(
                    "Ligne %(line)d : le foyer %(code)s a déjà une ligne pour la collecte "
                    "%(rank)d.",
                    line=line,
                    code=row.code,
                    rank=row.rank,
                )
            )
        seen.add(key)
        rows.append(row)
    if not rows:
        raise ImportRejected(_("Le fichier ne contient aucune ligne de relevé."))
    return rows


def parse_row(line, cells) -> Row:
    def fail(message, **values):
        raise ImportRejected(_("Ligne %(line)d : ", line=line) + message % values)

    code = cells["foyer"]
    if not CODE.match(code):
        fail(
            _("le code foyer « %(value)s » n'est pas valable (lettres, chiffres, tirets)."),
            value=code[:30],
        )
    group = strip(cells["groupe"])
    if not group or len(group) > 120:
        fail(_("le groupe est vide ou trop long."))
    if cells["accompagne"] not in ("oui", "non"):
        fail(_("accompagne doit valoir oui ou non."))
    rank = integer(cells["collecte"], fail, "collecte", 1, 3, required=True)
    persons = integer(cells["personnes"], fail, "personnes", 1, 40, required=True)
    days = integer(cells["jours"], fail, "jours", 1, 366)
    spend = decimal(cells["depenses_eur"], fail, "depenses_eur", Decimal("1000000"))
    organic = decimal(cells["dont_bio_eur"], fail, "dont_bio_eur", Decimal("1000000"))
    local = decimal(cells["dont_local_eur"], fail, "dont_local_eur", Decimal("1000000"))
    covers = integer(cells["repas_convives"], fail, "repas_convives", 1, 100000)
    cost = decimal(cells["cout_repas_personne_eur"], fail, "cout_repas_personne_eur", Decimal("50"))
    waste = decimal(cells["gaspillage_kg"], fail, "gaspillage_kg", Decimal("5000"), places=3)
    recipes = integer(cells["recettes"], fail, "recettes", 0, 1000)
    producers = integer(cells["producteurs"], fail, "producteurs", 0, 1000)
    for part, name in ((organic, "dont_bio_eur"), (local, "dont_local_eur")):
        if part is not None and (spend is None or part > spend):
            fail(_("%(name)s ne peut pas dépasser depenses_eur."), name=name)
    if cost is None and (spend is None or not covers):
        fail(_("il faut cout_repas_personne_eur, ou bien depenses_eur et repas_convives."))
    choices = {}
    for column in QUESTION_COLUMNS:
        value = cells[column]
        picked = [fold(item) for item in value.split("|") if item.strip()] if value else []
        choices[column] = picked
    return Row(
        line,
        code.upper(),
        group,
        cells["accompagne"] == "oui",
        rank,
        persons,
        days,
        spend,
        organic,
        local,
        covers,
        cost,
        waste,
        recipes,
        producers,
        choices,
    )


def integer(text, fail, name, low, high, required=False):
    if text == "":
        if required:
            fail(_("%(name)s est obligatoire."), name=name)
        return None
    if not re.fullmatch(r"\d{1,7}", text):
        fail(_("%(name)s doit être un nombre entier (« %(value)s »)."), name=name, value=text[:20])
    value = int(text)
    if not low <= value <= high:
        fail(_("%(name)s doit être entre %(low)d et %(high)d."), name=name, low=low, high=high)
    return value


def decimal(text, fail, name, maximum, places=2):
    if text == "":
        return None
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not re.fullmatch(r"\d{1,9}(\.\d+)?", cleaned):
        fail(
            _("%(name)s doit être un nombre, avec une virgule ou un point (« %(value)s »)."),
            name=name,
            value=text[:20],
        )
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        fail(_("%(name)s doit être un nombre."), name=name)
    if value > maximum:
        fail(_("%(name)s dépasse %(max)s."), name=name, max=maximum)
    return round(value, places)


def cents(value):
    return None if value is None else int((value * 100).to_integral_value())


def import_entries(data: bytes, challenge_name: str | None):
    """Check the file, then write it; returns (created, updated, unchanged) relevé counts."""
    rows = parse(data)
    challenge = get_or_create_challenge(challenge_name)
    questions = {
        question.key: question
        for question in db.session.scalars(
            sa.select(Question).where(Question.challenge_id == challenge.id)
        )
    }
    check_choices(rows, questions)
    waves = {wave.rank: wave for wave in challenge.waves}
    groups = {group.name: group for group in challenge.groups}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        group = groups.get(row.group)
        if group is None:
            group = Group(
                challenge=challenge, name=row.group, code_prefix=fold(row.group)[:10].upper() or "G"
            )
            db.session.add(group)
            db.session.flush()
            groups[row.group] = group
        household = get_or_create_household(challenge, group, row)
        outcome = write_entry(household, waves[row.rank], row, questions)
        counts[outcome] += 1
    db.session.flush()
    return counts


def check_choices(rows, questions):
    for row in rows:
        for column, picked in row.choices.items():
            question = questions.get(column)
            if question is None:
                if picked:
                    raise ImportRejected(
                        _(
                            "Ligne %(line)d : le défi n'a pas de question « %(q)s ».",
                            line=row.line,
                            q=column,
                        )
                    )
                continue
            known = {choice.key: choice for choice in question.choices}
            known.update({fold(choice.label): choice for choice in question.choices})
            for item in picked:
                if item not in known:
                    raise ImportRejected(
                        _(
                            "Ligne %(line)d : « %(item)s » n'est pas une réponse de %(q)s.",
                            line=row.line,
                            item=item,
                            q=column,
                        )
                    )
            if question.kind == "single" and len(picked) > 1:
                raise ImportRejected(
                    _("Ligne %(line)d : %(q)s n'accepte qu'une réponse.", line=row.line, q=column)
                )
            if picked and question.from_rank > row.rank:
                raise ImportRejected(
                    _(
                        "Ligne %(line)d : %(q)s n'est posée qu'à partir de la collecte %(rank)d.",
                        line=row.line,
                        q=column,
                        rank=question.from_rank,
                    )
                )


def get_or_create_challenge(name):
    from defi.models.challenge import current_challenge

    if name is None:
        challenge = current_challenge()
        if challenge is None:
            raise ImportRejected(_("Aucun défi : indiquez le nom du défi à créer pour cet import."))
        return challenge
    challenge = db.session.scalar(sa.select(Challenge).where(Challenge.name == name))
    if challenge is not None:
        return challenge
    day = today()
    # A past year's défi: its waves are closed by hand; the pilot can set their dates later.
    challenge = Challenge(name=name)
    challenge.waves = [
        Wave(rank=rank, opens_on=day, closes_on=day, manual_state="closed") for rank in (1, 2, 3)
    ]
    db.session.add(challenge)
    db.session.flush()
    seed_default_questions(challenge)
    return challenge


def get_or_create_household(challenge, group, row):
    household = db.session.scalar(
        sa.select(Household).where(
            Household.challenge_id == challenge.id, Household.code == row.code
        )
    )
    if household is None:
        household = create_household(
            group, code=row.code, display_name=row.code, adults=min(row.persons, 20), children=0
        )
    elif household.group_id != group.id:
        raise ImportRejected(
            _(
                "Ligne %(line)d : le foyer %(code)s est déjà dans un autre groupe.",
                line=row.line,
                code=row.code,
            )
        )
    has = db.session.scalar(
        sa.select(Accompaniment.id).where(Accompaniment.household_id == household.id)
    )
    if row.accompanied and has is None:
        accompany(household, import_structure())
    return household


def import_structure():
    structure = db.session.scalar(sa.select(Structure).where(Structure.name == IMPORT_STRUCTURE))
    if structure is None:
        structure = Structure(name=IMPORT_STRUCTURE)
        db.session.add(structure)
        db.session.flush()
    return structure


def write_entry(household, wave, row, questions):
    entry = db.session.scalar(
        sa.select(Entry).where(Entry.household_id == household.id, Entry.wave_id == wave.id)
    )
    created = entry is None
    if created:
        entry = Entry(household=household, wave=wave, status="submitted", imported=True)
        db.session.add(entry)
    direct = row.spend is None
    values = {
        "persons": row.persons,
        "period_days": row.days,
        "meal_covers": row.covers,
        "cost_mode": "direct" if direct else "totals",
        "direct_cost_cents": cents(row.cost) if direct else None,
        "spend_total_cents": None if direct else cents(row.spend),
        "spend_organic_cents": None if direct else cents(row.organic or Decimal(0)),
        "spend_local_cents": None if direct else cents(row.local or Decimal(0)),
        "declared_waste_grams": None if row.waste_kg is None else int(row.waste_kg * 1000),
        "declared_recipes": row.recipes if row.recipes is not None else 0,
        "declared_producers": row.producers if row.producers is not None else 0,
        "status": "submitted",
    }
    changed = False
    for name, value in values.items():
        if getattr(entry, name) != value:
            setattr(entry, name, value)
            changed = True
    db.session.flush()
    wanted = set()
    for column, picked in row.choices.items():
        question = questions.get(column)
        if question is None:
            continue
        known = {choice.key: choice for choice in question.choices}
        known.update({fold(choice.label): choice for choice in question.choices})
        wanted |= {(question.id, known[item].id) for item in picked}
    current = {(answer.question_id, answer.choice_id) for answer in entry.answers}
    if wanted != current:
        for answer in list(entry.answers):
            if (answer.question_id, answer.choice_id) not in wanted:
                entry.answers.remove(answer)
        for question_id, choice_id in wanted - current:
            entry.answers.append(Answer(question_id=question_id, choice_id=choice_id))
        changed = True
    if created:
        return "created"
    return "updated" if changed else "unchanged"
