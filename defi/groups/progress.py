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
from defi.indicators import indicator_keys
from defi.indicators import is_ratio
from defi.indicators import parts_of
from defi.indicators import suppress
from defi.indicators import value_columns
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
    all_groups = sorted({group_id for ids in scopes.values() for group_id in ids})
    if rows is None:
        rows = submitted_rows(all_groups, challenge.id)
    if sums is None:
        sums = sums_for(submitted(all_groups, challenge.id)) if rows else {}
    keys = indicator_keys(pairs)
    by_wave = {rank: _WaveValues(rank, pairs, choices) for rank in waves}
    for row in rows:
        by_wave[row[2]].add(row, sums[row[0]])
    for values in by_wave.values():
        values.compute(keys)
    for rank in waves[1:]:
        by_wave[rank].pair_with(by_wave[waves[0]], keys)

    tables = {}
    for name, group_ids in scopes.items():
        wanted = set(group_ids)
        members = {rank: by_wave[rank].members(wanted) for rank in waves}
        tables[name] = _table(keys, waves, by_wave, members, k)
    return tables


class _WaveValues:
    """One wave's submitted relevés, in the order read, and each indicator as a list.

    Plain lists indexed by position, not dicts keyed by foyer: the pilot's export goes over
    every foyer of a défi (10,000 × 3 waves). The order is the order of the rows, so that
    every sum below adds the same numbers in the same order as one foyer after the other.
    """

    def __init__(self, rank, pairs, choices):
        asked_from = {question: first_rank for question, _c, _t, _l, first_rank in choices}
        self.asked = [(q, c) for q, c in pairs if asked_from[q] <= rank]
        self.households, self.groups, self.accompanied, self.sums = [], [], [], []
        self.values, self.parts, self.first = {}, {}, {}

    def add(self, row, entry_sums):
        _entry_id, household_id, _rank, is_accompanied, group_id = row
        self.households.append(household_id)
        self.groups.append(group_id)
        self.accompanied.append(bool(is_accompanied))
        self.sums.append(entry_sums)

    def compute(self, keys):
        """Every key's value (None when not asked or not computable) and pooled parts."""
        self.values = value_columns(self.sums, self.asked)
        for key in keys:
            # A question not asked yet in this wave: no value.
            self.values.setdefault(key, [None] * len(self.sums))
            if is_ratio(key):
                parts = parts_of(key)
                self.parts[key] = [parts(entry_sums) for entry_sums in self.sums]

    def pair_with(self, first, keys):
        """Each foyer's value at the first wave, beside its value at this one (or None)."""
        position = {household: index for index, household in enumerate(first.households)}
        at = [position.get(household) for household in self.households]
        for key in keys:
            column = first.values[key]
            self.first[key] = [None if index is None else column[index] for index in at]

    def members(self, wanted):
        """{subgroup: positions of the relevés of foyers of the groups `wanted`}."""
        positions = {subgroup: [] for subgroup in SUBGROUPS}
        everyone = positions["tous"]
        by_side = (positions["non_accompagnes"], positions["accompagnes"])
        for index, (group_id, accompanied) in enumerate(
            zip(self.groups, self.accompanied, strict=True)
        ):
            if group_id in wanted:
                everyone.append(index)
                by_side[accompanied].append(index)
        return positions


def _table(keys, waves, by_wave, members, k):
    table = {}
    for key in keys:
        table[key] = {}
        for rank in waves:
            wave = by_wave[rank]
            column, key_parts = wave.values[key], wave.parts.get(key)
            cells = {}
            for subgroup in SUBGROUPS:
                positions = members[rank][subgroup]
                cells[subgroup] = aggregate(
                    [column[i] for i in positions],
                    [key_parts[i] for i in positions] if key_parts is not None else (),
                )
            shown = suppress(cells, k)
            table[key][rank] = {
                subgroup: None
                if shown[subgroup] is None
                else _cell(shown[subgroup], column, wave.first.get(key), members[rank][subgroup], k)
                for subgroup in SUBGROUPS
            }
    return table


def _cell(figure, column, first, positions, k):
    cell = Cell(figure.n, figure.mean, figure.median, figure.pooled)
    if first is not None and figure.n:
        # Paired foyers: a value in the first wave and in this one (indicators.paired_change,
        # inlined here: the pilot's export computes hundreds of these over every foyer).
        before, after = [], []
        for index in positions:
            later, earlier = column[index], first[index]
            if later is not None and earlier is not None:
                before.append(earlier)
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
    """Per subgroup: foyers enrolled, and with a submitted relevé at each wave.

    `rows` (of `submitted_rows`) may hold other groups' relevés too: only these groups count.
    """
    enrolled = db.session.execute(
        sa.select(Household.id, Accompaniment.id.is_not(None))
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id.in_(group_ids))
    ).all()
    side = {household: "accompagnes" if flag else "non_accompagnes" for household, flag in enrolled}
    if rows is None:
        rows = submitted_rows(group_ids, challenge.id)
    result = {
        subgroup: {"enrolled": 0, "submitted": {wave.rank: 0 for wave in challenge.waves}}
        for subgroup in SUBGROUPS
    }
    for subgroup in side.values():
        result["tous"]["enrolled"] += 1
        result[subgroup]["enrolled"] += 1
    for _entry_id, household, rank, _accompanied, _group_id in rows:
        if household in side and rank in result["tous"]["submitted"]:
            result["tous"]["submitted"][rank] += 1
            result[side[household]]["submitted"][rank] += 1
    return result
