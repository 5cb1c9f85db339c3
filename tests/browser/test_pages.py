"""Logging in and out in a real browser at 375 × 812.

Every page's accessibility, width and CSP are checked by `test_every_page.py`; this file holds
what a person sees of the session itself.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser


def test_logout_button_is_visible_and_logs_out(page, live_server, csp_violations, screenshot):
    log_in(page, live_server, "foyer-est-01")
    expect(page).to_have_url(re.compile(r"/collecte/$"))
    expect(page.get_by_text("Collecte 3").first).to_be_visible()

    # A compact header: one short line, the logout folded in the account's menu.
    header = page.locator("body > header").bounding_box()
    assert header["height"] <= 0.12 * 812, header
    logout = page.get_by_role("button", name="Se déconnecter")
    expect(logout).to_be_hidden()
    page.locator("details.account-menu summary").click()
    expect(logout).to_be_visible()
    logout.click()

    expect(page).to_have_url(re.compile(r"/connexion$"))
    expect(page.get_by_text("Vous êtes déconnecté·e.")).to_be_visible()
    screenshot(page, "logged-out")
    # The session is over: the collecte sends back to the login page.
    page.goto(f"{live_server}/collecte/")
    expect(page).to_have_url(re.compile(r"/connexion"))
    assert_no_csp_violation(csp_violations)
