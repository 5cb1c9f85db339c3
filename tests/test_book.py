"""The group's recipe book and producer directory on a phone: searched, ten cards a page."""

import html
import re

import pytest
import sqlalchemy as sa

from defi.collecte.book import PER_PAGE
from defi.extensions import db
from defi.models import Entry
from defi.models import Household
from defi.models import Producer
from defi.models import Recipe
from defi.models import Wave
from defi.producers import dedup_key
from tests.conftest import demo_code

HTMX = {"HX-Request": "true"}
NBSP = "\u00a0"


def text(response):
    """The page's text with entities decoded and French non-breaking spaces read as spaces."""
    page = html.unescape(response.get_data(as_text=True))
    return page.replace(NBSP, " ").replace("\u202f", " ")


def entry_of(name, rank=1):
    """A demo foyer's relevé of a closed wave ("EST-01": the first foyer of the Est group)."""
    household = db.session.scalar(sa.select(Household).where(Household.code == demo_code(name)))
    return db.session.scalar(
        sa.select(Entry)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Entry.household_id == household.id, Wave.rank == rank)
    )


def link(response, label):
    """The href of the link with this text, decoded."""
    found = re.search(r'<a href="([^"]*)"[^>]*>' + re.escape(label) + "</a>", response.text)
    assert found, label
    return html.unescape(found.group(1))


def add_recipe(entry, title, ingredients="carottes, oignon", purpose="restes"):
    entry.recipes.append(
        Recipe(title=title, purpose=purpose, ingredients=ingredients, steps="Cuire doucement.")
    )


def add_producer(entry, name, kind="ferme", commune="Beuvry", products="légumes", **more):
    entry.producers.append(
        Producer(name=name, kind=kind, commune=commune, products=products,
                 dedup_key=dedup_key(name, commune), **more)
    )  # fmt: skip


@pytest.fixture
def book(demo, auth):
    """The Est group's book and directory, emptied of the demo's, with known rows; a foyer of
    the group that wrote none of them is logged in."""
    db.session.execute(sa.delete(Recipe))
    db.session.execute(sa.delete(Producer))
    first, second, west = entry_of("EST-01"), entry_of("EST-03"), entry_of("OUEST-01")
    # 25 recipes: "Recette 01" to "Recette 23", then two whose titles hold LIKE's wildcards.
    for number in range(1, 24):
        rhubarb = number in (3, 13)
        add_recipe(first if number % 2 else second, f"Recette {number:02d}",
                   ingredients="Rhubarbe, sucre" if rhubarb else "carottes, oignon")  # fmt: skip
    add_recipe(first, "Soupe à 100% légumes")
    add_recipe(second, "Tarte_fine")
    add_recipe(west, "Recette de l'Ouest")
    # 15 producers (the last one given by two foyers), and another group's.
    for number in range(1, 15):
        add_producer(
            first, f"Producteur {number:02d}", kind="amap" if number % 3 == 0 else "ferme",
            commune="Béthune" if number in (4, 5) else "Beuvry",
            products="pommes, poires" if number == 7 else "légumes",
        )  # fmt: skip
    add_producer(first, "Verger du Marais", products="cerises", address="3 rue du Marais")
    add_producer(second, "verger du marais", products="Cerises, jus", contact="03 21 00 00 00")
    add_producer(west, "Ferme de l'Ouest")
    db.session.commit()
    assert auth.login("foyer-est-02").status_code == 303


# The recipe book


def test_book_shows_ten_recipes_a_page_with_the_count(book, client):
    response = client.get("/collecte/recettes")
    assert response.status_code == 200
    page = text(response)
    assert "25 recettes" in page
    for number in range(1, PER_PAGE + 1):
        assert f"Recette {number:02d}" in page
    assert "Recette 11" not in page
    assert "Recette de l'Ouest" not in page  # another group's
    assert "Page 1 sur 3" in page
    assert "Page précédente" not in page
    assert link(response, "Page suivante") == "/collecte/recettes?page=2"


@pytest.mark.parametrize(
    ("asked", "shown", "first", "last"),
    [
        ("2", 2, "Recette 11", "Recette 20"),
        ("3", 3, "Recette 21", "Tarte_fine"),
        ("99", 3, "Recette 21", "Tarte_fine"),  # past the end: the last page
        ("99999999999999999999999", 3, "Recette 21", "Tarte_fine"),
        ("0", 1, "Recette 01", "Recette 10"),
        ("-2", 1, "Recette 01", "Recette 10"),
        ("deux", 1, "Recette 01", "Recette 10"),  # not a number: the first page
        ("", 1, "Recette 01", "Recette 10"),
        ("1.5", 1, "Recette 01", "Recette 10"),
        ("9" * 5000, 1, "Recette 01", "Recette 10"),  # too long for int(): not a number
    ],
)
def test_book_pages_answer_within_the_list(book, client, asked, shown, first, last):
    response = client.get("/collecte/recettes", query_string={"page": asked})
    assert response.status_code == 200
    page = text(response)
    assert f"Page {shown} sur 3" in page
    assert first in page
    assert last in page
    assert ("Recette 10" in page) == (shown == 1)
    assert ("Recette 11" in page) == (shown == 2)


def test_book_previous_page_and_the_last_page_has_no_next(book, client):
    response = client.get("/collecte/recettes?page=3")
    assert response.status_code == 200
    assert link(response, "Page précédente") == "/collecte/recettes?page=2"
    assert "Page suivante" not in text(response)
    assert "Soupe à 100% légumes" in text(response)


def test_book_search_finds_ingredients_whatever_the_case(book, client):
    for query in ("rhubarbe", "RHUBARBE", "  Rhubarbe "):
        response = client.get("/collecte/recettes", query_string={"q": query})
        assert response.status_code == 200
        page = text(response)
        assert f"2 recettes pour « {query.strip()} »" in page
        assert "Recette 03" in page
        assert "Recette 13" in page
        assert "Recette 01" not in page
        assert "Page 1 sur" not in page  # one page: no page links
    # French typography: non-breaking spaces inside the quotes.
    response = client.get("/collecte/recettes?q=rhubarbe")
    assert f"«{NBSP}rhubarbe{NBSP}»" in response.text


def test_book_search_by_title_in_one_recipe(book, client):
    response = client.get("/collecte/recettes?q=recette%2007")
    assert response.status_code == 200
    assert "1 recette pour « recette 07 »" in text(response)
    assert "Recette 07" in text(response)


def test_book_page_links_keep_the_search(book, client):
    first = client.get("/collecte/recettes?q=recette")
    assert first.status_code == 200
    assert "23 recettes pour « recette »" in text(first)
    assert "Page 1 sur 3" in text(first)
    following = link(first, "Page suivante")
    assert following == "/collecte/recettes?q=recette&page=2"
    second = client.get(following)
    assert second.status_code == 200
    page = text(second)
    assert "Page 2 sur 3" in page
    assert "Recette 11" in page
    assert "Recette 10" not in page
    assert (
        link(second, "Page précédente") == "/collecte/recettes?q=recette"
    )  # the first page has no number
    last = client.get(link(second, "Page suivante"))
    assert "Page 3 sur 3" in text(last)
    assert "Tarte_fine" not in text(last)  # the search still holds on the last page


def test_book_search_typed_with_htmx_answers_the_results_only(book, client):
    fragment = client.get("/collecte/recettes?q=rhubarbe", headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="results"' in fragment.text
    assert "2 recettes pour « rhubarbe »" in text(fragment)
    # A page link followed with hx-boost gets the whole page.
    boosted = client.get(
        "/collecte/recettes?q=recette&page=2", headers=HTMX | {"HX-Boosted": "true"}
    )
    assert boosted.status_code == 200
    assert "<html" in boosted.text
    assert "Page 2 sur 3" in text(boosted)


def test_book_recipe_is_folded_into_a_details(book, client):
    response = client.get("/collecte/recettes?q=recette%2003")
    assert response.status_code == 200
    details = re.search(r"<details>(.*?)</details>", response.text, re.DOTALL)
    assert details
    assert "Voir la recette" in details.group(1)
    assert "Rhubarbe, sucre" in details.group(1)
    assert "Cuire doucement." in details.group(1)


def test_book_search_form_works_without_javascript(book, client):
    response = client.get("/collecte/recettes?q=tarte")
    assert response.status_code == 200
    form = re.search(r'<form[^>]*action="/collecte/recettes"[^>]*>', response.text).group(0)
    assert 'method="get"' in form
    assert 'action="/collecte/recettes"' in form
    # role="search" on the form made Pico's pill group: a tiny input on a phone.
    assert 'role="search"' not in form
    assert '<label for="q">' in response.text
    assert 'value="tarte"' in response.text
    assert '<button type="submit"' in response.text


@pytest.mark.parametrize(
    ("query", "count", "found"),
    [
        ("%", "1 recette pour « % »", "Soupe à 100% légumes"),  # not a wildcard
        ("_", "1 recette pour « _ »", "Tarte_fine"),
        ("%%", "0 recette pour « %% »", None),
        ("\\", "0 recette pour « \\ »", None),
        ("'; DROP TABLE recipe; --", "0 recette pour", None),
        ("a" * 5000, "0 recette pour « " + "a" * 100 + " »", None),  # cut at 100 characters
    ],
)
def test_book_hostile_search_is_looked_for_as_typed(book, client, query, count, found):
    response = client.get("/collecte/recettes", query_string={"q": query})
    assert response.status_code == 200
    assert count in text(response)
    if found:
        assert found in text(response)
    assert "Recette 01" not in text(response)
    assert db.session.scalar(sa.select(sa.func.count(Recipe.id))) == 26


def test_book_search_markup_is_escaped(book, client):
    response = client.get("/collecte/recettes", query_string={"q": "<script>alert(1)</script>"})
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_book_without_recipes_says_so(demo, auth, client):
    db.session.execute(sa.delete(Recipe))
    db.session.commit()
    assert auth.login("foyer-est-02").status_code == 303
    response = client.get("/collecte/recettes?page=4")
    assert response.status_code == 200
    assert "0 recette" in text(response)
    assert "Pas encore de recette dans le livre." in text(response)
    assert "Page 1 sur" not in text(response)


# The producer directory


def test_directory_shows_ten_producers_a_page_merged(book, client):
    response = client.get("/collecte/producteurs")
    assert response.status_code == 200
    page = text(response)
    assert "15 producteurs, trouvés par les foyers du groupe." in page
    for number in range(1, PER_PAGE + 1):
        assert f"Producteur {number:02d}" in page
    assert "Producteur 11" not in page
    assert "Page 1 sur 2" in page
    second = client.get(link(response, "Page suivante"))
    assert second.status_code == 200
    page = text(second)
    assert "Page 2 sur 2" in page
    assert "Producteur 11" in page
    assert "Producteur 10" not in page
    assert "Ferme de l'Ouest" not in page  # another group's
    # Given by two foyers: one card, every product once, the first address and contact.
    assert page.count("erger du ") == 1
    assert "cerises, jus" in page
    assert "3 rue du Marais" in page
    assert "03 21 00 00 00" in page
    assert "signalé par 2 foyers" in page


@pytest.mark.parametrize(
    ("query", "count", "expected"),
    [
        ("producteur 07", "1 producteur pour « producteur 07 »", ["Producteur 07"]),
        ("POIRES", "1 producteur pour « POIRES »", ["Producteur 07"]),  # a product
        ("jus", "1 producteur pour « jus »", ["Verger du Marais"]),  # the second foyer's product
        ("bethune", "2 producteurs pour « bethune »", ["Producteur 04", "Producteur 05"]),
        ("Béthune", "2 producteurs pour « Béthune »", ["Producteur 04", "Producteur 05"]),
        # Name and commune together, as a person types them.
        ("producteur 04 bethune", "1 producteur pour « producteur 04 bethune »", ["Producteur 04"]),
        ("%", "0 producteur pour « % »", []),
        ("_", "0 producteur pour « _ »", []),
        ("x" * 5000, "0 producteur pour « " + "x" * 100 + " »", []),
    ],
)
def test_directory_search_by_name_product_or_commune(book, client, query, count, expected):
    response = client.get("/collecte/producteurs", query_string={"q": query})
    assert response.status_code == 200
    page = text(response)
    assert count in page
    for name in expected:
        assert name in page
    assert ("Producteur 01" in page) == ("Producteur 01" in expected)
    if not expected:
        assert "Aucun producteur ne correspond." in page


def test_directory_filters_by_kind_and_keeps_it_in_the_page_links(book, client):
    amap = client.get("/collecte/producteurs?kind=amap")
    assert amap.status_code == 200
    page = text(amap)
    assert "4 producteurs du type « AMAP »" in page
    assert "Producteur 03" in page
    assert "Producteur 01" not in page
    assert "Page 1 sur" not in page
    both = client.get("/collecte/producteurs?kind=ferme&q=beuvry")
    assert both.status_code == 200
    # Farms but 4 and 5 (Béthune): 1, 2, 7, 8, 10, 11, 13, 14, and the Verger du Marais.
    assert "9 producteurs du type « Ferme » pour « beuvry »" in text(both)
    assert 'value="ferme" selected' in both.text
    fermes = client.get("/collecte/producteurs?kind=ferme&q=e")  # 11 farms
    assert link(fermes, "Page suivante") == "/collecte/producteurs?q=e&kind=ferme&page=2"
    last = client.get(link(fermes, "Page suivante"))
    assert last.status_code == 200
    assert "Page 2 sur 2" in text(last)
    assert "Verger du Marais" in text(last)
    assert "Producteur 14" not in text(last)


@pytest.mark.parametrize("kind", ["inconnu", "", "<b>", "ferme' OR 1=1"])
def test_directory_unknown_kind_shows_every_producer(book, client, kind):
    response = client.get("/collecte/producteurs", query_string={"kind": kind, "page": "x"})
    assert response.status_code == 200
    assert "15 producteurs, trouvés par les foyers du groupe." in text(response)
    assert "Page 1 sur 2" in text(response)


def test_directory_search_with_htmx_answers_the_results_only(book, client):
    fragment = client.get("/collecte/producteurs?q=bethune&page=7", headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "<form" not in fragment.text
    assert "2 producteurs pour « bethune »" in text(fragment)
    whole = client.get("/collecte/producteurs?q=bethune")
    assert whole.status_code == 200
    form = re.search(r'<form[^>]*action="/collecte/producteurs"[^>]*>', whole.text).group(0)
    assert 'method="get"' in form
    assert 'action="/collecte/producteurs"' in form
    assert 'role="search"' not in form
    assert 'value="bethune"' in whole.text


def test_directory_is_in_french_order(book, client):
    """ "Épicerie" among the E's, not after "Verger": accents and case set aside."""
    entry = entry_of("EST-01")
    for name in ("Épicerie Solidaire", "eleveurs du Pays", "Zèbre Fermier"):
        add_producer(entry, name, commune="Annezin")
    db.session.commit()
    page = client.get("/collecte/producteurs?q=annezin").text
    names = [html.unescape(name).strip() for name in re.findall(r"<h2>([^<]+)</h2>", page)]
    assert [name for name in names if name != "En attente d'envoi"] == [
        "eleveurs du Pays",
        "Épicerie Solidaire",
        "Zèbre Fermier",
    ]
