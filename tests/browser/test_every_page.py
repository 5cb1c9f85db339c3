"""Every page of every role, found by following the app's own links, on a phone and a laptop.

For each role (anonymous, a foyer, a facilitator, a referent, the pilot) the test starts on
the role's home and follows every same-site link, breadth first, keeping one page per route
and set of arguments (another foyer's page of the same route is the same template). Every page
is checked at 375 × 812 and at 1280 × 800: axe-core finds no serious or critical violation;
at 375 px nothing scrolls sideways, every tap target is 44 px high or more, and every field has
a label of its own; on a foyer's pages no element at all reaches past a 360 px screen or
scrolls sideways inside it; no Content Security Policy violation happens. Downloads (exports, "Mes
données") are fetched, not checked by axe. A few pages only come back from a form (an
invitation code, a new calendar address, the set-up of a défi not started yet) or from a
failure (page not found, database unavailable): the test provokes them and checks them too.

So that a broken crawler cannot pass, each actor's test asserts what it must have reached: every
GET route that `defi.access.POLICY` opens to the role (the public ones for the anonymous
visitor), and the page templates of TEMPLATES_OF, which together are every page template of
templates/. One test per actor, so that pytest-xdist runs them side by side.
"""

import contextlib
import re
from collections import deque
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl
from urllib.parse import urldefrag
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import has_request_context
from flask import request
from flask import template_rendered
from playwright.sync_api import expect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from defi import create_app
from defi.access import ANONYMOUS
from defi.access import COORDINATOR
from defi.access import FACILITATOR
from defi.access import HOUSEHOLD
from defi.access import PILOT
from defi.access import POLICY
from defi.access import REFERENT
from tests.browser.helpers import LAPTOP
from tests.browser.helpers import SMALL_PHONE
from tests.browser.helpers import assert_no_csp_violation
from tests.browser.helpers import htmx_settled
from tests.browser.helpers import log_in
from tests.browser.helpers import sideways_overflow
from tests.browser.helpers import watch_csp

pytestmark = pytest.mark.browser

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
OPEN_RANK = 3  # the demo's open wave
# GET routes that no page links to, and why.
NOT_LINKED = {
    "static": "the pages' CSS and scripts, not pages",
    "main.healthz": "asked by the load balancer",
    "calendar.ics": "asked by a calendar app, at a secret address",
    "main.service_worker": "registered by app.js, not a page",
}
# Templates that are not pages: the layout, the macros and parts (named `_*.html`), and the
# error answer to an htmx request, which is swapped into a page.
NOT_PAGES = {"base.html", "errors/fragment.html"}
# The demo's actors: (name, username or None, the roles POLICY knows them by, their home).
ACTORS = [
    ("anonymous", None, {ANONYMOUS}, r"/connexion$"),
    ("foyer", "foyer-est-01", {HOUSEHOLD}, r"/collecte/$"),
    ("facilitator", "animateur-est", {FACILITATOR}, r"/groupe/\d+$"),
    ("referent", "referent-mjep", {REFERENT}, r"/accompagnement/$"),
    ("pilot", "pilote", {PILOT}, r"/pilote/$"),
    ("coordinator", "reseau", {COORDINATOR}, r"/reseau/$"),
]
# The controls a finger taps, under 44 px: a link within a sentence is exempt (WCAG 2.5.5), and
# a box or a radio button is tapped through its label.
SMALL_TARGETS = """() => {
  const small = [];
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  for (const control of document.querySelectorAll(selector)) {
    const target = control.matches("[type=checkbox], [type=radio]") && control.labels.length
      ? control.labels[0] : control;
    const box = target.getBoundingClientRect();
    const hidden = box.width === 0 || getComputedStyle(target).visibility === "hidden";
    if (hidden || box.right <= 0) continue;  // not shown, or off screen until focused
    if (control.tagName === "A" && getComputedStyle(control).display === "inline"
        && control.parentElement.innerText.trim() !== control.innerText.trim()) continue;
    if (box.height < 44) {
      small.push(`${target.outerHTML.slice(0, 120)} (${Math.round(box.height)} px high)`);
    }
  }
  return small;
}"""
# Form fields that no label names (a label whose `for` points at a duplicated id names only
# the first field with that id, which axe-core does not see).
UNLABELLED = """() => Array.from(
  document.querySelectorAll("input:not([type=hidden]), select, textarea")
).filter(
  (control) => control.labels.length === 0
    && !control.hasAttribute("aria-label") && !control.hasAttribute("aria-labelledby")
).map((control) => control.outerHTML.slice(0, 120))"""
# Every element of a page that reaches past a 360 px screen, or scrolls sideways inside it
# (a table in a scrolling box is still a table to scroll): none on a foyer's pages.
NARROW = {"width": 360, "height": 740}
WIDER_THAN_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const element of document.body.querySelectorAll("*")) {
    if (element.closest(".skip")) continue;  // off screen until focused
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    if (style.visibility === "hidden" || (box.width === 0 && box.height === 0)) continue;
    const name = element.outerHTML.slice(0, 100);
    if (box.right > width + 1 || box.left < -1) {
      wide.push(`${name} spans ${Math.round(box.left)}..${Math.round(box.right)} px`);
    } else if (["auto", "scroll"].includes(style.overflowX)
               && element.scrollWidth > element.clientWidth + 1) {
      wide.push(`${name} scrolls sideways (${element.scrollWidth} > ${element.clientWidth} px)`);
    }
  }
  return wide;
}"""
# A relevé's pages and its group's book and directory: a foyer's own, and a referent's with it.
RELEVE = {
    "collecte/directory.html",
    "collecte/index.html",
    "collecte/meals.html",
    "collecte/producer.html",
    "collecte/producers.html",
    "collecte/purchase.html",
    "collecte/questionnaire.html",
    "collecte/recipe.html",
    "collecte/recipe_book.html",
    "collecte/recipes.html",
    "collecte/submit.html",
    "collecte/weighings.html",
}
# The page templates each actor's crawl must show: together, every page template of templates/
# (test_every_page_template_is_shown_by_some_actor), so that each actor's crawl runs on its own.
TEMPLATES_OF = {
    "anonymous": {"accounts/login.html", "accounts/redeem.html", "errors/page.html"},
    "foyer": RELEVE
    | {
        "accounts/delete.html",
        "accounts/login.html",
        "accounts/my_data.html",
        "accounts/password.html",
        "calendar/feed.html",
        "calendar/index.html",
        "errors/unavailable.html",
    },
    "facilitator": {
        "accounts/details.html",
        "accounts/invitation.html",
        "accounts/login.html",
        "accounts/password.html",
        "calendar/attendance.html",
        "calendar/feed.html",
        "calendar/form.html",
        "calendar/group.html",
        "calendar/sheet.html",
        "calendar/summary.html",
        "collecte/directory.html",
        "collecte/recipe_book.html",
        "groups/household.html",
        "groups/invite.html",
        "groups/pending.html",
        "groups/progress.html",
        "groups/projection.html",
        "groups/releve.html",
        "groups/show.html",
    },
    "referent": RELEVE
    | {
        "accounts/details.html",
        "accounts/login.html",
        "accounts/password.html",
        "calendar/group.html",
        "referents/index.html",
        "referents/invite.html",
        "referents/paper.html",
    },
    "pilot": {
        "accounts/details.html",
        "accounts/login.html",
        "accounts/password.html",
        "calendar/group.html",
        "collecte/directory.html",
        "collecte/recipe_book.html",
        "groups/progress.html",
        "pilot/audit.html",
        "pilot/comparison.html",
        "pilot/import.html",
        "pilot/import_preview.html",
        "pilot/index.html",
        "pilot/question.html",
        "pilot/report.html",
        "pilot/setup.html",
    },
    "coordinator": {
        "accounts/details.html",
        "accounts/invitation.html",
        "accounts/login.html",
        "accounts/password.html",
        "network/challenge.html",
        "network/comparison.html",
        "network/index.html",
    },
}
# Far more than any role has (about 30): a crawler that runs away fails instead.
MAX_PAGES = 80


def expected_routes(app, roles):
    """The GET routes the actor must reach: those POLICY opens to it, public ones for the
    anonymous visitor only, less the ones no page links to."""
    expected = set()
    for rule in app.url_map.iter_rules():
        allowed = POLICY[rule.endpoint]
        if "GET" not in rule.methods or not allowed & roles or rule.endpoint in NOT_LINKED:
            continue
        if ANONYMOUS in allowed and ANONYMOUS not in roles:
            continue
        expected.add(rule.endpoint)
    return expected


def page_templates():
    return {
        path.relative_to(TEMPLATES).as_posix()
        for path in TEMPLATES.rglob("*.html")
        if not path.name.startswith("_")
    } - NOT_PAGES


class Crawl:
    """One actor's visit of the site: the pages checked, the routes reached, the failures."""

    def __init__(self, page, base, adapter, axe, screenshot, actor):
        self.page, self.base, self.adapter = page, base, adapter
        self.axe, self.screenshot, self.actor = axe, screenshot, actor
        self.routes = set()  # the endpoints reached, pages and downloads
        self.checked = []  # the URLs checked with axe
        self.seen = set()  # the keys of the pages checked or fetched
        self.failures = []

    def route(self, url):
        """(endpoint, key): the key is the same for two pages that only differ by the
        database ids or secrets in their address, or by the values of their query."""
        parts = urlsplit(url)
        endpoint, args = self.adapter.match(parts.path, method="GET")
        shape = tuple(
            sorted(
                (name, "*" if name.endswith("_id") or name == "token" else str(value))
                for name, value in args.items()
            )
        )
        query = tuple(sorted({name for name, _value in parse_qsl(parts.query)}))
        return endpoint, (endpoint, shape, query)

    def check(self, name):
        """axe-core at both sizes, and no sideways scroll on the phone, on the current page."""
        url = self.page.url
        self.checked.append(url)
        self.screenshot(self.page, f"page-{self.actor}-{name}")
        overflow = sideways_overflow(self.page)
        if overflow:
            self.failures.append(f"{url} is {overflow} px wider than the 375 px screen")
        small = self.page.evaluate(SMALL_TARGETS)
        if small:
            self.failures.append(f"tap targets under 44 px on {url}: {small}")
        unlabelled = self.page.evaluate(UNLABELLED)
        if unlabelled:
            self.failures.append(f"fields without a label on {url}: {unlabelled}")
        if self.actor == "foyer":
            self.page.set_viewport_size(NARROW)
            wide = self.page.evaluate(WIDER_THAN_SCREEN)
            if wide:
                self.failures.append(f"wider than a 360 px screen on {url}: {wide}")
        for size in (SMALL_PHONE, LAPTOP):
            self.page.set_viewport_size(size)
            violations = self.axe(self.page)
            if violations:
                self.failures.append(
                    f"axe-core at {size['width']} px, serious or critical on {url}: {violations}"
                )
        self.page.set_viewport_size(SMALL_PHONE)

    def links(self):
        hrefs = self.page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        for href in hrefs:
            url, _fragment = urldefrag(href)
            if url.startswith(self.base + "/"):
                yield url

    def run(self, start, again=False):
        """Check `start` and every page reached from it; `again`: check `start` even if a
        page of its kind was checked already (the site has changed since)."""
        queue = deque([start])
        if again:
            self.seen.discard(self.route(start)[1])
        while queue:
            url = queue.popleft()
            try:
                endpoint, key = self.route(url)
            except (HTTPException, RequestRedirect):
                self.failures.append(f"a link leads to no page of the app: {url}")
                continue
            if key in self.seen:
                continue
            self.seen.add(key)
            assert len(self.seen) <= MAX_PAGES, f"{self.actor}'s crawl ran away: {self.seen}"
            self.routes.add(endpoint)
            # A download is fetched with the session's cookies, and not opened as a page.
            answer = self.page.request.get(url)
            if answer.status != 200:
                self.failures.append(f"{url} answered {answer.status}")
                continue
            if not answer.headers.get("content-type", "").startswith("text/html"):
                continue
            response = self.page.goto(url)
            if response.status != 200:
                self.failures.append(f"{url} answered {response.status} in the browser")
                continue
            self.routes.add(self.route(self.page.url)[0])  # where a redirect led
            self.check(re.sub(r"\W+", "-", urlsplit(url).path).strip("-") or "home")
            queue.extend(self.links())


def add_rows(page, releve):
    """A purchase, a weighing, a recipe and a producer in the open relevé at `releve`, so that
    the lists are checked filled in and their rows' pages are reached."""
    page.goto(f"{releve}/repas")
    quick_add = page.locator("form.quick-add")
    quick_add.get_by_label("Montant total (€)").fill("23,40")
    quick_add.get_by_label("Dont bio (€)").fill("3,10")
    quick_add.get_by_role("button", name="Ajouter cet achat").click()
    htmx_settled(page)
    expect(page.locator("ul.rows > li")).to_have_count(1)
    page.goto(f"{releve}/pesees")
    page.locator("form.quick-add").get_by_label("Poids (kg)").fill("0,350")
    page.locator("form.quick-add").get_by_role("button", name="Ajouter cette pesée").click()
    htmx_settled(page)
    expect(page.locator("ul.rows > li")).to_have_count(1)
    for section, button, label, value in (
        ("recettes", "Écrire une recette", "Titre de la recette", "Soupe de fanes"),
        ("producteurs", "Ajouter un producteur", "Nom du producteur", "Ferme du Bois"),
    ):
        page.goto(f"{releve}/{section}")
        page.get_by_role("button", name=button).click()
        expect(page).to_have_url(re.compile(rf"/{section}/nouve(lle|au)$"))
        page.get_by_label(label).fill(value)
        page.get_by_role("button", name="Enregistrer").click()
        expect(page).to_have_url(re.compile(rf"/{section}$"))
        expect(page.locator("ul.rows")).to_contain_text(value)


def prepare(page, base, actor):
    """What the actor does before the crawl, so that its pages are checked with content; the
    page the crawl then starts from, if not the actor's home."""
    if actor == "foyer":
        add_rows(page, f"{base}/collecte/{OPEN_RANK}")
    elif actor == "referent":
        # A foyer still taking part (one that withdrew reads its relevé only, without the links
        # to its rows): the crawl starts from its relevé, whose pages then stand for all.
        foyers = page.locator("article.followup-card:not(.followup-withdrawn) h3 a")
        foyer = foyers.first.get_attribute("href")
        add_rows(page, f"{base}{foyer}{OPEN_RANK}")
        return f"{base}{foyer}{OPEN_RANK}/repas"
    return None


@contextlib.contextmanager
def database_down_for(path):
    """Every query of the live server's requests for `path` fails as if the database were
    gone (the server runs in this process); its other requests, the CSS included, work."""

    def refuse(*_args):
        if has_request_context() and request.path == path:
            raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    sa.event.listen(sa.Engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", refuse)


def answers_to_forms(crawl, page, base, actor):
    """The pages that only come back from a form, or from a failure: each is checked like
    the others."""
    if actor == "foyer":
        path = f"/collecte/{OPEN_RANK}/repas"
        with database_down_for(path):
            response = page.goto(base + path)
        assert response.status == 503
        expect(page.get_by_role("button", name="Réessayer")).to_be_visible()
        crawl.check("database-unavailable")
    elif actor == "anonymous":
        response = page.goto(f"{base}/cette-page-n-existe-pas")
        assert response.status == 404
        crawl.check("not-found")
    elif actor == "facilitator":
        page.goto(f"{base}/calendrier/abonnement")
        page.get_by_role("button", name="Créer mon adresse").click()
        # The address, shown once, is long: it must not widen the page.
        address = page.get_by_label("Adresse de votre calendrier")
        expect(address).to_have_value(re.compile(r"\.ics$"))
        crawl.check("calendar-feed-created")
        page.goto(f"{base}/groupe/")
        page.get_by_role("button", name=re.compile("^Nouveau (code|mot de passe)$")).first.click()
        expect(page.locator(".invitation-code")).to_be_visible()
        crawl.check("invitation-code")
    elif actor == "pilot":
        # A défi that has not started yet: its questionnaire can change, so its questions
        # have pages.
        page.goto(f"{base}/pilote/parametres")
        new = page.locator("details").filter(has_text="Créer un nouveau défi")
        new.locator("summary").click()
        new.get_by_label("Nom du défi").fill("Défi de l'an prochain")
        year = date.today().year + 1
        for label, day in (
            ("Collecte 1 (début) : ouverture", f"{year}-01-10"),
            ("Collecte 1 : clôture", f"{year}-02-10"),
            ("Collecte 2 : ouverture", f"{year}-06-10"),
            ("Collecte 2 : clôture", f"{year}-07-10"),
        ):
            new.get_by_label(label).fill(day)
        new.get_by_role("button", name="Créer le défi").click()
        expect(page.locator("#flashes")).to_contain_text("Défi créé")
        crawl.run(page.url, again=True)
        import_pages(crawl, page, base)
    elif actor == "coordinator":
        # A new territory: the invitation of its first pilot, printed once.
        page.goto(f"{base}/reseau/")
        new = page.locator("details").filter(has_text="Créer un territoire")
        new.locator("summary").click()
        new.get_by_label("Nom du territoire").fill("Pays de l'Audomarois")
        new.get_by_role("button", name="Créer le territoire et l'invitation").click()
        expect(page.locator(".invitation-code")).to_be_visible()
        crawl.check("territory-invitation")


def import_pages(crawl, page, base):
    """The import's answers: a refused file's problems, then the template's preview, then its
    confirmation (issue 13)."""
    from defi.pilot.imports import template_csv

    page.goto(f"{base}/pilote/import")
    bad = template_csv().replace(b";4;14;", b";quatre;14;").replace(b";mieux", b";beaucoup")
    page.get_by_label("Fichier CSV des relevés").set_input_files(
        {"name": "releves.csv", "mimeType": "text/csv", "buffer": bad}
    )
    page.get_by_label("Défi (laisser vide pour le défi en cours)").fill("Défi 2019-2020")
    page.get_by_role("button", name="Vérifier avant d'importer").click()
    expect(page.get_by_role("heading", name="4 problèmes : rien n'a été importé")).to_be_visible()
    crawl.check("import-refused")
    page.get_by_label("Fichier CSV des relevés").set_input_files(
        {"name": "modele.csv", "mimeType": "text/csv", "buffer": template_csv()}
    )
    page.get_by_label("Créer un nouveau défi « Défi 2019-2020 »").check()
    page.get_by_label("Structure qui accompagne").select_option(index=1)
    page.get_by_role("button", name="Vérifier avant d'importer").click()
    expect(page.get_by_role("heading", name="Aperçu de l'import")).to_be_visible()
    crawl.check("import-preview")
    page.get_by_role("button", name="Confirmer l'import").click()
    expect(page.locator("#flashes")).to_contain_text("2 relevés créés")


@pytest.mark.parametrize(
    ("actor", "username", "roles", "home"), ACTORS, ids=[actor for actor, *_rest in ACTORS]
)
def test_every_page_of_every_role_is_accessible_on_a_phone_and_a_laptop(
    browser,
    browser_context_args,
    live_server,
    app_config,
    axe,
    screenshot,
    actor,
    username,
    roles,
    home,
):
    app = create_app(app_config)
    adapter = app.url_map.bind("127.0.0.1")
    rendered = set()

    def on_render(_sender, template, **_extra):
        rendered.add(template.name)

    with template_rendered.connected_to(on_render):
        context = browser.new_context(**browser_context_args)
        try:
            page = context.new_page()
            csp = watch_csp(page)
            if username:
                log_in(page, live_server, username)
            else:
                page.goto(f"{live_server}/")
            expect(page).to_have_url(re.compile(home))
            start = page.url
            first = prepare(page, live_server, actor)
            crawl = Crawl(page, live_server, adapter, axe, screenshot, actor)
            if first:
                crawl.run(first)
            crawl.run(start)
            answers_to_forms(crawl, page, live_server, actor)
            assert_no_csp_violation(csp)
        finally:
            context.close()

    print(f"{actor}: {len(crawl.checked)} pages")
    failures = crawl.failures
    missing = expected_routes(app, roles) - crawl.routes
    if missing:
        failures.append(f"routes the crawl did not reach: {sorted(missing)}")
    if TEMPLATES_OF[actor] - rendered:
        failures.append(f"templates not shown: {sorted(TEMPLATES_OF[actor] - rendered)}")
    assert failures == [], "\n".join(failures)


def test_every_page_template_is_shown_by_some_actor():
    """A new page template must be added to the crawl of an actor that shows it."""
    assert set().union(*TEMPLATES_OF.values()) == page_templates()
    assert TEMPLATES_OF.keys() == {actor for actor, *_rest in ACTORS}
