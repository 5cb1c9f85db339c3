"""What the browser tests do as a person would: log in, wait for htmx, look at the layout."""

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from defi import create_app
from defi.extensions import db
from defi.models import Entry
from defi.models import User
from defi.models import Wave
from tests.conftest import DEMO_PASSWORD

SMALL_PHONE = {"width": 375, "height": 812}
LAPTOP = {"width": 1280, "height": 800}


def log_in(page, base_url, username, password=DEMO_PASSWORD):
    """Fill and send the login form, and wait until it has led away from it.

    First for the server's answer to the form (argon2 takes its time, longer still on a
    loaded machine: a run of the suite in 3 processes once took more than `expect`'s 5 s),
    then for the page it leads to.
    """
    page.goto(f"{base_url}/connexion")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_response(
        lambda response: response.request.method == "POST" and "/connexion" in response.url
    ):
        page.get_by_role("button", name="Se connecter").click()
    expect(page).not_to_have_url(re.compile(r"/connexion"))


def log_out(page):
    """Tap "Se déconnecter", and wait for the logout to land (or its answer could end the
    next login)."""
    page.locator("details.account-menu summary").click()
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion$"))


def htmx_settled(page):
    """Wait until htmx has no request in flight and has swapped and settled its last answer.

    Playwright reports a response when its headers arrive; htmx swaps the section when the
    body is in, and only wires the new form (its autosave triggers) when it settles.
    """
    page.wait_for_function(
        "() => document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling') === null"
    )


def sideways_overflow(page):
    """How many pixels the page is wider than the screen (0 when it does not scroll sideways)."""
    return page.evaluate(
        "Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth)"
    )


def assert_no_csp_violation(messages):
    assert messages == [], "Content Security Policy violations:\n" + "\n".join(messages)


# Reports each `securitypolicyviolation` event of the page to the test. Playwright runs it in
# every document before the page's own scripts, outside the page's CSP.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline"}`
    + ` (${event.sourceFile || "page"}:${event.lineNumber}) ${event.sample}`
  );
});
"""


def watch_csp(page):
    """The page's Content Security Policy violations, as they happen (a list to assert on):
    the `securitypolicyviolation` events and the console messages about the policy."""
    messages = []

    def on_console(message):
        if "Content Security Policy" in message.text:
            messages.append(f"console on {page.url}: {message.text}")

    page.expose_function(
        "reportCspViolation", lambda text: messages.append(f"event on {page.url}: {text}")
    )
    page.add_init_script(CSP_LISTENER)
    page.on("console", on_console)
    return messages


def releve_in_db(app_config, username, rank):
    """What the database holds of a foyer's relevé, read by an app of the test's own.

    The engine is disposed of before returning, so that no connection of the test holds a
    lock when the live server empties the PostgreSQL database.
    """
    app = create_app(app_config)
    with app.app_context():
        try:
            user = db.session.scalar(sa.select(User).where(User.username == username))
            entry = db.session.scalar(
                sa.select(Entry)
                .join(Wave, Entry.wave_id == Wave.id)
                .where(Entry.household_id == user.household_id, Wave.rank == rank)
            )
            if entry is None:
                return None
            return {
                "status": entry.status,
                "submission_id": entry.submission_id,
                "period_days": entry.period_days,
                "persons": entry.persons,
                "meals_per_day": entry.meals_per_day,
                "meal_covers": entry.meal_covers,
                "purchases": sorted(
                    (p.total_cents, p.place_type, p.organic_cents, p.local_cents)
                    for p in entry.purchases
                ),
                "weighings": sorted((w.grams, w.category) for w in entry.weighings),
                "recipes": [(r.title, r.purpose, r.ingredients, r.steps) for r in entry.recipes],
                "producers": [(p.name, p.commune, p.products) for p in entry.producers],
                "answers": sorted((a.choice.question.key, a.choice.key) for a in entry.answers),
                "changes": [(c.field, c.old_value, c.new_value) for c in entry.changes],
            }
        finally:
            db.session.remove()
            db.engine.dispose()
