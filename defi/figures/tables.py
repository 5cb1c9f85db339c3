"""A défi's published tables: every indicator × wave × subgroup, for all groups together and
for each group, with the retention counts, through the one disclosure step.

`publish(challenge, k)` reads the submitted relevés once (`sums.sums_for`, a few queries
whatever the number of foyers), values each of them once (`indicators.value_columns`), gathers
each cell's foyers, aggregates them (`indicators.aggregate`), then hands every figure and the
foyers it rests on to `disclosure.decide`, over everything published together, with the sets
of foyers that staff read one by one (each group's for its facilitators, each structure's
accompanied foyers for its referents). Every page,
fragment, download and the report reads its cells from the `Publication`, never from the
relevés: what one shows, all show.
"""

from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa

from defi.extensions import db
from defi.figures.disclosure import Decision
from defi.figures.disclosure import Item
from defi.figures.disclosure import decide
from defi.figures.indicators import aggregate
from defi.figures.indicators import indicator_keys
from defi.figures.indicators import is_ratio
from defi.figures.indicators import parts_of
from defi.figures.indicators import value_columns
from defi.figures.sums import sums_for
from defi.formatting import today
from defi.models import Accompaniment
from defi.models import Choice
from defi.models import Entry
from defi.models import Household
from defi.models import Question
from defi.models import Wave

SUBGROUPS = ("tous", "accompagnes", "non_accompagnes")
# The scope of all groups together; a group's scope is its id.
ALL = 0
ZERO_START = "zero_start"
# A wave's figures are published when it closes: while foyers send their relevés one by one,
# two views of the same figure a day apart would tell the one relevé sent in between.
OPEN = "open"


@dataclass
class Cell:
    """One indicator, wave, scope and subgroup: what is shown, or why not.

    `hidden` holds the reason (disclosure.FEW, disclosure.PROTECT) when the figure is not
    shown, and then every number is None. `change_hidden` is the same for the change from the
    first wave (also ZERO_START: no change in % from zero). The change is that of the paired
    foyers' mean, in % (`change_pct`) and in the indicator's own unit (`change_delta`, e.g. a
    share's points ÷ 100): one figure over the same foyers, shown or hidden together, except
    that a change in % from zero has no meaning and a difference has.
    """

    n: int | None
    mean: float | None
    median: float | None
    pooled: float | None
    paired_n: int | None = None
    change_pct: float | None = None
    change_delta: float | None = None
    hidden: str | None = None
    change_hidden: str | None = None


@dataclass
class Retention:
    """A subgroup's foyers enrolled and with a relevé sent at each wave; None where hidden."""

    enrolled: int | None
    submitted: dict
    hidden: dict = field(default_factory=dict)  # "enrolled" or a wave's rank → reason


@dataclass
class Publication:
    """Everything a défi publishes: {scope: {key: {rank: {subgroup: Cell}}}} and the retention.

    Scopes are ALL and each group's id.
    """

    tables: dict
    retention: dict
    choices: list
    decision: Decision
    # What pages make of these figures alone (nothing of their reader), made once and kept as
    # long as the publication: {key: value} (figures.derived, figures.rendered).
    derived: dict = field(default_factory=dict, compare=False, repr=False)


def question_choices(challenge_id):
    """(question key, choice key, question text, choice label, from rank) of the défi."""
    return db.session.execute(
        sa.select(Question.key, Choice.key, Question.text, Choice.label, Question.from_rank)
        .join(Choice, Choice.question_id == Question.id)
        .where(Question.challenge_id == challenge_id)
        .order_by(Question.position, Choice.position)
    ).all()


def submitted(challenge_id):
    """The SELECT of the défi's submitted relevés (kept as SQL, never a list of ids)."""
    return (
        sa.select(Entry.id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Wave.challenge_id == challenge_id, Entry.status == "submitted")
    )


def submitted_rows(challenge_id):
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
        .where(Entry.id.in_(submitted(challenge_id)))
    ).all()


def enrolled_rows(challenge):
    """(household id, accompanied, group id, active) of every foyer of the défi's groups."""
    group_ids = [group.id for group in challenge.groups]
    return db.session.execute(
        sa.select(
            Household.id,
            Accompaniment.id.is_not(None),
            Household.group_id,
            Household.status == "active",
        )
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id.in_(group_ids))
    ).all()


def structures_of(challenge) -> dict:
    """{household id: structure id} of the défi's accompanied foyers (what its referents read)."""
    group_ids = [group.id for group in challenge.groups]
    return dict(
        db.session.execute(
            sa.select(Accompaniment.household_id, Accompaniment.structure_id).where(
                Accompaniment.group_id.in_(group_ids)
            )
        ).all()
    )


def open_ranks(challenge, day) -> frozenset:
    """The ranks of the défi's waves open on that day (their figures are withheld)."""
    return frozenset(wave.rank for wave in challenge.waves if wave.is_open(day))


def read_releves(challenge):
    """(submitted rows, their EntrySums by entry id, enrolled rows): what the défi's figures are
    made of (`build`)."""
    rows = submitted_rows(challenge.id)
    return rows, sums_for(submitted(challenge.id)) if rows else {}, enrolled_rows(challenge)


def publish(challenge, k, day=None) -> Publication:
    """The défi's tables and retention, every figure through one disclosure decision."""
    rows, sums, enrolled = read_releves(challenge)
    return build(
        ranks=[wave.rank for wave in challenge.waves],
        group_ids=[group.id for group in challenge.groups],
        choices=question_choices(challenge.id),
        rows=rows,
        sums=sums,
        enrolled=enrolled,
        k=k,
        withheld_ranks=open_ranks(challenge, day or today()),
        structures=structures_of(challenge),
    )


def build(
    ranks,
    group_ids,
    choices,
    rows,
    sums,
    enrolled,
    k,
    withheld_ranks=(),
    structures=None,
    scopes=None,
    decided=True,
) -> Publication:
    """`publish` once the relevés are read: no database here.

    `rows` are `submitted_rows`, `sums` their EntrySums by entry id, `enrolled` the
    `enrolled_rows` (household id, accompanied, group id, active). The figures of the waves
    `withheld_ranks` (open ones) are not published, their counts of relevés sent are; a
    mapping {scope: ranks} withholds them scope by scope. `structures` ({household id:
    structure id} of the accompanied foyers) makes each structure's foyers an insider's set
    beside each group's. `scopes` ({scope: group ids}) are the sets of groups published, by
    default all groups (ALL) and each group; figures of every scope are decided together.
    `decided` False leaves every figure shown: the raw figures, for a caller that decides what
    to hide from other publications (`figures.network`).
    """
    structures = structures or {}
    pairs = [(question, choice) for question, choice, *_rest in choices]
    keys = indicator_keys(pairs)
    if scopes is None:
        scopes = {ALL: set(group_ids)}
        scopes.update({group_id: {group_id} for group_id in group_ids})
    if not isinstance(withheld_ranks, dict):
        withheld_ranks = dict.fromkeys(scopes, withheld_ranks)
    by_wave = {rank: _WaveValues(rank, choices, structures) for rank in ranks}
    for row in rows:
        if row[2] in by_wave:
            by_wave[row[2]].add(row, sums[row[0]])
    for values in by_wave.values():
        values.compute(keys)
    for rank in ranks[1:]:
        by_wave[rank].pair_with(by_wave[ranks[0]], keys)

    builder = _Builder(scopes, by_wave, ranks, structures, deciding=decided)
    raw = {scope: {} for scope in scopes}
    for key in keys:
        for scope in scopes:
            raw[scope][key] = {rank: {} for rank in ranks}
        builder.add_indicator(key, raw)
    retention = builder.add_retention(enrolled)
    withheld = {
        (kind, key, scope, rank, subgroup): OPEN
        for kind in ("v", "c")
        for key in keys
        for scope in scopes
        for rank in withheld_ranks.get(scope, ())
        for subgroup in SUBGROUPS
    }
    if decided:
        decision = decide(builder.items, k, builder.weights, withheld, builder.insiders())
    else:
        decision = Decision(hidden=dict(withheld))
    return Publication(
        tables=_apply(raw, decision.hidden),
        retention=_apply_retention(retention, decision.hidden),
        choices=choices,
        decision=decision,
    )


class _WaveValues:
    """One wave's submitted relevés, in the order read, and each indicator as a list.

    Plain lists indexed by position, not dicts keyed by foyer: a défi has up to 10,000 foyers
    × 3 waves. The order is the order of the rows, so that every sum below adds the same
    numbers in the same order as one foyer after the other.
    """

    def __init__(self, rank, choices, structures):
        self.asked = [(q, c) for q, c, _t, _l, first_rank in choices if first_rank <= rank]
        self.structure_of = structures
        self.households, self.groups, self.accompanied, self.sums = [], [], [], []
        self.structures = []
        self.values, self.parts, self.first = {}, {}, {}

    def add(self, row, entry_sums):
        _entry_id, household_id, _rank, is_accompanied, group_id = row
        self.households.append(household_id)
        self.groups.append(group_id)
        self.accompanied.append(bool(is_accompanied))
        self.structures.append(self.structure_of.get(household_id))
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


def _usefulness(kind, scope, subgroup, weight=1):
    """What secondary suppression hides first, lowest first: a subgroup before "tous", a
    group before all groups, what fewer figures rest on before what many do, a change
    before a mean."""
    return (subgroup == "tous", scope == ALL, weight, kind)


# How much a figure weighs when a count's item is chosen for hiding: the retention counts
# lead every report, a mean or a change is one figure among hundreds.
RETENTION_WEIGHT = 20


class _Builder:
    """Gathers each cell's foyers, its figure, and the disclosure items it publishes.

    Foyers are handed to the disclosure step as classes (group, accompanied, structure, and
    what else the variable's cells distinguish): sets of a few classes rather than of 10,000
    foyers. The structure is there for the insiders: a set a referent reads is then a union
    of classes, as a group's is.
    """

    def __init__(self, scopes, by_wave, ranks, structures, deciding=True):
        self.scopes, self.by_wave, self.ranks = scopes, by_wave, ranks
        self.structures = structures
        # False: the cells alone, no disclosure item (`build(..., decided=False)`).
        self.deciding = deciding
        self.items: list[Item] = []
        self.weights: dict = {}
        # The count of foyers of every set published: {(set, scope, subgroup): [figures]}.
        self.counts: dict = defaultdict(list)
        self.household_kinds: dict = defaultdict(set)  # household id → kinds of sets it is in
        self.kind_of: dict = {}  # frozenset of household ids → its kind number

    def add_indicator(self, key, raw):
        if not self.deciding:
            self._add_cells(key, raw)
            return
        first_rank = self.ranks[0]
        holders = {}  # rank → positions with a value
        paired = {}  # rank → positions of this wave whose foyer has a value at the first wave
        for rank in self.ranks:
            wave = self.by_wave[rank]
            column = wave.values[key]
            holders[rank] = [i for i, value in enumerate(column) if value is not None]
            if rank != first_rank:
                before = wave.first[key]
                paired[rank] = [i for i in holders[rank] if before[i] is not None]
        paired_households = {
            rank: {self.by_wave[rank].households[i] for i in positions}
            for rank, positions in paired.items()
        }
        classes_at = {}
        for rank in self.ranks:
            wave = self.by_wave[rank]
            # A foyer's class in this variable: its group, accompanied or not, and the waves
            # it is paired with (the first wave's foyers) or whether it is paired (the others).
            if rank == first_rank:
                paired_with = defaultdict(set)
                for later, found in paired_households.items():
                    for household in found:
                        paired_with[household].add(later)
                flags = {household: frozenset(ranks) for household, ranks in paired_with.items()}
            else:
                flags = dict.fromkeys(paired_households[rank], frozenset([rank]))
            classes = classes_at[rank] = self._classes((key, rank), wave, holders[rank], flags)
            value_kind = self._kind(frozenset(wave.households[i] for i in holders[rank]))
            if rank != first_rank:
                paired_kind = self._kind(frozenset(paired_households[rank]))
            for scope, group_ids in self.scopes.items():
                for subgroup in SUBGROUPS:
                    positions = _members(wave, holders[rank], group_ids, subgroup)
                    cell = self._cell(key, wave, positions)
                    raw[scope][key][rank][subgroup] = cell
                    figure = ("v", key, scope, rank, subgroup)
                    chosen = _chosen(classes, group_ids, subgroup)
                    self._item(figure, (key, rank), chosen, ("figure", scope, subgroup))
                    self.counts[(value_kind, scope, subgroup)].append(figure)
                    if rank == first_rank:
                        continue
                    change = ("c", key, scope, rank, subgroup)
                    pair = frozenset(u for u in chosen if rank in u[-1])
                    self._item(change, (key, rank), pair, ("change", scope, subgroup))
                    pair_first = frozenset(
                        u
                        for u in _chosen(classes_at[first_rank], group_ids, subgroup)
                        if rank in u[-1]
                    )
                    self._item(change, (key, first_rank), pair_first, ("change", scope, subgroup))
                    self.counts[(paired_kind, scope, subgroup)].append(change)

    def _add_cells(self, key, raw):
        """The indicator's cells, and nothing for the disclosure step."""
        for rank in self.ranks:
            wave = self.by_wave[rank]
            holders = [i for i, value in enumerate(wave.values[key]) if value is not None]
            for scope, group_ids in self.scopes.items():
                for subgroup in SUBGROUPS:
                    positions = _members(wave, holders, group_ids, subgroup)
                    raw[scope][key][rank][subgroup] = self._cell(key, wave, positions)

    def _classes(self, variable, wave, positions, flags):
        """{(variable, group, accompanied, structure, flags): number of foyers} of the
        positions."""
        classes = defaultdict(int)
        none = frozenset()
        for i in positions:
            flag = flags.get(wave.households[i], none)
            unit = (variable, wave.groups[i], wave.accompanied[i], wave.structures[i], flag)
            classes[unit] += 1
        self.weights.update(classes)
        return classes

    def _kind(self, households: frozenset):
        """The number of this set of foyers among every set published (for the counts)."""
        kind = self.kind_of.get(households)
        if kind is None:
            kind = self.kind_of[households] = len(self.kind_of)
            for household in households:
                self.household_kinds[household].add(kind)
        return kind

    def _item(self, figure, variable, classes, usefulness):
        self.items.append(Item((figure,), variable, frozenset(classes), _usefulness(*usefulness)))

    def _cell(self, key, wave, positions):
        column, parts = wave.values[key], wave.parts.get(key)
        figure = aggregate(
            [column[i] for i in positions],
            [parts[i] for i in positions] if parts is not None else (),
        )
        cell = Cell(figure.n, figure.mean, figure.median, figure.pooled)
        first = wave.first.get(key)
        if first is None or not figure.n:
            return cell
        before, after = [], []
        for i in positions:
            if first[i] is not None:
                before.append(first[i])
                after.append(column[i])
        if not before:  # nobody to pair with (a question not asked at the first wave)
            return cell
        cell.paired_n = len(before)
        mean_before = sum(before) / len(before)
        cell.change_delta = sum(after) / len(after) - mean_before
        if mean_before:
            cell.change_pct = (sum(after) / len(after) - mean_before) / mean_before * 100
        else:
            cell.change_hidden = ZERO_START
        return cell

    def add_retention(self, enrolled):
        """Per scope and subgroup: foyers enrolled and with a relevé sent at each wave."""
        side = {household: bool(flag) for household, flag, _group, _active in enrolled}
        group_of = {household: group for household, _flag, group, _active in enrolled}
        sent = {
            rank: {h for h in self.by_wave[rank].households if h in side} for rank in self.ranks
        }
        kinds = {}
        if self.deciding:
            kinds = {"enrolled": self._kind(frozenset(side))}
            kinds.update({rank: self._kind(frozenset(sent[rank])) for rank in self.ranks})
        result = {}
        for scope, group_ids in self.scopes.items():
            result[scope] = {}
            for subgroup in SUBGROUPS:
                members = {
                    h
                    for h in side
                    if group_of[h] in group_ids
                    and (subgroup == "tous" or side[h] == (subgroup == "accompagnes"))
                }
                counts = Retention(
                    enrolled=len(members),
                    submitted={rank: len(members & sent[rank]) for rank in self.ranks},
                )
                result[scope][subgroup] = counts
                for column in kinds:
                    figure = ("r", scope, subgroup, column)
                    self.counts[(kinds[column], scope, subgroup)].append(figure)
        if self.deciding:
            self._add_counts(group_of, side)
        return result

    def _add_counts(self, group_of, side):
        """One count variable over every set published: the n of each figure, the retention.

        Foyers are classed by group, accompaniment and the sets they are in.
        """
        classes = defaultdict(int)
        class_of = {}
        for household, kinds in self.household_kinds.items():
            structure = self.structures.get(household)
            unit = ("n", group_of.get(household), side.get(household), structure, frozenset(kinds))
            classes[unit] += 1
            class_of[household] = unit
        self.weights.update(classes)
        for (kind, scope, subgroup), figures in self.counts.items():
            group_ids = self.scopes[scope]
            chosen = frozenset(
                unit
                for unit in classes
                if kind in unit[-1]
                and unit[1] in group_ids
                and (subgroup == "tous" or unit[2] == (subgroup == "accompagnes"))
            )
            weight = sum(RETENTION_WEIGHT if figure[0] == "r" else 1 for figure in figures)
            usefulness = _usefulness("count", scope, subgroup, weight)
            self.items.append(Item(tuple(figures), "n", chosen, usefulness))

    def insiders(self) -> list[frozenset]:
        """The classes each staff member reads one by one: every foyer of a group (its
        facilitators read each relevé, accompanied ones under a label), every foyer a
        structure accompanies (its referents), whatever the group. A single foyer is not one:
        K >= 3 already leaves it at least 2 others in any set it could take itself out of."""
        sets = defaultdict(set)
        for unit in self.weights:  # (variable, group, accompanied, structure, flags)
            sets[("group", unit[1])].add(unit)
            if unit[3] is not None:
                sets[("structure", unit[3])].add(unit)
        return [frozenset(sets[name]) for name in sorted(sets, key=repr)]


def _members(wave, positions, group_ids, subgroup):
    if subgroup == "tous":
        return [i for i in positions if wave.groups[i] in group_ids]
    accompanied = subgroup == "accompagnes"
    return [
        i for i in positions if wave.groups[i] in group_ids and wave.accompanied[i] == accompanied
    ]


def _chosen(classes, group_ids, subgroup):
    """The classes of a scope and subgroup: (variable, group, accompanied, structure, flags)."""
    return [
        unit
        for unit in classes
        if unit[1] in group_ids and (subgroup == "tous" or unit[2] == (subgroup == "accompagnes"))
    ]


def _apply(raw, hidden):
    for scope, table in raw.items():
        for key, by_rank in table.items():
            for rank, cells in by_rank.items():
                for subgroup, cell in cells.items():
                    reason = hidden.get(("v", key, scope, rank, subgroup))
                    if reason is not None:
                        cells[subgroup] = Cell(None, None, None, None, hidden=reason)
                        continue
                    change_reason = hidden.get(("c", key, scope, rank, subgroup))
                    if change_reason is not None:
                        cell.change_hidden = change_reason
                    if cell.change_hidden is not None:
                        cell.change_pct = None
                        if cell.change_hidden != ZERO_START:
                            cell.paired_n = cell.change_delta = None
    return raw


def _apply_retention(retention, hidden):
    for scope, by_subgroup in retention.items():
        for subgroup, counts in by_subgroup.items():
            reason = hidden.get(("r", scope, subgroup, "enrolled"))
            if reason is not None:
                counts.enrolled = None
                counts.hidden["enrolled"] = reason
            for rank in counts.submitted:
                reason = hidden.get(("r", scope, subgroup, rank))
                if reason is not None:
                    counts.submitted[rank] = None
                    counts.hidden[rank] = reason
    return retention
