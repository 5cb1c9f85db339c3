"""The foyer's phone: a deletion undone, an add sent twice from the outbox kept once, the
service worker served from the root.

The browser side (the outbox kept through a reload, the network cut for real) is in
tests/browser/test_offline.py; these tests hold the server to its part of the bargain.
"""

import html
import re

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Producer
from defi.models import Purchase
from defi.models import Recipe
from defi.models import Wave
from defi.models import Weighing
from tests.conftest import demo_code
from tests.conftest import demo_wave
from tests.conftest import page_text

HTMX = {"HX-Request": "true"}
# (list page, add route, the add's fields, model, the row's values that must come back)
ROWS = {
    "purchase": (
        "/collecte/3/repas",
        "/collecte/3/achats",
        {"total": "23,40", "organic": "3,10", "local": "0", "place_type": "marche",
         "bought_on": "2026-11-20"},
        Purchase,
        lambda row: (row.total_cents, row.organic_cents, row.place_type, str(row.bought_on)),
    ),
    "weighing": (
        "/collecte/3/pesees",
        "/collecte/3/pesees",
        {"kg": "0,350", "category": "evitable", "weighed_on": "2026-11-21"},
        Weighing,
        lambda row: (row.grams, row.category, str(row.weighed_on)),
    ),
    "recipe": (
        "/collecte/3/recettes",
        "/collecte/3/recettes",
        {"title": "Soupe de fanes", "purpose": "restes", "ingredients": "fanes\nradis",
         "steps": "Cuire : 20 minutes."},
        Recipe,
        lambda row: (row.title, row.purpose, row.ingredients, row.steps),
    ),
    "producer": (
        "/collecte/3/producteurs",
        "/collecte/3/producteurs",
        {"name": "Ferme du Bois", "kind": "ferme", "commune": "Béthune", "products": "œufs"},
        Producer,
        lambda row: (row.name, row.kind, row.commune, row.products),
    ),
}  # fmt: skip
DELETE = {"purchase": "achats", "weighing": "pesees", "recipe": "recettes",
          "producer": "producteurs"}  # fmt: skip


@pytest.fixture
def foyer(demo, auth):
    assert auth.login("foyer-est-01").status_code == 303


def rows_of(model):
    household_id = db.session.scalar(
        sa.text("SELECT id FROM household WHERE code = :code"), {"code": demo_code("EST-01")}
    )
    return db.session.scalars(
        sa.select(model)
        .join(Entry, Entry.id == model.entry_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Entry.household_id == household_id, Wave.rank == 3)
    ).all()


def undo_form(page):
    """The action and fields of the "Annuler la suppression" form of a page."""
    form = re.search(r'<form method="post" action="([^"]+)" class="flash flash-info undo">'
                     r"(.*?)</form>", page, re.S)  # fmt: skip
    assert form, "no undo button on the page"
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
    return html.unescape(form.group(1)), {k: html.unescape(v) for k, v in fields.items()}


@pytest.mark.parametrize("kind", ROWS)
def test_a_deletion_is_undone_with_the_same_values(foyer, client, kind):
    listing, add, fields, model, values = ROWS[kind]
    assert client.post(add, data=fields).status_code == 303
    (row,) = rows_of(model)
    kept = values(row)
    deleted = client.post(f"/collecte/3/{DELETE[kind]}/{row.id}/supprimer")
    assert deleted.status_code == 303
    assert rows_of(model) == []
    page = client.get(listing).get_data(as_text=True)
    assert "supprimé" in html.unescape(page).replace("\u00a0", " ")
    action, data = undo_form(page)
    assert action == add and data["restored"] == "1"
    restored = client.post(action, data=data)
    assert restored.status_code == 303
    db.session.expire_all()
    (back,) = rows_of(model)
    assert values(back) == kept
    assert "Suppression annulée." in page_text(client.get(listing))
    # The history says it in agreed French: "pesée supprimée", "achat ajouté".
    fields_written = db.session.scalars(sa.select(EntryChange.field)).all()
    feminine = kind in ("weighing", "recipe")
    label = {"purchase": "achat", "weighing": "pesée", "recipe": "recette",
             "producer": "producteur"}[kind]  # fmt: skip
    assert f"{label} supprimé{'e' if feminine else ''}" in fields_written
    assert f"{label} ajouté{'e' if feminine else ''}" in fields_written


def test_a_recipe_too_long_to_undo_asks_first(foyer, client):
    long = {"title": "Pot-au-feu", "purpose": "restes", "steps": "Mijoter. " * 400}
    assert client.post("/collecte/3/recettes", data=long).status_code == 303
    page = page_text(client.get("/collecte/3/recettes"))
    assert 'data-hx-confirm="Supprimer pour de bon ?' in page
    (row,) = rows_of(Recipe)
    client.post(f"/collecte/3/recettes/{row.id}/supprimer")
    page = client.get("/collecte/3/recettes").get_data(as_text=True)
    assert "Recette supprimée." in html.unescape(page)
    assert "undo" not in page


@pytest.mark.parametrize("kind", ROWS)
def test_an_add_sent_twice_from_the_outbox_is_added_once(foyer, client, kind):
    _listing, add, fields, model, _values = ROWS[kind]
    key = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    first = client.post(add, data={**fields, "outbox_key": key}, headers=HTMX)
    again = client.post(add, data={**fields, "outbox_key": key}, headers=HTMX)
    assert first.status_code in (200, 204) and again.status_code in (200, 204)
    assert first.headers["Defi-Added"] == again.headers["Defi-Added"] == "1"
    assert len(rows_of(model)) == 1
    # Another key is another add; a form refused adds nothing and says nothing was added.
    other = client.post(add, data={**fields, "outbox_key": key[:-1] + "c"}, headers=HTMX)
    assert other.headers["Defi-Added"] == "1"
    assert len(rows_of(model)) == 2
    refused = client.post(add, data={**fields, **{next(iter(fields)): ""}, "outbox_key": "k" * 20},
                          headers=HTMX)  # fmt: skip
    assert "Defi-Added" not in refused.headers
    assert len(rows_of(model)) == 2


@pytest.mark.parametrize("key", ["short", "x" * 65, "<script>", "a b c d e f g h", "é" * 10])
def test_a_malformed_outbox_key_is_refused(foyer, client, key):
    _listing, add, fields, model, _values = ROWS["purchase"]
    answer = client.post(add, data={**fields, "outbox_key": key}, headers=HTMX)
    assert answer.status_code == 400
    assert rows_of(model) == []


def test_the_service_worker_is_served_from_the_root(client):
    answer = client.get("/sw.js")
    answer.close()
    assert answer.status_code == 200
    assert answer.mimetype in ("text/javascript", "application/javascript")
    assert answer.headers["Service-Worker-Allowed"] == "/"
    with client.get("/sw.js") as again:
        assert "defi-pages-v1" in again.get_data(as_text=True)


def test_a_key_is_scoped_by_the_kind_of_row(foyer, client):
    """The same key on a receipt and on a weighing: two different adds, both stored."""
    key = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
    for kind in ("purchase", "weighing"):
        _listing, add, fields, _model, _values = ROWS[kind]
        assert (
            client.post(add, data={**fields, "outbox_key": key}, headers=HTMX).headers["Defi-Added"]
            == "1"
        )
    assert len(rows_of(Purchase)) == 1 and len(rows_of(Weighing)) == 1


def test_an_undo_posted_twice_adds_one_row(foyer, client):
    listing, add, fields, model, _values = ROWS["purchase"]
    client.post(add, data=fields)
    (row,) = rows_of(model)
    client.post(f"/collecte/3/achats/{row.id}/supprimer")
    action, data = undo_form(client.get(listing).get_data(as_text=True))
    assert re.fullmatch(r"[0-9a-f]{32}", data["outbox_key"])
    for _ in range(2):
        assert client.post(action, data=data).status_code == 303
    assert len(rows_of(model)) == 1


def test_an_add_to_a_closed_collecte_says_why(foyer, client):
    wave = demo_wave(3)
    wave.manual_state = "closed"
    db.session.commit()
    _listing, add, fields, model, _values = ROWS["purchase"]
    answer = client.post(add, data=fields)
    assert answer.status_code == 403
    assert "La collecte 3 est close : son relevé ne peut plus être modifié." in page_text(answer)
    assert rows_of(model) == []


def test_a_ligature_is_typed_as_two_letters():
    from defi.producers import dedup_key
    from defi.producers import fold

    assert fold("Les Œufs de Marie") == fold("les oeufs de marie") == "les oeufs de marie"
    assert dedup_key("Ferme Sœur Anne", "Béthune") == dedup_key("ferme soeur anne", "BETHUNE")


def test_the_first_of_a_month_is_the_first(app):
    from datetime import date

    from defi.formatting import day

    with app.test_request_context():
        assert day(date(2021, 9, 1)) == "1er sept. 2021"
        assert day(date(2021, 9, 12)) == "12 sept. 2021"
