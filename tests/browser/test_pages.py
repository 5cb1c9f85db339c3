"""The main pages in a real browser at 375 × 812: login, each role's home, logout.

Each flow checks what only a browser shows: axe-core finds no serious or critical violation,
the page does not scroll sideways, and Chromium reports no Content Security Policy violation.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser

STAFF_HOMES = [
    ("pilote", r"/pilote/$"),
    ("animateur-est", r"/groupe/\d+$"),
    ("referent-mjep", r"/accompagnement/$"),
]


def log_in(page, base_url, username, password=DEMO_PASSWORD):
    """Fill and send the login form as a person would."""
    page.goto(f"{base_url}/connexion")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Se connecter").click()


def assert_accessible(axe, page):
    violations = axe(page)
    assert violations == [], f"axe-core, serious or critical on {page.url}: {violations}"


def assert_no_sideways_scroll(page):
    overflow = page.evaluate(
        "Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"
    )
    assert overflow == 0, f"{page.url} is {overflow} px wider than the 375 px screen"


def assert_no_csp_violation(messages):
    assert messages == [], "Content Security Policy violations:\n" + "\n".join(messages)


def test_household_logs_in_and_lands_on_its_collecte(
    page, live_server, csp_violations, axe, screenshot
):
    page.goto(f"{live_server}/connexion")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    assert_accessible(axe, page)
    assert_no_sideways_scroll(page)
    screenshot(page, "login")

    log_in(page, live_server, "foyer-est-01")

    expect(page).to_have_url(re.compile(r"/collecte/$"))
    expect(page.get_by_text("Collecte 3").first).to_be_visible()
    screenshot(page, "collecte-foyer-est-01")
    assert_accessible(axe, page)
    assert_no_sideways_scroll(page)
    assert_no_csp_violation(csp_violations)


@pytest.mark.parametrize(("username", "home"), STAFF_HOMES)
def test_staff_lands_on_its_home(
    page, live_server, csp_violations, axe, screenshot, username, home
):
    log_in(page, live_server, username)

    expect(page).to_have_url(re.compile(home))
    expect(page.locator("main h1").first).to_be_visible()
    screenshot(page, f"home-{username}")
    assert_accessible(axe, page)
    assert_no_sideways_scroll(page)
    assert_no_csp_violation(csp_violations)


def test_logout_button_is_visible_and_logs_out(page, live_server, csp_violations, axe, screenshot):
    log_in(page, live_server, "foyer-est-01")
    expect(page).to_have_url(re.compile(r"/collecte/$"))

    logout = page.get_by_role("button", name="Se déconnecter")
    expect(logout).to_be_visible()
    logout.click()

    expect(page).to_have_url(re.compile(r"/connexion$"))
    expect(page.get_by_text("Vous êtes déconnecté·e.")).to_be_visible()
    screenshot(page, "logged-out")
    # The session is over: the collecte sends back to the login page.
    page.goto(f"{live_server}/collecte/")
    expect(page).to_have_url(re.compile(r"/connexion"))
    assert_accessible(axe, page)
    assert_no_csp_violation(csp_violations)
