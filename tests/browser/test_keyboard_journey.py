"""A foyer fills and sends its relevé with the keyboard alone, as with a screen reader.

Nothing is clicked and no field is filled by the test: it presses Tab and Shift+Tab until the
control it wants has the focus (it reads `document.activeElement` to know where it is), types,
ticks with Space, picks in lists and radio groups with the arrow keys, and follows links and
sends forms with Enter. Every control it stops on must show where the focus is (a
`:focus-visible` outline). The database then holds the relevé, sent, with the values typed.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import htmx_settled
from tests.browser.helpers import releve_in_db
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser

FOYER = "foyer-est-01"
RANK = 3  # the demo's open wave
# Far more than any page has between two controls the journey uses.
MAX_TABS = 60
RECIPE = {
    "Titre de la recette": "Pain perdu aux pommes",
    "Ingrédients": "Du pain rassis\nDeux pommes",
    "Étapes": "Tremper le pain.\nCuire à la poêle.",
}
PRODUCER = {
    "Nom du producteur": "Ferme du Moulin",
    "Ce qu'il vend": "Fromages",
    "Commune": "Béthune",
}
# What the focused element is, by the name a person reads on it or next to it.
FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  // A field by its label; a step of the relevé's menu by its name, without its state.
  const step = element.querySelector && element.querySelector(".step-label");
  const label = element.labels && element.labels.length ? element.labels[0].innerText
    : (step ? step.innerText : "");
  const style = getComputedStyle(element);
  return {
    name: (label || element.innerText || "").replace(/[\u00a0\u202f]/g, " ").trim(),
    tag: element.tagName.toLowerCase(),
    type: element.type || "",
    value: element.value || "",
    checked: Boolean(element.checked),
    selected: element.tagName === "SELECT" ? element.selectedOptions[0].text : "",
    focusVisible: element.matches(":focus-visible"),
    outline: `${style.outlineStyle} ${style.outlineWidth}`,
  };
}"""


def focused(page):
    return page.evaluate(FOCUSED)


def assert_focus_shows(element):
    """The focused control is drawn with a visible outline (app.css's `:focus-visible`)."""
    assert element["focusVisible"], f"{element['name']}: the focus is not :focus-visible"
    style, width = element["outline"].split()
    assert style != "none" and float(width.removesuffix("px")) >= 2, (
        f"{element['name']}: no visible focus outline ({element['outline']})"
    )


def tab_to(page, name, backwards=False):
    """Press Tab (Shift+Tab backwards) until the control named `name` has the focus (it may
    have it already), and check that the focus shows on it."""
    key = "Shift+Tab" if backwards else "Tab"
    element, seen = focused(page), []
    for _ in range(MAX_TABS):
        if element and element["name"] == name:
            assert_focus_shows(element)
            return element
        seen.append(element and element["name"])
        page.keyboard.press(key)
        element = focused(page)
    raise AssertionError(f"{name!r} never got the focus with {key}; it went to {seen}")


def type_into(page, name, text, backwards=False):
    """Tab to a field, type `text` in it, and leave it (its `change` saves it)."""
    tab_to(page, name, backwards)
    page.keyboard.type(text)
    assert focused(page)["value"].replace("\r\n", "\n") == text
    page.keyboard.press("Tab")
    htmx_settled(page)


def choose(page, name, option):
    """Tab to a drop-down list, and move in it with the arrow keys to `option`."""
    element = tab_to(page, name)
    for _ in range(20):
        if element["selected"] == option:
            return
        page.keyboard.press("ArrowDown")
        element = focused(page)
    raise AssertionError(f"{option!r} is not in the list {name!r}")


def follow(page, name, url, backwards=False):
    """Tab to a link or a button and press Enter; wait for the page it leads to."""
    tab_to(page, name, backwards)
    page.keyboard.press("Enter")
    expect(page).to_have_url(url)
    htmx_settled(page)


def send(page, name, rows, count):
    """Tab to a quick-add form's button and press Enter; wait for the new row."""
    tab_to(page, name)
    page.keyboard.press("Enter")
    htmx_settled(page)
    expect(page.locator(rows)).to_have_count(count)


def test_foyer_fills_and_sends_its_releve_with_the_keyboard_alone(
    page, live_server, app_config, csp_violations, screenshot
):
    base = f"{live_server}/collecte/{RANK}"

    # Log in: the username field has the focus when the page opens.
    page.goto(f"{live_server}/connexion")
    assert focused(page)["name"] == "Identifiant"
    page.keyboard.type(FOYER)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/collecte/$"))
    htmx_settled(page)
    follow(page, "Commencer mon relevé", f"{base}/repas")

    # Repas et achats: the period, saved as it is typed; the radio group is left as it is.
    for name, value in (
        ("Nombre de jours de la période", "14"),
        ("Personnes dans le foyer pendant la période", "3"),
        ("Repas pris à la maison par jour", "2"),
        ("Repas-convives de la période", "80"),
    ):
        type_into(page, name, value)
    expect(page.locator("#releve-section .save-status")).to_contain_text("Enregistré à")
    # A receipt: amounts typed, the place picked with the arrow keys, sent with Enter.
    type_into(page, "Montant total (€)", "45,60")
    choose(page, "Où ?", "Marché")
    type_into(page, "Dont bio (€)", "12,00")
    type_into(page, "Dont local (€)", "30,50")
    send(page, "Ajouter cet achat", "ul.rows > li", 1)
    screenshot(page, "keyboard-01-meals")
    follow(page, "Suite : les pesées", f"{base}/pesees")

    # Pesées: a weighing, its category picked with the arrow keys.
    type_into(page, "Poids (kg)", "0,420")
    choose(page, "Catégorie", "Épluchures potentiellement évitables")
    send(page, "Ajouter cette pesée", "ul.rows > li", 1)
    follow(page, "Suite : les recettes", f"{base}/recettes")

    # Recettes: a new recipe; its purpose, a radio group, changed with an arrow key; saved
    # with Enter on its button.
    follow(page, "Écrire une recette", f"{base}/recettes/nouvelle")
    type_into(page, "Titre de la recette", RECIPE["Titre de la recette"])
    radio = focused(page)
    assert radio["type"] == "radio" and radio["checked"], radio
    page.keyboard.press("ArrowDown")
    radio = focused(page)
    assert radio["name"] == "Conserver" and radio["checked"], radio
    assert_focus_shows(radio)
    for name in ("Ingrédients", "Étapes"):
        type_into(page, name, RECIPE[name])
    screenshot(page, "keyboard-02-recipe")
    follow(page, "Enregistrer", f"{base}/recettes")

    # Producteurs, through the sections' menu at the top of the page.
    follow(page, "Producteurs locaux", f"{base}/producteurs", backwards=True)
    follow(page, "Ajouter un producteur", f"{base}/producteurs/nouveau")
    for name, value in PRODUCER.items():
        type_into(page, name, value)
    follow(page, "Enregistrer", f"{base}/producteurs")

    # Questionnaire: boxes ticked with Space, a radio button chosen with an arrow key.
    follow(page, "Questionnaire", f"{base}/questionnaire", backwards=True)
    for choice in ("Nouveaux goûts", "Compostage"):
        tab_to(page, choice)
        page.keyboard.press("Space")
        # The tick is waited for, not read at once: on a loaded machine the previous box's
        # autosave may still be swapping the section in (its boxes are kept as they are).
        expect(page.get_by_label(choice)).to_be_checked()
        htmx_settled(page)
    tab_to(page, "Mieux")
    page.keyboard.press("ArrowDown")
    radio = focused(page)
    assert radio["name"] == "À l'identique" and radio["checked"], radio
    assert_focus_shows(radio)
    htmx_settled(page)
    expect(page.locator("#releve-section .save-status")).to_contain_text("Enregistré à")
    screenshot(page, "keyboard-03-questionnaire")

    # Envoi: nothing is missing; the relevé is sent with Enter.
    follow(page, "Suite : envoyer le relevé", f"{base}/envoi")
    expect(page.get_by_text("Il reste à compléter")).to_have_count(0)
    tab_to(page, "Envoyer mon relevé")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Relevé envoyé le")).to_be_visible()
    screenshot(page, "keyboard-04-sent")
    assert_no_csp_violation(csp_violations)

    releve = releve_in_db(app_config, FOYER, RANK)
    assert releve["status"] == "submitted"
    assert (
        releve["period_days"],
        releve["persons"],
        releve["meals_per_day"],
        releve["meal_covers"],
    ) == (14, 3, 2, 80)
    assert releve["purchases"] == [(4560, "marche", 1200, 3050)]
    assert releve["weighings"] == [(420, "epluchures")]
    assert releve["recipes"] == [
        (
            RECIPE["Titre de la recette"],
            "conserver",
            RECIPE["Ingrédients"],
            RECIPE["Étapes"],
        )
    ]
    assert releve["producers"] == [
        (PRODUCER["Nom du producteur"], PRODUCER["Commune"], PRODUCER["Ce qu'il vend"])
    ]
    assert releve["answers"] == [
        ("j_agis_sur", "compostage"),
        ("maintien", "identique"),
        ("manger_mieux", "nouveaux_gouts"),
    ]
