"""Writing the plan of an import (`plan.make_plan`): the défi, its groups, foyers,
accompaniments, relevés and answers, in the same few SQL statements whatever the length of the
file. The plan holds only the differences with what the défi holds; each kind is written at
once: an executemany statement for every BATCH rows, or a COPY on PostgreSQL."""

import itertools
import secrets
from collections import defaultdict

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from defi.extensions import db
from defi.figures import cache as figures_cache
from defi.formatting import gettext as _
from defi.formatting import today
from defi.households import ANONYMOUS_LABELS
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Challenge
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Group
from defi.models import Household
from defi.models import Wave
from defi.models.base import utcnow
from defi.models.challenge import random_household_id
from defi.pilot.imports.parse import ENTRY_COLUMNS
from defi.pilot.imports.parse import ImportRejected
from defi.pilot.imports.parse import Problems
from defi.pilot.imports.parse import fold
from defi.pilot.imports.plan import NEW_CHALLENGE_RANKS
from defi.pilot.imports.plan import Plan
from defi.pilot.imports.plan import answer
from defi.pilot.imports.plan import check_choices
from defi.pilot.imports.plan import questions_of
from defi.pilot.imports.plan import stream
from defi.questionnaire import seed_default_questions

# Made by the imports of earlier versions, which attached their accompanied foyers to it.
IMPORT_STRUCTURE = "Structure non précisée (import)"
# Parameter sets of one executemany statement: one statement for most files, bounded memory.
BATCH = 10_000


def carry_out(plan: Plan) -> dict:
    """Write what the plan says, in the current transaction; the relevés created, updated and
    unchanged."""
    changes = not plan.changes_nothing
    challenge = plan.challenge or create_challenge(
        plan.territory_id, plan.challenge_name, plan.rows
    )
    # The statements below change this défi alone: its figures' version, not every défi's.
    with figures_cache.changing(db.session, challenge.id):
        groups = create_groups(challenge, plan.groups, plan.new_groups)
        households = create_households(challenge, groups, plan.households, plan.new_households)
        accompany_households(groups, households, plan.new_households, plan.structure_id)
        write_entries(plan, challenge, households)
        if changes:  # PostgreSQL's COPY goes round the session: say here that figures changed
            figures_cache.touch(db.session, [challenge.id])
    return plan.counts


def create_challenge(territory_id, name, rows) -> Challenge:
    """A past year's défi of the territory: 3 collectes closed by hand, the default
    questionnaire; the rows' answers then name its questions' ids."""
    day = today()
    # The pilot can set the collectes' dates later.
    challenge = Challenge(territory_id=territory_id, name=name)
    challenge.waves = [
        Wave(rank=rank, opens_on=day, closes_on=day, manual_state="closed")
        for rank in NEW_CHALLENGE_RANKS
    ]
    db.session.add(challenge)
    db.session.flush()
    seed_default_questions(challenge)
    problems = Problems()
    check_choices(rows, questions_of(challenge), problems)
    problems.check()  # the plan checked them against the same questions: never refused
    return challenge


def create_groups(challenge, groups, new_groups) -> dict:
    """{name: id} of the défi's groups, with those the file names and the défi lacks."""
    if not new_groups:
        return groups
    # Not through the session's flush: it sends one INSERT … RETURNING per row on SQLite.
    values = [
        {"challenge_id": challenge.id, "name": name, "code_prefix": fold(name)[:10].upper() or "G"}
        for name in new_groups
    ]
    insert(Group, values)
    statement = sa.select(Group.name, Group.id).where(Group.challenge_id == challenge.id)
    return dict(db.session.execute(statement).all())


def create_households(challenge, groups, households, new_households) -> dict:
    """{code: (id, group id)} of the défi's foyers, with those the file creates: each from its
    first row, named by its code, with an id drawn at random."""
    if not new_households:
        return households
    # Ids at random, as `random_household_id` draws them one by one (no order to read).
    taken = set(db.session.scalars(sa.select(Household.id)))
    missing = []
    for code, row in new_households.items():
        id_ = random_household_id()
        while id_ in taken:
            id_ = random_household_id()
        taken.add(id_)
        missing.append(
            {
                "id": id_,
                "challenge_id": challenge.id,
                "group_id": groups[row.group],
                "code": code,
                "display_name": code,
                "adults": min(row.persons, 20),
                "children": 0,
            }
        )
    insert(Household, missing)
    return households | {m["code"]: (m["id"], m["group_id"]) for m in missing}


def accompany_households(groups, households, new_households, structure_id):
    """Record the foyers the file creates and says accompanied, each under a random label,
    attached to the structure the pilot chose (the plan checked it exists)."""
    waiting = defaultdict(list)  # {group id: [household id]}
    for code, row in new_households.items():
        if row.accompanied:
            waiting[groups[row.group]].append(households[code][0])
    if not waiting:
        return
    used = defaultdict(set)
    existing = sa.select(Accompaniment.group_id, Accompaniment.label).where(
        Accompaniment.group_id.in_(list(waiting))
    )
    for group_id, label in db.session.execute(existing):
        used[group_id].add(label)
    names = {group_id: name for name, group_id in groups.items()}
    values = []
    for group_id, household_ids in waiting.items():
        labels = draw_labels(used[group_id], len(household_ids), names[group_id])
        values += [
            dict(household_id=id_, structure_id=structure_id, group_id=group_id, label=label)
            for id_, label in zip(household_ids, labels, strict=True)
        ]
    insert(Accompaniment, values)


def write_entries(plan, challenge, households):
    """Create the new relevés, update the changed ones, each with its answers and history."""
    wave_ids = {wave.rank: wave.id for wave in challenge.waves}
    if plan.updated:
        update_entries(plan.updated)
        insert(EntryChange, history(plan.updated, plan.before))
    added = plan.added
    if plan.created:
        created = [((households[row.code][0], wave_ids[row.rank]), row) for row in plan.created]
        added = itertools.chain(added, create_entries(created, wave_ids.values()))
    if plan.stale:
        table = Answer.__table__
        statement = sa.delete(table).where(
            table.c.entry_id == sa.bindparam("entry_id"),
            table.c.choice_id == sa.bindparam("choice_id"),
        )
        execute_many(statement, plan.stale)
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
            for entry_id in plan.answered
        ],  # fmt: skip
    )


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


def history(updated, before) -> list[dict]:
    """One EntryChange per field an import changes: a relevé's history says it was imported."""
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


def columns(entry, **more) -> dict:
    """{column: value} of a Row.entry, and more."""
    return dict(zip(ENTRY_COLUMNS, entry, strict=True), **more)


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
    """INSERT the new relevés, [((household id, wave id), row)]; return their answers."""
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
