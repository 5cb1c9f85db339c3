"""The disclosure step against insiders: staff who know some foyers' values one by one.

A facilitator reads every relevé of its group, a referent every relevé of the foyers its
structure accompanies. Whoever knows the foyers of a set S can take them out of any published
sum: what the shown figures tell it of the other foyers is the span of the shown sets cut to
the foyers outside S. The checks below use the dense checker of `test_disclosure.py` (exact
fractions over foyers, every set of 1 to K-1 foyers tried) on those cut sets.
"""

from unittest import mock

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from defi.figures import tables
from defi.figures.disclosure import FEW
from defi.figures.disclosure import PROTECT
from defi.figures.disclosure import Item
from defi.figures.disclosure import decide
from defi.figures.tables import ALL
from defi.figures.tables import SUBGROUPS
from defi.figures.tables import build
from defi.figures.tables import publish
from tests.test_disclosure import CHOICES
from tests.test_disclosure import cells_of
from tests.test_disclosure import generated
from tests.test_disclosure import recoverable_sets
from tests.test_disclosure import shown_sets

# The last test reads what the property tests counted in this process: pytest-xdist runs the
# whole file in one process, in its order.
pytestmark = pytest.mark.xdist_group("disclosure_insiders")
SEARCHED = {"défis": 0, "insider contexts": 0}


def insider_attacks(sets, insiders, k):
    """{insider's set index: the sets of 1 to K-1 foyers outside it that the shown `sets`
    and its knowledge isolate}, only where some are found."""
    found = {}
    for number, known in enumerate(insiders):
        outside = [set(members) - set(known) for members in sets]
        outside = [members for members in outside if members]
        small = recoverable_sets(outside, k) if outside else []
        if small:
            found[number] = small
    return found


def group_foyers(items, group):
    return frozenset().union(
        *(item.foyers for cell, item in items.items() if cell == (group, "tous"))
    )


# The demo's case, by hand, then on the demo itself.


def test_a_facilitator_cannot_take_its_groups_foyers_out_of_the_territorys_accompanied():
    # Wave 2 of the demo: LokoMotiv' 2 accompanied of 16, Graines d'idées 1 of 8.
    items = cells_of({"L": (2, 14), "G": (1, 7)})
    nobody = decide(items.values(), 3).hidden
    assert (ALL, "accompagnes") not in nobody  # 3 foyers: fine for a reader who knows nothing
    lokomotiv = group_foyers(items, "L")
    naive = [item.foyers for cell, item in items.items() if cell not in nobody]
    assert {"G-a0"} in insider_attacks(naive, [lokomotiv], 3)[0]

    hidden = decide(items.values(), 3, insiders=[lokomotiv]).hidden
    assert hidden[(ALL, "accompagnes")] == PROTECT
    assert hidden[("L", "accompagnes")] == FEW
    shown = [item.foyers for cell, item in items.items() if cell not in hidden]
    assert recoverable_sets(shown, 3) == []
    assert insider_attacks(shown, [lokomotiv], 3) == {}


def test_a_referent_cannot_take_its_structures_foyers_out_of_a_total():
    # Structure X accompanies 2 foyers of group L; a third is another structure's, in G.
    items = cells_of({"L": (2, 14), "G": (1, 7)})
    structure = frozenset({"L-a0", "L-a1"})
    hidden = decide(items.values(), 3, insiders=[structure]).hidden
    assert hidden[(ALL, "accompagnes")] == PROTECT
    shown = [item.foyers for cell, item in items.items() if cell not in hidden]
    assert insider_attacks(shown, [structure], 3) == {}


def figure_hidden(publication, scope, rank, subgroup, key="cout_repas_personne"):
    return publication.tables[scope][key][rank][subgroup].hidden


def test_the_demos_wave_2_accompanied_figures_are_protected(demo):
    published = publish(demo, 3)
    for key in published.tables[ALL]:
        assert figure_hidden(published, ALL, 2, "accompagnes", key) is not None, key
    assert figure_hidden(published, ALL, 2, "accompagnes") == PROTECT
    # Their count too: 3 sent, 2 of them LokoMotiv's, would tell that Graines' one sent.
    assert published.retention[ALL]["accompagnes"].hidden[2] == PROTECT
    assert published.retention[ALL]["accompagnes"].submitted[2] is None
    # What stays: the territory's and each group's "tous", wave 1's accompanied (6 foyers,
    # 3 in each group, 3 with each structure).
    assert figure_hidden(published, ALL, 2, "tous") is None
    assert figure_hidden(published, ALL, 1, "accompagnes") is None
    for group in demo.groups:
        assert figure_hidden(published, group.id, 2, "tous") is None

    # Without the insiders (as before), the cell was shown over 3 foyers.
    with mock.patch.object(tables._Builder, "insiders", lambda self: []):
        naive = publish(demo, 3)
    cell = naive.tables[ALL]["cout_repas_personne"][2]["accompagnes"]
    assert (cell.hidden, cell.n) == (None, 3)


# Random hierarchies: decide alone, over foyers, with random insiders' sets.

hierarchy_strategy = st.dictionaries(
    st.sampled_from("ABCDE"),
    st.tuples(st.integers(0, 5), st.integers(0, 6)),  # accompanied, not accompanied
    min_size=2,
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchy_strategy, st.data(), st.sampled_from([3, 3, 4]))
def test_no_insider_isolates_a_small_set_of_the_other_foyers(groups, data, k):
    items = cells_of(groups)
    foyers = sorted(set().union(*(item.foyers for item in items.values())))
    insiders = [group_foyers(items, group) for group in groups]
    accompanied = [foyer for foyer in foyers if "-a" in foyer]
    if accompanied:  # structures: a random partition of the accompanied foyers
        structure = {
            foyer: data.draw(st.integers(0, 2), label=f"structure of {foyer}")
            for foyer in accompanied
        }
        insiders += [
            frozenset(f for f in accompanied if structure[f] == s) for s in set(structure.values())
        ]
    if foyers:  # and any set of foyers
        insiders.append(frozenset(data.draw(st.sets(st.sampled_from(foyers)), label="any")))
    hidden = decide(items.values(), k, insiders=insiders).hidden
    shown = [item.foyers for cell, item in items.items() if cell not in hidden]
    SEARCHED["insider contexts"] += len(insiders)
    for members in shown:
        assert not 0 < len(members) < k
    assert recoverable_sets(shown, k) == []
    assert insider_attacks(shown, insiders, k) == {}


# Whole publications: every variable of generated défis, staff's sets from the facts.

structured_foyer = st.tuples(
    st.booleans(),  # accompanied
    st.integers(min_value=0, max_value=3),  # the last wave sent (0: none)
    st.lists(st.booleans(), min_size=3, max_size=3),  # weighed at each wave
    st.lists(st.integers(min_value=1, max_value=40_000), min_size=3, max_size=3),  # € spent
    st.lists(st.booleans(), min_size=3, max_size=3),  # ticked "mieux"
    st.integers(min_value=1, max_value=3),  # the structure, when accompanied
)
structured_defi = st.lists(
    st.lists(structured_foyer, min_size=1, max_size=7), min_size=2, max_size=4
)


def staff_sets(groups, facts):
    """Each group's foyers and each structure's, as `build` is told them; {household: structure}."""
    structures = {}
    for group_number, foyers in enumerate(groups, start=1):
        for number, foyer in enumerate(foyers):
            if foyer[0]:
                structures[group_number * 100 + number] = foyer[-1]
    sets = [
        frozenset(h for h, (group, _acc) in facts.items() if group == g)
        for g in range(1, len(groups) + 1)
    ]
    sets += [
        frozenset(h for h, s in structures.items() if s == structure)
        for structure in sorted(set(structures.values()))
    ]
    return structures, sets


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structured_defi, st.sampled_from([3, 3, 4]))
def test_no_published_table_lets_staff_isolate_a_small_set_of_other_foyers(groups, k):
    rows, sums, enrolled, facts = generated([[foyer[:5] for foyer in g] for g in groups])
    structures, insiders = staff_sets(groups, facts)
    group_ids = list(range(1, len(groups) + 1))
    publication = build([1, 2, 3], group_ids, CHOICES, rows, sums, enrolled, k, (), structures)
    SEARCHED["défis"] += 1
    checked = {}
    for variable, sets in shown_sets(publication, rows, sums, facts, group_ids).items():
        shape = tuple(sorted(tuple(sorted(members)) for members in sets))
        if shape not in checked:
            checked[shape] = (recoverable_sets(sets, k), insider_attacks(sets, insiders, k))
            SEARCHED["insider contexts"] += len(insiders)
        assert checked[shape] == ([], {}), variable


def test_insider_property_tests_searched_enough():
    """Run after the property tests (file order)."""
    print(SEARCHED)
    assert SEARCHED["défis"] >= 60
    assert SEARCHED["insider contexts"] > 1_000


# Not more than needed.


def test_nothing_more_is_hidden_when_no_insider_can_take_a_few_out():
    # Every group's accompanied ≥ K, the territory minus any group 0 or ≥ K, each structure
    # holding all or none of a group's accompanied foyers.
    items = cells_of({"A": (4, 10), "B": (3, 7), "C": (5, 5)})
    insiders = [group_foyers(items, group) for group in "ABC"]
    insiders += [
        frozenset({"A-a0", "A-a1", "A-a2", "A-a3"}),
        frozenset({"B-a0", "B-a1", "B-a2", "C-a0", "C-a1", "C-a2", "C-a3", "C-a4"}),
    ]
    assert decide(items.values(), 3, insiders=insiders).hidden == {}
    # But a structure that accompanies 4 of C's 5 takes them out of C's accompanied: the
    # fifth is alone.
    four_of_c = frozenset({"C-a1", "C-a2", "C-a3", "C-a4"})
    hidden = decide(items.values(), 3, insiders=[four_of_c]).hidden
    assert hidden[("C", "accompagnes")] == PROTECT
    shown = [item.foyers for cell, item in items.items() if cell not in hidden]
    assert insider_attacks(shown, [four_of_c], 3) == {}
    # No accompanied foyer at all: nothing hidden either.
    items = cells_of({"A": (0, 10), "B": (0, 7)})
    insiders = [group_foyers(items, group) for group in "AB"]
    assert decide(items.values(), 3, insiders=insiders).hidden == {}


def test_an_insider_whose_set_no_shown_figure_crosses_is_not_searched():
    # Figures of each group only, no territory: a group's facilitator learns nothing more.
    sets = {
        (group, subgroup): frozenset(f"{group}{i}" for i in range(5 if subgroup == "a" else 12))
        for group in "AB"
        for subgroup in "an"
    }
    items = [Item((cell,), "x", members) for cell, members in sets.items()]
    group_a = sets[("A", "a")] | sets[("A", "n")]
    decision = decide(items, 3, insiders=[group_a])
    assert decision.hidden == {}
    assert decision.contexts == 1  # nobody's only


def test_a_defi_with_large_subgroups_everywhere_hides_the_same_with_insiders():
    # 3 groups of 4 accompanied (of 3 structures, one per group) and 6 others, all sending
    # every wave, all weighing: every set is large, outside any group or structure too.
    groups = [
        [(index < 4, 3, [True] * 3, [1000 + 37 * index] * 3, [index % 2 == 0] * 3, g)]
        for g in range(1, 4)
        for index in range(10)
    ]
    groups = [sum(groups[g * 10 : g * 10 + 10], []) for g in range(3)]
    rows, sums, enrolled, facts = generated([[foyer[:5] for foyer in g] for g in groups])
    structures, _insiders = staff_sets(groups, facts)
    publication = build([1, 2, 3], [1, 2, 3], CHOICES, rows, sums, enrolled, 3, (), structures)
    with mock.patch.object(tables._Builder, "insiders", lambda self: []):
        naive = build([1, 2, 3], [1, 2, 3], CHOICES, rows, sums, enrolled, 3)
    assert publication.decision.hidden == naive.decision.hidden
    assert all(
        publication.tables[scope]["cout_repas_personne"][rank][subgroup].hidden is None
        for scope in (ALL, 1, 2, 3)
        for rank in (1, 2, 3)
        for subgroup in SUBGROUPS
    )
