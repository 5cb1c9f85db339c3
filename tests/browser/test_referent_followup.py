"""The referent's follow-up in a browser: its foyers as cards at 375 × 812, and the paper relevé
printed to PDF in Chromium, on A4.

Every page's accessibility, width and CSP are also checked by `test_every_page.py`.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import LAPTOP
from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import log_in
from tests.browser.helpers import sideways_overflow

pytestmark = pytest.mark.browser

# A page object of the PDF (not the /Pages tree): Chromium writes them uncompressed.
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")


def test_referent_follows_its_foyers_and_prints_a_paper_relevé(
    page, live_server, csp_violations, screenshot, axe
):
    log_in(page, live_server, "referent-noeux")
    expect(page).to_have_url(re.compile(r"/accompagnement/$"))
    cards = page.locator("article.followup-card")
    expect(cards).to_have_count(3)
    # The two foyers that have not sent the open wave first, each with its own group's name.
    expect(cards.nth(0)).to_contain_text("Graines d'idées")
    expect(cards.nth(0)).to_contain_text("Encore 30 jours, jusqu'au")
    expect(cards.nth(1)).to_contain_text("Les LokoMotiv'")
    expect(cards.nth(2)).to_contain_text("Retiré du défi le")
    assert sideways_overflow(page) == 0
    screenshot(page, "referent-followup-375")

    cards.nth(0).get_by_role("button", name="Relevé papier à imprimer").click()
    expect(page).to_have_url(re.compile(r"/releve-papier\?collecte=3$"))
    expect(page.get_by_role("heading", name="Relevé de la collecte 3 — fin")).to_be_visible()
    assert sideways_overflow(page) == 0
    screenshot(page, "referent-paper-375")
    page.set_viewport_size(LAPTOP)
    assert axe(page) == []
    screenshot(page, "referent-paper-1280")

    # On paper: A4, the receipts as a table, no menu, on two sheets printed on both sides.
    page.emulate_media(media="print")
    expect(page.locator("body > header")).to_be_hidden()
    expect(page.locator(".paper-receipts thead")).to_be_visible()
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    pages = len(PDF_PAGE.findall(pdf))
    assert 1 < pages <= 4, pages
    assert_no_csp_violation(csp_violations)
