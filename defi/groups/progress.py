"""A group's progress: every indicator of DESIGN.md per wave and subgroup, suppressed.

Everything comes from `collecte.figures.sums_for` over the group's submitted relevés, so the
number of queries does not depend on the number of foyers.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from defi.collecte.figures import sums_for
from defi.extensions import db
from defi.indicators import SUBGROUPS
from defi.indicators import aggregate
from defi.indicators import foyer_values
from defi.indicators import indicator_keys
from defi.indicators import is_ratio
from defi.indicators import paired_change
from defi.indicators import pooled_parts
from defi.indicators import suppress
from defi.models import Accompaniment
from defi.models import Choice
from defi.models import Entry
from defi.models import Household
from defi.models import Question
from defi.models import Wave


@dataclass
class Cell:
    """What is shown for one indicator, wave and subgroup; None fields are suppressed."""

    n: int
    mean: float | None
    median: float | None
    pooled: float | None
    paired_n: int | None = None
    change_pct: float | None = None


def question_choices(challenge_id):
    """(question key, choice key, question text, choice label, from rank) of the défi."""
    return db.session.execute(
        sa.select(Question.key, Choice.key, Question.text, Choice.label, Question.from_rank)
        .join(Choice, Choice.question_id == Question.id)
        .where(Question.challenge_id == challenge_id)
        .order_by(Question.position, Choice.position)
    ).all()


def submitted(group_ids, challenge_id):
    """The SELECT of the groups' submitted relevés (kept as SQL, never a list of ids)."""
    return (
        sa.select(Entry.id)
        .join(Household, Household.id == Entry.household_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(
            Household.group_id.in_(group_ids),
            Wave.challenge_id == challenge_id,
            Entry.status == "submitted",
        )
    )


def submitted_rows(group_ids, challenge_id):
    """(entry id, household id, wave rank, accompanied) of the submitted relevés."""
    return db.session.execute(
        sa.select(
            Entry.id,
            Entry.household_id,
            Wave.rank,
            Accompaniment.id.is_not(None),
        )
        .join(Household, Household.id == Entry.household_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Entry.id.in_(submitted(group_ids, challenge_id)))
    ).all()


def figures(group_ids, challenge, k):
    """(progress table, retention, questionnaire choices), each read once."""
    choices = question_choices(challenge.id)
    rows = submitted_rows(group_ids, challenge.id)
    table = progress(group_ids, challenge, k, choices=choices, rows=rows)
    return table, retention(group_ids, challenge, rows=rows), choices


def progress(group_ids, challenge, k, choices=None, rows=None):
    """{indicator key: {wave rank: {subgroup: Cell | None}}} for the groups taken together."""
    waves = [wave.rank for wave in challenge.waves]
    if choices is None:
        choices = question_choices(challenge.id)
    pairs = [(question, choice) for question, choice, *_rest in choices]
    from_rank = {question: rank for question, _c, _t, _l, rank in choices}
    if rows is None:
        rows = submitted_rows(group_ids, challenge.id)
    sums = sums_for(submitted(group_ids, challenge.id)) if rows else {}
    values = {}  # (household id, rank) → {key: value}
    parts = {}
    accompanied = {}
    for entry_id, household_id, rank, is_accompanied in rows:
        entry_sums = sums[entry_id]
        asked = [(q, c) for q, c in pairs if from_rank[q] <= rank]
        values[(household_id, rank)] = foyer_values(entry_sums, asked)
        parts[(household_id, rank)] = entry_sums
        accompanied[household_id] = bool(is_accompanied)

    membership = {(subgroup, rank): [] for subgroup in SUBGROUPS for rank in waves}
    for household, rank in values:
        membership[("tous", rank)].append(household)
        side = "accompagnes" if accompanied[household] else "non_accompagnes"
        membership[(side, rank)].append(household)

    def members(subgroup, rank):
        return membership[(subgroup, rank)]

    table = {}
    for key in indicator_keys(pairs):
        table[key] = {}
        for rank in waves:
            cells = {}
            for subgroup in SUBGROUPS:
                foyers = members(subgroup, rank)
                figure = aggregate(
                    (values[(h, rank)].get(key) for h in foyers),
                    (pooled_parts(key, parts[(h, rank)]) for h in foyers) if is_ratio(key) else (),
                )
                cells[subgroup] = figure
            shown = suppress(cells, k)
            table[key][rank] = {
                subgroup: None
                if shown[subgroup] is None
                else _cell(shown[subgroup], key, subgroup, rank, waves[0], values, members, k)
                for subgroup in SUBGROUPS
            }
    return table


def _cell(figure, key, subgroup, rank, first_rank, values, members, k):
    cell = Cell(figure.n, figure.mean, figure.median, figure.pooled)
    if rank != first_rank and figure.n:
        first = {h: values[(h, first_rank)].get(key) for h in members(subgroup, first_rank)}
        later = {h: values[(h, rank)].get(key) for h in members(subgroup, rank)}
        paired_n, change = paired_change(first, later)
        if paired_n >= k:
            cell.paired_n, cell.change_pct = paired_n, change
        else:
            cell.paired_n = paired_n or None
    return cell


def retention(group_ids, challenge, rows=None):
    """Per subgroup: foyers enrolled, and with a submitted relevé at each wave."""
    enrolled = db.session.execute(
        sa.select(Household.id, Accompaniment.id.is_not(None))
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id.in_(group_ids))
    ).all()
    accompanied = {household: bool(flag) for household, flag in enrolled}
    if rows is None:
        rows = submitted_rows(group_ids, challenge.id)
    result = {}
    for subgroup in SUBGROUPS:

        def keep(household, subgroup=subgroup):
            return subgroup == "tous" or (subgroup == "accompagnes") == accompanied[household]

        result[subgroup] = {
            "enrolled": sum(1 for household in accompanied if keep(household)),
            "submitted": {
                wave.rank: sum(1 for _e, h, rank, _a in rows if rank == wave.rank and keep(h))
                for wave in challenge.waves
            },
        }
    return result
