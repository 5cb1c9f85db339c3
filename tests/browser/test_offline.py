"""Nothing typed is lost without network: the outbox and the service worker, in Chromium.

The foyer opens its relevé's pages once with the network (the service worker keeps them),
then the network is cut: it adds a weighing and two receipts, which the page keeps on the
phone and lists as "en attente d'envoi"; the page is reloaded, and the tab closed and opened
again, still without network (the pages come from the service worker, the outbox from the
phone's storage); the network returns and everything reaches the database exactly once, even
when the phone sends the same items a second time (an answer lost on the way).

The network is cut for real (`network.Cable`): Chromium's offline emulation lets the requests
of a page under a service worker through. The emulation is switched on as well, so that the
page's `navigator.onLine` and its `online` event are those of a phone.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import htmx_settled
from tests.browser.helpers import log_in
from tests.browser.helpers import log_out
from tests.browser.helpers import releve_in_db
from tests.browser.network import Cable

pytestmark = pytest.mark.browser

FOYER = "foyer-est-01"
RELEVE = "/collecte/3"


def outbox(page):
    return page.locator("#outbox li")


def add_offline(page, form_label, fields):
    form = page.locator("form.quick-add")
    for label, value in fields:
        form.get_by_label(label).fill(value)
    form.get_by_role("button", name=form_label).click()


@pytest.fixture
def cable(live_server):
    """The live server behind a cable the test can pull; yields the cable (its `url`)."""
    port = int(live_server.rsplit(":", 1)[1])
    cable = Cable(port)
    yield cable
    cable.close()


def offline(context, cable):
    cable.pull()
    context.set_offline(True)


def online(context, cable, page):
    cable.plug()
    context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")


def test_added_offline_reaches_the_database_once_after_a_reload(
    browser, browser_context_args, cable, app_config, screenshot
):
    live_server = cable.url
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    log_in(page, live_server, FOYER)
    before = releve_in_db(app_config, FOYER, 3) or {"purchases": [], "weighings": []}
    # Online: the service worker takes control, then keeps the pages visited.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)
    for section in ("pesees", "repas"):
        page.goto(f"{live_server}{RELEVE}/{section}")
    # A receipt added online, from the page the service worker keeps: the same page opened
    # again offline must not reuse its key (the second receipt would be taken for the first).
    add_offline(page, "Ajouter cet achat", [("Montant total (€)", "4,11")])
    htmx_settled(page)
    expect(page.locator("ul.rows > li")).to_have_count(1)

    offline(context, cable)
    page.goto(f"{live_server}{RELEVE}/pesees")  # from the service worker's cache
    add_offline(page, "Ajouter cette pesée", [("Poids (kg)", "0,250")])
    expect(outbox(page)).to_have_count(1)
    expect(page.locator("#network-status")).to_be_visible()
    page.goto(f"{live_server}{RELEVE}/repas")
    add_offline(page, "Ajouter cet achat", [("Montant total (€)", "12,30")])
    expect(outbox(page)).to_have_count(2)
    # The form is ready for the next receipt.
    expect(page.locator("form.quick-add").get_by_label("Montant total (€)")).to_have_value("")
    add_offline(page, "Ajouter cet achat", [("Montant total (€)", "7,45")])
    expect(outbox(page)).to_have_count(3)
    expect(page.locator("#outbox")).to_contain_text("en attente d'envoi")
    expect(page.locator("#outbox")).to_contain_text("Achat · 12,30")
    screenshot(page, "offline-outbox")

    # Reloaded, then the tab closed and opened again: still there, still without network.
    page.reload()
    expect(outbox(page)).to_have_count(3)
    page.close()
    page = context.new_page()
    page.goto(f"{live_server}{RELEVE}/repas")
    expect(outbox(page)).to_have_count(3)
    kept = page.evaluate("() => localStorage.getItem('defi-outbox')")
    assert [t for t, *_rest in releve_in_db(app_config, FOYER, 3)["purchases"]] == [411]

    # The network returns: everything is sent, the list empties, the rows are shown.
    online(context, cable, page)
    expect(page.locator("#outbox")).to_be_hidden(timeout=15000)
    htmx_settled(page)
    expect(page.locator("ul.rows > li")).to_have_count(3)
    expect(page.locator("ul.rows")).to_contain_text("12,30")
    expect(page.locator("ul.rows")).to_contain_text("7,45")
    after = releve_in_db(app_config, FOYER, 3)
    added = sorted(set(after["purchases"]) - set(before["purchases"]))
    assert [total for total, *_rest in after["purchases"]].count(1230) == 1
    assert [total for total, *_rest in after["purchases"]].count(745) == 1
    assert [total for total, *_rest in after["purchases"]].count(411) == 1
    assert len(after["purchases"]) == len(before["purchases"]) + 3, added
    assert len(after["weighings"]) == len(before["weighings"]) + 1
    assert (250, "evitable") in after["weighings"]

    # The same items sent again (the phone never got the answers): added once all the same.
    page.evaluate("items => localStorage.setItem('defi-outbox', items)", kept)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(page.locator("#outbox")).to_be_hidden(timeout=15000)
    again = releve_in_db(app_config, FOYER, 3)
    assert again["purchases"] == after["purchases"]
    assert again["weighings"] == after["weighings"]
    screenshot(page, "offline-sent")
    context.close()


def test_the_outbox_is_never_sent_by_another_user(browser, browser_context_args, cable, app_config):
    """Items kept for one foyer stay unsent when another foyer logs in on the same phone."""
    live_server = cable.url
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    log_in(page, live_server, FOYER)
    page.goto(f"{live_server}{RELEVE}/repas")
    offline(context, cable)
    add_offline(page, "Ajouter cet achat", [("Montant total (€)", "3,33")])
    expect(outbox(page)).to_have_count(1)
    # The tab is closed before the network returns; someone else logs in.
    page.close()
    cable.plug()
    context.set_offline(False)
    context.clear_cookies()
    page = context.new_page()
    log_in(page, live_server, "foyer-est-02")
    page.goto(f"{live_server}{RELEVE}/repas")
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(outbox(page)).to_have_count(0)
    page.wait_for_timeout(500)
    other = releve_in_db(app_config, "foyer-est-02", 3)
    assert other is None or all(total != 333 for total, *_rest in other["purchases"])
    assert re.search("3,33", page.evaluate("() => localStorage.getItem('defi-outbox')"))
    context.close()


def test_logging_out_forgets_the_pages_kept_offline(
    browser, browser_context_args, cable, app_config
):
    """On a shared phone, the relevé's pages kept for offline use go at logout: without
    network, the next person finds the "pas de connexion" page, not the foyer's figures."""
    live_server = cable.url
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    log_in(page, live_server, FOYER)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)
    page.goto(f"{live_server}{RELEVE}/repas")
    assert page.evaluate("() => caches.has('defi-pages-v1')")
    log_out(page)
    page.wait_for_function("async () => !(await caches.has('defi-pages-v1'))", timeout=5000)
    offline(context, cable)
    page.goto(f"{live_server}{RELEVE}/repas")
    expect(page.get_by_role("heading", name="Pas de connexion")).to_be_visible()
    expect(page.get_by_text("Repas et achats")).to_have_count(0)
    context.close()
