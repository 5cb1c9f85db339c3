"""No Content Security Policy violation while each member of staff goes through its main flows.

The listener (`watch_csp`) records the `securitypolicyviolation` events and the console
messages about the policy; a violation planted at the start shows that it hears both. The
foyer's flows (autosave, receipts, the questionnaire, sending the relevé) are followed with
the same listener by `test_collecte_journey.py` and `test_keyboard_journey.py`; every page of
every role is opened with it by `test_every_page.py`.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import htmx_settled
from tests.browser.helpers import log_in
from tests.browser.helpers import watch_csp

pytestmark = pytest.mark.browser

OPEN_RANK = 3
# An image from another site: `img-src 'self' data:` refuses it before any request leaves.
PLANTED = """document.body.insertAdjacentHTML(
  "beforeend", '<img alt="" src="https://example.invalid/planted.png">'
)"""


def planted_violation_is_heard(page, messages):
    """Plant a violation: what the listener heard of it ("event", "console"), then forget it."""
    page.evaluate(PLANTED)
    heard = set()
    for _ in range(40):
        heard = {message.split(" ", 1)[0] for message in messages}
        if heard == {"event", "console"}:
            break
        page.wait_for_timeout(50)
    messages.clear()
    return heard


def facilitator(page, base):
    """Roster, progress, an invitation (its code and QR code), attendance ticked with htmx."""
    log_in(page, base, "animateur-est")
    expect(page.get_by_role("heading", name="Foyers du groupe")).to_be_visible()
    page.get_by_role("link", name="Progrès du groupe").click()
    expect(page).to_have_url(re.compile(r"/progres$"))
    page.go_back()
    page.get_by_role("link", name="Inviter un foyer").click()
    page.get_by_label("Nom affiché du foyer").fill("Famille Test")
    page.get_by_label("Adultes").fill("2")
    page.get_by_label("Enfants").fill("1")
    page.get_by_role("button", name="Créer l'invitation").click()
    expect(page.locator(".invitation-code")).to_be_visible()
    expect(page.locator("img.qr, svg.qr").first).to_be_visible()
    page.get_by_role("link", name="Calendrier").click()
    page.locator("article.event").first.get_by_role("button", name="Présences").click()
    expect(page.get_by_role("heading", name="Présences", exact=True)).to_be_visible()
    htmx_settled(page)
    with page.expect_response(lambda r: r.url.endswith("/presences/cocher")) as answer:
        page.locator("label.tick").first.click()
    assert answer.value.status == 200
    htmx_settled(page)


def referent(page, base):
    """Assisted entry: the referent opens an accompanied foyer's relevé and fills it."""
    log_in(page, base, "referent-mjep")
    # A foyer still taking part: one that withdrew reads its relevé only.
    page.locator("article.followup-card:not(.followup-withdrawn) h3 a").first.click()
    expect(page).to_have_url(re.compile(r"/collecte/foyer/\d+/$"))
    # The referent fills the family's relevé: "le relevé", not "mon relevé".
    page.get_by_role("button", name="Commencer le relevé").click()
    expect(page.get_by_text("saisie accompagnée pour")).to_be_visible()
    htmx_settled(page)
    days = page.locator("form[data-autosave]").get_by_label("Nombre de jours de la période")
    with page.expect_response(lambda r: r.request.method == "POST" and "/repas" in r.url):
        days.fill("14")
        days.blur()
    htmx_settled(page)
    expect(page.locator("#releve-section .save-status")).to_contain_text("Enregistré à")
    quick_add = page.locator("form.quick-add")
    quick_add.get_by_label("Montant total (€)").fill("12,30")
    quick_add.get_by_role("button", name="Ajouter cet achat").click()
    htmx_settled(page)
    expect(page.locator("ul.rows > li")).to_have_count(1)


def pilot(page, base):
    """Comparison of a group, an export downloaded, the report, the set-up pages."""
    log_in(page, base, "pilote")
    page.get_by_role("link", name="Comparaison et exports").click()
    # The home links to each group's book (…?groupe=): wait for the comparison first.
    expect(page).to_have_url(re.compile(r"/pilote/comparaison$"))
    page.locator("a[href*='comparaison?groupe=']").first.click()
    expect(page).to_have_url(re.compile(r"groupe=\d+"))
    with page.expect_download() as download:
        page.get_by_role("link", name="comparaison.csv").click()
    assert download.value.suggested_filename.endswith(".csv")
    page.get_by_role("link", name="rapport à imprimer").click()
    expect(page.get_by_role("button", name="Imprimer ou enregistrer en PDF")).to_be_visible()
    page.goto(f"{base}/pilote/parametres")
    page.get_by_role("button", name="Enregistrer la collecte 1").click()
    expect(page.locator("#flashes")).to_contain_text("Collecte 1 enregistrée")
    page.locator("summary").filter(has_text="Créer un nouveau défi").click()
    page.goto(f"{base}/pilote/import")
    expect(page.get_by_role("button", name="Importer")).to_be_visible()


@pytest.mark.parametrize("flows", [facilitator, referent, pilot], ids=lambda f: f.__name__)
def test_main_flows_of_staff_violate_no_content_security_policy(
    browser, browser_context_args, live_server, flows
):
    context = browser.new_context(**browser_context_args, accept_downloads=True)
    try:
        page = context.new_page()
        messages = watch_csp(page)
        page.goto(f"{live_server}/connexion")
        assert planted_violation_is_heard(page, messages) == {"event", "console"}
        flows(page, live_server)
        assert_no_csp_violation(messages)
    finally:
        context.close()
