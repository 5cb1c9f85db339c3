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
    """(entry id, household id, wave rank, accompanied, group id) of the submitted relevés."""
    return db.session.execute(
        sa.select(
            Entry.id,
            Entry.household_id,
            Wave.rank,
            Accompaniment.id.is_not(None),
            Household.group_id,
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
    return progress_by_scope({"": group_ids}, challenge, k, choices, rows)[""]


def progress_by_scope(scopes, challenge, k, choices=None, rows=None, sums=None):
    """The progress table of each scope {name: group ids}, the relevés read and valued once.

    Every relevé's indicator values and pooled parts are computed once; each scope then only
    gathers those of its foyers (the pilot's export: all groups together and each group).
    """
    waves = [wave.rank for wave in challenge.waves]
    if choices is None:
        choices = question_choices(challenge.id)
    pairs = [(question, choice) for question, choice, *_rest in choices]
    from_rank = {question: rank for question, _c, _t, _l, rank in choices}
    all_groups = sorted({group_id for ids in scopes.values() for group_id in ids})
    if rows is None:
        rows = submitted_rows(all_groups, challenge.id)
    if sums is None:
        sums = sums_for(submitted(all_groups, challenge.id)) if rows else {}
    keys = indicator_keys(pairs)
    ratio_keys = [key for key in keys if is_ratio(key)]
    # key → {(household, rank): value}; key → {(household, rank): (numerator, denominator)}
    values = {key: {} for key in keys}
    parts = {key: {} for key in ratio_keys}
    side = {}
    group_of = {}
    for entry_id, household_id, rank, is_accompanied, group_id in rows:
        entry_sums = sums[entry_id]
        asked = [(q, c) for q, c in pairs if from_rank[q] <= rank]
        for key, value in foyer_values(entry_sums, asked).items():
            values[key][(household_id, rank)] = value
        for key in ratio_keys:
            parts[key][(household_id, rank)] = pooled_parts(key, entry_sums)
        side[household_id] = "accompagnes" if is_accompanied else "non_accompagnes"
        group_of[household_id] = group_id

    tables = {}
    for name, group_ids in scopes.items():
        wanted = set(group_ids)
        membership = {(subgroup, rank): [] for subgroup in SUBGROUPS for rank in waves}
        for household, rank in values[keys[0]]:
            if group_of[household] in wanted:
                membership[("tous", rank)].append(household)
                membership[(side[household], rank)].append(household)
        tables[name] = _table(keys, waves, membership, values, parts, k)
    return tables


def _table(keys, waves, membership, values, parts, k):
    table = {}
    for key in keys:
        by_foyer, key_parts = values[key], parts.get(key)
        table[key] = {}
        for rank in waves:
            cells = {}
            for subgroup in SUBGROUPS:
                foyers = membership[(subgroup, rank)]
                cells[subgroup] = aggregate(
                    [by_foyer.get((h, rank)) for h in foyers],
                    [key_parts[(h, rank)] for h in foyers] if key_parts is not None else (),
                )
            shown = suppress(cells, k)
            table[key][rank] = {
                subgroup: None
                if shown[subgroup] is None
                else _cell(shown[subgroup], by_foyer, subgroup, rank, waves[0], membership, k)
                for subgroup in SUBGROUPS
            }
    return table


def _cell(figure, by_foyer, subgroup, rank, first_rank, membership, k):
    cell = Cell(figure.n, figure.mean, figure.median, figure.pooled)
    if rank != first_rank and figure.n:
        # Paired foyers: a value in the first wave and in this one (indicators.paired_change,
        # inlined here: the pilot's export computes hundreds of these over every foyer).
        before, after = [], []
        for household in membership[(subgroup, rank)]:
            later = by_foyer.get((household, rank))
            first = by_foyer.get((household, first_rank))
            if later is not None and first is not None:
                before.append(first)
                after.append(later)
        paired_n = len(before)
        if paired_n >= k:
            mean_before = sum(before) / paired_n
            cell.paired_n = paired_n
            if mean_before:
                cell.change_pct = (sum(after) / paired_n - mean_before) / mean_before * 100
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
                wave.rank: sum(1 for _e, h, rank, _a, _g in rows if rank == wave.rank and keep(h))
                for wave in challenge.waves
            },
        }
    return result
