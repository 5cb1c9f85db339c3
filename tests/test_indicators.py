"""Unit tests of defi/figures/indicators.py against DESIGN.md, "Indicators: exact definitions".

Every expected figure is a literal computed by hand, with its arithmetic in a comment, so that a
test never re-derives a value with the formula it checks. The functions are pure: no app, no
database and no fixture is needed. None means "no value" and must never be confused with 0.
"""

import pytest

from defi.figures.indicators import Aggregate
from defi.figures.indicators import EntrySums
from defi.figures.indicators import aggregate
from defi.figures.indicators import cost_per_meal_person
from defi.figures.indicators import foyer_values
from defi.figures.indicators import indicator_keys
from defi.figures.indicators import is_ratio
from defi.figures.indicators import local_share
from defi.figures.indicators import organic_share
from defi.figures.indicators import paired_change
from defi.figures.indicators import place_share
from defi.figures.indicators import pooled_parts
from defi.figures.indicators import value_columns
from defi.figures.indicators import waste_kg_per_person_year

# A foyer of 4 persons over 14 days:
# - purchases of 12,00 € at the marché and 30,00 € at the supermarché = 4200 cents,
#   of which 10,50 € organic and 21,00 € local, over 20 repas-convives;
# - weighings of 1200 g évitable + 500 g épluchures + 300 g non évitable = 2000 g;
# - 3 recipes, 2 producers, two ticked choices.
FOYER = EntrySums(
    persons=4,
    period_days=14,
    meal_covers=20,
    spend_total_cents=4200,
    spend_organic_cents=1050,
    spend_local_cents=2100,
    spend_by_place={"marche": 1200, "supermarche": 3000},
    waste_grams=2000,
    waste_by_category={"evitable": 1200, "epluchures": 500, "non_evitable": 300},
    recipes=3,
    producers=2,
    choices=frozenset({"manger_mieux:nouveaux_gouts", "j_agis_sur:bio"}),
)

# The 20 fixed keys, in the order of DESIGN.md's table (place types and weighing categories in
# the order of defi/models/collecte.py, which follows DESIGN.md's lists).
FIXED_KEYS = [
    "cout_repas_personne",
    "part_bio",
    "part_locale",
    "part_lieu_supermarche",
    "part_lieu_hard_discount",
    "part_lieu_marche",
    "part_lieu_vente_directe",
    "part_lieu_amap",
    "part_lieu_magasin_producteurs",
    "part_lieu_magasin_bio",
    "part_lieu_epicerie_solidaire",
    "part_lieu_proximite",
    "part_lieu_autoproduction",
    "part_lieu_don",
    "gaspillage_kg_pers_an",
    "gaspillage_kg_pers_an_evitable",
    "gaspillage_kg_pers_an_epluchures",
    "gaspillage_kg_pers_an_non_evitable",
    "recettes",
    "producteurs",
]


# --- cout_repas_personne ---------------------------------------------------------------------


def test_cost_is_purchases_over_meal_covers():
    # (12,00 € + 30,00 €) = 4200 cents = 42,00 €; 42,00 ÷ 20 repas-convives = 2,10 €.
    assert cost_per_meal_person(FOYER) == pytest.approx(2.10)


def test_cost_in_totals_mode_uses_the_summed_purchases_too():
    # A relevé that gives the period's totals instead of receipts: 42,00 € ÷ 20 = 2,10 €.
    sums = EntrySums(cost_mode="totals", spend_total_cents=4200, meal_covers=20)
    assert cost_per_meal_person(sums) == pytest.approx(2.10)


@pytest.mark.parametrize(
    ("cents", "covers", "expected"),
    [
        (1000, 3, 3.33),  # 10,00 ÷ 3 = 3,3333… → 3,33
        (2000, 3, 6.67),  # 20,00 ÷ 3 = 6,6666… → 6,67
        (4823, 20, 2.41),  # 48,23 ÷ 20 = 2,4115 → 2,41
        (10000, 7, 14.29),  # 100,00 ÷ 7 = 14,285714… → 14,29
    ],
)
def test_cost_is_rounded_to_two_decimals(cents, covers, expected):
    sums = EntrySums(spend_total_cents=cents, meal_covers=covers)
    assert cost_per_meal_person(sums) == pytest.approx(expected, abs=1e-9)


def test_cost_without_purchases_is_none_not_zero():
    # No purchase at all: nothing to compute from, even with meal covers given.
    assert cost_per_meal_person(EntrySums(spend_total_cents=0, meal_covers=20)) is None
    assert cost_per_meal_person(EntrySums()) is None


@pytest.mark.parametrize("covers", [0, None])
def test_cost_without_meal_covers_is_none(covers):
    # 42,00 € over 0 (or unknown) repas-convives: no division by zero, no value.
    assert cost_per_meal_person(EntrySums(spend_total_cents=4200, meal_covers=covers)) is None


def test_cost_in_direct_mode_is_the_direct_figure():
    # The foyer entered 2,41 € directly; its purchases (42,00 € ÷ 20 = 2,10 €) are ignored.
    sums = EntrySums(
        cost_mode="direct", direct_cost_cents=241, spend_total_cents=4200, meal_covers=20
    )
    assert cost_per_meal_person(sums) == pytest.approx(2.41, abs=1e-9)


@pytest.mark.parametrize(
    ("direct_cents", "expected"),
    [
        (241, 2.41),  # 241 cents → 2,41 €
        (350, 3.50),  # 350 cents → 3,50 €
        (5, 0.05),  # 5 cents → 0,05 €
        (1234, 12.34),  # 1234 cents → 12,34 €
    ],
)
def test_direct_cost_is_in_euros_with_two_decimals(direct_cents, expected):
    sums = EntrySums(cost_mode="direct", direct_cost_cents=direct_cents)
    assert cost_per_meal_person(sums) == pytest.approx(expected, abs=1e-9)


def test_direct_mode_without_a_figure_is_none():
    # Direct mode but no figure given: no value, even if purchases were logged.
    sums = EntrySums(cost_mode="direct", spend_total_cents=4200, meal_covers=20)
    assert cost_per_meal_person(sums) is None


# --- part_bio, part_locale, part_lieu_<type> ---------------------------------------------------


def test_organic_share_is_by_value():
    # 10,50 € organic ÷ 42,00 € total = 1050 ÷ 4200 = 0,25.
    assert organic_share(FOYER) == pytest.approx(0.25)


def test_local_share_is_by_value():
    # 21,00 € local ÷ 42,00 € total = 2100 ÷ 4200 = 0,5.
    assert local_share(FOYER) == pytest.approx(0.5)


def test_share_is_by_value_not_by_number_of_purchases():
    # One organic purchase of 1,00 € and one non-organic of 9,00 €: 1 purchase in 2 is organic
    # (0,5 by count) but 1,00 ÷ 10,00 = 0,1 by value.
    sums = EntrySums(spend_total_cents=1000, spend_organic_cents=100)
    assert organic_share(sums) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        ("marche", 0.2857142857142857),  # 1200 ÷ 4200 = 2/7 = 0,285714…
        ("supermarche", 0.7142857142857143),  # 3000 ÷ 4200 = 5/7 = 0,714285…
        ("amap", 0.0),  # nothing bought at an AMAP: 0 ÷ 4200 = 0
    ],
)
def test_place_share(place, expected):
    assert place_share(FOYER, place) == pytest.approx(expected)


def test_zero_organic_with_purchases_is_zero_not_none():
    # Purchases but nothing organic or local: 0 ÷ 4200 = 0,0, a real value.
    sums = EntrySums(spend_total_cents=4200)
    assert organic_share(sums) == 0.0
    assert local_share(sums) == 0.0


def test_shares_without_purchases_are_none():
    empty = EntrySums()
    assert organic_share(empty) is None
    assert local_share(empty) is None
    assert place_share(empty, "marche") is None


# --- gaspillage_kg_pers_an -----------------------------------------------------------------


def test_waste_per_person_per_year():
    # 2 kg over 14 days for 4 persons: 2 ÷ 4 ÷ 14 × 365 = 730 ÷ 56 = 13,0357142857…
    assert waste_kg_per_person_year(FOYER) == pytest.approx(13.035714285714286)


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("evitable", 7.821428571428571),  # 1,2 kg ÷ 4 ÷ 14 × 365 = 438 ÷ 56 = 7,8214…
        ("epluchures", 3.2589285714285716),  # 0,5 kg ÷ 4 ÷ 14 × 365 = 182,5 ÷ 56 = 3,2589…
        ("non_evitable", 1.9553571428571428),  # 0,3 kg ÷ 4 ÷ 14 × 365 = 109,5 ÷ 56 = 1,9553…
    ],
)
def test_waste_per_category(category, expected):
    assert waste_kg_per_person_year(FOYER, category) == pytest.approx(expected)


def test_waste_of_an_unweighed_category_is_zero_when_others_were_weighed():
    # 2 kg of évitable only, 1 person, 10 days: évitable 2 ÷ 1 ÷ 10 × 365 = 73,0;
    # no épluchures were weighed among the foyer's weighings: 0 ÷ 10 × 365 = 0,0.
    sums = EntrySums(
        persons=1, period_days=10, waste_grams=2000, waste_by_category={"evitable": 2000}
    )
    assert waste_kg_per_person_year(sums, "evitable") == pytest.approx(73.0)
    assert waste_kg_per_person_year(sums, "epluchures") == 0.0


def test_no_weighing_is_none():
    sums = EntrySums(persons=4, period_days=14, waste_grams=None)
    assert waste_kg_per_person_year(sums) is None
    assert waste_kg_per_person_year(sums, "evitable") is None


def test_weighings_summing_to_zero_grams_are_zero():
    # The foyer weighed, and threw away nothing: 0 kg ÷ 4 ÷ 14 × 365 = 0,0, not None.
    sums = EntrySums(persons=4, period_days=14, waste_grams=0, waste_by_category={"evitable": 0})
    assert waste_kg_per_person_year(sums) == 0.0
    assert waste_kg_per_person_year(sums) is not None
    assert waste_kg_per_person_year(sums, "evitable") == 0.0


@pytest.mark.parametrize(
    ("persons", "days"),
    [(None, 14), (4, None), (None, None), (0, 14), (4, 0)],
)
def test_waste_without_persons_or_days_is_none(persons, days):
    sums = EntrySums(
        persons=persons, period_days=days, waste_grams=2000, waste_by_category={"evitable": 2000}
    )
    assert waste_kg_per_person_year(sums) is None
    assert waste_kg_per_person_year(sums, "evitable") is None


# --- indicator_keys ------------------------------------------------------------------------


def test_indicator_keys_without_questions():
    assert indicator_keys() == FIXED_KEYS
    assert len(indicator_keys()) == 20  # 3 + 11 places + 1 + 3 categories + 2 counts


def test_indicator_keys_append_question_choices_in_the_given_order():
    pairs = [("maintien", "mieux"), ("manger_mieux", "nouveaux_gouts"), ("maintien", "moins")]
    assert indicator_keys(pairs) == FIXED_KEYS + [
        "q_maintien_mieux",
        "q_manger_mieux_nouveaux_gouts",
        "q_maintien_moins",
    ]


# --- foyer_values --------------------------------------------------------------------------


QUESTION_CHOICES = [
    ("manger_mieux", "nouveaux_gouts"),
    ("manger_mieux", "plus_equilibre"),
    ("j_agis_sur", "bio"),
]


def test_foyer_values_of_a_full_releve():
    values = foyer_values(FOYER, QUESTION_CHOICES)
    assert list(values) == indicator_keys(QUESTION_CHOICES)
    expected = {
        "cout_repas_personne": 2.10,  # 4200 cents ÷ 20 = 2,10 €
        "part_bio": 0.25,  # 1050 ÷ 4200
        "part_locale": 0.5,  # 2100 ÷ 4200
        "part_lieu_supermarche": 0.7142857142857143,  # 3000 ÷ 4200 = 5/7
        "part_lieu_hard_discount": 0.0,
        "part_lieu_marche": 0.2857142857142857,  # 1200 ÷ 4200 = 2/7
        "part_lieu_vente_directe": 0.0,
        "part_lieu_amap": 0.0,
        "part_lieu_magasin_producteurs": 0.0,
        "part_lieu_magasin_bio": 0.0,
        "part_lieu_epicerie_solidaire": 0.0,
        "part_lieu_proximite": 0.0,
        "part_lieu_autoproduction": 0.0,
        "part_lieu_don": 0.0,
        "gaspillage_kg_pers_an": 13.035714285714286,  # 2 ÷ 4 ÷ 14 × 365
        "gaspillage_kg_pers_an_evitable": 7.821428571428571,  # 1,2 ÷ 4 ÷ 14 × 365
        "gaspillage_kg_pers_an_epluchures": 3.2589285714285716,  # 0,5 ÷ 4 ÷ 14 × 365
        "gaspillage_kg_pers_an_non_evitable": 1.9553571428571428,  # 0,3 ÷ 4 ÷ 14 × 365
        "recettes": 3,
        "producteurs": 2,
        "q_manger_mieux_nouveaux_gouts": 1,  # "manger_mieux:nouveaux_gouts" is ticked
        "q_manger_mieux_plus_equilibre": 0,  # not ticked
        "q_j_agis_sur_bio": 1,  # "j_agis_sur:bio" is ticked
    }
    assert values == pytest.approx(expected)


def test_foyer_values_of_an_empty_releve():
    # Nothing entered: every ratio is None; counts are 0; unticked choices are 0.
    values = foyer_values(EntrySums(), [("maintien", "mieux")])
    assert list(values) == FIXED_KEYS + ["q_maintien_mieux"]
    for key in FIXED_KEYS[:-2]:
        assert values[key] is None, key
    assert values["recettes"] == 0
    assert values["producteurs"] == 0
    assert values["q_maintien_mieux"] == 0


@pytest.mark.parametrize(("recipes", "producers"), [(0, 0), (1, 0), (0, 4), (5, 7)])
def test_counts_of_recipes_and_producers(recipes, producers):
    values = foyer_values(EntrySums(recipes=recipes, producers=producers))
    assert values["recettes"] == recipes
    assert values["producteurs"] == producers


def test_choice_flags_match_the_whole_question_and_choice():
    # "maintien:mieux" ticked; a choice of the same key in another question is not ticked, and
    # only the pairs asked in the wave become keys.
    sums = EntrySums(choices=frozenset({"maintien:mieux", "manger_mieux:sante"}))
    values = foyer_values(sums, [("maintien", "mieux"), ("maintien", "moins"), ("autre", "mieux")])
    assert values["q_maintien_mieux"] == 1
    assert values["q_maintien_moins"] == 0
    assert values["q_autre_mieux"] == 0
    assert "q_manger_mieux_sante" not in values


def test_value_columns_hold_each_releves_values_in_order():
    # The export's way: one list per indicator, the relevés in the order given.
    empty = EntrySums(choices=frozenset({"j_agis_sur:bio"}))
    columns = value_columns([FOYER, empty, FOYER], QUESTION_CHOICES)
    assert list(columns) == indicator_keys(QUESTION_CHOICES)
    assert columns["cout_repas_personne"] == pytest.approx([2.10, None, 2.10])
    assert columns["part_lieu_marche"] == pytest.approx([2 / 7, None, 2 / 7])  # 1200 ÷ 4200
    assert columns["recettes"] == [3, 0, 3]
    assert columns["q_manger_mieux_nouveaux_gouts"] == [1, 0, 1]
    assert columns["q_j_agis_sur_bio"] == [1, 1, 1]
    assert value_columns([], QUESTION_CHOICES)["part_bio"] == []


# --- is_ratio and pooled_parts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("cout_repas_personne", True),
        ("part_bio", True),
        ("part_locale", True),
        ("part_lieu_marche", True),
        ("part_lieu_don", True),
        ("gaspillage_kg_pers_an", True),
        ("gaspillage_kg_pers_an_evitable", True),
        ("recettes", False),
        ("producteurs", False),
        ("q_maintien_mieux", False),
    ],
)
def test_is_ratio(key, expected):
    assert is_ratio(key) is expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("cout_repas_personne", (42.0, 20)),  # 4200 cents = 42,00 € over 20 repas-convives
        ("part_bio", (1050, 4200)),
        ("part_locale", (2100, 4200)),
        ("part_lieu_marche", (1200, 4200)),
        ("part_lieu_amap", (0, 4200)),
        ("gaspillage_kg_pers_an", (730.0, 56)),  # 2 kg × 365 over 4 × 14 person-days
        ("gaspillage_kg_pers_an_evitable", (438.0, 56)),  # 1,2 kg × 365 over 56
        ("gaspillage_kg_pers_an_non_evitable", (109.5, 56)),  # 0,3 kg × 365 over 56
    ],
)
def test_pooled_parts(key, expected):
    assert pooled_parts(key, FOYER) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("key", "sums"),
    [
        ("cout_repas_personne", EntrySums(meal_covers=20)),  # no purchases
        ("cout_repas_personne", EntrySums(spend_total_cents=4200, meal_covers=0)),
        ("cout_repas_personne", EntrySums(cost_mode="direct", direct_cost_cents=241)),
        ("part_bio", EntrySums()),
        ("part_lieu_marche", EntrySums()),
        ("gaspillage_kg_pers_an", EntrySums(persons=4, period_days=14)),  # no weighing
        ("gaspillage_kg_pers_an", EntrySums(persons=None, period_days=14, waste_grams=2000)),
        ("recettes", FOYER),  # not a ratio
        ("q_manger_mieux_nouveaux_gouts", FOYER),  # not a ratio
    ],
)
def test_pooled_parts_none(key, sums):
    assert pooled_parts(key, sums) is None


# --- aggregate -----------------------------------------------------------------------------


def test_aggregate_counts_only_foyers_with_a_value():
    # 1, 3 and 2 have values, None does not: n = 3, mean (1 + 3 + 2) ÷ 3 = 2, median of
    # 1, 2, 3 = 2.
    result = aggregate([1.0, None, 3.0, 2.0])
    assert result.n == 3
    assert result.mean == pytest.approx(2.0)
    assert result.median == pytest.approx(2.0)
    assert result.pooled is None  # no parts given


def test_aggregate_zero_is_a_value():
    # 0 counts (a foyer that shared no recipe), None does not: n = 2, mean 0 + 4 ÷ 2 = 2.
    result = aggregate([0, None, 4])
    assert result.n == 2
    assert result.mean == pytest.approx(2.0)


def test_aggregate_median_odd_n():
    # 1, 2, 9: mean 12 ÷ 3 = 4, median the middle value 2.
    result = aggregate([9.0, 1.0, 2.0])
    assert (result.n, result.mean, result.median) == (3, pytest.approx(4.0), pytest.approx(2.0))


def test_aggregate_median_even_n():
    # 1, 2, 4, 10: mean 17 ÷ 4 = 4,25, median (2 + 4) ÷ 2 = 3.
    result = aggregate([10.0, 2.0, None, 1.0, 4.0])
    assert (result.n, result.mean, result.median) == (4, pytest.approx(4.25), pytest.approx(3.0))


@pytest.mark.parametrize("values", [[], [None], [None, None, None]])
def test_aggregate_empty(values):
    assert aggregate(values, [None] * len(values)) == Aggregate(
        n=0, mean=None, median=None, pooled=None
    )


def test_pooled_cost_differs_from_the_mean_of_ratios():
    # Foyer A: 10,00 € over 10 repas-convives = 1,00 €; foyer B: 90,00 € over 30 = 3,00 €.
    # Mean of ratios (1 + 3) ÷ 2 = 2,00 €; pooled (10 + 90) ÷ (10 + 30) = 100 ÷ 40 = 2,50 €.
    foyers = [
        EntrySums(spend_total_cents=1000, meal_covers=10),
        EntrySums(spend_total_cents=9000, meal_covers=30),
    ]
    values = [cost_per_meal_person(f) for f in foyers]
    parts = [pooled_parts("cout_repas_personne", f) for f in foyers]
    assert values == [pytest.approx(1.0), pytest.approx(3.0)]
    result = aggregate(values, parts)
    assert result.n == 2
    assert result.mean == pytest.approx(2.0)
    assert result.median == pytest.approx(2.0)
    assert result.pooled == pytest.approx(2.5)


def test_pooled_cost_leaves_out_direct_figures():
    # A and B as above, plus foyer C with a direct 5,00 €, which has no numerator/denominator:
    # n = 3, mean (1 + 3 + 5) ÷ 3 = 3,00, median 3,00; pooled still 100 ÷ 40 = 2,50.
    foyers = [
        EntrySums(spend_total_cents=1000, meal_covers=10),
        EntrySums(spend_total_cents=9000, meal_covers=30),
        EntrySums(cost_mode="direct", direct_cost_cents=500),
    ]
    result = aggregate(
        [cost_per_meal_person(f) for f in foyers],
        [pooled_parts("cout_repas_personne", f) for f in foyers],
    )
    assert result.n == 3
    assert result.mean == pytest.approx(3.0)
    assert result.median == pytest.approx(3.0)
    assert result.pooled == pytest.approx(2.5)


def test_pooled_organic_share_differs_from_the_mean_of_shares():
    # A: 1,00 € organic of 10,00 € = 0,1; B: 45,00 € of 90,00 € = 0,5.
    # Mean (0,1 + 0,5) ÷ 2 = 0,3; pooled (100 + 4500) ÷ (1000 + 9000) = 4600 ÷ 10000 = 0,46.
    foyers = [
        EntrySums(spend_total_cents=1000, spend_organic_cents=100),
        EntrySums(spend_total_cents=9000, spend_organic_cents=4500),
    ]
    result = aggregate(
        [organic_share(f) for f in foyers], [pooled_parts("part_bio", f) for f in foyers]
    )
    assert result.n == 2
    assert result.mean == pytest.approx(0.3)
    assert result.pooled == pytest.approx(0.46)


def test_pooled_waste_differs_from_the_mean_of_ratios():
    # A: 2 kg, 4 persons, 14 days → 2 × 365 ÷ 56 = 13,0357…
    # B: 1 kg, 1 person, 7 days → 1 × 365 ÷ 7 = 52,142857…
    # Mean (730/56 + 2920/56) ÷ 2 = 3650 ÷ 112 = 32,589285…
    # Pooled (730 + 365) ÷ (56 + 7) = 1095 ÷ 63 = 17,380952…
    foyers = [
        EntrySums(persons=4, period_days=14, waste_grams=2000),
        EntrySums(persons=1, period_days=7, waste_grams=1000),
        EntrySums(persons=3, period_days=7),  # did not weigh: no value, no parts
    ]
    result = aggregate(
        [waste_kg_per_person_year(f) for f in foyers],
        [pooled_parts("gaspillage_kg_pers_an", f) for f in foyers],
    )
    assert result.n == 2
    assert result.mean == pytest.approx(32.589285714285715)
    assert result.median == pytest.approx(32.589285714285715)
    assert result.pooled == pytest.approx(17.38095238095238)


# --- paired_change -------------------------------------------------------------------------


def test_paired_change_counts_only_foyers_with_both_values():
    # Paired: foyers 1 (10 → 8) and 2 (20 → 16). Foyer 3 has no later value, foyer 4 no first
    # value, foyer 5 only a later one. Paired means 15 → 12: (12 - 15) ÷ 15 × 100 = -20 %.
    first = {1: 10.0, 2: 20.0, 3: 30.0, 4: None}
    later = {1: 8.0, 2: 16.0, 3: None, 4: 5.0, 5: 7.0}
    n, change = paired_change(first, later)
    assert n == 2
    assert change == pytest.approx(-20.0)


def test_paired_change_increase():
    # Shares 0,2 → 0,3 and 0,4 → 0,5: paired means 0,3 → 0,4, (0,4 - 0,3) ÷ 0,3 × 100 = 33,33… %.
    n, change = paired_change({1: 0.2, 2: 0.4}, {1: 0.3, 2: 0.5})
    assert n == 2
    assert change == pytest.approx(33.333333333333336)


def test_paired_change_is_of_the_mean_not_the_mean_of_changes():
    # 10 → 20 (+100 %) and 40 → 30 (-25 %): the mean of the changes would be +37,5 %, but the
    # paired means are 25 → 25, a change of 0 %.
    n, change = paired_change({1: 10.0, 2: 40.0}, {1: 20.0, 2: 30.0})
    assert n == 2
    assert change == pytest.approx(0.0)


def test_paired_change_from_a_zero_mean_is_none():
    # Paired means 0 → 1,5: a change in % of 0 is undefined, but the pairs are still counted.
    assert paired_change({1: 0.0, 2: 0.0}, {1: 1.0, 2: 2.0}) == (2, None)


@pytest.mark.parametrize(
    ("first", "later"),
    [
        ({}, {}),
        ({1: 1.0}, {2: 2.0}),  # different foyers
        ({1: 1.0, 2: None}, {1: None, 2: 2.0}),  # each lacks one wave
    ],
)
def test_paired_change_without_pairs(first, later):
    assert paired_change(first, later) == (0, None)


def test_half_a_cent_rounds_up():
    # 10,10 € ÷ 4 repas-convives = 2,525 € → 2,53 € (a float would give 2,52).
    assert cost_per_meal_person(EntrySums(spend_total_cents=1010, meal_covers=4)) == 2.53
    # 0,50 € ÷ 4 = 0,125 € → 0,13 €.
    assert cost_per_meal_person(EntrySums(spend_total_cents=50, meal_covers=4)) == 0.13


def test_totals_without_breakdown_give_no_share_by_place_or_category():
    # A paper sheet gives totals only: shares by place and by category have no value.
    sums = EntrySums(
        cost_mode="totals",
        spend_total_cents=4200,
        spend_organic_cents=420,
        meal_covers=20,
        spend_by_place=None,
        persons=2,
        period_days=14,
        waste_grams=1400,
        waste_by_category=None,
    )
    assert organic_share(sums) == pytest.approx(0.1)
    assert place_share(sums, "marche") is None
    assert pooled_parts("part_lieu_marche", sums) is None
    # 1,4 kg ÷ 2 persons ÷ 14 days × 365 = 18,25 kg.
    assert waste_kg_per_person_year(sums) == pytest.approx(18.25)
    assert waste_kg_per_person_year(sums, "evitable") is None
    assert pooled_parts("gaspillage_kg_pers_an_evitable", sums) is None
