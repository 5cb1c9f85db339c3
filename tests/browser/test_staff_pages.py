"""Every page of the facilitator, the referent and the pilot in a browser at 375 × 812.

The facilitator finds who has not sent the open wave; on every staff page axe-core finds no
serious or critical violation, nothing scrolls sideways and the CSP is never violated.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_pages import assert_accessible
from tests.browser.test_pages import assert_no_csp_violation
from tests.browser.test_pages import assert_no_sideways_scroll
from tests.browser.test_pages import log_in

pytestmark = pytest.mark.browser


def visit_all(page, base, paths, axe, screenshot, prefix):
    failures = []
    for path in paths:
        response = page.goto(f"{base}{path}")
        assert response.status == 200, (path, response.status)
        screenshot(page, f"{prefix}{path.strip('/').replace('/', '-') or 'home'}")
        try:
            assert_accessible(axe, page)
            assert_no_sideways_scroll(page)
        except AssertionError as error:
            failures.append(str(error))
    assert failures == [], "\n".join(failures)


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
        page.get_by_text("16 foyer(s) actif(s) n'ont pas encore envoyé leur relevé.")
    ).to_be_visible()
    expect(page.get_by_text("Et 2 foyer(s) accompagné(s)")).to_be_visible()
    contacts = page.locator("#contacts")
    expect(contacts).to_be_visible()
    assert "06 " in contacts.input_value()
    screenshot(page, "facilitator-pending")
    assert_no_csp_violation(csp_violations)


def test_every_facilitator_page_is_accessible(page, live_server, csp_violations, axe, screenshot):
    log_in(page, live_server, "animateur-est")
    expect(page).to_have_url(re.compile(r"/groupe/\d+$"))
    group = re.search(r"/groupe/(\d+)$", page.url).group(1)
    first_foyer = page.locator("a[href*='/foyers/']").first.get_attribute("href")
    paths = [
        f"/groupe/{group}",
        f"/groupe/{group}/relances",
        f"/groupe/{group}/progres",
        f"/groupe/{group}/inviter",
        first_foyer,
        "/mot-de-passe",
    ]
    visit_all(page, live_server, paths, axe, screenshot, "facilitator-")
    assert_no_csp_violation(csp_violations)


def test_every_referent_and_pilot_page_is_accessible(
    page, live_server, csp_violations, axe, screenshot
):
    log_in(page, live_server, "referent-mjep")
    expect(page).to_have_url(re.compile(r"/accompagnement/$"))
    foyer = page.locator("a[href*='/collecte/foyer/']").first.get_attribute("href")
    visit_all(
        page,
        live_server,
        ["/accompagnement/", "/accompagnement/inviter", foyer, foyer + "3/repas"],
        axe,
        screenshot,
        "referent-",
    )
    page.get_by_role("button", name="Se déconnecter").click()
    # The logout must have landed before the next login, or its answer could end that one.
    expect(page).to_have_url(re.compile(r"/connexion$"))
    log_in(page, live_server, "pilote")
    expect(page).to_have_url(re.compile(r"/pilote/$"))
    paths = [
        "/pilote/",
        "/pilote/comparaison",
        "/pilote/rapport",
        "/pilote/parametres",
        "/pilote/import",
    ]
    visit_all(page, live_server, paths, axe, screenshot, "pilot-")
    assert_no_csp_violation(csp_violations)
