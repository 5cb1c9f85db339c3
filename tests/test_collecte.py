"""The foyer's relevé: every section through the app, autosave, conflicts, submission, access."""

import re
import threading

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Household
from defi.models import Producer
from defi.models import Purchase
from defi.models import Recipe
from defi.models import Wave
from defi.models import Weighing
from tests.conftest import demo_code
from tests.conftest import demo_wave
from tests.conftest import page_text

HTMX = {"HX-Request": "true"}


def household(code):
    return db.session.scalar(sa.select(Household).where(Household.code == code))


def entry_of(code, rank=3):
    h = household(code)
    return db.session.scalar(
        sa.select(Entry)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Entry.household_id == h.id, Wave.rank == rank)
    )


@pytest.fixture
def foyer(demo, auth):
    assert auth.login("foyer-est-01").status_code == 303


def fill_meals(client, **values):
    data = {"persons": "4", "period_days": "14", "meals_per_day": "2", "meal_covers": "20"}
    data["cost_mode"] = "purchases"
    data.update(values)
    return client.post("/collecte/3/repas", data=data, headers=HTMX)


def add_purchase(client, total, organic="0", local="0", place="supermarche", **kw):
    data = {"total": total, "organic": organic, "local": local, "place_type": place}
    data["bought_on"] = "2026-11-20"
    data.update(kw)
    return client.post("/collecte/3/achats", data=data, headers=HTMX)


def normalise(text):
    return text.replace("\u202f", " ").replace("\xa0", " ")


# Repas et achats


def test_cost_per_meal_and_shares_update_as_purchases_are_added(foyer, client):
    assert fill_meals(client).status_code == 200
    first = add_purchase(client, "12,00", organic="3", local="6", place="marche")
    assert first.status_code == 200
    second = add_purchase(client, "30.00", organic="0", local="4,50")
    html = normalise(page_text(second))
    # (12,00 + 30,00) € ÷ 20 repas-convives = 2,10 €; bio 3 / 42 = 7,1 %; local 10,50 / 42 = 25 %.
    assert "2,10 €" in html
    assert "7,1 %" in html
    assert "25,0 %" in html
    assert "<html" not in html
    entry = entry_of(demo_code("EST-01"))
    assert sorted(p.total_cents for p in entry.purchases) == [1200, 3000]
    assert sorted(p.local_cents for p in entry.purchases) == [450, 600]


@pytest.mark.parametrize("typed", ["3,50", "3.50", " 3,5 ", "3,50 €"])
def test_decimal_comma_and_point_mean_the_same(foyer, client, typed):
    assert add_purchase(client, typed).status_code == 200
    assert [p.total_cents for p in entry_of(demo_code("EST-01")).purchases] == [350]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"total": "-5"}, "Entre 0,01 € et 5 000 € par achat."),
        ({"total": "10", "organic": "12"}, "La part bio ne peut pas dépasser le montant total."),
        (
            {"total": "10", "local": "10,01"},
            "La part locale ne peut pas dépasser le montant total.",
        ),
        ({"total": "abc"}, "Indiquez un nombre, par exemple 3,50."),
        ({"total": "NaN"}, "Indiquez un nombre, par exemple 3,50."),
        ({"total": "1e9"}, "Indiquez un nombre, par exemple 3,50."),
        ({"total": "3,505"}, "Pas plus de 2 chiffres après la virgule."),
        ({"total": ""}, "Indiquez le montant du ticket."),
    ],
)
def test_impossible_purchases_are_refused_beside_the_field(foyer, client, fields, message):
    data = {"total": "10", "organic": "0", "local": "0", "place_type": "marche"}
    data.update(fields)
    for headers in ({}, HTMX):
        response = client.post("/collecte/3/achats", data=data, headers=headers)
        assert response.status_code == 200
        html = page_text(response)
        assert message in html
        assert 'class="field-error"' in html
        # What was typed is shown again.
        assert f'value="{data["total"]}"' in html
    assert db.session.scalar(sa.select(sa.func.count(Purchase.id))) == sum(
        1 for _ in db.session.scalars(sa.select(Purchase.id))
    )
    entry = entry_of(demo_code("EST-01"))
    assert entry is None or entry.purchases == []


def test_number_fields_ask_for_a_decimal_keyboard(foyer, client):
    html = client.get("/collecte/3/repas").get_data(as_text=True)
    for name in ("total", "organic", "local"):
        assert re.search(rf'<input[^>]*inputmode="decimal"[^>]*name="{name}"', html), name
    assert 'inputmode="decimal"' in client.get("/collecte/3/pesees").get_data(as_text=True)


def test_meals_helper_and_direct_cost(foyer, client):
    html = page_text(fill_meals(client, persons="3", period_days="14", meals_per_day="2"))
    assert "= 84" in html.replace("<strong>", "").replace("</strong>", "")
    direct = fill_meals(client, cost_mode="direct", direct_cost="2,45")
    assert direct.status_code == 200
    entry = entry_of(demo_code("EST-01"))
    assert entry.cost_mode == "direct" and entry.direct_cost_cents == 245
    assert "2,45 €" in normalise(page_text(client.get("/collecte/3/repas")))


def test_the_history_reads_in_words(foyer, client):
    assert fill_meals(client, cost_mode="direct", direct_cost="2,45").status_code == 200
    added = client.post(
        "/collecte/3/achats",
        data={"bought_on": "2026-11-20", "place_type": "marche", "total": "12,5"},
        headers=HTMX,
    )
    assert added.status_code == 200
    page = client.get("/collecte/3/envoi")
    assert page.status_code == 200
    html = page_text(page)
    history = html[html.index("Historique des modifications") :]
    for words in ("repas-convives", "coût donné directement", "2,45",
                  "12,50 € — Marché, le 20/11/2026 (dont bio 0,00 €, local 0,00 €)"):  # fmt: skip
        assert words in history, words
    for code in ("meal_covers", "direct_cost", "cost_mode", "marche "):
        assert code not in history, code


def test_receipts_and_weighings_are_listed_by_date(foyer, client):
    for day, total in (
        ("2026-11-20", "30"),
        ("2026-11-02", "10"),
        ("", "40"),
        ("2026-11-10", "20"),
    ):
        added = client.post(
            "/collecte/3/achats",
            data={"bought_on": day, "place_type": "marche", "total": total},
            headers=HTMX,
        )
        assert added.status_code == 200
    db.session.expire_all()
    totals = [purchase.total_cents for purchase in entry_of(demo_code("EST-01")).purchases]
    assert totals == [1000, 2000, 3000, 4000]  # by date, the undated one last
    html = client.get("/collecte/3/repas").get_data(as_text=True)
    shown = [html.index(amount) for amount in ("10,00", "20,00", "30,00", "40,00")]
    assert shown == sorted(shown)


def test_the_meals_page_proposes_persons_and_repas_convives(foyer, client):
    household = db.session.scalar(sa.select(Household).where(Household.code == demo_code("EST-01")))
    page = client.get("/collecte/3/repas")
    assert page.status_code == 200
    assert re.search(rf'name="persons"[^>]*value="{household.persons}"', page.get_data(True))
    typed = client.post(
        "/collecte/3/repas",
        data={"persons": "3", "period_days": "14", "meals_per_day": "2", "meal_covers": ""},
        headers=HTMX,
    )
    assert typed.status_code == 200
    assert entry_of(demo_code("EST-01")).meal_covers is None
    # Opened again: 14 days × 2 meals × 3 persons proposed, to keep or change.
    again = client.get("/collecte/3/repas").get_data(as_text=True)
    assert re.search(r'name="meal_covers"[^>]*value="84"', again)


def test_switching_to_a_direct_cost_and_back_keeps_the_meals(foyer, client):
    # Once, the meals' fields, absent from the page in the direct mode, were saved as empty.
    assert fill_meals(client, meals_per_day="2", meal_covers="84").status_code == 200
    direct = client.post(
        "/collecte/3/repas",
        data={"persons": "4", "period_days": "14", "cost_mode": "direct", "direct_cost": "2,45"},
        headers=HTMX,
    )
    assert direct.status_code == 200
    entry = entry_of(demo_code("EST-01"))
    assert (entry.cost_mode, entry.direct_cost_cents) == ("direct", 245)
    assert (entry.meals_per_day, entry.meal_covers) == (2, 84)
    back = client.post(
        "/collecte/3/repas",
        data={"persons": "4", "period_days": "14", "cost_mode": "purchases"},
        headers=HTMX,
    )
    assert back.status_code == 200
    db.session.expire_all()
    entry = entry_of(demo_code("EST-01"))
    assert (entry.cost_mode, entry.meals_per_day, entry.meal_covers) == ("purchases", 2, 84)
    assert entry.direct_cost_cents == 245  # kept for a switch back to the direct cost
    html = back.get_data(as_text=True)
    assert 'value="84"' in html and 'value="2"' in html


def test_autosave_keeps_valid_fields_and_refuses_the_rest(foyer, client):
    response = fill_meals(client, persons="400", period_days="10")
    assert response.status_code == 200
    html = page_text(response)
    assert "Entre 1 et 40 personnes." in html
    assert "Certaines valeurs ne sont pas enregistrées" in html
    entry = entry_of(demo_code("EST-01"))
    assert entry.period_days == 10
    assert entry.persons == 2 or entry.persons == household(demo_code("EST-01")).persons


def test_autosave_fragment_preserves_the_inputs(foyer, client):
    html = fill_meals(client).get_data(as_text=True)
    assert html.lstrip().startswith('<section id="releve-section">')
    period = re.search(r'<input[^>]*name="period_days"[^>]*>', html).group(0)
    assert 'data-hx-preserve="true"' in period
    assert "Enregistré à" in html


def test_full_page_post_without_javascript_redirects(foyer, client):
    response = client.post(
        "/collecte/3/repas",
        data={"persons": "2", "period_days": "7", "meal_covers": "28", "cost_mode": "purchases"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/collecte/3/repas"
    assert "Enregistré." in page_text(client.get("/collecte/3/repas"))
    reloaded = client.get("/collecte/3/repas").get_data(as_text=True)
    assert 'value="28"' in reloaded


def test_stale_version_answers_409_with_both_values(foyer, client, app):
    fill_meals(client, meal_covers="20")
    version = str(entry_of(demo_code("EST-01")).version)
    # The referent changes the relevé from another device in the meantime.
    referent = app.test_client()
    fill = {"persons": "4", "period_days": "14", "meals_per_day": "2", "cost_mode": "purchases"}
    db.session.execute(sa.update(Entry).values(meal_covers=30, version=Entry.version + 1))
    db.session.commit()
    stale = client.post(
        "/collecte/3/repas", data={**fill, "meal_covers": "25", "version": version}, headers=HTMX
    )
    assert stale.status_code == 409
    html = page_text(stale)
    assert "valeur enregistrée « 30 », la vôtre « 25 »" in html
    assert entry_of(demo_code("EST-01")).meal_covers == 30  # nothing overwritten
    # Keeping one's value: the form now carries the new version.
    new_version = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
    kept = client.post(
        "/collecte/3/repas",
        data={**fill, "meal_covers": "25", "version": new_version},
        headers=HTMX,
    )
    assert kept.status_code == 200
    assert entry_of(demo_code("EST-01")).meal_covers == 25
    assert referent is not None


def test_purchase_edit_and_delete(foyer, client):
    add_purchase(client, "10")
    purchase = entry_of(demo_code("EST-01")).purchases[0]
    purchase_id = purchase.id
    page = client.get(f"/collecte/3/achats/{purchase.id}")
    assert page.status_code == 200
    edited = client.post(
        f"/collecte/3/achats/{purchase.id}",
        data={
            "total": "11,20",
            "organic": "1",
            "local": "0",
            "place_type": "marche",
            "version": str(purchase.version),
        },  # fmt: skip
        headers=HTMX,
    )
    assert edited.status_code == 200
    db.session.expire_all()
    assert purchase.total_cents == 1120 and purchase.place_type == "marche"
    deleted = client.post(f"/collecte/3/achats/{purchase_id}/supprimer")
    assert deleted.status_code == 303
    db.session.expunge_all()
    assert db.session.get(Purchase, purchase_id) is None


# Pesées


def test_weighings_totals_and_per_person_per_year(foyer, client):
    fill_meals(client, persons="4", period_days="14")
    for kg, category in (("1,2", "evitable"), ("0.8", "epluchures")):
        response = client.post(
            "/collecte/3/pesees", data={"kg": kg, "category": category}, headers=HTMX
        )
        assert response.status_code == 200
    html = page_text(response)
    # 2 kg ÷ 4 persons ÷ 14 days × 365 = 13,0 kg per person per year.
    assert "13,0" in html
    assert sorted(w.grams for w in entry_of(demo_code("EST-01")).weighings) == [800, 1200]


def test_500_kg_in_a_day_is_refused(foyer, client):
    refused = client.post("/collecte/3/pesees", data={"kg": "500", "category": "evitable"})
    assert "Entre 0,001 et 50 kg par pesée." in page_text(refused)
    same_day = {"kg": "30", "category": "evitable", "weighed_on": "2026-11-20"}
    assert client.post("/collecte/3/pesees", data=same_day).status_code == 303
    second = client.post("/collecte/3/pesees", data=same_day)
    assert second.status_code == 200
    assert "Plus de 50 kg de déchets en un jour ? Vérifiez le poids." in page_text(second)
    assert 'value="30"' in second.get_data(as_text=True)  # the typing is kept
    assert sum(w.grams for w in entry_of(demo_code("EST-01")).weighings) == 30000


# Recettes, producteurs, livre et annuaire


def count_rows(model):
    return db.session.scalar(sa.select(sa.func.count(model.id)))


def test_recipe_is_created_when_saved_and_joins_the_book_without_author(foyer, client, auth):
    before = count_rows(Recipe)
    # Opening the new recipe's page creates nothing: Back leaves no untitled recipe behind.
    blank = client.get("/collecte/3/recettes/nouvelle")
    assert blank.status_code == 200
    assert 'name="title"' in blank.get_data(as_text=True)
    assert count_rows(Recipe) == before
    assert "(recette sans titre)" not in page_text(client.get("/collecte/3/recettes"))
    # Saved without a title: a French message, the typing kept, nothing written.
    partial = client.post(
        "/collecte/3/recettes", data={"title": "", "purpose": "restes", "steps": "Mixer les fanes"}
    )
    assert partial.status_code == 200
    assert "Donnez un titre." in page_text(partial)
    assert "Mixer les fanes" in page_text(partial)
    assert count_rows(Recipe) == before
    created = client.post(
        "/collecte/3/recettes",
        data={"title": "Pesto de fanes", "purpose": "restes", "steps": "Mixer les fanes"},
    )
    assert created.status_code == 303
    assert count_rows(Recipe) == before + 1
    recipe = db.session.scalar(sa.select(Recipe).order_by(Recipe.id.desc()))
    assert (recipe.title, recipe.steps) == ("Pesto de fanes", "Mixer les fanes")
    assert "Pesto de fanes" in page_text(client.get("/collecte/3/recettes"))
    # Then each field is saved as it is typed.
    url = f"/collecte/3/recettes/{recipe.id}"
    saved = client.post(
        url,
        data={
            "title": "Pesto de fanes",
            "purpose": "restes",
            "steps": "Mixer les fanes",
            "ingredients": "fanes de radis",
            "version": str(recipe.version),
        },  # fmt: skip
        headers=HTMX,
    )
    assert saved.status_code == 200
    db.session.expire_all()
    assert recipe.ingredients == "fanes de radis"
    # Another foyer of the group finds it, without its author.
    auth.logout()
    auth.login("foyer-est-02")
    book = page_text(client.get("/collecte/recettes?q=fanes"))
    assert "Pesto de fanes" in book
    assert household(demo_code("EST-01")).display_name not in book
    assert "foyer-est-01" not in book
    fragment = client.get("/collecte/recettes?q=radis", headers=HTMX)
    assert "<html" not in fragment.get_data(as_text=True)
    assert "Pesto de fanes" in page_text(fragment)
    assert "Pesto de fanes" not in page_text(client.get("/collecte/recettes?q=chou-rouge"))
    # Another group's foyer does not see it.
    auth.logout()
    auth.login("foyer-ouest-01")
    assert "Pesto de fanes" not in page_text(client.get("/collecte/recettes"))


def test_directory_merges_the_same_producer(demo, app, auth, client):
    for username, name, commune, products in (
        ("foyer-est-01", "Ferme des Saules", "Béthune", "œufs, lait"),
        ("foyer-est-02", "ferme des  saules", "BETHUNE", "Lait, pommes"),
    ):
        other = app.test_client()
        logged = other.post(
            "/connexion", data={"username": username, "password": "carottes-et-poireaux"}
        )
        assert logged.status_code == 303
        saved = other.post("/collecte/3/producteurs", data={"name": name, "kind": "ferme",
                           "commune": commune, "products": products})  # fmt: skip
        assert saved.status_code == 303
    auth.login("foyer-est-03")
    # Searched: the directory shows ten producers a page, and the demo's come first.
    html = page_text(client.get("/collecte/producteurs?q=saules"))
    assert html.count("Ferme des Saules") + html.count("ferme des  saules") == 1
    assert "œufs, lait, pommes" in html
    assert "signalé par 2 foyers" in html


# Questionnaire


def test_questionnaire_from_the_database_and_third_question_from_wave_2(foyer, client):
    wave3 = page_text(client.get("/collecte/3/questionnaire"))
    assert "Avez-vous réussi à maintenir vos actions" in wave3
    wave1 = page_text(client.get("/collecte/1/questionnaire"))
    assert "En mangeant local" in wave1
    assert "Avez-vous réussi à maintenir vos actions" not in wave1
    saved = client.post(
        "/collecte/3/questionnaire",
        data={
            "q_manger_mieux": ["manger_mieux", "inconnu"],
            "q_maintien": ["mieux", "moins_bien"],
            "q_j_agis_sur": "bio",
        },  # fmt: skip
        headers=HTMX,
    )
    assert saved.status_code == 200
    keys = sorted(a.choice.key for a in entry_of(demo_code("EST-01")).answers)
    assert keys == ["bio", "manger_mieux", "mieux"]  # unknown dropped, single kept single


# Envoi


def complete_relevé(client):
    fill_meals(client)
    add_purchase(client, "42")
    answered = client.post(
        "/collecte/3/questionnaire",
        data={"q_manger_mieux": "manger_mieux", "q_j_agis_sur": "bio", "q_maintien": "mieux"},
    )
    assert answered.status_code == 303


def test_submit_shows_what_is_missing_then_sends(foyer, client):
    fill_meals(client)
    page = page_text(client.get("/collecte/3/envoi"))
    assert "Il reste à compléter" in page
    assert "au moins un achat" in page
    assert "Questionnaire" in page
    complete_relevé(client)
    page = client.get("/collecte/3/envoi").get_data(as_text=True)
    submission = re.search(r'name="submission_id" type="hidden" value="([0-9a-f]+)"', page)
    sent = client.post("/collecte/3/envoi", data={"submission_id": submission.group(1)})
    assert sent.status_code == 303
    entry = entry_of(demo_code("EST-01"))
    assert entry.status == "submitted" and entry.submission_id == submission.group(1)
    assert "Relevé envoyé le" in page_text(client.get("/collecte/3/envoi"))


def test_ten_submissions_at_once_make_one_relevé(foyer, client, app):
    complete_relevé(client)
    cookie = client.get_cookie("session").value
    page = client.get("/collecte/3/envoi").get_data(as_text=True)
    submission = re.search(r'name="submission_id" type="hidden" value="([0-9a-f]+)"', page).group(1)
    statuses = []

    def send():
        phone = app.test_client()
        phone.set_cookie("session", cookie)
        statuses.append(
            phone.post("/collecte/3/envoi", data={"submission_id": submission}).status_code
        )

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * 10
    h = household(demo_code("EST-01"))
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Entry.id)).where(
                Entry.household_id == h.id,
                Entry.status == "submitted",
                Entry.wave_id == entry_of(demo_code("EST-01")).wave_id,
            )
        )
        == 1
    )  # noqa: E501
    sent = db.session.scalar(
        sa.select(sa.func.count(EntryChange.id)).where(EntryChange.field == "relevé envoyé")
    )
    assert sent == 1


def test_ten_first_writes_at_once_make_one_relevé(foyer, client, app):
    cookie = client.get_cookie("session").value
    statuses = []

    def write(index):
        phone = app.test_client()
        phone.set_cookie("session", cookie)
        response = phone.post(
            "/collecte/3/repas", data={"period_days": str(index + 1)}, headers=HTMX
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(status in (200, 409) for status in statuses), statuses
    h = household(demo_code("EST-01"))
    count = db.session.scalar(
        sa.select(sa.func.count(Entry.id))
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Entry.household_id == h.id, Wave.rank == 3)
    )
    assert count == 1


def test_closed_wave_is_read_only(foyer, client):
    page = client.get("/collecte/1/repas").get_data(as_text=True)
    assert "lecture seule" in page
    assert re.search(r'<input[^>]*disabled[^>]*name="persons"', page) or re.search(
        r'<input[^>]*name="persons"[^>]*disabled', page
    )
    before = entry_of(demo_code("EST-01"), rank=1).persons
    assert client.post("/collecte/1/repas", data={"persons": "9"}).status_code == 403
    assert (
        client.post("/collecte/1/achats", data={"total": "5", "place_type": "marche"}).status_code
        == 403
    )  # noqa: E501
    assert entry_of(demo_code("EST-01"), rank=1).persons == before


def test_history_records_who_changed_what(foyer, client):
    fill_meals(client, meal_covers="20")
    fill_meals(client, meal_covers="24")
    change = db.session.scalar(
        sa.select(EntryChange)
        .where(EntryChange.field == "meal_covers")
        .order_by(EntryChange.id.desc())
    )
    assert (change.old_value, change.new_value, change.assisted) == ("20", "24", False)
    page = client.get("/collecte/3/envoi")
    assert page.status_code == 200
    assert "repas-convives</strong> : 20 → 24" in page_text(page)


# Assisted entry


def test_referent_fills_the_relevé_of_an_accompanied_foyer(demo, client, auth):
    accompanied = household(demo_code("EST-05"))  # accompanied by the MJEP
    auth.login("referent-mjep")
    base = f"/collecte/foyer/{accompanied.id}/3"
    assert client.get(f"/collecte/foyer/{accompanied.id}/").status_code == 200
    response = client.post(
        f"{base}/repas", data={"persons": "3", "period_days": "14", "meal_covers": "60"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{base}/repas"
    entry = entry_of(demo_code("EST-05"))
    assert entry.assisted is True
    change = db.session.scalar(sa.select(EntryChange).where(EntryChange.entry_id == entry.id))
    assert change.assisted is True
    assert "saisie accompagnée" in page_text(client.get(f"{base}/envoi"))
    # Not a foyer of another structure, nor a non-accompanied one.
    for code in (demo_code("EST-12"), demo_code("EST-01")):
        other = household(code)
        assert client.get(f"/collecte/foyer/{other.id}/3/repas").status_code == 404
        assert client.post(f"/collecte/foyer/{other.id}/3/repas", data={}).status_code == 404


# Access to another foyer's rows


def test_another_foyers_rows_answer_404(demo, app, client, auth):
    owner = app.test_client()
    owner.post("/connexion", data={"username": "foyer-est-02", "password": "carottes-et-poireaux"})
    fill_meals(owner)
    add_purchase(owner, "10")
    owner.post("/collecte/3/pesees", data={"kg": "1", "category": "evitable"})
    owner.post("/collecte/3/recettes", data={"title": "Soupe", "purpose": "restes"})
    owner.post("/collecte/3/producteurs", data={"name": "Ferme", "kind": "ferme"})
    entry = entry_of(demo_code("EST-02"))
    recipe_url = f"/collecte/3/recettes/{entry.recipes[0].id}"
    producer_url = f"/collecte/3/producteurs/{entry.producers[0].id}"
    purchase, weighing = entry.purchases[0], entry.weighings[0]

    auth.login("foyer-est-01")
    fill_meals(client)
    for method, url in (
        ("GET", f"/collecte/3/achats/{purchase.id}"),
        ("POST", f"/collecte/3/achats/{purchase.id}"),
        ("POST", f"/collecte/3/achats/{purchase.id}/supprimer"),
        ("POST", f"/collecte/3/pesees/{weighing.id}/supprimer"),
        ("GET", recipe_url),
        ("POST", recipe_url),
        ("POST", recipe_url + "/supprimer"),
        ("GET", producer_url),
        ("POST", producer_url + "/supprimer"),
    ):
        assert client.open(url, method=method).status_code == 404, (method, url)
    db.session.expire_all()
    assert db.session.get(Purchase, purchase.id) is not None
    assert db.session.get(Weighing, weighing.id) is not None
    assert db.session.scalar(sa.select(sa.func.count(Recipe.id))) >= 1
    assert db.session.scalar(sa.select(sa.func.count(Producer.id))) >= 1


# Home


def test_home_shows_sections_and_own_figures_beside_the_group(foyer, client):
    html = page_text(client.get("/collecte/"))
    assert "Collecte 3 — fin" in html
    assert "Ouverte jusqu'au" in html
    assert "Commencer mon relevé" in html
    assert "Mes progrès" in html
    # Nothing is marked done while the relevé lacks it; the optional parts say so.
    assert 'class="section-todo"><a href="/collecte/3/repas">Repas et achats' in html
    assert html.count("facultatif") == 3
    # Wave 1 and 2 of the demo are submitted: the foyer's figures are there.
    entry1 = entry_of(demo_code("EST-01"), rank=1)
    assert entry1.status == "submitted"
    complete_relevé(client)
    html = page_text(client.get("/collecte/"))
    assert "Continuer mon relevé" in html
    assert "Tout est rempli" in html
    assert 'class="section-done"><a href="/collecte/3/repas">Repas et achats' in html
    # The end wave is open: the group's figures are published when it closes (two views a
    # day apart would otherwise tell the one relevé sent in between).
    assert "groupe connu à la clôture de la collecte" in html
    page = client.get("/collecte/3/envoi").get_data(as_text=True)
    submission = re.search(r'name="submission_id" type="hidden" value="([0-9a-f]+)"', page)
    sent = client.post("/collecte/3/envoi", data={"submission_id": submission.group(1)})
    assert sent.status_code == 303
    assert entry_of(demo_code("EST-01")).status == "submitted"
    html = page_text(client.get("/collecte/"))
    assert "groupe connu à la clôture de la collecte" in html
    assert ">Envoyer<" not in html
    # Closed: one relevé is not enough to show a figure.
    end = demo_wave(3)
    end.manual_state = "closed"
    db.session.commit()
    html = page_text(client.get("/collecte/"))
    assert "groupe pas encore assez de relevés dans le groupe" in html
    assert "effectif" not in html


def test_progress_cards_say_each_change_in_a_sentence(foyer, client):
    """One card per indicator; the change from the first relevé to the last in words, with
    the numbers of the foyer's own relevés."""
    from defi.figures.indicators import foyer_values
    from defi.figures.sums import sums_for

    first, second = (entry_of(demo_code("EST-01"), rank=rank) for rank in (1, 2))
    sums = sums_for(sa.select(Entry.id).where(Entry.id.in_([first.id, second.id])))
    before, after = foyer_values(sums[first.id]), foyer_values(sums[second.id])
    html = page_text(client.get("/collecte/"))
    assert html.count('class="progress-card"') == 6
    assert html.count('<svg class="mini-chart"') == 6
    cost = round(after["cout_repas_personne"] - before["cout_repas_personne"], 2)
    amount = f"{abs(cost):.2f}".replace(".", ",") + " €"
    word = "de moins" if cost < 0 else "de plus"
    assert f"Votre repas coûte {amount} {word} qu'au début." in html
    points = round((after["part_locale"] - before["part_locale"]) * 100)
    if points:
        word = "de plus" if points > 0 else "de moins"
        unit = "point" if abs(points) == 1 else "points"
        assert f"Le local : {abs(points)} {unit} {word} dans vos achats qu'au début." in html
    recipes = after["recettes"] + before["recettes"]
    if recipes > 1:
        assert f"Vous avez partagé {recipes} recettes depuis le début." in html


def test_a_foyer_that_joined_late_is_not_asked_about_before(demo, app, client, auth):
    """A foyer enrolled during the end wave: the waves before say so, and "have you kept your
    actions since the last collecte?" is not asked at its first relevé."""
    from defi.accounts.passwords import hash_password
    from defi.models import Group
    from defi.models import User

    group = db.session.scalar(sa.select(Group).where(Group.name.like("%LokoMotiv%")))
    late = Household(challenge_id=group.challenge_id, group=group, code="EST-LATE",
                     display_name="Famille Tardive", adults=2)  # fmt: skip
    db.session.add(late)
    db.session.add(User(username="foyer-tardif", password_hash=hash_password("une-longue-phrase"),
                        household=late))  # fmt: skip
    db.session.commit()
    auth.login("foyer-tardif", "une-longue-phrase")
    html = page_text(client.get("/collecte/"))
    assert html.count("avant votre arrivée dans le défi") == 2
    assert "pas commencé" in html
    questionnaire = page_text(client.get("/collecte/3/questionnaire"))
    assert "maintenir vos actions" not in questionnaire
    assert "manger mieux" in questionnaire


def test_answers_are_stored_per_choice(foyer, client):
    complete_relevé(client)
    assert db.session.scalar(sa.select(sa.func.count(Answer.id)).where(
        Answer.entry_id == entry_of(demo_code("EST-01")).id)) == 3  # fmt: skip


def test_accompaniment_table_is_untouched_by_the_collecte(foyer, client):
    before = db.session.scalar(sa.select(sa.func.count(Accompaniment.id)))
    complete_relevé(client)
    assert db.session.scalar(sa.select(sa.func.count(Accompaniment.id))) == before
