"""The group's recipe book and producer directory, shared by its foyers without authors.

A foyer reads its own group's (`/collecte/recettes`, `/collecte/producteurs`); staff read those
of the groups in their reach (`/collecte/equipe/...?groupe=<id>`, `defi.reach`): the same
lists, searches and pages, and for everyone the same rule: no author's name, code or label.
"""

import functools

import sqlalchemy as sa
from flask import request
from flask_login import current_user

from defi.collecte import bp
from defi.collecte.forms import PRODUCER_KIND_LABELS
from defi.collecte.forms import PURPOSE_LABELS
from defi.extensions import db
from defi.htmx import render
from defi.models import Entry
from defi.models import Household
from defi.models import Producer
from defi.models import Recipe
from defi.models import Wave
from defi.paging import name_key
from defi.paging import paging_of
from defi.paging import search_query
from defi.paging import searcher
from defi.reach import chosen_group_or_404
from defi.reach import groups_in_reach

# Ten cards a page keep the book and the directory short on a phone.
PER_PAGE = 10


def group_entries(group_id):
    return (
        sa.select(Entry.id)
        .join(Household, Household.id == Entry.household_id)
        .where(Household.group_id == group_id)
    )


def render_recipe_book(group, endpoint, groups=None):
    """Every recipe of the group, searchable by title or ingredient, ten a page; no author.

    `groups`: the groups a staff member may choose among (None for a foyer)."""
    query = search_query()
    select = (
        sa.select(Recipe, Wave.rank)
        .join(Entry, Entry.id == Recipe.entry_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Recipe.entry_id.in_(group_entries(group.id)))
        .where(Recipe.title != "")
    )
    if query:
        # autoescape: a typed "%" or "_" is looked for as such, not as a wildcard.
        select = select.where(
            sa.or_(
                Recipe.title.icontains(query, autoescape=True),
                Recipe.ingredients.icontains(query, autoescape=True),
            )
        )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(select.subquery()))
    paging = paging_of(total, PER_PAGE)
    recipes = db.session.execute(
        select.order_by(Recipe.title, Recipe.id).limit(PER_PAGE).offset(paging.offset)
    ).all()
    return render(
        "collecte/recipe_book.html",
        "results",
        recipes=recipes,
        query=query,
        paging=paging,
        purposes=PURPOSE_LABELS,
        **book_context(group, endpoint, groups),
    )


def book_context(group, endpoint, groups):
    """What the book's and the directory's templates need to address their own pages: the
    endpoint, and for staff (who have `groups`) the chosen group, kept in every link."""
    staff = groups is not None
    return {
        "group": group,
        "groups": groups or [],
        "endpoint": endpoint,
        "staff": staff,
        "group_args": {"groupe": group.id} if staff else {},
    }


@bp.route("/recettes")
def recipe_book():
    """The foyer's group's recipe book."""
    return render_recipe_book(current_user.household.group, "collecte.recipe_book")


@bp.route("/equipe/recettes")
def group_recipe_book():
    """The recipe book of a group the staff member may read (`?groupe=`, else its first)."""
    groups = groups_in_reach()
    return render_recipe_book(chosen_group_or_404(groups), "collecte.group_recipe_book", groups)


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


def render_directory(group, endpoint, groups=None):
    """The group's local producers, one card per producer (same name and commune),
    searchable by name, product or commune, filtered by kind, ten a page; no author."""
    query = search_query()
    kind = request.args.get("kind") or ""
    kind = kind if kind in PRODUCER_KIND_LABELS else ""
    listing = merged_directory(group.id)
    if kind:
        listing = [p for p in listing if p["kind"] == kind]
    if query:
        # Searched after merging: a producer is found by the products any foyer gave it.
        search = searcher(query)
        listing = [p for p in listing if search(p["name"], p["commune"], *p["products"])]
    paging = paging_of(len(listing), PER_PAGE)
    return render(
        "collecte/directory.html",
        "results",
        producers=paging.of(listing),
        query=query,
        kind=kind,
        paging=paging,
        kinds=PRODUCER_KIND_LABELS,
        **book_context(group, endpoint, groups),
    )


def merged_directory(group_id):
    """The group's producers merged, one per name and commune, by name."""
    producers = {}
    for row in db.session.execute(_directory_rows(), {"group_id": group_id}):
        merge_producer(producers, row, row.household_id)
    return sorted(producers.values(), key=lambda p: (name_key(p["name"]), name_key(p["commune"])))


@functools.cache
def _directory_rows():
    """The group's producer rows, as plain rows (not ORM objects: a large group has tens of
    thousands), in the order the merge reads them; built once."""
    return (
        sa.select(
            Producer.dedup_key,
            Producer.name,
            Producer.kind,
            Producer.commune,
            Producer.address,
            Producer.contact,
            Producer.products,
            Entry.household_id,
        )
        .join(Entry, Entry.id == Producer.entry_id)
        .join(Household, Household.id == Entry.household_id)
        .where(Household.group_id == sa.bindparam("group_id"), Producer.name != "")
        .order_by(Producer.dedup_key, Producer.id)
    )


@bp.route("/producteurs")
def directory():
    """The foyer's group's producer directory."""
    return render_directory(current_user.household.group, "collecte.directory")


@bp.route("/equipe/producteurs")
def group_directory():
    """The producer directory of a group the staff member may read (`?groupe=`, else its
    first)."""
    groups = groups_in_reach()
    return render_directory(chosen_group_or_404(groups), "collecte.group_directory", groups)
