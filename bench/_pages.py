"""Every main page of every role, found in `app.url_map` and the access POLICY, with sample URLs.

A page is a GET route that the role may use (defi/access.py POLICY), filled with the ids of the
demo's Est group as tests/test_access.py does, and answering 200 to a user of that role. Query
strings that a page is also served with (an htmx search, a CSV download) are added from
`VARIANTS`. New routes are measured without touching the benchmarks; routes answering anything
else (a redirect, a refusal) are listed with the answer instead.
"""

import re
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa

from bench._app import logged_in
from defi.access import POLICY
from defi.calendar.services import new_feed_token
from defi.demo import demo_codes
from defi.extensions import db
from defi.models import Entry
from defi.models import Event
from defi.models import Group
from defi.models import Household
from defi.models import Question
from defi.models import User
from defi.models import Wave
from defi.models import event_groups

HTMX = {"HX-Request": "true"}
# Not pages: files, and the health check (the baseline of bench/latency.py).
NOT_PAGES = {"static", "main.healthz"}
# (query string, headers, label suffix) served besides the plain page.
VARIANTS = {
    "collecte.recipe_book": (("?q=soupe", HTMX, " (htmx search)"),),
    "accounts.my_data": (("?format=csv", {}, ""),),
}
OPEN_RANK = 3  # the demo's open wave


@dataclass
class Actor:
    """A demo user standing for a role; `code` is its own foyer's, if any."""

    name: str
    username: str
    role: str
    code: str | None = None
    args: dict = field(default_factory=dict)


def actors():
    return [
        Actor("foyer", "foyer-est-01", "household", "EST-01"),
        Actor("accompanied foyer", "foyer-est-05", "household", "EST-05"),
        Actor("facilitator", "animateur-est", "facilitator"),
        Actor("referent", "referent-mjep", "referent"),
        Actor("pilot", "pilote", "pilot"),
        Actor("coordinator", "reseau", "coordinator"),
    ]


@dataclass(frozen=True)
class Page:
    actor: str
    username: str
    label: str  # the route with its ids named: /groupe/<group_id>/progres
    url: str
    headers: tuple = ()
    endpoint: str = ""


def fill_releve(client, prefix):
    """A relevé in progress for the open wave: meals, 4 purchases, a weighing, a recipe and a
    producer, posted as the foyer (prefix "") or its referent (prefix "/foyer/<id>") would."""
    base = f"/collecte{prefix}/{OPEN_RANK}"
    posts = [
        (
            "repas",
            {"persons": "4", "period_days": "14", "meal_covers": "112", "cost_mode": "purchases"},
        )
    ]
    for total in ("23,40", "12,00", "8,75", "41,10"):
        posts.append(
            ("achats", {"total": total, "organic": "2", "local": "3", "place_type": "marche"})
        )
    posts += [
        ("pesees", {"kg": "0,4", "category": "evitable"}),
        (
            "recettes",
            {"title": "Soupe de fanes", "purpose": "restes", "ingredients": "fanes, oignon"},
        ),
        ("producteurs", {"name": "Ferme du Bois", "kind": "ferme", "commune": "Noeux"}),
    ]
    for path, data in posts:
        response = client.post(f"{base}/{path}", data=data)
        assert response.status_code in (200, 303), (base, path, response.status_code)


def prepare(app):
    """Give the demo the rows its pages show, and each actor the sample ids of its URLs.

    The foyer EST-01 and the accompanied EST-05 (through its referent) get a relevé in
    progress; the foyers and the facilitator get a calendar feed token. Returns the actors.
    """
    people = actors()
    with app.app_context():
        ids = dict(db.session.execute(sa.select(Household.code, Household.id)).all())
    # The demo's foyers by group and number ("EST-05"): their codes are drawn at random.
    codes = {
        f"{prefix}-{number:02d}": ids[code]
        for prefix in ("EST", "OUEST")
        for number, code in demo_codes(prefix).items()
    }
    fill_releve(logged_in(app, "foyer-est-01"), "")
    fill_releve(logged_in(app, "referent-mjep"), f"/foyer/{codes['EST-05']}")
    with app.app_context():
        est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
        for actor in people:
            args = actor.args
            user = db.session.scalar(sa.select(User).where(User.username == actor.username))
            if actor.role in ("household", "facilitator"):
                args["token"] = new_feed_token(user)
            if actor.role in ("household", "referent"):
                code = actor.code or "EST-05"  # the referent fills EST-05's relevé
                args.update(_releve_rows(codes[code]), rank=OPEN_RANK)
                if actor.role == "referent":
                    args["household_id"] = codes[code]
            if actor.role == "coordinator":
                args["challenge_id"] = est.challenge_id
            if actor.role == "facilitator":
                args.update(
                    group_id=est.id,
                    household_id=codes["EST-01"],
                    user_id=user.id,
                    event_id=db.session.scalar(
                        sa.select(Event.id)
                        .join(event_groups, event_groups.c.event_id == Event.id)
                        .where(event_groups.c.group_id == est.id)
                        .order_by(Event.starts_at)
                        .limit(1)
                    ),
                )
            if actor.role == "pilot":
                args.update(
                    user_id=user.id,
                    wave_id=db.session.scalar(sa.select(Wave.id).where(Wave.rank == OPEN_RANK)),
                    question_id=db.session.scalar(
                        sa.select(Question.id).order_by(Question.id.desc()).limit(1)
                    ),
                )
        db.session.commit()
    return people


def _releve_rows(household_id):
    entry = db.session.scalar(
        sa.select(Entry)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Entry.household_id == household_id, Wave.rank == OPEN_RANK)
    )
    return {
        "purchase_id": entry.purchases[0].id,
        "weighing_id": entry.weighings[0].id,
        "recipe_id": entry.recipes[0].id,
        "producer_id": entry.producers[0].id,
    }


# <converter(arguments):name> or <name> in a rule
PLACEHOLDER = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def _urls(rule, actor):
    """[(label, url)] of the rule for the actor, or None when it lacks a sample argument.

    A rule that defaults `household_id` to None is the user's own foyer: only for a foyer.
    """
    if rule.defaults and "household_id" in rule.defaults and actor.code is None:
        return None
    args = dict(actor.args)
    if "row_id" in rule.arguments:
        args["row_id"] = args.get("recipe_id" if "recipe" in rule.endpoint else "producer_id")
    choices = [("", "")]  # (label, url) built so far, one per value of an `any` converter
    position = 0
    for match in PLACEHOLDER.finditer(rule.rule):
        converter, options, name = match.groups()
        text = rule.rule[position : match.start()]
        position = match.end()
        if converter == "any":
            values = [(value.strip(), value.strip()) for value in options.split(",")]
        elif name in ("rank",) and name in args:
            values = [(str(args[name]), str(args[name]))]
        elif args.get(name) is not None:
            values = [(f"<{name}>", str(args[name]))]
        else:
            return None
        choices = [
            (label + text + shown, url + text + value)
            for label, url in choices
            for shown, value in values
        ]
    tail = rule.rule[position:]
    return [(label + tail, url + tail) for label, url in choices]


def main_pages(app, clients, people):
    """(pages, not_measured): each actor's GET pages answering 200, and the others with why.

    `clients` maps a username to a logged-in Flask test client (`bench._app.logged_in`); each
    page is fetched once here (a warm-up for the callers).
    """
    pages, not_measured = [], []
    rules = sorted(app.url_map.iter_rules(), key=lambda rule: (rule.rule, rule.endpoint))
    for actor in people:
        client = clients[actor.username]
        for rule in rules:
            if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
                continue
            if actor.role not in POLICY.get(rule.endpoint, ()):
                continue
            urls = _urls(rule, actor)
            if urls is None:
                continue
            for label, url in urls:
                variants = (("", {}, ""),) + VARIANTS.get(rule.endpoint, ())
                for query, headers, suffix in variants:
                    page = Page(
                        actor.name,
                        actor.username,
                        label + query + suffix,
                        url + query,
                        tuple(headers.items()),
                        rule.endpoint,
                    )
                    response = client.get(page.url, headers=dict(page.headers))
                    response.close()
                    if response.status_code == 200:
                        pages.append(page)
                    elif 300 <= response.status_code < 400:
                        location = response.headers.get("Location", "?")
                        not_measured.append((page, f"{response.status_code} to {location}"))
                    else:
                        not_measured.append((page, f"answers {response.status_code}"))
    return pages, not_measured


def prepared_database(size, demo_size=40):
    """(SQLite URL, pages) of the demo défi grown to `size` foyers, with its sample rows, for
    a server or another app to open."""
    from bench._app import demo_app
    from bench.generate import add_households

    app, _directory = demo_app()
    if size > demo_size:
        add_households(app, size)
    people = prepare(app)
    clients = {actor.username: logged_in(app, actor.username) for actor in people}
    pages, _not_pages = main_pages(app, clients, people)
    with app.app_context():
        url = str(db.engine.url)
        db.engine.dispose()
    return url, pages
