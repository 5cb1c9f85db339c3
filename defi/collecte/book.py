"""The group's recipe book and producer directory, shared by its foyers without authors."""

import sqlalchemy as sa
from flask import request
from flask_login import current_user

from defi.collecte import bp
from defi.collecte.forms import PRODUCER_KIND_LABELS
from defi.collecte.forms import PURPOSE_LABELS
from defi.extensions import db
from defi.forms import strip
from defi.htmx import render
from defi.models import Entry
from defi.models import Household
from defi.models import Producer
from defi.models import Recipe
from defi.models import Wave


def group_entries(group_id):
    return (
        sa.select(Entry.id)
        .join(Household, Household.id == Entry.household_id)
        .where(Household.group_id == group_id)
    )


@bp.route("/recettes")
def recipe_book():
    """Every recipe of the group, searchable; no author is shown."""
    query = strip(request.args.get("q") or "")[:100]
    select = (
        sa.select(Recipe, Wave.rank)
        .join(Entry, Entry.id == Recipe.entry_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Recipe.entry_id.in_(group_entries(current_user.household.group_id)))
        .where(Recipe.title != "")
        .order_by(Recipe.title, Recipe.id)
    )
    if query:
        pattern = "%" + query.replace("\\", "").replace("%", "").replace("_", "") + "%"
        select = select.where(
            sa.or_(Recipe.title.ilike(pattern), Recipe.ingredients.ilike(pattern))
        )
    recipes = db.session.execute(select).all()
    return render(
        "collecte/recipe_book.html",
        "results",
        recipes=recipes,
        query=query,
        purposes=PURPOSE_LABELS,
    )


def merge_producer(producers: dict, row, household_id):
    """Add a foyer's producer to the directory: one line per producer (same name and commune),
    the first address and contact found, every product once, the foyers who know it."""
    merged = producers.setdefault(
        row.dedup_key,
        {"name": row.name, "kind": row.kind, "commune": row.commune, "address": "",
         "contact": "", "products": [], "foyers": set()},
    )  # fmt: skip
    merged["address"] = merged["address"] or row.address
    merged["contact"] = merged["contact"] or row.contact
    for product in (p.strip() for p in row.products.split(",")):
        if product and product.lower() not in (p.lower() for p in merged["products"]):
            merged["products"].append(product)
    merged["foyers"].add(household_id)


@bp.route("/producteurs")
def directory():
    """The group's local producers, one line per producer (same name and commune)."""
    rows = db.session.execute(
        sa.select(Producer, Entry.household_id)
        .join(Entry, Entry.id == Producer.entry_id)
        .where(Producer.entry_id.in_(group_entries(current_user.household.group_id)))
        .where(Producer.name != "")
        .order_by(Producer.dedup_key, Producer.id)
    ).all()
    producers = {}
    for row, household_id in rows:
        merge_producer(producers, row, household_id)
    listing = sorted(producers.values(), key=lambda p: p["name"].lower())
    return render("collecte/directory.html", None, producers=listing, kinds=PRODUCER_KIND_LABELS)
