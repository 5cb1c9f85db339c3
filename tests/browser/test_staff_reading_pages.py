"""Staff reading in a browser: the facilitator prints an event's attendance sheet on one A4
page, from its phone; the pilot reads a group's calendar and recipe book on a laptop.

Every staff page's accessibility, width and CSP are checked by `test_every_page.py`.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import LAPTOP
from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import log_in
from tests.browser.helpers import sideways_overflow

pytestmark = pytest.mark.browser

# A page object of a PDF ("/Type /Pages" is the tree that holds them).
PDF_PAGE = re.compile(rb"/Type\s*/Page(?!s)")


def test_the_attendance_sheet_prints_on_one_a4_page(
    page, live_server, csp_violations, screenshot, axe
):
    log_in(page, live_server, "animateur-est")
    page.goto(f"{live_server}/calendrier/")
    expect(page.get_by_role("heading", name="Calendrier et présences")).to_be_visible()
    card = page.locator("article.event", has_text="Visite de la Ferme du Bois")
    card.get_by_role("button", name="Feuille à imprimer").click()
    expect(page.get_by_role("heading", name="Feuille de présence")).to_be_visible()
    # 14 active named foyers, then 4 blank lines, each with a box.
    expect(page.locator("table.sheet-table tbody tr")).to_have_count(18)
    expect(page.get_by_text("Foyers accompagnés présents (au plus 2)")).to_be_visible()
    assert sideways_overflow(page) == 0
    assert axe(page) == []
    screenshot(page, "facilitator-attendance-sheet")
    pdf = page.pdf(format="A4", print_background=True)
    assert len(PDF_PAGE.findall(pdf)) == 1
    # What the paper looks like: an A4 page's width at 96 dpi, in print media.
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})
    screenshot(page, "facilitator-attendance-sheet-print")
    assert_no_csp_violation(csp_violations)


def test_the_pilot_reads_a_groups_calendar_and_book(
    page, live_server, csp_violations, screenshot, axe
):
    page.set_viewport_size(LAPTOP)
    log_in(page, live_server, "pilote")
    page.get_by_role("link", name="calendrier").first.click()
    expect(page.get_by_role("heading", name="Calendrier du groupe")).to_be_visible()
    expect(page.locator("main form, main button, main input")).to_have_count(0)
    assert axe(page) == []
    screenshot(page, "pilot-group-calendar")
    page.get_by_role("link", name="Livre de recettes").click()
    expect(page.get_by_role("heading", name="Le livre de recettes du groupe")).to_be_visible()
    page.get_by_label("Chercher une recette ou un ingrédient").fill("rhubarbe")
    expect(page.get_by_text("recettes pour « rhubarbe »")).to_be_visible()
    expect(page).to_have_url(re.compile(r"groupe=\d+"))
    assert axe(page) == []
    screenshot(page, "pilot-group-recipe-book")
    assert_no_csp_violation(csp_violations)
