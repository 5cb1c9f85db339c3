"""The facilitator's reminder list in a browser at 375 × 812.

Every staff page's accessibility, width and CSP are checked by `test_every_page.py`.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser


def test_facilitator_finds_who_has_not_filled_the_wave(
    page, live_server, csp_violations, screenshot
):
    log_in(page, live_server, "animateur-est")
    expect(page).to_have_url(re.compile(r"/groupe/\d+$"))
    page.get_by_role("link", name="Qui n'a pas rempli ?").click()
    expect(
        page.get_by_role("heading", name="Qui n'a pas encore envoyé son relevé ?")
    ).to_be_visible()
    # The end wave is open and nobody has sent it: 16 active foyers, 2 of them accompanied.
    expect(
        page.get_by_text("16 foyers actifs n'ont pas encore envoyé leur relevé.")
    ).to_be_visible()
    expect(page.get_by_text("Et 2 foyers accompagnés")).to_be_visible()
    # Their phones and e-mails to copy, and one link that texts them all.
    phones, emails = page.locator("#phones"), page.locator("#emails")
    expect(phones).to_be_visible()
    assert "06 " in phones.input_value()
    assert "@" in emails.input_value()
    sms = page.get_by_role("button", name=re.compile("Relancer par SMS"))
    expect(sms).to_have_attribute("href", re.compile(r"^sms:"))
    screenshot(page, "facilitator-pending")
    assert_no_csp_violation(csp_violations)
