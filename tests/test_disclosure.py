"""The disclosure step: no sum and difference of published figures rests on 1 to K-1 foyers.

The property test generates défis of 2 to 6 groups (random accompanied foyers, attrition,
optional weighing, a questionnaire), publishes them through `figures.tables.build`, then
checks every published table with a checker of its own: dense exact fractions over foyers
(not the atoms and the modular arithmetic of `disclosure.py`), every set of 1 to K-1 foyers
tried one by one.
"""

import itertools
from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from defi.figures.disclosure import FEW
from defi.figures.disclosure import PROTECT
from defi.figures.disclosure import Item
from defi.figures.disclosure import decide
from defi.figures.indicators import EntrySums
from defi.figures.tables import ALL
from defi.figures.tables import SUBGROUPS
from defi.figures.tables import build

CHOICES = [
    ("maintien", "mieux", "Maintien ?", "Mieux", 2),
    ("maintien", "moins", "Maintien ?", "Moins bien", 2),
]
# The last test reads what the property tests counted in this process: pytest-xdist runs the
# whole file in one process, in its order.
pytestmark = pytest.mark.xdist_group("disclosure")
SEARCHED = defaultdict(int)  # what the property test went through, for the closing note


def nullspace_rows(vectors, width):
    """Rows (one per column) of a basis of the null space of `vectors`, exact fractions."""
    matrix = [[Fraction(v) for v in vector] for vector in vectors]
    pivots, row = [], 0
    for column in range(width):
        found = next((r for r in range(row, len(matrix)) if matrix[r][column]), None)
        if found is None:
            continue
        matrix[row], matrix[found] = matrix[found], matrix[row]
        pivot = matrix[row][column]
        matrix[row] = [value / pivot for value in matrix[row]]
        for other in range(len(matrix)):
            if other != row and matrix[other][column]:
                factor = matrix[other][column]
                matrix[other] = [
                    a - factor * b for a, b in zip(matrix[other], matrix[row], strict=True)
                ]
        pivots.append(column)
        row += 1
    free = [column for column in range(width) if column not in pivots]
    rows = {column: [Fraction(0)] * len(free) for column in range(width)}
    for number, f in enumerate(free):
        rows[f][number] = Fraction(1)
        for r, p in enumerate(pivots):
            rows[p][number] = -matrix[r][f]
    return rows


def independent(vectors) -> bool:
    vectors = [list(v) for v in vectors]
    rank = 0
    for column in range(len(vectors[0]) if vectors else 0):
        found = next((r for r in range(rank, len(vectors)) if vectors[r][column]), None)
        if found is None:
            continue
        vectors[rank], vectors[found] = vectors[found], vectors[rank]
        for other in range(len(vectors)):
            if other != rank and vectors[other][column]:
                factor = vectors[other][column] / vectors[rank][column]
                vectors[other] = [
                    a - factor * b for a, b in zip(vectors[other], vectors[rank], strict=True)
                ]
        rank += 1
    return rank == len(vectors)


def recoverable_sets(shown_sets, k):
    """Every set of 1 to K-1 foyers that a combination of `shown_sets` isolates."""
    foyers = sorted({foyer for members in shown_sets for foyer in members})
    if not foyers:
        return []
    index = {foyer: number for number, foyer in enumerate(foyers)}
    vectors = []
    for members in shown_sets:
        vector = [0] * len(foyers)
        for foyer in members:
            vector[index[foyer]] = 1
        vectors.append(vector)
    null = nullspace_rows(vectors, len(foyers))
    found = []
    for size in range(1, k):
        for chosen in itertools.combinations(range(len(foyers)), size):
            SEARCHED["foyer sets tried"] += 1
            if not independent([null[c] for c in chosen]):
                found.append({foyers[c] for c in chosen})
    return found


# A generated défi: groups of foyers, each accompanied or not, sending waves 1, 2, 3 or
# dropping out, weighing or not, with random figures.
foyer_strategy = st.tuples(
    st.booleans(),  # accompanied
    st.integers(min_value=0, max_value=3),  # the last wave sent (0: none)
    st.lists(st.booleans(), min_size=3, max_size=3),  # weighed at each wave
    st.lists(st.integers(min_value=1, max_value=40_000), min_size=3, max_size=3),  # € spent
    st.lists(st.booleans(), min_size=3, max_size=3),  # ticked "mieux"
)
defi_strategy = st.lists(st.lists(foyer_strategy, min_size=1, max_size=8), min_size=2, max_size=6)


def generated(groups):
    rows, sums, enrolled, facts = [], {}, [], {}
    entry_id = 0
    for group_number, foyers in enumerate(groups, start=1):
        for number, (accompanied, last, weighed, spent, better) in enumerate(foyers):
            household = group_number * 100 + number
            enrolled.append((household, accompanied, group_number, True))
            facts[household] = (group_number, accompanied)
            for rank in range(1, last + 1):
                entry_id += 1
                rows.append((entry_id, household, rank, accompanied, group_number))
                sums[entry_id] = EntrySums(
                    persons=3,
                    period_days=14,
                    meal_covers=80,
                    spend_total_cents=spent[rank - 1],
                    spend_organic_cents=spent[rank - 1] // 3,
                    spend_local_cents=spent[rank - 1] // 4,
                    spend_by_place={"marche": spent[rank - 1]},
                    waste_grams=1200 if weighed[rank - 1] else None,
                    waste_by_category={"evitable": 1200} if weighed[rank - 1] else None,
                    recipes=rank,
                    choices=frozenset({"maintien:mieux"} if better[rank - 1] else set()),
                    household_id=household,
                    status="submitted",
                )
    return rows, sums, enrolled, facts


def shown_sets(publication, rows, sums, facts, group_ids):
    """{variable: [foyer sets of the shown figures]}, rebuilt from the generated facts."""
    from defi.figures.indicators import value_columns

    values = {}  # (household, rank) → {key: value}
    for entry_id, household, rank, _accompanied, _group in rows:
        asked = [(q, c) for q, c, _t, _l, first in CHOICES if first <= rank]
        column = value_columns([sums[entry_id]], asked)
        values[(household, rank)] = {key: found[0] for key, found in column.items()}
    scopes = {ALL: set(group_ids)} | {group: {group} for group in group_ids}

    def members(scope, subgroup):
        return {
            h
            for h, (group, accompanied) in facts.items()
            if group in scopes[scope]
            and (subgroup == "tous" or accompanied == (subgroup == "accompagnes"))
        }

    variables = defaultdict(list)
    for scope, table in publication.tables.items():
        for key, by_rank in table.items():
            for rank, cells in by_rank.items():
                for subgroup, cell in cells.items():
                    if cell.hidden is not None:
                        continue
                    holders = {
                        h
                        for h in members(scope, subgroup)
                        if values.get((h, rank), {}).get(key) is not None
                    }
                    variables[(key, rank)].append(holders)
                    variables["n"].append(holders)
                    if rank > 1 and cell.change_hidden is None and cell.paired_n is not None:
                        paired = {h for h in holders if values.get((h, 1), {}).get(key) is not None}
                        variables[(key, rank)].append(paired)
                        variables[(key, 1)].append(paired)
                        variables["n"].append(paired)
        for subgroup, counts in publication.retention[scope].items():
            everyone = members(scope, subgroup)
            if counts.enrolled is not None:
                variables["n"].append(everyone)
            for rank, sent in counts.submitted.items():
                if sent is not None:
                    variables["n"].append({h for h in everyone if (h, rank) in values})
    return variables


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(defi_strategy, st.sampled_from([3, 3, 4]))
def test_no_published_table_lets_a_small_set_of_foyers_be_recovered(groups, k):
    rows, sums, enrolled, facts = generated(groups)
    group_ids = list(range(1, len(groups) + 1))
    publication = build([1, 2, 3], group_ids, CHOICES, rows, sums, enrolled, k)
    SEARCHED["défis"] += 1
    checked = {}
    for variable, sets in shown_sets(publication, rows, sums, facts, group_ids).items():
        shape = tuple(sorted(tuple(sorted(members)) for members in sets))
        SEARCHED["tables"] += 1
        SEARCHED["cells"] += len(sets)
        for members in sets:
            assert not 0 < len(members) < k, (variable, members)
        if shape not in checked:
            checked[shape] = recoverable_sets(sets, k)
        assert checked[shape] == [], (variable, checked[shape])


def test_property_test_searched_enough():
    """Run after the property test (file order): it went through défis, tables and sets."""
    print(dict(SEARCHED))
    assert SEARCHED["défis"] >= 200
    assert SEARCHED["foyer sets tried"] > 10_000


# The cases, by hand.


def cells_of(groups):
    """Items of one variable: all groups, each group, each subgroup, from {group: (acc, non)}."""
    sets = {}
    for group, (accompanied, others) in groups.items():
        acc = {f"{group}-a{i}" for i in range(accompanied)}
        non = {f"{group}-n{i}" for i in range(others)}
        sets[(group, "accompagnes")], sets[(group, "non_accompagnes")] = acc, non
        sets[(group, "tous")] = acc | non
    for subgroup in SUBGROUPS:
        sets[(ALL, subgroup)] = set().union(*(sets[(g, subgroup)] for g in groups))
    return {
        cell: Item((cell,), "x", frozenset(members), (cell[1] == "tous", cell[0] == ALL))
        for cell, members in sets.items()
    }


def test_one_group_minus_all_groups_cannot_give_another_groups_single_foyer():
    # Group A: 3 accompanied (shown alone), group B: 1 (hidden); "Tous" accompanied is 4.
    items = cells_of({"A": (3, 10), "B": (1, 7)})
    hidden = decide(items.values(), 3).hidden
    assert hidden[("B", "accompagnes")] == FEW
    shown = [item.foyers for cell, item in items.items() if cell not in hidden]
    assert recoverable_sets(shown, 3) == []
    # Without the secondary suppression, 4 × Tous − 3 × A gives B's foyer.
    naive = [item.foyers for cell, item in items.items() if cell != ("B", "accompagnes")]
    assert {"B-a0"} in recoverable_sets(naive, 3)
    assert PROTECT in hidden.values()


def test_nothing_more_is_hidden_than_needed_when_every_cell_is_large():
    items = cells_of({"A": (4, 10), "B": (3, 7), "C": (5, 5)})
    assert decide(items.values(), 3).hidden == {}


def test_a_group_with_no_accompanied_foyer_hides_nothing():
    items = cells_of({"A": (0, 10), "B": (0, 7)})
    assert decide(items.values(), 3).hidden == {}
