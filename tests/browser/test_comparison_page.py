"""The pilot's comparison in Chromium (issue 13): choosing an indicator swaps the result in
place (htmx), the address follows, and the side-by-side table fits a 1280 px screen."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import LAPTOP
from tests.browser.helpers import SMALL_PHONE
from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import htmx_settled
from tests.browser.helpers import log_in
from tests.browser.helpers import sideways_overflow

pytestmark = pytest.mark.browser

# How far each scrolling region of the page is wider than its box (0: nothing to scroll).
REGION_OVERFLOW = """() => Math.max(0, ...Array.from(document.querySelectorAll(".table-wrap"))
  .map((region) => region.scrollWidth - region.clientWidth))"""


def test_the_pilot_compares_the_groups_for_a_chosen_indicator(
    page, live_server, csp_violations, screenshot
):
    page.set_viewport_size(LAPTOP)
    log_in(page, live_server, "pilote")
    page.goto(f"{live_server}/pilote/comparaison")
    result = page.locator("#comparison-result")
    expect(result.get_by_role("heading", level=2)).to_have_text(
        "Coût par repas et par personne (€)"
    )
    page.get_by_label("Indicateur à comparer").select_option("part_bio")
    htmx_settled(page)
    expect(page).to_have_url(re.compile(r"/pilote/comparaison\?indicateur=part_bio$"))
    expect(result.get_by_role("heading", level=2)).to_have_text("Part bio (% des dépenses)")
    table = result.locator("table.comparison-table")
    for name in ("Les LokoMotiv'", "Graines d'idées", "Tous les groupes"):
        expect(table.locator("thead")).to_contain_text(name)
    expect(table).to_contain_text("points (n = 24)")
    expect(table).to_contain_text("effectif trop faible")
    expect(result.locator("figure svg[role=img] title")).to_have_count(1)
    assert sideways_overflow(page) == 0
    assert page.evaluate(REGION_OVERFLOW) <= 1
    screenshot(page, "pilot-comparison-laptop")
    # On a phone the page itself never scrolls sideways; the table scrolls in its region.
    page.set_viewport_size(SMALL_PHONE)
    assert sideways_overflow(page) == 0
    screenshot(page, "pilot-comparison-phone")
    assert_no_csp_violation(csp_violations)
