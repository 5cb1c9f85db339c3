"""Access control: the policy table covers every route, and no role gets a 2xx it should not.

Actors are the roles of QUALITY.md, taken from the demo défi. Sample URL arguments point at the
objects of the Est group (LokoMotiv'), so a facilitator of the Ouest group or a foyer must be
refused there even where its role admits the endpoint.
"""

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from defi.access import EVERYONE
from defi.access import POLICY
from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Entry
from defi.models import Event
from defi.models import Group
from defi.models import Household
from defi.models import Membership
from defi.models import Producer
from defi.models import Purchase
from defi.models import Question
from defi.models import Recipe
from defi.models import User
from defi.models import Wave
from defi.models import Weighing
from tests.conftest import demo_code
from tests.conftest import demo_wave

ACTORS = {
    "anonymous": None,
    "household A": "foyer-est-01",
    "household B (other group)": "foyer-ouest-01",
    "accompanied household": "foyer-est-05",
    "facilitator of the group": "animateur-est",
    "facilitator of the other group": "animatrice-ouest",
    "referent": "referent-mjep",
    "pilot": "pilote",
    "coordinator": "reseau",
}
ROLE_OF_ACTOR = {
    "anonymous": "anonymous",
    "household A": "household",
    "household B (other group)": "household",
    "accompanied household": "household",
    "facilitator of the group": "facilitator",
    "facilitator of the other group": "facilitator",
    "referent": "referent",
    "pilot": "pilot",
    "coordinator": "coordinator",
}
# Endpoints whose sample objects belong to one actor only: the others get 404 there.
OBJECT_OWNERS = {
    "groups.show": {"facilitator of the group"},
    "groups.invite": {"facilitator of the group"},
    "groups.reset": {"facilitator of the group"},
    "groups.pending": {"facilitator of the group"},
    "groups.progress": {"facilitator of the group", "pilot"},
    "groups.household": {"facilitator of the group"},
    "groups.status": {"facilitator of the group"},
    "groups.releve": {"facilitator of the group"},
    "groups.releve_label": {"facilitator of the group"},
    "groups.projection": {"facilitator of the group"},
    # Read by the staff who may read the Est group: its facilitator, the MJEP's referent (one of
    # its foyers is accompanied there) and the pilot (every group of the défi).
    "calendar.group": {"facilitator of the group", "referent", "pilot"},
    "collecte.group_recipe_book": {"facilitator of the group", "referent", "pilot"},
    "collecte.group_directory": {"facilitator of the group", "referent", "pilot"},
    "calendar.create": {"facilitator of the group"},
    "calendar.update": {"facilitator of the group"},
    "calendar.cancel": {"facilitator of the group"},
    "calendar.attendance": {"facilitator of the group"},
    "calendar.mark": {"facilitator of the group"},
    "calendar.summary": {"facilitator of the group"},
    "calendar.sheet": {"facilitator of the group"},
    "referents.reset": {"referent"},
    "referents.revoke": {"referent"},
    "referents.cancel_invitation": {"referent"},
}


# The collecte's pages open anyone's own home, recipe book and directory; a relevé's rows
# belong to household A (foyer URLs) or to the MJEP's accompanied foyer (referent URLs).
# Allowed to the pilot, but refused (403) while the demo's first collecte is open.
FROZEN_NOW = {"pilot.question_edit", "pilot.question_delete"}
ANY_HOUSEHOLD = {"household A", "household B (other group)", "accompanied household"}
ROW_IDS = {"purchase_id", "weighing_id", "row_id"}
# Sample arguments sent in the query string: the staff's book and directory of a group.
QUERY_ARGS = {
    "collecte.group_recipe_book": {"groupe"},
    "collecte.group_directory": {"groupe"},
}


HTMX = {"HX-Request": "true"}
REQUESTS = [("GET", {}), ("GET", HTMX), ("HEAD", {}), ("POST", {}), ("POST", HTMX)]


def is_referent_url(rule):
    """A relevé's URL under `/foyer/<household_id>` (the foyer's own has a default of None)."""
    return "household_id" in rule.arguments and "household_id" not in (rule.defaults or {})


def url_of(rule, args):
    """This rule's own URL: url_for would pick the referent's rule of a shared endpoint."""
    values = {name: args[name] for name in rule.arguments - set(rule.defaults or ())}
    values |= {name: args[name] for name in QUERY_ARGS.get(rule.endpoint, ())}
    return rule.build(values)[1]


def owners_of(rule):
    """The actors for whom the sample objects of this rule exist (None: any of the role)."""
    if rule.endpoint in OBJECT_OWNERS:
        return OBJECT_OWNERS[rule.endpoint]
    if rule.endpoint.startswith("collecte."):
        if is_referent_url(rule):
            return {"referent"}
        # A foyer's URL without a row's id opens that foyer's own relevé, whoever it is.
        return {"household A"} if rule.arguments & ROW_IDS else ANY_HOUSEHOLD
    return OBJECT_OWNERS.get(rule.endpoint)


def relevé_with_rows(code):
    """A relevé of the open wave with one row of each kind, for URLs that name them."""
    household = db.session.scalar(sa.select(Household).where(Household.code == code))
    wave = db.session.scalar(
        sa.select(Wave).where(Wave.challenge_id == household.challenge_id, Wave.rank == 3)
    )
    entry = Entry(household=household, wave=wave, persons=2, period_days=14)
    entry.purchases.append(Purchase(place_type="marche", total_cents=1000))
    entry.weighings.append(Weighing(grams=300, category="evitable"))
    entry.recipes.append(Recipe(title="Soupe", purpose="restes"))
    entry.producers.append(Producer(name="Ferme", kind="ferme", dedup_key="ferme|"))
    db.session.add(entry)
    db.session.commit()
    return {
        "purchase_id": entry.purchases[0].id,
        "weighing_id": entry.weighings[0].id,
        "recipe_id": entry.recipes[0].id,
        "producer_id": entry.producers[0].id,
    }


def sample_args(rule, entries):
    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    referent_url = rule.endpoint.startswith("referents.") or is_referent_url(rule)
    code = demo_code("EST-05") if referent_url else demo_code("EST-01")
    household = db.session.scalar(sa.select(Household).where(Household.code == code))
    user = db.session.scalar(sa.select(User).where(User.username == "animateur-est"))
    rows = entries[code]
    return {
        "challenge_id": est.challenge_id,
        "group_id": est.id,
        "groupe": est.id,
        "household_id": household.id,
        "user_id": user.id,
        "filename": "app.css",
        "rank": 3,
        "purchase_id": rows["purchase_id"],
        "weighing_id": rows["weighing_id"],
        "row_id": rows["recipe_id" if "recipe" in rule.endpoint else "producer_id"],
        # An event of the Est group only; the iCal URL with a token nobody holds (a 404).
        "event_id": db.session.scalar(
            sa.select(Event.id).where(Event.title == "Visite de la Ferme du Bois")
        ),
        "token": "jeton-inconnu",
        "table": "comparaison",
        "wave_id": demo_wave(3).id,
        "question_id": db.session.scalar(sa.select(Question.id).order_by(Question.id.desc())),
        # The MJEP referent's own access (not one it may take back), and no invitation.
        "membership_id": db.session.scalar(
            sa.select(Membership.id).where(Membership.role == "referent").order_by(Membership.id)
        ),
        "invitation_id": 1,
        # An accompanied foyer of the Est group, as its facilitator knows it.
        "label": db.session.scalar(
            sa.select(Accompaniment.label).where(Accompaniment.group_id == est.id).limit(1)
        ),
    }


def test_every_route_is_in_the_policy_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - set(POLICY)
    assert not missing, f"routes missing from defi/access.py POLICY: {sorted(missing)}"
    stale = set(POLICY) - endpoints
    assert not stale, f"POLICY lists endpoints that no longer exist: {sorted(stale)}"


def test_an_unlisted_route_is_refused(app, client):
    app.add_url_rule("/unlisted", "unlisted", lambda: "secret")
    response = client.get("/unlisted")
    assert response.status_code == 404
    assert b"secret" not in response.data


@pytest.mark.parametrize("actor", list(ACTORS))
def test_no_unexpected_2xx(app, demo, client, auth, actor):
    if ACTORS[actor]:
        assert auth.login(ACTORS[actor]).status_code == 303
    role = ROLE_OF_ACTOR[actor]
    entries = {code: relevé_with_rows(code) for code in (demo_code("EST-01"), demo_code("EST-05"))}
    checked = 0
    for rule in app.url_map.iter_rules():
        allowed = role in POLICY[rule.endpoint]
        owners = owners_of(rule)
        if owners is not None:
            allowed = allowed and actor in owners
        url = url_of(rule, sample_args(rule, entries))
        # Each method as a page and as an htmx fragment (the same rule answers both).
        for method, headers in REQUESTS:
            if method not in rule.methods or rule.endpoint == "accounts.logout":
                continue
            response = client.open(url, method=method, headers=headers)
            response.close()  # static files are streamed
            checked += 1
            seen = (actor, method, url, headers)
            if not allowed:
                assert not 200 <= response.status_code < 300, seen
                if role == "anonymous":
                    assert response.status_code == 302, seen
                    assert "/connexion" in response.headers["Location"]
                else:
                    assert response.status_code in (403, 404), seen
            else:
                # Never refused by the policy nor failing; a row deleted by an earlier POST
                # of this loop may answer 404.
                if rule.endpoint not in FROZEN_NOW:
                    assert response.status_code not in (403, 500), seen
                assert response.status_code < 500, seen
    assert checked >= 2 * len(POLICY)


def test_public_endpoints_are_few():
    public = sorted(endpoint for endpoint, roles in POLICY.items() if roles == EVERYONE)
    assert public == [
        "accounts.login",
        "accounts.redeem",
        "calendar.ics",
        "main.healthz",
        "main.index",
        "main.service_worker",
        "static",
    ]


def test_facilitator_cannot_reach_an_accompanied_foyer_account(demo, client, auth):
    accompanied = db.session.scalar(
        sa.select(Household).where(Household.code == demo_code("EST-05"))
    )
    auth.login("animateur-est")
    response = client.post(f"/groupe/{accompanied.group_id}/foyers/{accompanied.id}/code")
    assert response.status_code == 404


def test_referent_cannot_reach_a_foyer_of_another_structure(demo, client, auth):
    # EST-12 is accompanied by Noeux Environnement, not by the MJEP.
    other = db.session.scalar(sa.select(Household).where(Household.code == demo_code("EST-12")))
    auth.login("referent-mjep")
    assert client.post(f"/accompagnement/foyers/{other.id}/code").status_code == 404
    auth.logout()
    auth.login("referent-noeux")
    response = client.post(f"/accompagnement/foyers/{other.id}/code")
    assert response.status_code == 200
    assert "Nouveau mot de passe pour" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("username", "home"),
    [
        ("foyer-est-01", "/collecte/"),
        ("animateur-est", "/groupe/"),
        ("referent-mjep", "/accompagnement/"),
        ("pilote", "/pilote/"),
    ],
)
def test_each_role_lands_on_its_home(demo, auth, client, username, home):
    response = auth.login(username)
    assert response.status_code == 303
    assert response.headers["Location"] == home
    page = client.get(home, follow_redirects=True)
    assert page.status_code == 200


def database_fingerprint():
    """Every row of every table, to show that a request wrote nothing."""
    return {
        table.name: db.session.execute(sa.select(table).order_by(*table.primary_key)).all()
        for table in db.metadata.sorted_tables
    }


@pytest.mark.parametrize("actor", ["household A", "referent", "facilitator of the group", "pilot"])
def test_reads_write_nothing(app, demo, client, auth, actor):
    # A GET or HEAD opens a deferred transaction on SQLite (database.py), so that it never
    # waits behind a write: it must write nothing. Flask answers HEAD with the GET view, and a
    # view that read "not GET" as a submission once blanked a producer's name.
    auth.login(ACTORS[actor])
    entries = {code: relevé_with_rows(code) for code in (demo_code("EST-01"), demo_code("EST-05"))}
    before = database_fingerprint()
    reads = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or ROLE_OF_ACTOR[actor] not in POLICY[rule.endpoint]:
            continue
        url = url_of(rule, sample_args(rule, entries))
        for method in ("GET", "HEAD"):
            response = client.open(url, method=method)
            response.close()
            assert response.status_code < 500, url
            reads += 1
    db.session.expire_all()
    assert reads >= 20
    assert database_fingerprint() == before


@pytest.mark.parametrize("actor", ["household A", "referent", "facilitator of the group", "pilot"])
def test_ids_too_large_for_the_database_match_no_page(app, demo, client, auth, actor):
    # 2**63 in a URL once reached SQLite's driver ("Python int too large") and answered 500.
    auth.login(ACTORS[actor])
    entries = {code: relevé_with_rows(code) for code in (demo_code("EST-01"), demo_code("EST-05"))}
    tried = 0
    for rule in app.url_map.iter_rules():
        ids = {
            name
            for name, converter in rule._converters.items()
            if isinstance(converter, IntegerConverter)
        }
        if not ids - {"rank"}:
            continue
        for huge in (2**31, 2**63):
            args = {**sample_args(rule, entries), **dict.fromkeys(ids - {"rank"}, huge)}
            url = url_of(rule, args)
            for method in sorted(rule.methods - {"OPTIONS", "HEAD"}):
                response = client.open(url, method=method)
                tried += 1
                assert response.status_code in (302, 404), (method, url, response.status_code)
    assert tried >= 40
    if actor == "pilot":  # ids in a query string are no database ids either
        for url in ("/pilote/journal?avant=9223372036854775808", "/pilote/comparaison?groupe=-1"):
            assert client.get(url).status_code == 200, url
