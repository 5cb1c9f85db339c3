"""Load the raw sums of relevés for the indicators, in a fixed number of queries.

`sums_for(entry_ids)` takes a SELECT of `Entry.id` (not a list), so that the same six queries
serve one relevé, a group's wave or a whole défi.
"""

from collections import defaultdict

import sqlalchemy as sa

from defi.extensions import db
from defi.indicators import EntrySums
from defi.models import Answer
from defi.models import Choice
from defi.models import Entry
from defi.models import Producer
from defi.models import Purchase
from defi.models import Question
from defi.models import Recipe
from defi.models import Weighing


def sums_for(entry_ids) -> dict[int, EntrySums]:
    """The EntrySums of every relevé whose id the SELECT `entry_ids` returns."""
    ids = entry_ids.scalar_subquery() if hasattr(entry_ids, "scalar_subquery") else entry_ids
    spend = defaultdict(lambda: [0, 0, 0])
    by_place = defaultdict(dict)
    for entry_id, place, total, organic, local in db.session.execute(
        sa.select(
            Purchase.entry_id,
            Purchase.place_type,
            sa.func.sum(Purchase.total_cents),
            sa.func.sum(Purchase.organic_cents),
            sa.func.sum(Purchase.local_cents),
        )
        .where(Purchase.entry_id.in_(ids))
        .group_by(Purchase.entry_id, Purchase.place_type)
    ):
        spend[entry_id][0] += total
        spend[entry_id][1] += organic
        spend[entry_id][2] += local
        by_place[entry_id][place] = int(total)
    waste = defaultdict(dict)
    for entry_id, category, grams in db.session.execute(
        sa.select(Weighing.entry_id, Weighing.category, sa.func.sum(Weighing.grams))
        .where(Weighing.entry_id.in_(ids))
        .group_by(Weighing.entry_id, Weighing.category)
    ):
        waste[entry_id][category] = int(grams)
    recipes = dict(
        db.session.execute(
            sa.select(Recipe.entry_id, sa.func.count(Recipe.id))
            .where(Recipe.entry_id.in_(ids), Recipe.title != "")
            .group_by(Recipe.entry_id)
        ).all()
    )
    producers = dict(
        db.session.execute(
            sa.select(Producer.entry_id, sa.func.count(Producer.id))
            .where(Producer.entry_id.in_(ids), Producer.name != "")
            .group_by(Producer.entry_id)
        ).all()
    )
    choices = defaultdict(set)
    for entry_id, question, choice in db.session.execute(
        sa.select(Answer.entry_id, Question.key, Choice.key)
        .join(Question, Question.id == Answer.question_id)
        .join(Choice, Choice.id == Answer.choice_id)
        .where(Answer.entry_id.in_(ids))
    ):
        choices[entry_id].add(f"{question}:{choice}")

    result = {}
    # Plain rows, not ORM objects: a défi's export reads tens of thousands of relevés.
    columns = (
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
    )
    for entry in db.session.execute(sa.select(*columns).where(Entry.id.in_(ids))):
        if entry.cost_mode == "totals":
            total = entry.spend_total_cents or 0
            organic = entry.spend_organic_cents or 0
            local = entry.spend_local_cents or 0
            places = None  # totals from a paper sheet say nothing of the places
        else:
            total, organic, local = (int(value) for value in spend[entry.id])
            places = by_place[entry.id]
        categories = waste.get(entry.id)
        if entry.declared_waste_grams is not None:
            # A total from a paper sheet: no share by category.
            waste_grams, categories = entry.declared_waste_grams, None
        else:
            waste_grams = sum(categories.values()) if categories else None
            categories = categories or {}
        result[entry.id] = EntrySums(
            persons=entry.persons,
            period_days=entry.period_days,
            meal_covers=entry.meal_covers,
            cost_mode=entry.cost_mode,
            direct_cost_cents=entry.direct_cost_cents,
            spend_total_cents=total,
            spend_organic_cents=organic,
            spend_local_cents=local,
            spend_by_place=places,
            waste_grams=waste_grams,
            waste_by_category=categories,
            recipes=entry.declared_recipes
            if entry.declared_recipes is not None
            else recipes.get(entry.id, 0),
            producers=entry.declared_producers
            if entry.declared_producers is not None
            else producers.get(entry.id, 0),
            choices=frozenset(choices[entry.id]),
            household_id=entry.household_id,
            wave_id=entry.wave_id,
            status=entry.status,
        )
    return result
