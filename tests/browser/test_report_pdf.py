"""The printed report in Chromium (issue 13): printed to an A4 PDF, the demo's report takes
exactly 2 pages, numbered in their margin, with its date, titled charts and attendance as the
calendar counts it. The PDF and a screenshot go to tests/artifacts/."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import LAPTOP
from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser

# A page object of the PDF, not the /Type /Pages tree that lists them.
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
# The number in each page's bottom margin: the report's named @page and its margin box, as
# Chromium has parsed them from the print style sheet.
PAGE_NUMBER_RULE = """() => {
  const found = [];
  const walk = (rules) => {
    for (const rule of rules) {
      if (rule instanceof CSSPageRule && rule.selectorText.includes("report")) {
        found.push(rule.cssText);
      }
      if (rule.cssRules) walk(rule.cssRules);
    }
  };
  for (const sheet of document.styleSheets) walk(sheet.cssRules);
  return found.join("\\n");
}"""


def test_the_report_prints_on_two_numbered_a4_pages(page, live_server, csp_violations, screenshot):
    page.set_viewport_size(LAPTOP)
    log_in(page, live_server, "pilote")
    page.goto(f"{live_server}/pilote/rapport")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Défi Famille")
    # Its date, its sections and its charts' titles.
    # The server's today: the territory's (formatting.today).
    today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    expect(page.locator(".report-date time")).to_have_attribute("datetime", today)
    expect(page.locator(".report-date")).to_contain_text("Rapport établi le")
    for title in (
        "1. Foyers engagés",
        "2. Indicateurs, par groupe",
        "5. Évènements et participation",
    ):
        expect(page.get_by_role("heading", name=title)).to_be_visible()
    captions = page.locator(".report-charts figcaption")
    expect(captions).to_have_count(4)
    expect(captions.first).to_have_text("Coût par repas et par personne (€)")
    for chart in page.locator(".report-charts svg").all():
        assert chart.get_attribute("role") == "img"
    # LokoMotiv' launch atelier, 18 Sept. 2021: 15 foyers as the calendar counts them (named
    # ticks and the accompanied foyers counted at the door), no longer 12.
    launch = page.locator(".report-events tbody tr").filter(has_text="18 sept. 2021")
    expect(launch.locator("td").nth(3)).to_have_text("15")

    # Numbered pages: the report's named page has a margin box with the page counters.
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('.report')).page") == "report"
    rule = page.evaluate(PAGE_NUMBER_RULE)
    assert "@bottom-right" in rule and "counter(page)" in rule and "counter(pages)" in rule
    expect(page.locator("button[data-print]")).to_be_hidden()
    page.emulate_media(media="null")  # "screen" would print the screen's layout

    pdf = page.pdf(format="A4", print_background=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    assert len(PDF_PAGE.findall(pdf)) == 2
    screenshot(page, "report-laptop")
    assert_no_csp_violation(csp_violations)
