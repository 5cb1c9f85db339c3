"""Load the raw sums of relevés for the indicators, in two queries.

`sums_for(entry_ids)` takes a SELECT of `Entry.id` (not a list), so that the same two queries
serve one relevé, a group's wave or a whole défi. The database sums each relevé's purchases
and weighings (per place and per category too) and counts its recipes and producers, so that
one row per relevé comes back, whatever the number of rows it holds.

A foyer's pages read the sums of its own relevés, or of one, on every request:
`sums_of_household` and `sums_of_entry` run the same two statements, built once per process
with the id as a bound parameter. Building them (some forty columns and four subqueries) and
computing their cache key cost more than running them.
"""

import functools
from collections import defaultdict

import sqlalchemy as sa

from defi.extensions import db
from defi.figures.indicators import EntrySums
from defi.models import Answer
from defi.models import Choice
from defi.models import Entry
from defi.models import Producer
from defi.models import Purchase
from defi.models import Question
from defi.models import Recipe
from defi.models import Weighing
from defi.models.collecte import PLACE_TYPES
from defi.models.collecte import WEIGHING_CATEGORIES


def _sum_when(column, condition):
    """SUM(CASE WHEN condition THEN column END): NULL when no row meets the condition."""
    return sa.func.sum(sa.case((condition, column)))


def sums_for(entry_ids) -> dict[int, EntrySums]:
    """The EntrySums of every relevé whose id the SELECT `entry_ids` returns."""
    return _sums(*_statements(entry_ids), {})


def sums_of_household(household_id: int) -> dict[int, EntrySums]:
    """The EntrySums of each relevé of one foyer."""
    return _sums(*_statements_by("household_id"), {"key": household_id})


def sums_of_entry(entry_id: int) -> EntrySums | None:
    """The EntrySums of one relevé, or None when it does not exist."""
    return _sums(*_statements_by("id"), {"key": entry_id}).get(entry_id)


@functools.cache
def _statements_by(column: str):
    """The statements of the relevés whose `column` equals the bound parameter `key`."""
    return _statements(sa.select(Entry.id).where(getattr(Entry, column) == sa.bindparam("key")))


def _statements(entry_ids):
    """(answers, sums): the two SELECTs over the relevés whose id `entry_ids` returns."""
    ids = entry_ids.scalar_subquery() if hasattr(entry_ids, "scalar_subquery") else entry_ids
    spend = (
        sa.select(
            Purchase.entry_id,
            sa.func.sum(Purchase.total_cents),
            sa.func.sum(Purchase.organic_cents),
            sa.func.sum(Purchase.local_cents),
            *(_sum_when(Purchase.total_cents, Purchase.place_type == p) for p in PLACE_TYPES),
        )
        .where(Purchase.entry_id.in_(ids))
        .group_by(Purchase.entry_id)
        .subquery()
    )
    waste = (
        sa.select(
            Weighing.entry_id,
            *(_sum_when(Weighing.grams, Weighing.category == c) for c in WEIGHING_CATEGORIES),
        )
        .where(Weighing.entry_id.in_(ids))
        .group_by(Weighing.entry_id)
        .subquery()
    )
    recipes = (
        sa.select(Recipe.entry_id, sa.func.count(Recipe.id))
        .where(Recipe.entry_id.in_(ids), Recipe.title != "")
        .group_by(Recipe.entry_id)
        .subquery()
    )
    producers = (
        sa.select(Producer.entry_id, sa.func.count(Producer.id))
        .where(Producer.entry_id.in_(ids), Producer.name != "")
        .group_by(Producer.entry_id)
        .subquery()
    )
    answers = (
        sa.select(Answer.entry_id, Question.key, Choice.key)
        .join(Question, Question.id == Answer.question_id)
        .join(Choice, Choice.id == Answer.choice_id)
        .where(Answer.entry_id.in_(ids))
    )
    # Plain rows, not ORM objects: a défi's export reads tens of thousands of relevés.
    sums = (
        sa.select(
            Entry.id,
            Entry.household_id,
            Entry.wave_id,
            Entry.status,
            Entry.persons,
            Entry.period_days,
            Entry.meal_covers,
            Entry.cost_mode,
            Entry.direct_cost_cents,
            Entry.spend_total_cents,
            Entry.spend_organic_cents,
            Entry.spend_local_cents,
            Entry.declared_waste_grams,
            Entry.declared_recipes,
            Entry.declared_producers,
            *list(spend.c)[1:],
            *list(waste.c)[1:],
            list(recipes.c)[1],
            list(producers.c)[1],
        )
        .outerjoin(spend, spend.c.entry_id == Entry.id)
        .outerjoin(waste, waste.c.entry_id == Entry.id)
        .outerjoin(recipes, recipes.c.entry_id == Entry.id)
        .outerjoin(producers, producers.c.entry_id == Entry.id)
        .where(Entry.id.in_(ids))
    )
    return answers, sums


def _sums(answers, sums, parameters) -> dict[int, EntrySums]:
    choices = defaultdict(set)
    for entry_id, question, choice in db.session.execute(answers, parameters):
        choices[entry_id].add(f"{question}:{choice}")
    rows = db.session.execute(sums, parameters)
    places_at = slice(18, 18 + len(PLACE_TYPES))
    categories_at = slice(places_at.stop, places_at.stop + len(WEIGHING_CATEGORIES))
    result = {}
    for row in rows:
        (entry_id, household_id, wave_id, status, persons, period_days, meal_covers, cost_mode,
         direct_cost_cents, declared_total, declared_organic, declared_local,
         declared_waste, declared_recipes, declared_producers,
         total, organic, local) = row[: places_at.start]  # fmt: skip
        recipe_count, producer_count = row[categories_at.stop :]
        if cost_mode == "totals":
            total = declared_total or 0
            organic = declared_organic or 0
            local = declared_local or 0
            places = None  # totals from a paper sheet say nothing of the places
        else:
            total, organic, local = int(total or 0), int(organic or 0), int(local or 0)
            # Only the places with a purchase, as when the rows are summed one by one.
            places = {
                place: int(cents)
                for place, cents in zip(PLACE_TYPES, row[places_at], strict=True)
                if cents is not None
            }
        categories = {
            category: int(grams)
            for category, grams in zip(WEIGHING_CATEGORIES, row[categories_at], strict=True)
            if grams is not None
        }
        if declared_waste is not None:
            # A total from a paper sheet: no share by category.
            waste_grams, categories = declared_waste, None
        else:
            waste_grams = sum(categories.values()) if categories else None
        result[entry_id] = EntrySums(
            persons=persons,
            period_days=period_days,
            meal_covers=meal_covers,
            cost_mode=cost_mode,
            direct_cost_cents=direct_cost_cents,
            spend_total_cents=total,
            spend_organic_cents=organic,
            spend_local_cents=local,
            spend_by_place=places,
            waste_grams=waste_grams,
            waste_by_category=categories,
            recipes=declared_recipes if declared_recipes is not None else recipe_count or 0,
            producers=declared_producers if declared_producers is not None else producer_count or 0,
            choices=frozenset(choices[entry_id]),
            household_id=household_id,
            wave_id=wave_id,
            status=status,
        )
    return result
