"""What an import would do, found without writing anything: the défi (existing or new), its
groups, foyers and relevés created, updated or left unchanged. Every problem that only the
database reveals (a défi that does not exist, a collecte it lacks, an answer its questionnaire
does not have, a foyer in another group, an erased code, an accompaniment an import may not
change) is noted with its line and column, as the file's own problems are.

The preview shows a plan; the confirmation makes the plan again, in the transaction that
writes it (`write.carry_out`), so that what is written is what the database holds then.
"""

import difflib
import itertools
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa
import sqlalchemy.orm as so

from defi.extensions import db
from defi.formatting import gettext as _
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Challenge
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Question
from defi.models import RetiredCode
from defi.models import Structure
from defi.models.challenge import current_challenge
from defi.pilot.imports.parse import ENTRY_COLUMNS
from defi.pilot.imports.parse import QUESTION_COLUMNS
from defi.pilot.imports.parse import Row
from defi.pilot.imports.parse import fold
from defi.questionnaire import DEFAULT_QUESTIONS

# A new défi gets three collectes (closed: it is a past year's) and the default questionnaire.
NEW_CHALLENGE_RANKS = (1, 2, 3)
# How many items of each kind the preview lists (the counts say how many there are in all).
SAMPLE = 12
# The CSV column of each relevé column, to say which cells of a relevé an import changes.
COLUMN_OF = {
    "persons": "personnes",
    "period_days": "jours",
    "meal_covers": "repas_convives",
    "cost_mode": "cout_repas_personne_eur",
    "direct_cost_cents": "cout_repas_personne_eur",
    "spend_total_cents": "depenses_eur",
    "spend_organic_cents": "dont_bio_eur",
    "spend_local_cents": "dont_local_eur",
    "declared_waste_grams": "gaspillage_kg",
    "declared_recipes": "recettes",
    "declared_producers": "producteurs",
    "status": "statut",
}


@dataclass
class Asked:
    """A question as the import checks a cell against it: ids None for a défi to create."""

    id: int | None
    kind: str
    from_rank: int
    choices: dict  # {choice key or folded label: choice id}


@dataclass
class Plan:
    """What writing the file would change; `rows` are the file's checked rows."""

    territory_id: int
    challenge_name: str
    challenge: Challenge | None  # None: a new défi, created by the import
    structure_id: int | None
    rows: list[Row]
    groups: dict  # {name: id} of the défi's groups
    new_groups: list[str]
    households: dict  # {code: (id, group id)} of the défi's foyers
    new_households: dict  # {code: first row} of the foyers to create
    created: list[Row] = field(default_factory=list)  # relevés to create
    updated: list[dict] = field(default_factory=list)  # new columns of relevés to change
    before: dict = field(default_factory=dict)  # {entry id: columns} of those relevés
    changes: list = field(default_factory=list)  # [(row, columns changed)], the first SAMPLE
    changed: int = 0  # relevés the import changes
    stale: list[dict] = field(default_factory=list)  # answers to delete
    added: list[dict] = field(default_factory=list)  # answers to insert
    answered: list[int] = field(default_factory=list)  # relevés whose answers change
    unchanged: int = 0

    @property
    def counts(self) -> dict:
        """Relevés created, updated and unchanged."""
        return {"created": len(self.created), "updated": self.changed, "unchanged": self.unchanged}

    @property
    def changes_nothing(self) -> bool:
        return self.challenge is not None and not (
            self.new_groups or self.new_households or self.created or self.changed
        )

    def summary(self) -> list:
        """What the pilot confirms, in a few numbers: the confirmation writes only this."""
        counts = self.counts
        return [
            self.challenge is None,
            len(self.new_groups),
            len(self.new_households),
            sum(1 for row in self.new_households.values() if row.accompanied),
            counts["created"],
            counts["updated"],
            counts["unchanged"],
        ]

    def preview(self) -> dict:
        """What the preview page lists: counts and the first few of each kind."""
        existing_groups = {row.group for row in self.rows} - set(self.new_groups)
        new = list(self.new_households.values())
        known = {row.code for row in self.rows} - self.new_households.keys()
        return {
            "new_groups": self.new_groups,
            "existing_groups": sorted(existing_groups),
            "new_households": len(new),
            "new_accompanied": sum(1 for row in new if row.accompanied),
            "new_sample": [row.code for row in new[:SAMPLE]],
            "existing_households": len(known),
            "counts": self.counts,
            "created_sample": self.created[:SAMPLE],
            "changes_sample": self.changes[:SAMPLE],
        }


def make_plan(
    rows, territory_id, challenge_name, structure_id, create_challenge, problems, lock=False
):
    """The plan of an import of `rows`; what is wrong goes into `problems` (then no plan).

    `lock`: the plan is to be written in this transaction. The défi's row is then locked
    first (PostgreSQL; SQLite's writer holds the whole database already), so that two imports
    into it, two clicks on the same confirmation, are planned and written one after the other.
    """
    challenge, name = find_challenge(territory_id, challenge_name, create_challenge, problems)
    if lock and challenge is not None:
        db.session.execute(
            sa.select(Challenge.id).where(Challenge.id == challenge.id).with_for_update()
        )
    check_waves(rows, challenge, problems)
    check_choices(rows, questions_of(challenge), problems)
    groups = {}
    if challenge is not None:
        statement = sa.select(Group.name, Group.id).where(Group.challenge_id == challenge.id)
        groups = dict(db.session.execute(statement).all())
    new_groups = [name for name in dict.fromkeys(row.group for row in rows) if name not in groups]
    households = existing_households(challenge)
    new_households = check_households(territory_id, rows, groups, households, problems)
    check_accompaniments(
        territory_id, challenge, rows, households, new_households, structure_id, problems
    )
    if problems:
        return None
    plan = Plan(
        territory_id,
        name,
        challenge,
        structure_id,
        rows,
        groups,
        new_groups,
        households,
        new_households,
    )
    compare_entries(plan)
    return plan


def find_challenge(territory_id, name, create, problems) -> tuple[Challenge | None, str]:
    """The territory's défi named (its current one if no name), or None for a new one if asked
    for."""
    if not name:
        challenge = current_challenge(territory_id)
        if challenge is None:
            problems.add(None, None, _("Aucun défi en cours : indiquez le nom du défi."))
            return None, ""
        return challenge, challenge.name
    ours = sa.select(Challenge).where(Challenge.territory_id == territory_id)
    challenge = db.session.scalar(ours.where(Challenge.name == name))
    if challenge is not None:
        return challenge, name
    names = db.session.scalars(
        sa.select(Challenge.name).where(Challenge.territory_id == territory_id)
    ).all()
    twins = [other for other in names if fold(other) == fold(name)]
    if twins:
        problems.add(
            None,
            None,
            _(
                "Aucun défi ne s'appelle exactement « %(name)s », mais « %(other)s » porte "
                "presque ce nom : indiquez-le tel quel pour y importer le fichier."
            ),
            name=name,
            other=twins[0],
        )
    elif len(name) > 200:
        problems.add(None, None, _("Le nom du défi compte 200 caractères au plus."))
    elif not create:
        problems.add(None, None, unknown_challenge(name, closest_challenges(name, names)))
    return None, name


def unknown_challenge(name, closest) -> str:
    """The refusal of a défi's name that matches none: the closest names, what to do."""
    if not closest:
        return _(
            "Aucun défi ne s'appelle « %(name)s », et il n'y a encore aucun défi. Pour le "
            "créer avec ce fichier, demandez la création d'un nouveau défi.",
            name=name,
        )
    return _(
        "Aucun défi ne s'appelle « %(name)s ». Les défis aux noms les plus proches : "
        "%(closest)s. Corrigez le nom, ou demandez la création d'un nouveau défi.",
        name=name,
        closest=", ".join(f"« {other} »" for other in closest),
    )


def closest_challenges(name, names, count=3) -> list[str]:
    """The `count` défis whose names look most like `name` (case and accents aside)."""
    folded = fold(name)

    def likeness(other):
        return difflib.SequenceMatcher(None, folded, fold(other)).ratio()

    return sorted(names, key=likeness, reverse=True)[:count]


def check_waves(rows, challenge, problems):
    """Refuse a row for a collecte the défi does not have (a défi may have 2)."""
    ranks = {w.rank for w in challenge.waves} if challenge else set(NEW_CHALLENGE_RANKS)
    for row in rows:
        if row.rank not in ranks:
            problems.add(
                row.line,
                "collecte",
                _("le défi n'a pas de collecte %(rank)d (il en a %(count)d)."),
                rank=row.rank,
                count=len(ranks),
            )


def questions_of(challenge) -> dict:
    """{key: Asked} of the défi's questionnaire, or of the default one for a new défi."""
    if challenge is None:
        return {
            key: Asked(None, kind, from_rank, default_choices(choices))
            for key, _text, kind, from_rank, choices in DEFAULT_QUESTIONS
        }
    statement = (
        sa.select(Question)
        .where(Question.challenge_id == challenge.id)
        .options(so.selectinload(Question.choices))
    )
    return {
        question.key: Asked(
            question.id,
            question.kind,
            question.from_rank,
            {choice.key: choice.id for choice in question.choices}
            | {fold(choice.label): choice.id for choice in question.choices},
        )
        for question in db.session.scalars(statement)
    }


def default_choices(choices) -> dict:
    return {key: None for key, _label in choices} | {fold(label): None for _key, label in choices}


def check_choices(rows, questions, problems):
    """Check the choices each row ticks against the questionnaire; note them as row.answers,
    {(question id, choice id)}."""
    shared = {}  # rows share equal answers, rather than hold a copy each
    for row in rows:
        answers = set()
        for column, picked in zip(QUESTION_COLUMNS, row.choices, strict=True):
            question = questions.get(column)
            if question is None:
                if picked:
                    message = _("le défi n'a pas de question « %(q)s ».")
                    problems.add(row.line, column, message, q=column)
                continue
            unknown = [item for item in picked if item not in question.choices]
            for item in unknown:
                message = _("« %(item)s » n'est pas une réponse de %(q)s.")
                problems.add(row.line, column, message, item=item, q=column)
            if question.kind == "single" and len(picked) > 1:
                problems.add(row.line, column, _("%(q)s n'accepte qu'une réponse."), q=column)
            if picked and question.from_rank > row.rank:
                problems.add(
                    row.line,
                    column,
                    _("%(q)s n'est posée qu'à partir de la collecte %(rank)d."),
                    q=column,
                    rank=question.from_rank,
                )
            known = (item for item in picked if item in question.choices)
            answers |= {(question.id, question.choices[item]) for item in known}
        answers = frozenset(answers)
        row.answers = shared.setdefault(answers, answers)


def existing_households(challenge) -> dict:
    """{code: (id, group id)} of the défi's foyers."""
    if challenge is None:
        return {}
    statement = sa.select(Household.code, Household.id, Household.group_id).where(
        Household.challenge_id == challenge.id
    )
    return {code: (id_, group_id) for code, id_, group_id in stream(statement)}


def check_households(territory_id, rows, groups, households, problems) -> dict:
    """{code: first row} of the foyers to create; a foyer in two groups, or named by the code
    of a foyer erased in the territory, is a problem."""
    created = {}
    for row in rows:
        if row.code in households:
            in_group = households[row.code][1] == groups.get(row.group)
        else:
            in_group = created.setdefault(row.code, row).group == row.group
        if not in_group:
            message = _("le foyer %(code)s est déjà dans un autre groupe.")
            problems.add(row.line, "groupe", message, code=row.code)
    if created:
        retired = set(
            db.session.scalars(
                sa.select(RetiredCode.code).where(
                    RetiredCode.code.in_(list(created)),
                    # Retired before codes had a territory: of every territory.
                    sa.or_(
                        RetiredCode.territory_id == territory_id,
                        RetiredCode.territory_id.is_(None),
                    ),
                )
            )
        )
        for row in rows:
            if row.code in retired:
                problems.add(
                    row.line,
                    "foyer",
                    _("le code %(code)s était celui d'un foyer effacé : il n'est jamais redonné."),
                    code=row.code,
                )
    return created


def check_accompaniments(
    territory_id, challenge, rows, households, created, structure_id, problems
):
    """Refuse a change of whether a foyer is accompanied, and new accompanied foyers without
    the structure that accompanies them.

    A foyer that was already there keeps what it was: made accompanied by an import, a named
    foyer would leave its facilitator's roster and a new label appear in its place, telling
    who it is (QUALITY.md, privacy). Only its referent's enrolment makes a foyer accompanied.
    """
    already = set()
    if challenge is not None:
        already = set(
            db.session.scalars(
                sa.select(Accompaniment.household_id)
                .join(Group, Group.id == Accompaniment.group_id)
                .where(Group.challenge_id == challenge.id)
            )
        )
    for row in rows:
        if row.code in created:
            first = created[row.code]
            if first.accompanied != row.accompanied:
                problems.add(
                    row.line,
                    "accompagne",
                    _("le foyer %(code)s est dit %(said)s à la ligne %(first)d, pas ici."),
                    code=row.code,
                    said=_("accompagné") if first.accompanied else _("non accompagné"),
                    first=first.line,
                )
        elif not row.accompanied and households[row.code][0] in already:
            problems.add(
                row.line,
                "accompagne",
                _(
                    "le foyer %(code)s est inscrit comme accompagné : un import ne peut pas "
                    "changer cela (corrigez la colonne accompagne)."
                ),
                code=row.code,
            )
        elif row.accompanied and households[row.code][0] not in already:
            problems.add(
                row.line,
                "accompagne",
                _(
                    "le foyer %(code)s est déjà inscrit sans accompagnement : un import ne "
                    "peut pas le déclarer accompagné (seul·e sa ou son référent·e l'inscrit "
                    "comme tel)."
                ),
                code=row.code,
            )
    first = next((row for row in created.values() if row.accompanied), None)
    structure = db.session.get(Structure, structure_id) if structure_id is not None else None
    if first is not None and (structure is None or structure.territory_id != territory_id):
        problems.add(
            first.line,
            "accompagne",
            _(
                "le foyer %(code)s est nouveau et accompagné : choisissez la structure qui "
                "accompagne les nouveaux foyers accompagnés du fichier."
            ),
            code=first.code,
        )


def compare_entries(plan):
    """Sort the rows into relevés to create, to update (with what changes) and unchanged."""
    if plan.challenge is None:
        plan.created = list(plan.rows)
        return
    wave_ids = {wave.rank: wave.id for wave in plan.challenge.waves}
    entries = stored_entries(wave_ids.values())
    answers = stored_answers(wave_ids.values())
    for row in plan.rows:
        household = plan.households.get(row.code)
        key = (household[0] if household else None, wave_ids[row.rank])
        if key not in entries:
            plan.created.append(row)
            continue
        entry_id, version, values = entries[key]
        current = answers.get(entry_id, frozenset())
        if values == row.entry and current == row.answers:
            plan.unchanged += 1
            continue
        plan.changed += 1
        if values != row.entry:
            plan.updated.append(
                dict(zip(ENTRY_COLUMNS, row.entry, strict=True), entry_id=entry_id,
                     old_version=version)
            )  # fmt: skip
            plan.before[entry_id] = values
        if current != row.answers:
            plan.stale += [answer(entry_id, pair) for pair in current - row.answers]
            plan.added += [answer(entry_id, pair) for pair in row.answers - current]
            plan.answered.append(entry_id)
        if len(plan.changes) < SAMPLE:
            plan.changes.append((row, changed_columns(values, row, current)))


def changed_columns(values, row, answers) -> list[str]:
    """The file's columns whose value differs from the relevé's: what the preview shows."""
    changed = [
        COLUMN_OF[column]
        for column, old, new in zip(ENTRY_COLUMNS, values, row.entry, strict=True)
        if old != new
    ]
    if answers != row.answers:
        changed.append(_("réponses"))
    return list(dict.fromkeys(changed))


def answer(entry_id, pair) -> dict:
    """The columns of an Answer."""
    question_id, choice_id = pair
    return {"entry_id": entry_id, "question_id": question_id, "choice_id": choice_id}


def stored_entries(wave_ids) -> dict:
    """{(household id, wave id): (id, version, values)} of the waves' relevés."""
    statement = sa.select(
        Entry.household_id,
        Entry.wave_id,
        Entry.id,
        Entry.version,
        *(getattr(Entry, column) for column in ENTRY_COLUMNS),
    ).where(Entry.wave_id.in_(wave_ids))
    return {
        (household_id, wave_id): (id_, version, tuple(values))
        for household_id, wave_id, id_, version, *values in stream(statement)
    }


def stored_answers(wave_ids) -> dict:
    """{entry id: {(question id, choice id)}} of the waves' relevés."""
    statement = (
        sa.select(Answer.entry_id, Answer.question_id, Answer.choice_id)
        .join(Entry, Entry.id == Answer.entry_id)
        .where(Entry.wave_id.in_(wave_ids))
        .order_by(Answer.entry_id)
    )
    answers, shared = {}, {}
    for entry_id, found in itertools.groupby(stream(statement), lambda a: a[0]):
        pairs = frozenset((question_id, choice_id) for _id, question_id, choice_id in found)
        answers[entry_id] = shared.setdefault(pairs, pairs)  # held once for all that have them
    return answers


def stream(statement):
    """The rows a query finds, fetched a thousand at a time rather than all at once."""
    return db.session.execute(statement.execution_options(yield_per=1000))
