"""Sealed territories (issue 15): nobody of one territory reaches anything of another.

The demo loads two territories: Béthune-Bruay (A: the défi of DESIGN.md) and the Pays de
Lumbres (B: one group, "Les Pousses"). Every route is requested, with every method, as a page
and as an htmx fragment, by each role of one territory with the ids of the other's objects:
each answers 404 (or 403 where the role may not use the route at all). Every page a user of
one territory may read, with its own territory's ids, shows nothing of the other's. The forms
that take an id in their body (the défi to run, the group or structure to invite to) refuse
the other territory's.
"""

import io
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from defi.access import POLICY
from defi.accounts.services import issue_invitation
from defi.demo import SECOND_TERRITORY
from defi.extensions import db
from defi.formatting import today
from defi.models import Accompaniment
from defi.models import Challenge
from defi.models import Event
from defi.models import Group
from defi.models import Household
from defi.models import Invitation
from defi.models import Membership
from defi.models import Question
from defi.models import Structure
from defi.models import Territory
from defi.models import User
from defi.models import Wave
from defi.models.base import utcnow
from tests.conftest import demo_code
from tests.test_access import QUERY_ARGS
from tests.test_access import REQUESTS
from tests.test_access import database_fingerprint
from tests.test_access import is_referent_url
from tests.test_access import relevé_with_rows
from tests.test_access import url_of

# The users of each territory, one per role (the accompanied foyer's relevé is its referent's).
ACTORS = {
    "A": {
        "pilot": "pilote",
        "facilitator": "animateur-est",
        "referent": "referent-mjep",
        "household": "foyer-est-01",
    },
    "B": {
        "pilot": "pilote-2",
        "facilitator": "animatrice-nord",
        "referent": "referent-lumbres",
        "household": "foyer-nord-01",
    },
}
# What each territory's pages show and the other's must never: group and structure names,
# staff names and contacts, the foyers' codes.
MARKERS = {
    "A": ("LokoMotiv", "Graines d", "MJEP", "Noeux Environnement", "animateur-est", "Julien"),
    "B": ("Les Pousses", "Lumbres", "animatrice-nord", "referent-lumbres", "pilote-2", "Manon"),
}
# URL arguments that name no object of a territory.
NOT_IDS = {"filename", "rank", "table", "token"}


def other(side):
    return "B" if side == "A" else "A"


def territory(side):
    from defi.demo import DEMO_TERRITORY

    name = DEMO_TERRITORY if side == "A" else SECOND_TERRITORY
    return db.session.scalar(sa.select(Territory).where(Territory.name == name))


def challenge_of(side) -> Challenge:
    return db.session.scalar(
        sa.select(Challenge).where(
            Challenge.territory_id == territory(side).id, Challenge.is_current
        )
    )


def objects_of(side):
    """The ids of one territory's objects, in the names of the routes' arguments, with a
    relevé of the open wave (one row of each kind) for its foyer and its accompanied foyer, an
    event of its group and an open invitation of its referent."""
    challenge = challenge_of(side)
    group = challenge.groups[0]
    prefix = group.code_prefix
    named = db.session.scalar(
        sa.select(Household).where(Household.code == demo_code(f"{prefix}-01"))
    )
    accompanied = db.session.scalar(
        sa.select(Household)
        .join(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id == group.id, Household.status == "active")
        .order_by(Household.code)
        .limit(1)
    )
    rows = {code: relevé_with_rows(code) for code in (named.code, accompanied.code)}
    referent = db.session.scalar(sa.select(User).where(User.username == ACTORS[side]["referent"]))
    membership = referent.memberships[0]
    invitation, _code = issue_invitation(
        "referent", referent, structure=membership.structure, days=7
    )
    event = Event(
        challenge=challenge,
        kind="atelier",
        title=f"Atelier du territoire {side}",
        starts_at=utcnow() + timedelta(days=3),
        groups=[group],
    )
    db.session.add(event)
    db.session.commit()
    facilitator = db.session.scalar(
        sa.select(User).where(User.username == ACTORS[side]["facilitator"])
    )
    return {
        "challenge": challenge,
        "group": group,
        "named": named,
        "accompanied": accompanied,
        "rows": rows,
        "args": {
            "challenge_id": challenge.id,
            "group_id": group.id,
            "groupe": group.id,
            "user_id": facilitator.id,
            "filename": "app.css",
            "rank": 3,
            "event_id": event.id,
            "token": "jeton-inconnu",
            "table": "comparaison",
            "wave_id": db.session.scalar(
                sa.select(Wave.id).where(Wave.challenge_id == challenge.id, Wave.rank == 3)
            ),
            "question_id": db.session.scalar(
                sa.select(Question.id)
                .where(Question.challenge_id == challenge.id)
                .order_by(Question.id.desc())
            ),
            "membership_id": membership.id,
            "invitation_id": invitation.id,
            "label": accompanied.accompaniment.label,
        },
    }


def args_for(rule, objects):
    """The other territory's objects, as this rule names them: a referent's URL names the
    accompanied foyer and its relevé, any other the named foyer."""
    household = objects["accompanied" if is_referent_url(rule) else "named"]
    if rule.endpoint.startswith("referents."):
        household = objects["accompanied"]
    rows = objects["rows"][household.code]
    return objects["args"] | {
        "household_id": household.id,
        "purchase_id": rows["purchase_id"],
        "weighing_id": rows["weighing_id"],
        "row_id": rows["recipe_id" if "recipe" in rule.endpoint else "producer_id"],
    }


def names_an_object(rule) -> bool:
    ids = set(rule.arguments) - set(rule.defaults or ()) | QUERY_ARGS.get(rule.endpoint, set())
    return bool(ids - NOT_IDS)


def readable(response) -> str:
    """A response's text: a page, a CSV, a calendar, or every sheet of a workbook."""
    if response.mimetype.endswith("spreadsheetml.sheet"):
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            return "".join(archive.read(name).decode() for name in archive.namelist())
    return response.data.decode("utf-8", errors="replace")


@pytest.fixture
def two(demo):
    """Each territory's objects, by side."""
    return {side: objects_of(side) for side in ("A", "B")}


@pytest.mark.parametrize("side", ["A", "B"])
@pytest.mark.parametrize("role", ["pilot", "facilitator", "referent", "household"])
def test_every_id_of_another_territory_is_a_404(app, two, client, auth, side, role):
    assert auth.login(ACTORS[side][role]).status_code == 303
    theirs = two[other(side)]
    before = database_fingerprint()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not names_an_object(rule):
            continue
        url = url_of(rule, args_for(rule, theirs))
        allowed = role in POLICY[rule.endpoint]
        for method, headers in REQUESTS:
            if method not in rule.methods:
                continue
            response = client.open(url, method=method, headers=headers)
            response.close()
            checked += 1
            seen = (side, role, method, url, headers.get("HX-Request"), response.status_code)
            if allowed:
                assert response.status_code == 404, seen
            else:  # the policy refuses the role before any id is read
                assert response.status_code == 403, seen
    assert checked >= 100
    # Every request was refused: nothing was written, in either territory.
    db.session.expire_all()
    assert database_fingerprint() == before


@pytest.mark.parametrize("side", ["A", "B"])
@pytest.mark.parametrize("role", ["pilot", "facilitator", "referent", "household"])
def test_no_page_shows_anything_of_another_territory(app, two, client, auth, side, role):
    assert auth.login(ACTORS[side][role]).status_code == 303
    ours = two[side]
    read = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or role not in POLICY[rule.endpoint]:
            continue
        if rule.endpoint in ("static", "accounts.logout"):
            continue
        response = client.get(url_of(rule, args_for(rule, ours)))
        try:
            if response.status_code != 200:
                continue
            read += 1
            body = readable(response)
        finally:
            response.close()
        for marker in MARKERS[other(side)]:
            assert marker not in body, (side, role, rule.rule, marker)
    assert read >= 5


def test_a_pilot_runs_no_defi_of_another_territory(two, client, auth):
    assert auth.login("pilote").status_code == 303
    theirs = two["B"]["challenge"]
    refused = client.post("/pilote/defis/en-cours", data={"challenge_id": str(theirs.id)})
    assert refused.status_code == 200
    db.session.expire_all()
    assert challenge_of("A").id == two["A"]["challenge"].id  # unchanged on both sides
    assert challenge_of("B").id == theirs.id
    settings = client.get("/pilote/parametres").get_data(as_text=True)
    assert f'value="{theirs.id}"' not in settings


def test_staff_is_invited_to_its_own_territory_only(two, client, auth):
    assert auth.login("pilote").status_code == 303
    before = db.session.scalar(sa.select(sa.func.count(Invitation.id)))
    group_b = two["B"]["group"]
    lumbres = db.session.scalar(sa.select(Structure).where(Structure.name.like("%Lumbres")))
    for data in (
        {"role": "facilitator", "group_id": str(group_b.id), "valid_days": "7"},
        {"role": "referent", "structure_id": str(lumbres.id), "valid_days": "7"},
    ):
        response = client.post("/pilote/equipe/inviter", data=data)
        assert response.status_code == 200
        assert "Code d'invitation" not in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == before
    # A referent enrols foyers in its own territory's groups only.
    auth.logout()
    assert auth.login("referent-mjep").status_code == 303
    mjep = db.session.scalar(sa.select(Structure).where(Structure.name.like("MJEP%")))
    response = client.post(
        "/accompagnement/inviter",
        data={
            "display_name": "Famille Ailleurs",
            "adults": "1",
            "children": "0",
            "group_id": str(group_b.id),
            "structure_id": str(mjep.id),
        },
    )
    assert response.status_code == 200
    assert (
        db.session.scalar(sa.select(Household).where(Household.display_name == "Famille Ailleurs"))
        is None
    )


def test_the_same_structure_name_in_two_territories_is_two_structures(two, client, auth):
    # The pilot of B invites a referent to a structure named as A's MJEP.
    assert auth.login("pilote-2").status_code == 303
    response = client.post(
        "/pilote/equipe/inviter",
        data={
            "role": "referent",
            "structure_id": "0",
            "structure_name": "MJEP d'Isbergues",
            "valid_days": "7",
        },
    )
    assert response.status_code == 200
    structures = db.session.execute(
        sa.select(Structure.territory_id).where(Structure.name == "MJEP d'Isbergues")
    ).all()
    assert sorted(row[0] for row in structures) == sorted([territory("A").id, territory("B").id])
    # A's referent of the MJEP sees none of the new structure's invitations or foyers.
    invitation = db.session.scalar(sa.select(Invitation).order_by(Invitation.id.desc()))
    assert invitation.territory_id == territory("B").id


def test_accounts_made_from_an_invitation_belong_to_its_territory(two, client, auth):
    group_b = two["B"]["group"]
    household = Household(
        challenge_id=group_b.challenge_id,
        group_id=group_b.id,
        code="NORD-ZZZZ",
        display_name="Famille Nouvelle",
    )
    db.session.add(household)
    db.session.flush()
    invitation, code = issue_invitation("household", None, household=household, days=7)
    db.session.commit()
    assert invitation.territory_id == territory("B").id
    response = client.post(
        "/invitation",
        data={
            "code": code,
            "username": "famille-nouvelle",
            "password": "une phrase de passe assez longue",
            "confirm": "une phrase de passe assez longue",
        },
    )
    assert response.status_code in (200, 303), response.status_code
    user = db.session.scalar(sa.select(User).where(User.username == "famille-nouvelle"))
    assert user is not None and user.territory_id == territory("B").id


def test_each_pilot_reads_its_own_staff_and_journal(two, client, auth):
    for side in ("A", "B"):
        auth.login(ACTORS[side]["pilot"])
        home = client.get("/pilote/").get_data(as_text=True)
        journal = client.get("/pilote/journal").get_data(as_text=True)
        assert ACTORS[side]["facilitator"] in home
        for marker in MARKERS[other(side)]:
            assert marker not in home and marker not in journal, (side, marker)
        auth.logout()


def test_reminders_go_to_every_territorys_open_wave(two):
    from defi.reminders import due_reminders

    for side in ("A", "B"):
        for foyer in db.session.scalars(
            sa.select(Household).where(Household.challenge_id == two[side]["challenge"].id)
        ):
            foyer.email = f"{foyer.code.lower()}@example.org"
    for wave in db.session.scalars(sa.select(Wave).where(Wave.rank == 3)):
        wave.closes_on = today() + timedelta(days=7)
    db.session.commit()
    codes = {due.code for due in due_reminders(today())}
    assert any(code.startswith("EST-") for code in codes)
    assert any(code.startswith("NORD-") for code in codes)


def test_ids_of_memberships_never_cross(two):
    """A membership's group or structure is always of its user's territory (the data the
    sweeps above rely on)."""
    rows = db.session.execute(
        sa.select(User.territory_id, Membership.group_id, Membership.structure_id).join(
            Membership, Membership.user_id == User.id
        )
    ).all()
    groups = dict(
        db.session.execute(
            sa.select(Group.id, Challenge.territory_id).join(
                Challenge, Challenge.id == Group.challenge_id
            )
        ).all()
    )
    structures = dict(db.session.execute(sa.select(Structure.id, Structure.territory_id)).all())
    for territory_id, group_id, structure_id in rows:
        if group_id is not None:
            assert groups[group_id] == territory_id
        if structure_id is not None:
            assert structures[structure_id] == territory_id


def test_huge_or_foreign_ids_never_fail(app, two, client, auth):
    """The pilot of A with ids too large for the database, on every route that takes one."""
    assert auth.login("pilote").status_code == 303
    for rule in app.url_map.iter_rules():
        ids = {
            name
            for name, converter in rule._converters.items()
            if isinstance(converter, IntegerConverter)
        } - {"rank"}
        if not ids:
            continue
        args = args_for(rule, two["B"]) | dict.fromkeys(ids, 2**40)
        response = client.get(url_of(rule, args))
        assert response.status_code in (403, 404, 405), (rule.rule, response.status_code)
