"""The calendar in a real browser at 375 × 812: a facilitator ticks attendance at the door.

Each box saves itself with htmx as soon as it is tapped; without JavaScript the sheet's button
saves every box. Every calendar page is checked with axe-core by `test_every_page.py`.
"""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from defi import create_app
from defi.extensions import db
from defi.models import Attendance
from defi.models import Event
from defi.models import Household
from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import htmx_settled
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser

EVENT = "Visite de la Ferme du Bois"


def present_at(app_config, title):
    """The display names (or labels' foyers' codes) of the Est foyers ticked at the event."""
    app = create_app(app_config)
    with app.app_context():
        try:
            return set(
                db.session.scalars(
                    sa.select(Household.display_name)
                    .join(Attendance, Attendance.household_id == Household.id)
                    .join(Event, Event.id == Attendance.event_id)
                    .where(Event.title == title)
                )
            )
        finally:
            db.session.remove()
            db.engine.dispose()


def open_sheet(page, live_server):
    page.goto(f"{live_server}/calendrier/")
    card = page.locator("article.event", has_text=EVENT)
    card.get_by_role("button", name="Présences").click()
    expect(page.get_by_role("heading", name="Présences", exact=True)).to_be_visible()
    htmx_settled(page)


def test_facilitator_ticks_attendance_on_a_phone(
    page, live_server, app_config, csp_violations, screenshot
):
    log_in(page, live_server, "animateur-est")
    page.get_by_role("link", name="Calendrier").click()
    expect(page).to_have_url(re.compile(r"/calendrier/groupe/\d+$"))
    open_sheet(page, live_server)
    count = page.locator("#present-count strong")
    before = int(count.inner_text())
    box = page.locator("label.tick:not(:has(input:checked))").first
    name = box.inner_text().strip()
    # A tap target at least 44 px high.
    assert box.bounding_box()["height"] >= 44

    with page.expect_response(lambda r: r.url.endswith("/presences/cocher")) as answer:
        box.click()
    assert answer.value.status == 200
    htmx_settled(page)
    expect(count).to_have_text(str(before + 1))
    expect(page.locator("#present-count")).to_contain_text("enregistré")
    assert name in present_at(app_config, EVENT)

    with page.expect_response(lambda r: r.url.endswith("/presences/cocher")) as answer:
        page.get_by_label(name, exact=True).click()
    assert answer.value.status == 200
    htmx_settled(page)
    expect(count).to_have_text(str(before))
    assert name not in present_at(app_config, EVENT)

    # Two quick taps in a row: both saved, in order.
    boxes = page.locator("label.tick:not(:has(input:checked))")
    first, second = boxes.nth(0).inner_text().strip(), boxes.nth(1).inner_text().strip()
    page.get_by_label(first, exact=True).click()
    page.get_by_label(second, exact=True).click()
    expect(count).to_have_text(str(before + 2))
    htmx_settled(page)
    assert {first, second} <= present_at(app_config, EVENT)
    page.reload()
    expect(page.get_by_label(first, exact=True)).to_be_checked()
    expect(page.get_by_label(second, exact=True)).to_be_checked()
    screenshot(page, "calendar-attendance")
    assert_no_csp_violation(csp_violations)


def test_the_sheet_is_saved_without_javascript(
    browser, browser_context_args, live_server, app_config
):
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, live_server, "animateur-est")
        open_sheet(page, live_server)
        box = page.locator("label.tick:not(:has(input:checked))").first
        name = box.inner_text().strip()
        page.get_by_label(name, exact=True).check()
        page.get_by_role("button", name="Enregistrer les présences").click()
        expect(page.locator("#flashes")).to_contain_text("Présences enregistrées")
        expect(page.get_by_label(name, exact=True)).to_be_checked()
        assert name in present_at(app_config, EVENT)
    finally:
        context.close()
