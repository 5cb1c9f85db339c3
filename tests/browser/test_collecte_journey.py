"""A foyer's relevé in a real browser at 375 × 812: the journey of DESIGN.md, end to end.

The demo foyer `foyer-est-01` fills the open wave (Collecte 3) section by section as a person
would: the period and the repas-convives (autosaved by htmx), three receipts with French
decimals, a value typed while the network is cut (the French banner shows, the save is retried
when the network is back), weighings, a recipe, a producer, the questionnaire; every page is
then reloaded to show that nothing typed was lost, and the relevé is sent. Other tests check
that the main forms work without JavaScript, and hold the autosave to typing that arrives while
a save is on its way, and to a link tapped right after typing. Every foyer page is checked with
axe-core by `test_every_page.py`, and the relevé filled with the keyboard alone by
`test_keyboard_journey.py`.
"""

import re
import time
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from tests.browser import helpers
from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import htmx_settled
from tests.browser.helpers import releve_in_db

pytestmark = pytest.mark.browser

FOYER = "foyer-est-01"
RANK = 3  # the demo's open wave; waves 1 and 2 are closed
# Three receipts of DESIGN.md's first evening: (total, place, organic, local), French decimals.
RECEIPTS = [
    ("123,40", "Supermarché", "10,50", "20,00"),
    ("98,75", "Marché", "0", "60,25"),
    ("48,60", "Magasin bio", "48,60", "5,00"),
]
# 270,75 € of purchases: over 112 repas-convives, then over 120 (typed while offline).
COST_FOR_112 = re.compile(r"^2,42\s€$")
COST_FOR_120 = re.compile(r"^2,26\s€$")
WEIGHINGS = [("0,350", "Évitable"), ("1,200", "Épluchures potentiellement évitables")]
RECIPE = {
    "title": "Soupe de fanes de radis",
    "ingredients": "Les fanes d'une botte de radis\nUne pomme de terre\nUn oignon",
    "steps": "Faire revenir l'oignon.\nAjouter les fanes et la pomme de terre, couvrir d'eau.\n"
    "Cuire 20 minutes puis mixer.",
}
PRODUCER = {
    "name": "Ferme des Trois Chênes",
    "commune": "Noeux-les-Mines",
    "products": "Légumes, œufs, jus de pomme",
}
MEAL_FIELDS = [
    ("Nombre de jours de la période", "period_days", "14"),
    ("Personnes dans le foyer pendant la période", "persons", "4"),
    ("Repas pris à la maison par jour", "meals_per_day", "2"),
    ("Repas-convives de la période", "meal_covers", "112"),
]
PRODUCER_FIELDS = [
    ("Nom du producteur", "name"),
    ("Commune", "commune"),
    ("Ce qu'il vend", "products"),
]
# The questionnaire's ticks: (question's legend, choice's label).
TICKS = [
    ("En mangeant local", "Nouveaux goûts"),
    ("En mangeant local", "Plus équilibré"),
    ("j'agis sur", "Achats locaux"),
    ("j'agis sur", "Compostage"),
    ("maintenir vos actions", "Mieux"),
]
SAVED = "Enregistré à"
OFFLINE_BANNER = "Pas de connexion"
# The retry runs on the `online` event, and every 5 s otherwise.
RETRY_TIMEOUT_MS = 12_000


# Helpers


def log_in(page, base_url):
    helpers.log_in(page, base_url, FOYER)
    expect(page).to_have_url(re.compile(r"/collecte/$"))


def is_autosave(response, path, **values):
    """The answer to an htmx POST to `path` whose form data holds `values` (line ends as LF)."""
    request = response.request
    if request.method != "POST" or not response.url.endswith(path):
        return False
    if request.headers.get("hx-request") != "true":
        return False
    sent = parse_qs(request.post_data or "", keep_blank_values=True)
    return all(
        [item.replace("\r\n", "\n") for item in sent.get(name, [])] == [value]
        for name, value in values.items()
    )


def follow(page, link, url):
    """Tap a link or a button that leads to another page (htmx-boosted), and wait for it."""
    link.click()
    expect(page).to_have_url(url)
    htmx_settled(page)


def type_and_save(page, field, value, path, name):
    """Type a value as a person would, leave the field, and wait for its autosave to settle."""
    with page.expect_response(lambda r: is_autosave(r, path, **{name: value})) as answer:
        field.fill(value)
        field.blur()  # `change`: saved now rather than after the 800 ms debounce
    assert answer.value.status == 200, f"autosave of {name} answered {answer.value.status}"
    htmx_settled(page)


def save_status(page):
    return page.locator("#releve-section .save-status")


def figure(page, term):
    """The value (`<dd>`) after a `<dt>` of the figures block."""
    return page.locator(f"article.figures dt:text-is('{term}') + dd")


# 1. The journey


def test_foyer_fills_its_releve_through_a_network_cut_and_sends_it(
    page, live_server, app_config, csp_violations, screenshot
):
    base = f"{live_server}/collecte/{RANK}"

    # Log in: the foyer lands on its collecte, and starts its relevé.
    log_in(page, live_server)
    expect(page.get_by_text(f"Collecte {RANK}").first).to_be_visible()
    screenshot(page, "journey-01-home")
    follow(page, page.get_by_role("button", name="Commencer mon relevé"), f"{base}/repas")
    expect(page.get_by_role("heading", name="Repas et achats", level=1)).to_be_visible()

    # Repas et achats: the period, typed; saved by htmx as it is typed.
    meals = page.locator("form[data-autosave]")
    for label, name, value in MEAL_FIELDS:
        type_and_save(page, meals.get_by_label(label), value, "/repas", name)
        expect(save_status(page)).to_contain_text(SAVED)
    screenshot(page, "journey-02-meals")

    # Three receipts with the quick-add form; the figures follow.
    for count, (total, place, organic, local) in enumerate(RECEIPTS, start=1):
        quick_add = page.locator("form.quick-add")
        quick_add.get_by_label("Montant total (€)").fill(total)
        quick_add.get_by_label("Où ?").select_option(label=place)
        quick_add.get_by_label("Dont bio (€)").fill(organic)
        quick_add.get_by_label("Dont local (€)").fill(local)
        quick_add.get_by_role("button", name="Ajouter cet achat").click()
        htmx_settled(page)
        expect(page.get_by_role("heading", name=f"Vos achats ({count})")).to_be_visible()
        # A fresh, empty quick-add form for the next receipt.
        expect(page.locator("form.quick-add").get_by_label("Montant total (€)")).to_have_value("")
    expect(page.locator("ul.rows > li")).to_have_count(3)
    expect(figure(page, "Coût par repas et par personne")).to_have_text(COST_FOR_112)
    expect(figure(page, "Total des achats")).to_have_text(re.compile(r"^270,75\s€$"))
    screenshot(page, "journey-03-purchases")

    # The network is cut while a value is typed: the French banner shows, nothing is saved.
    page.reload()  # an empty save status, so that the next "Enregistré à" is the retry's
    expect(save_status(page)).not_to_contain_text(SAVED)
    banner = page.locator("#network-status")
    expect(banner).to_be_hidden()
    htmx_settled(page)
    page.context.set_offline(True)
    covers = page.locator("form[data-autosave]").get_by_label("Repas-convives de la période")
    with page.expect_event("requestfailed", lambda r: r.url.endswith("/repas")):
        covers.fill("120")  # sent after the 800 ms debounce, and fails
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(OFFLINE_BANNER)
    expect(save_status(page)).not_to_contain_text(SAVED)
    screenshot(page, "journey-04-offline")

    # The network is back: the autosave is sent again, the banner goes.
    with page.expect_response(
        lambda r: is_autosave(r, "/repas", meal_covers="120"), timeout=RETRY_TIMEOUT_MS
    ) as answer:
        page.context.set_offline(False)
    assert answer.value.status == 200
    htmx_settled(page)
    expect(save_status(page)).to_contain_text(SAVED)
    expect(banner).to_be_hidden()
    expect(covers).to_have_value("120")
    expect(figure(page, "Coût par repas et par personne")).to_have_text(COST_FOR_120)
    screenshot(page, "journey-05-back-online")
    # Leave the field before following a link: its `change` may save again, and a save still
    # in flight while a link is followed loses the address (see
    # `test_following_a_link_right_after_typing_changes_the_address`).
    covers.blur()
    htmx_settled(page)

    # Pesées: two weighings, in kilograms with a comma.
    follow(page, page.get_by_role("button", name="Suite : les pesées"), f"{base}/pesees")
    for count, (kg, category) in enumerate(WEIGHINGS, start=1):
        quick_add = page.locator("form.quick-add")
        quick_add.get_by_label("Poids (kg)").fill(kg)
        quick_add.get_by_label("Catégorie").select_option(label=category)
        quick_add.get_by_role("button", name="Ajouter cette pesée").click()
        htmx_settled(page)
        expect(page.locator("ul.rows > li")).to_have_count(count)
    total = page.locator("dl.totals .total dd strong").first
    expect(total).to_have_text(re.compile(r"^1,550\skg$"))
    screenshot(page, "journey-06-weighings")

    # Recettes: a new recipe, written and saved; then corrected, saved as it is typed.
    follow(page, page.get_by_role("button", name="Suite : les recettes"), f"{base}/recettes")
    follow(page, page.get_by_role("button", name="Écrire une recette"), f"{base}/recettes/nouvelle")
    for label, name in (
        ("Titre de la recette", "title"),
        ("Ingrédients", "ingredients"),
        ("Étapes", "steps"),
    ):
        page.get_by_label(label).fill(RECIPE[name] if name != "steps" else "Faire revenir.")
    follow(page, page.get_by_role("button", name="Enregistrer"), f"{base}/recettes")
    follow(page, page.get_by_role("link", name="Modifier"), re.compile(rf"{base}/recettes/\d+$"))
    recipe_url = page.url
    path = "/recettes/" + recipe_url.rsplit("/", 1)[1]
    form = page.locator("form[data-autosave]")
    type_and_save(page, form.get_by_label("Étapes"), RECIPE["steps"], path, "steps")
    expect(save_status(page)).to_contain_text(SAVED)
    screenshot(page, "journey-07-recipe")

    # Producteurs: a new producer, its details typed before it is saved.
    sections = page.get_by_role("navigation", name="Parties du relevé")
    follow(page, sections.get_by_role("link", name="Producteurs locaux"), f"{base}/producteurs")
    follow(
        page,
        page.get_by_role("button", name="Ajouter un producteur"),
        f"{base}/producteurs/nouveau",
    )
    for label, name in PRODUCER_FIELDS:
        page.get_by_label(label).fill(PRODUCER[name])
    follow(page, page.get_by_role("button", name="Enregistrer"), f"{base}/producteurs")
    expect(page.locator("ul.rows")).to_contain_text(PRODUCER["name"])
    producer_url = page.get_by_role("link", name="Modifier").get_attribute("href")
    producer_url = base.split("/collecte")[0] + producer_url
    screenshot(page, "journey-08-producer")

    # Questionnaire: each tick is saved at once.
    sections = page.get_by_role("navigation", name="Parties du relevé")
    follow(page, sections.get_by_role("link", name="Questionnaire"), f"{base}/questionnaire")
    for legend, label in TICKS:
        group = page.locator("fieldset").filter(has=page.locator("legend", has_text=legend))
        with page.expect_response(lambda r: is_autosave(r, "/questionnaire")) as answer:
            group.get_by_label(label, exact=True).check()
        assert answer.value.status == 200
        htmx_settled(page)
    expect(save_status(page)).to_contain_text(SAVED)
    screenshot(page, "journey-09-questionnaire")

    # Reload every page: everything typed is there, the value typed offline included.
    page.goto(f"{base}/repas")
    meals = page.locator("form[data-autosave]")
    expect(meals.get_by_label("Nombre de jours de la période")).to_have_value("14")
    expect(meals.get_by_label("Personnes dans le foyer pendant la période")).to_have_value("4")
    expect(meals.get_by_label("Repas pris à la maison par jour")).to_have_value("2")
    expect(meals.get_by_label("Repas-convives de la période")).to_have_value("120")
    rows = page.locator("ul.rows > li")
    expect(rows).to_have_count(3)
    for total, place, _organic, _local in RECEIPTS:
        # "· Marché ·" and not "Supermarché".
        expect(rows.filter(has_text=f"· {place} ·")).to_contain_text(re.compile(rf"{total}\s€"))
    expect(figure(page, "Coût par repas et par personne")).to_have_text(COST_FOR_120)

    page.goto(f"{base}/pesees")
    rows = page.locator("ul.rows > li")
    expect(rows).to_have_count(2)
    for kg, category in WEIGHINGS:
        expect(rows.filter(has_text=f"· {category}")).to_contain_text(f"{kg} kg")

    page.goto(f"{base}/recettes")
    expect(page.locator("ul.rows > li")).to_have_count(1)
    expect(page.locator("ul.rows > li")).to_contain_text(RECIPE["title"])
    page.goto(recipe_url)
    form = page.locator("form[data-autosave]")
    expect(form.get_by_label("Titre de la recette")).to_have_value(RECIPE["title"])
    expect(form.get_by_label("Ingrédients")).to_have_value(RECIPE["ingredients"])
    expect(form.get_by_label("Étapes")).to_have_value(RECIPE["steps"])

    page.goto(f"{base}/producteurs")
    expect(page.locator("ul.rows > li")).to_have_count(1)
    expect(page.locator("ul.rows > li")).to_contain_text(
        f"{PRODUCER['name']} · {PRODUCER['commune']}"
    )
    page.goto(producer_url)
    form = page.locator("form[data-autosave]")
    for label, name in PRODUCER_FIELDS:
        expect(form.get_by_label(label)).to_have_value(PRODUCER[name])

    page.goto(f"{base}/questionnaire")
    for legend, label in TICKS:
        group = page.locator("fieldset").filter(has=page.locator("legend", has_text=legend))
        expect(group.get_by_label(label, exact=True)).to_be_checked()
    expect(page.locator("input[type=checkbox]:checked, input[type=radio]:checked")).to_have_count(
        len(TICKS)
    )

    # Envoi: nothing is missing, the relevé is sent.
    page.goto(f"{base}/envoi")
    expect(page.get_by_text("Il reste à compléter")).to_have_count(0)
    screenshot(page, "journey-10-review")
    page.get_by_role("button", name="Envoyer mon relevé").click()
    expect(page.get_by_text("Relevé envoyé le")).to_be_visible()
    expect(page.get_by_role("button", name="Envoyer mon relevé")).to_have_count(0)
    screenshot(page, "journey-11-sent")
    assert_no_csp_violation(csp_violations)

    # What the database holds.
    releve = releve_in_db(app_config, FOYER, RANK)
    assert releve is not None
    assert releve["status"] == "submitted"
    assert releve["submission_id"]
    assert (
        releve["period_days"],
        releve["persons"],
        releve["meals_per_day"],
        releve["meal_covers"],
    ) == (14, 4, 2, 120)
    assert releve["purchases"] == sorted(
        [
            (12340, "supermarche", 1050, 2000),
            (9875, "marche", 0, 6025),
            (4860, "magasin_bio", 4860, 500),
        ]
    )
    assert releve["weighings"] == [(350, "evitable"), (1200, "epluchures")]
    assert releve["recipes"] == [
        (RECIPE["title"], "restes", RECIPE["ingredients"], RECIPE["steps"])
    ]
    assert releve["producers"] == [(PRODUCER["name"], PRODUCER["commune"], PRODUCER["products"])]
    assert releve["answers"] == sorted(
        [
            ("manger_mieux", "nouveaux_gouts"),
            ("manger_mieux", "plus_equilibre"),
            ("j_agis_sur", "achats_locaux"),
            ("j_agis_sur", "compostage"),
            ("maintien", "mieux"),
        ]
    )
    # The value typed offline reached the history as a change of the repas-convives.
    covers_changes = [change for change in releve["changes"] if change[0] == "meal_covers"]
    assert [(old, new) for _field, old, new in covers_changes][-1] == ("112", "120")


def test_a_value_typed_while_a_save_is_in_flight_is_saved_too(page, live_server):
    """A weak signal (600 ms of latency): the second field, left while the first one's save is
    still on its way, must be saved too, since the page then says "Enregistré à"."""
    log_in(page, live_server)
    page.goto(f"{live_server}/collecte/{RANK}/repas")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 600, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    meals = page.locator("form[data-autosave]")
    days = meals.get_by_label("Nombre de jours de la période")
    persons = meals.get_by_label("Personnes dans le foyer pendant la période")
    with page.expect_response(lambda r: is_autosave(r, "/repas", period_days="14")):
        days.fill("14")
        days.blur()  # the first save leaves now and takes 600 ms
        persons.fill("4")
        persons.blur()  # the second, while the first is in flight
    expect(save_status(page)).to_contain_text(SAVED)
    expect(persons).to_have_value("4")
    # Time for a queued or retried save to leave and come back, even with the latency.
    page.wait_for_timeout(2500)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.reload()
    meals = page.locator("form[data-autosave]")
    expect(meals.get_by_label("Nombre de jours de la période")).to_have_value("14")
    expect(meals.get_by_label("Personnes dans le foyer pendant la période")).to_have_value(
        "4", timeout=1000
    )


def test_following_a_link_right_after_typing_changes_the_address(page, live_server):
    """Type a value, then tap "Suite : les pesées" at once, as on a phone: the tap's blur sends
    the autosave, the link is followed; the address must become the Pesées page's."""
    log_in(page, live_server)
    page.goto(f"{live_server}/collecte/{RANK}/repas")

    def slow_next_page(route):
        # The autosave's answer comes back first, as it does on most runs without any delay.
        time.sleep(0.3)
        route.continue_()

    page.route(f"**/collecte/{RANK}/pesees", slow_next_page)
    page.locator("form[data-autosave]").get_by_label("Nombre de jours de la période").fill("14")
    page.get_by_role("button", name="Suite : les pesées").click()
    expect(page.get_by_role("heading", name="Pesées du gaspillage", level=1)).to_be_visible()
    expect(page).to_have_url(f"{live_server}/collecte/{RANK}/pesees", timeout=2000)


# 2. Without JavaScript


def test_meals_and_a_purchase_are_saved_without_javascript(
    browser, browser_context_args, live_server, screenshot
):
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, live_server)
        page.goto(f"{live_server}/collecte/{RANK}/repas")

        # A receipt, with the quick-add form's own button.
        quick_add = page.locator("form.quick-add")
        quick_add.get_by_label("Montant total (€)").fill("23,40")
        quick_add.get_by_label("Où ?").select_option(label="Marché")
        quick_add.get_by_label("Dont bio (€)").fill("4,20")
        quick_add.get_by_label("Dont local (€)").fill("23,40")
        quick_add.get_by_role("button", name="Ajouter cet achat").click()
        expect(page).to_have_url(f"{live_server}/collecte/{RANK}/repas")
        expect(page.locator("#flashes")).to_contain_text("Achat ajouté.")
        expect(page.locator("ul.rows > li")).to_have_count(1)

        # The period, with the form's "Enregistrer" button.
        meals = page.locator("form[data-autosave]")
        meals.get_by_label("Nombre de jours de la période").fill("7")
        meals.get_by_label("Personnes dans le foyer pendant la période").fill("3")
        meals.get_by_label("Repas pris à la maison par jour").fill("2")
        meals.get_by_label("Repas-convives de la période").fill("40")
        meals.get_by_role("button", name="Enregistrer", exact=True).click()
        expect(page.locator("#flashes")).to_contain_text("Enregistré.")
        screenshot(page, "no-js-meals-saved")

        page.reload()
        meals = page.locator("form[data-autosave]")
        expect(meals.get_by_label("Nombre de jours de la période")).to_have_value("7")
        expect(meals.get_by_label("Personnes dans le foyer pendant la période")).to_have_value("3")
        expect(meals.get_by_label("Repas pris à la maison par jour")).to_have_value("2")
        expect(meals.get_by_label("Repas-convives de la période")).to_have_value("40")
        rows = page.locator("ul.rows > li")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(re.compile(r"Marché · 23,40\s€"))
        # 23,40 € over 40 repas-convives.
        expect(figure(page, "Coût par repas et par personne")).to_have_text(
            re.compile(r"^0,59\s€$")
        )
    finally:
        context.close()
