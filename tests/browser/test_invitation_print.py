"""An invitation printed at the atelier, in a browser: one A4 page, readable on a phone.

The printout is the answer to the form that issues the code (a POST), so the crawl of
`test_every_page.py` never reaches it: this test fills the form as a facilitator and a
referent would, then prints the page to PDF in Chromium and counts its pages.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import log_in
from tests.browser.helpers import sideways_overflow

pytestmark = pytest.mark.browser

PDF_PAGE = re.compile(rb"/Type\s*/Page(?!s)")


def pdf_pages(page, screenshot, name) -> int:
    """How many A4 pages the page prints to (Chromium's PDF, print styles applied); a picture
    of the printed page (A4 at 96 dpi) goes beside the screenshots."""
    count = len(PDF_PAGE.findall(page.pdf(format="A4")))
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})
    screenshot(page, name)
    return count


def fill_foyer(page, name):
    page.fill("input[name=display_name]", name)
    page.fill("input[name=adults]", "2")
    page.fill("input[name=commune]", "Beuvry")
    page.fill("input[name=phone]", "06 39 98 00 01")
    page.select_option("select[name=valid_days]", "60")
    page.get_by_role("button", name="Créer l'invitation").click()


def test_a_facilitators_invitation_prints_on_one_a4_page(
    page, live_server, csp_violations, screenshot, axe
):
    log_in(page, live_server, "animateur-est")
    page.get_by_role("link", name="Inviter un foyer").click()
    fill_foyer(page, "Famille Printemps")
    expect(page.get_by_role("heading", name=re.compile("Famille Printemps"))).to_be_visible()
    expect(page.get_by_text("Il est valable 60 jours, jusqu'au")).to_be_visible()
    expect(page.get_by_text("Collecte en cours")).to_be_visible()
    expect(page.get_by_text("06 39 98 12 34")).to_be_visible()
    assert sideways_overflow(page) == 0
    assert axe(page) == []
    screenshot(page, "invitation-facilitator")
    assert pdf_pages(page, screenshot, "invitation-facilitator-print") == 1
    assert_no_csp_violation(csp_violations)


def test_a_referents_invitation_prints_on_one_a4_page(
    page, live_server, csp_violations, screenshot, axe
):
    log_in(page, live_server, "referent-mjep")
    page.get_by_role("button", name="Inscrire un foyer accompagné").click()
    fill_foyer(page, "Famille Été")
    expect(page.get_by_text("votre référent·e")).to_be_visible()
    expect(page.get_by_text("03 53 01 45 10")).to_be_visible()
    assert sideways_overflow(page) == 0
    assert axe(page) == []
    screenshot(page, "invitation-referent")
    assert pdf_pages(page, screenshot, "invitation-referent-print") == 1
    assert_no_csp_violation(csp_violations)


def test_staff_set_their_contact_from_the_account_menu(
    page, live_server, csp_violations, screenshot, axe
):
    log_in(page, live_server, "animatrice-ouest")
    page.locator("details.account-menu summary").click()
    page.get_by_role("link", name="Mes coordonnées").click()
    page.fill("input[name=phone]", "06-39")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Ce numéro n'est pas valide")).to_be_visible()
    page.fill("input[name=phone]", "06 39 98 56 79")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Vos coordonnées sont enregistrées.")).to_be_visible()
    expect(page.get_by_text("Claire — tél. 06 39 98 56 79")).to_be_visible()
    assert sideways_overflow(page) == 0
    assert axe(page) == []
    screenshot(page, "staff-details")
    assert_no_csp_violation(csp_violations)
