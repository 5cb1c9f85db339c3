"""Writing a checked file of past relevés: the défi, its groups, foyers, accompaniments,
relevés and answers, in the same few SQL statements whatever the length of the file. What the
défi holds is read in a few queries and compared in Python; only the differences are written,
each kind at once: an executemany statement for every BATCH rows, or a COPY on PostgreSQL."""

import itertools
import secrets
from collections import defaultdict

import psycopg
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from defi.extensions import db
from defi.formatting import today
from defi.households import ANONYMOUS_LABELS
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Challenge
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Group
from defi.models import Household
from defi.models import Question
from defi.models import RetiredCode
from defi.models import Structure
from defi.models import Wave
from defi.models.base import utcnow
from defi.models.challenge import random_household_id
from defi.pilot.imports.parse import ENTRY_COLUMNS
from defi.pilot.imports.parse import QUESTION_COLUMNS
from defi.pilot.imports.parse import ImportRejected
from defi.pilot.imports.parse import fold
from defi.pilot.imports.parse import rejected
from defi.questionnaire import seed_default_questions

# Made by the imports of earlier versions, which attached their accompanied foyers to it.
IMPORT_STRUCTURE = "Structure non précisée (import)"
# Parameter sets of one executemany statement: one statement for most files, bounded memory.
BATCH = 10_000


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


def check_waves(rows, challenge):
    """Refuse a row for a collecte the défi does not have (a défi may have 2)."""
    ranks = {wave.rank for wave in challenge.waves}
    for row in rows:
        if row.rank not in ranks:
            raise rejected(
                row.line,
                _("le défi n'a pas de collecte %(rank)d (il en a %(count)d)."),
                rank=row.rank,
                count=len(ranks),
            )


def check_choices(rows, challenge):
    """Check the choices each row ticks against the questionnaire; note them as row.answers."""
    statement = (
        sa.select(Question)
        .where(Question.challenge_id == challenge.id)
        .options(so.selectinload(Question.choices))
    )
    questions = {question.key: question for question in db.session.scalars(statement)}
    # A cell names a choice by its key or by its folded label.
    known = {
        column: {choice.key: choice for choice in question.choices}
        | {fold(choice.label): choice for choice in question.choices}
        for column, question in questions.items()
    }
    shared = {}  # rows share equal answers, rather than hold a copy each
    for row in rows:
        answers = set()
        for column, picked in zip(QUESTION_COLUMNS, row.choices, strict=True):
            question = questions.get(column)
            if question is None:
                if picked:
                    raise rejected(row.line, _("le défi n'a pas de question « %(q)s »."), q=column)
                continue
            for item in picked:
                if item not in known[column]:
                    raise rejected(
                        row.line,
                        _("« %(item)s » n'est pas une réponse de %(q)s."),
                        item=item,
                        q=column,
                    )
            if question.kind == "single" and len(picked) > 1:
                raise rejected(row.line, _("%(q)s n'accepte qu'une réponse."), q=column)
            if picked and question.from_rank > row.rank:
                raise rejected(
                    row.line,
                    _("%(q)s n'est posée qu'à partir de la collecte %(rank)d."),
                    q=column,
                    rank=question.from_rank,
                )
            answers |= {(question.id, known[column][item].id) for item in picked}
        answers = frozenset(answers)
        row.answers = shared.setdefault(answers, answers)


def get_or_create_groups(challenge, rows) -> dict:
    """{name: id} of the défi's groups, with those the file names and the défi lacks."""
    statement = sa.select(Group.name, Group.id).where(Group.challenge_id == challenge.id)
    groups = dict(db.session.execute(statement).all())
    missing = [
        {"challenge_id": challenge.id, "name": name, "code_prefix": fold(name)[:10].upper() or "G"}
        for name in dict.fromkeys(row.group for row in rows)
        if name not in groups
    ]
    if not missing:
        return groups
    # Not through the session's flush: it sends one INSERT … RETURNING per row on SQLite.
    insert(Group, missing)
    return dict(db.session.execute(statement).all())


def get_or_create_households(challenge, group_ids, rows) -> tuple[dict, set]:
    """{code: (id, group id)} of the défi's foyers, with those the file names and it lacks;
    the codes of the foyers it created.

    A missing foyer is created from its first row, named by its code; a foyer already in
    another group than its row's refuses the file.
    """
    statement = sa.select(Household.code, Household.id, Household.group_id).where(
        Household.challenge_id == challenge.id
    )
    households = {code: (id_, group_id) for code, id_, group_id in stream(statement)}
    missing = []
    for row in rows:
        group_id = group_ids[row.group]
        if row.code not in households:
            households[row.code] = (None, group_id)
            missing.append(
                {
                    "challenge_id": challenge.id,
                    "group_id": group_id,
                    "code": row.code,
                    "display_name": row.code,
                    "adults": min(row.persons, 20),
                    "children": 0,
                }
            )
        elif households[row.code][1] != group_id:
            raise rejected(
                row.line, _("le foyer %(code)s est déjà dans un autre groupe."), code=row.code
            )
    if not missing:
        return households, set()
    retired = set(
        db.session.scalars(
            sa.select(RetiredCode.code).where(RetiredCode.code.in_([m["code"] for m in missing]))
        )
    )
    for row in rows:
        if row.code in retired:
            raise rejected(
                row.line,
                _("le code %(code)s était celui d'un foyer effacé : il n'est jamais redonné."),
                code=row.code,
            )
    # Ids at random, as `random_household_id` draws them one by one (no order to read).
    taken = set(db.session.scalars(sa.select(Household.id)))
    for values in missing:
        values["id"] = random_household_id()
        while values["id"] in taken:
            values["id"] = random_household_id()
        taken.add(values["id"])
    insert(Household, missing)
    created = {values["code"] for values in missing}
    return {code: (id_, group_id) for code, id_, group_id in stream(statement)}, created


def accompany_households(challenge, group_ids, households, created, rows, structure_id=None):
    """Record the foyers the file creates and says accompanied, each under a random label.

    A foyer that was already there keeps what it was: made accompanied by an import, a named
    foyer would leave its facilitator's roster and a new label appear in its place, telling
    who it is (QUALITY.md, privacy). Only its referent's enrolment makes a foyer accompanied.
    """
    accompanied = dict.fromkeys(households[row.code] for row in rows if row.accompanied)
    existing = db.session.execute(
        sa.select(Accompaniment.household_id, Accompaniment.group_id, Accompaniment.label)
        .join(Group, Group.id == Accompaniment.group_id)
        .where(Group.challenge_id == challenge.id)
    ).all()
    already = {household_id for household_id, _group_id, _label in existing}
    for row in rows:
        if not row.accompanied and households[row.code][0] in already:
            raise rejected(
                row.line,
                _(
                    "le foyer %(code)s est inscrit comme accompagné : un import ne peut pas "
                    "changer cela (corrigez la colonne accompagne)."
                ),
                code=row.code,
            )
        if row.accompanied and row.code not in created and households[row.code][0] not in already:
            raise rejected(
                row.line,
                _(
                    "le foyer %(code)s est déjà inscrit sans accompagnement : un import ne "
                    "peut pas le déclarer accompagné (seul·e sa ou son référent·e l'inscrit "
                    "comme tel)."
                ),
                code=row.code,
            )
    waiting = defaultdict(list)  # {group id: [household id]}
    for household_id, group_id in accompanied:
        if household_id not in already:
            waiting[group_id].append(household_id)
    if not waiting:
        return
    if structure_id is None or db.session.get(Structure, structure_id) is None:
        first = next(row for row in rows if row.accompanied and row.code in created)
        raise rejected(
            first.line,
            _(
                "le foyer %(code)s est nouveau et accompagné : choisissez la structure qui "
                "accompagne les nouveaux foyers accompagnés du fichier."
            ),
            code=first.code,
        )
    used = defaultdict(set)
    for _household_id, group_id, label in existing:
        used[group_id].add(label)
    names = {group_id: name for name, group_id in group_ids.items()}
    values = []
    for group_id, household_ids in waiting.items():
        labels = draw_labels(used[group_id], len(household_ids), names[group_id])
        values += [
            dict(household_id=id_, structure_id=structure_id, group_id=group_id, label=label)
            for id_, label in zip(household_ids, labels, strict=True)
        ]
    insert(Accompaniment, values)


def draw_labels(used: set, count: int, group_name: str) -> list[str]:
    """`count` labels not in `used`, at random, as `households.draw_label` draws them one by one."""
    # draw_label takes a free plain label while there is one, then one with a number: the same
    # as drawing without replacement from the plain labels, then from the numbered ones.
    generator = secrets.SystemRandom()
    free = [label for label in ANONYMOUS_LABELS if label not in used]
    drawn = generator.sample(free, min(count, len(free)))
    if len(drawn) < count:
        numbered = [f"{label} {n}" for label in ANONYMOUS_LABELS for n in range(100, 1000)]
        numbered = [label for label in numbered if label not in used]
        if len(numbered) < count - len(drawn):  # draw_label would look for one forever
            raise ImportRejected(
                _("Le groupe %(group)s a trop de foyers accompagnés.", group=group_name)
            )
        drawn += generator.sample(numbered, count - len(drawn))
    return drawn


def write_entries(challenge, households, rows) -> dict:
    """Create, update or leave each row's relevé and its answers; count each outcome."""
    wave_ids = {wave.rank: wave.id for wave in challenge.waves}
    entries = stored_entries(wave_ids.values())
    answers = stored_answers(wave_ids.values())
    created, updated, stale, added, answered = [], [], [], [], []
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        key = (households[row.code][0], wave_ids[row.rank])
        if key not in entries:
            created.append((key, row))
            counts["created"] += 1
            continue
        entry_id, version, values = entries[key]
        current = answers.get(entry_id, frozenset())
        if values != row.entry:
            updated.append(columns(row.entry, entry_id=entry_id, old_version=version))
        stale += [answer(entry_id, pair) for pair in current - row.answers]
        added += [answer(entry_id, pair) for pair in row.answers - current]
        changed = values != row.entry or current != row.answers
        if current != row.answers:
            answered.append(entry_id)
        counts["updated" if changed else "unchanged"] += 1
    if updated:
        update_entries(updated)
        insert(EntryChange, history(updated, entries))
    if created:
        added = itertools.chain(added, create_entries(created, wave_ids.values()))
    if stale:
        table = Answer.__table__
        statement = sa.delete(table).where(
            table.c.entry_id == sa.bindparam("entry_id"),
            table.c.choice_id == sa.bindparam("choice_id"),
        )
        execute_many(statement, stale)
    insert(Answer, added)
    when = utcnow()
    insert(
        EntryChange,
        [
            {
                "entry_id": entry_id,
                "user_id": None,
                "at": when,
                "field": "réponses (import)",
                "old_value": "",
                "new_value": "",
                "assisted": False,
            }
            for entry_id in answered
        ],  # fmt: skip
    )
    return counts


def history(updated, entries) -> list[dict]:
    """One EntryChange per field an import changes: a relevé's history says it was imported."""
    before = {entry_id: values for entry_id, _version, values in entries.values()}
    when = utcnow()
    changes = []
    for values in updated:
        old = before[values["entry_id"]]
        for column, previous in zip(ENTRY_COLUMNS, old, strict=True):
            if previous != values[column]:
                changes.append(
                    {
                        "entry_id": values["entry_id"],
                        "user_id": None,
                        "at": when,
                        "field": f"{column} (import)"[:60],
                        "old_value": "" if previous is None else str(previous)[:200],
                        "new_value": "" if values[column] is None else str(values[column])[:200],
                        "assisted": False,
                    }
                )
    return changes


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


def columns(entry, **more) -> dict:
    """{column: value} of a Row.entry, and more."""
    return dict(zip(ENTRY_COLUMNS, entry, strict=True), **more)


def answer(entry_id, pair) -> dict:
    """The columns of an Answer."""
    question_id, choice_id = pair
    return {"entry_id": entry_id, "question_id": question_id, "choice_id": choice_id}


def insert(model, values):
    """INSERT rows into a model's table: COPY on PostgreSQL, executemany statements elsewhere."""
    table = model.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        copy_rows(table, values)
    else:
        # Straight into the table: the ORM's bulk INSERT sends the same statement after more work.
        execute_many(sa.insert(table), values)


def copy_rows(table, values):
    """COPY rows into a PostgreSQL table, with the Python defaults of the columns they lack."""
    # psycopg sends the rows of an executemany one at a time, about 40 µs each whatever the
    # table: COPY streams them several times faster. It applies no Python default (created_at,
    # version...): they are evaluated here, once for all the rows.
    values = iter(values)
    first = next(values, None)
    if first is None:
        return
    given = list(first)
    defaults = {
        c.name: c.default.arg
        for c in table.columns
        if c.default is not None and c.name not in first
    }
    added = [arg(None) if callable(arg) else arg for arg in defaults.values()]
    quote = db.session.get_bind().dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in [*given, *defaults])
    statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
    try:
        with db.session.connection().connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in itertools.chain([first], values):
                copy.write_row([*(row[name] for name in given), *added])
    except psycopg.Error as error:
        # As SQLAlchemy raises it for its own statements: a lost database is then a French 503.
        raise sa.exc.DBAPIError.instance(statement, [], error, psycopg.Error) from error


def execute_many(statement, values) -> int:
    """Execute the statement for each parameter set, BATCH at a time; the rows it matched."""
    # SQLAlchemy makes a list of the processed parameters of all sets before sending them:
    # batches bound its memory for the largest files, and most files need one statement.
    values, matched = iter(values), 0
    while batch := list(itertools.islice(values, BATCH)):
        matched += db.session.execute(statement, batch).rowcount
    return matched


def update_entries(values):
    """UPDATE the relevés by id in one statement, bumping their version (Versioned)."""
    # The ORM's bulk UPDATE of a versioned model sends one statement per row. Checking the
    # version read above, as the ORM does, makes a relevé changed meanwhile fail the import.
    table = Entry.__table__
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("entry_id"))
        .where(table.c.version == sa.bindparam("old_version"))
        .values(version=table.c.version + 1)
    )
    matched = execute_many(statement, values)
    if matched != len(values):
        raise StaleDataError(f"relevés changed meanwhile: {len(values) - matched}")


def create_entries(created, wave_ids):
    """INSERT the new relevés; return their answers to insert."""
    values = (
        columns(row.entry, household_id=household_id, wave_id=wave_id, imported=True)
        for (household_id, wave_id), row in created
    )
    insert(Entry, values)
    if not any(row.answers for _key, row in created):
        return ()
    # Their ids in one query: RETURNING would be sent in pages of 1,000 rows.
    statement = sa.select(Entry.household_id, Entry.wave_id, Entry.id).where(
        Entry.wave_id.in_(wave_ids)
    )
    ids = {(household_id, wave_id): id_ for household_id, wave_id, id_ in stream(statement)}
    return (answer(ids[key], pair) for key, row in created for pair in row.answers)
