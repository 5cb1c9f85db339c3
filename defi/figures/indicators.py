"""The indicators of DESIGN.md, as pure functions of a relevé's raw sums, and their aggregates.

Nothing here touches the database: `figures/sums.py` loads the raw sums of each relevé into
`EntrySums`, and these functions compute the foyer's values and the group's n, mean, median and
pooled ratio. A value is None when the foyer gave nothing to compute it from (no purchases, no
weighing...): None is "no value", never zero.
"""

import statistics
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from decimal import ROUND_HALF_UP
from decimal import Decimal

from defi.models.collecte import CATEGORY_LABELS
from defi.models.collecte import PLACE_LABELS
from defi.models.collecte import PLACE_TYPES
from defi.models.collecte import WEIGHING_CATEGORIES

DAYS_PER_YEAR = 365
CENT = Decimal("0.01")


@dataclass(frozen=True)
class EntrySums:
    """What one relevé holds, summed: the inputs of every indicator."""

    persons: int | None = None
    period_days: int | None = None
    meal_covers: int | None = None
    cost_mode: str = "purchases"
    direct_cost_cents: int | None = None
    spend_total_cents: int = 0
    spend_organic_cents: int = 0
    spend_local_cents: int = 0
    # None when the spending came as totals (a paper sheet): no share by place then.
    spend_by_place: Mapping[str, int] | None = field(default_factory=dict)
    # None when the foyer weighed nothing (weighing is optional in the source).
    waste_grams: int | None = None
    # None when only a total weight was declared: no share by category then.
    waste_by_category: Mapping[str, int] | None = field(default_factory=dict)
    recipes: int = 0
    producers: int = 0
    # "question_key:choice_key" of every ticked choice.
    choices: frozenset[str] = frozenset()
    # Whose relevé it is, so that callers need not read the relevé again.
    household_id: int | None = None
    wave_id: int | None = None
    status: str | None = None


def _ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def cost_per_meal_person(sums: EntrySums) -> float | None:
    """€ per meal per person: Σ purchases € ÷ repas-convives, or the figure given directly."""
    return meal_cost(
        sums.cost_mode, sums.direct_cost_cents, sums.spend_total_cents, sums.meal_covers
    )


def meal_cost(cost_mode, direct_cost_cents, spend_total_cents, meal_covers) -> float | None:
    """`cost_per_meal_person` from the four values it reads (the microdata's rows)."""
    if cost_mode == "direct":
        return None if direct_cost_cents is None else round(direct_cost_cents / 100, 2)
    if not spend_total_cents or not meal_covers:
        return None
    # Exact decimal arithmetic, half a cent rounded up (floats would round 2,525 down).
    value = Decimal(spend_total_cents) / 100 / Decimal(meal_covers)
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def organic_share(sums: EntrySums) -> float | None:
    """Σ organic € ÷ Σ total €, by value."""
    return _ratio(sums.spend_organic_cents, sums.spend_total_cents)


def local_share(sums: EntrySums) -> float | None:
    """Σ local € ÷ Σ total €."""
    return _ratio(sums.spend_local_cents, sums.spend_total_cents)


def place_share(sums: EntrySums, place: str) -> float | None:
    """Σ € at that place type ÷ Σ total €."""
    if sums.spend_by_place is None:
        return None
    return _ratio(sums.spend_by_place.get(place, 0), sums.spend_total_cents)


def person_days(sums: EntrySums) -> int | None:
    if not sums.persons or not sums.period_days:
        return None
    return sums.persons * sums.period_days


def waste_kg_per_person_year(sums: EntrySums, category: str | None = None) -> float | None:
    """Σ weighed kg ÷ persons ÷ period days × 365 (ADEME's "foyers témoins" unit)."""
    if sums.waste_grams is None:
        return None
    if category is not None and sums.waste_by_category is None:
        return None
    grams = sums.waste_grams if category is None else sums.waste_by_category.get(category, 0)
    per_day = _ratio(grams / 1000, person_days(sums))
    return None if per_day is None else per_day * DAYS_PER_YEAR


def indicator_labels() -> dict[str, str]:
    """French names of the indicators (questionnaire choices are named by the défi)."""
    from defi.formatting import gettext as _

    labels = {
        "cout_repas_personne": _("Coût par repas et par personne (€)"),
        "part_bio": _("Part bio"),
        "part_locale": _("Part locale"),
        "gaspillage_kg_pers_an": _("Gaspillage (kg par personne et par an)"),
        "recettes": _("Recettes partagées"),
        "producteurs": _("Adresses de producteurs collectées"),
    }
    for place, label in PLACE_LABELS.items():
        labels[f"part_lieu_{place}"] = _("Part des achats : %(place)s", place=label)
    for category, label in CATEGORY_LABELS.items():
        labels[f"gaspillage_kg_pers_an_{category}"] = _("Gaspillage %(category)s", category=label)
    return labels


def indicator_keys(question_choices: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Every indicator key, in the order of DESIGN.md's table."""
    keys = ["cout_repas_personne", "part_bio", "part_locale"]
    keys += [f"part_lieu_{place}" for place in PLACE_TYPES]
    keys += ["gaspillage_kg_pers_an"]
    keys += [f"gaspillage_kg_pers_an_{category}" for category in WEIGHING_CATEGORIES]
    keys += ["recettes", "producteurs"]
    keys += [f"q_{question}_{choice}" for question, choice in question_choices]
    return keys


def foyer_values(
    sums: EntrySums, question_choices: Iterable[tuple[str, str]] = ()
) -> dict[str, float | None]:
    """The value of every indicator for one foyer and wave.

    `question_choices` are the (question key, choice key) pairs asked in that wave; a choice is
    1 when ticked, else 0.
    """
    return {key: column[0] for key, column in value_columns([sums], question_choices).items()}


def value_columns(
    entry_sums: Sequence[EntrySums], question_choices: Iterable[tuple[str, str]] = ()
) -> dict[str, list[float | None]]:
    """`foyer_values` of many relevés at once: {key: [the value of each relevé, in order]}.

    One list per indicator rather than one dict per relevé: the pilot's export values every
    relevé of a défi (10,000 foyers × 3 waves).
    """
    columns: dict[str, list[float | None]] = {
        "cout_repas_personne": [cost_per_meal_person(sums) for sums in entry_sums],
        "part_bio": [organic_share(sums) for sums in entry_sums],
        "part_locale": [local_share(sums) for sums in entry_sums],
    }
    for place in PLACE_TYPES:
        columns[f"part_lieu_{place}"] = [place_share(sums, place) for sums in entry_sums]
    columns["gaspillage_kg_pers_an"] = [waste_kg_per_person_year(sums) for sums in entry_sums]
    for category in WEIGHING_CATEGORIES:
        columns[f"gaspillage_kg_pers_an_{category}"] = [
            waste_kg_per_person_year(sums, category) for sums in entry_sums
        ]
    columns["recettes"] = [sums.recipes for sums in entry_sums]
    columns["producteurs"] = [sums.producers for sums in entry_sums]
    for question, choice in question_choices:
        ticked = f"{question}:{choice}"
        columns[f"q_{question}_{choice}"] = [
            1 if ticked in sums.choices else 0 for sums in entry_sums
        ]
    return columns


def pooled_parts(key: str, sums: EntrySums) -> tuple[float, float] | None:
    """(numerator, denominator) of a ratio indicator, for the pooled ratio Σ num ÷ Σ den."""
    return parts_of(key)(sums)


def parts_of(key: str) -> Callable[[EntrySums], tuple[float, float] | None]:
    """The function giving a relevé's (numerator, denominator) of the indicator `key`.

    Chosen once per indicator, so that the export calls it on every relevé without looking
    at the key again.
    """
    if key == "cout_repas_personne":
        return _cost_parts
    if key == "part_bio":
        return lambda sums: _share_parts(sums, sums.spend_organic_cents)
    if key == "part_locale":
        return lambda sums: _share_parts(sums, sums.spend_local_cents)
    if key.startswith("part_lieu_"):
        place = key.removeprefix("part_lieu_")
        return lambda sums: (
            None
            if sums.spend_by_place is None
            else _share_parts(sums, sums.spend_by_place.get(place, 0))
        )
    if key.startswith("gaspillage_kg_pers_an"):
        category = key.removeprefix("gaspillage_kg_pers_an").removeprefix("_")
        return lambda sums: _waste_parts(sums, category)
    return lambda sums: None


def _cost_parts(sums: EntrySums) -> tuple[float, float] | None:
    if sums.cost_mode == "direct" or not sums.spend_total_cents or not sums.meal_covers:
        return None
    return sums.spend_total_cents / 100, sums.meal_covers


def _share_parts(sums: EntrySums, part: int) -> tuple[float, float] | None:
    if not sums.spend_total_cents:
        return None
    return part, sums.spend_total_cents


def _waste_parts(sums: EntrySums, category: str) -> tuple[float, float] | None:
    days = person_days(sums)
    if sums.waste_grams is None or not days:
        return None
    if category and sums.waste_by_category is None:
        return None
    grams = sums.waste_by_category.get(category, 0) if category else sums.waste_grams
    return grams / 1000 * DAYS_PER_YEAR, days


def is_ratio(key: str) -> bool:
    """Whether the indicator has a pooled ratio (Σ numerators ÷ Σ denominators)."""
    return key in ("cout_repas_personne", "part_bio", "part_locale") or key.startswith(
        ("part_lieu_", "gaspillage_kg_pers_an")
    )


@dataclass(frozen=True)
class Aggregate:
    """A group's figure for one indicator and wave."""

    n: int
    mean: float | None
    median: float | None
    pooled: float | None = None


def aggregate(values: Iterable[float | None], parts: Iterable[tuple[float, float] | None] = ()):
    """n (foyers with a value), mean and median of the foyers' values, and the pooled ratio."""
    present = [value for value in values if value is not None]
    if not present:
        return Aggregate(n=0, mean=None, median=None)
    kept = [part for part in parts if part is not None]
    denominator = sum(den for _num, den in kept)
    pooled = sum(num for num, _den in kept) / denominator if denominator else None
    return Aggregate(
        n=len(present),
        mean=statistics.fmean(present),
        median=statistics.median(present),
        pooled=pooled,
    )


def paired_change(
    first: Mapping[int, float | None], later: Mapping[int, float | None]
) -> tuple[int, float | None]:
    """(n paired, change in % of the paired mean) from the first wave to a later one.

    Only foyers with a value in both waves count; the change is None when there are none or
    when the first mean is zero.
    """
    paired = [
        (first[key], later[key])
        for key in first
        if key in later and first[key] is not None and later[key] is not None
    ]
    if not paired:
        return 0, None
    before = statistics.fmean(value for value, _ in paired)
    after = statistics.fmean(value for _, value in paired)
    if before == 0:
        return len(paired), None
    return len(paired), (after - before) / before * 100
