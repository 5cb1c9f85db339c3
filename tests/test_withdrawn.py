"""A foyer that left the défi reads its relevés and progress, changes nothing, and is told
so; the défi being run is the one the pilot chose, and an import never changes it."""

import sqlalchemy as sa

from defi.extensions import db
from defi.models import Challenge
from defi.models import Household
from defi.models.challenge import current_challenge
from defi.pilot.imports import HEADER
from tests.conftest import demo_code
from tests.conftest import page_text
from tests.conftest import territory_id
from tests.test_access import database_fingerprint
from tests.test_access import is_referent_url
from tests.test_access import relevé_with_rows
from tests.test_access import url_of
from tests.test_import_preview import confirm
from tests.test_import_preview import upload

# Withdrawn in the demo: EST-07 on its own, EST-18 accompanied by the MJEP.
WITHDRAWN = "foyer-est-07"
SAID = "Votre foyer a quitté le défi le"
# Values that every relevé form would save, were the foyer still taking part.
TYPED = {
    "persons": "3",
    "period_days": "14",
    "meal_covers": "84",
    "cost_mode": "purchases",
    "total": "12,50",
    "organic": "2",
    "local": "1",
    "place_type": "marche",
    "bought_on": "2026-11-20",
    "kg": "0,4",
    "category": "evitable",
    "weighed_on": "2026-11-20",
    "title": "Soupe de fanes",
    "purpose": "restes",
    "name": "Ferme du Moulin",
    "kind": "ferme",
    "submission_id": "f" * 32,
}


def household(code):
    return db.session.scalar(sa.select(Household).where(Household.code == code))


def test_a_withdrawn_foyer_reads_and_is_told(demo, client, auth):
    assert auth.login(WITHDRAWN).status_code == 303
    home = client.get("/collecte/")
    assert home.status_code == 200
    text = page_text(home)
    assert SAID in text
    assert "Commencer mon relevé" not in text and "Continuer mon relevé" not in text
    for path in (
        "/collecte/1/repas",
        "/collecte/1/envoi",
        "/collecte/3/repas",
        "/collecte/3/pesees",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert SAID in page_text(page), path
        assert "lecture seule" in page_text(page), path
        assert "Ajouter cet achat" not in page_text(page), path


def test_a_withdrawn_foyer_writes_nothing_on_any_route(app, demo, client, auth):
    rows = relevé_with_rows(demo_code("EST-07"))
    auth.login(WITHDRAWN)
    before = database_fingerprint()
    posts = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("collecte.") or "POST" not in rule.methods:
            continue
        if is_referent_url(rule):
            continue
        args = {
            "rank": 3,
            **rows,
            "row_id": rows["recipe_id" if "recipe" in rule.endpoint else "producer_id"],
        }
        url = url_of(rule, args)
        response = client.post(url, data=TYPED)
        posts += 1
        assert response.status_code in (403, 404), (url, response.status_code)
    db.session.expire_all()
    assert posts >= 12
    assert database_fingerprint() == before


def test_the_referent_of_a_withdrawn_foyer_reads_only(app, demo, client, auth):
    target = household(demo_code("EST-18"))
    auth.login("referent-mjep")
    page = client.get(f"/collecte/foyer/{target.id}/3/repas")
    assert page.status_code == 200
    assert "Ce foyer a quitté le défi le" in page_text(page)
    refused = client.post(f"/collecte/foyer/{target.id}/3/repas", data=TYPED)
    assert refused.status_code == 403


def test_a_foyer_brought_back_writes_again(demo, client, auth, app):
    from tests.conftest import Auth

    facilitator = app.test_client()
    Auth(facilitator).login("animateur-est")
    target = household(demo_code("EST-07"))
    back = facilitator.post(f"/groupe/{target.group_id}/foyers/{target.id}/statut")
    assert back.status_code == 303
    auth.login(WITHDRAWN)
    assert client.post("/collecte/3/repas", data={"persons": "3"}).status_code == 303
    assert SAID not in page_text(client.get("/collecte/"))


# The current défi


def import_past_defi(client, name):
    row = ["P-01", "Les Poireaux", "non", "1", "2", "7", "30", "3", "6", "28", "", "0,5", "1",
           "0", "manger_mieux", "", ""]  # fmt: skip
    data = ";".join(HEADER) + "\n" + ";".join(row)
    # Previewed, then confirmed (tests/test_import_preview.py).
    preview = upload(client, data.encode(), name, create=True)
    assert preview.status_code == 200
    return confirm(client, preview)


def current_name():
    """The name of the demo territory's current défi."""
    return current_challenge(territory_id()).name


def test_an_import_never_changes_the_current_defi(demo, client, auth):
    demo_name = demo.name
    auth.login("pilote")
    assert import_past_defi(client, "Défi 2019-2020").status_code == 303
    assert current_name() == demo_name
    assert demo_name in page_text(client.get("/pilote/"))
    assert "Les Poireaux" not in page_text(client.get("/pilote/"))
    # The referents still enrol foyers in the current défi's groups.
    assert client.post("/deconnexion").status_code == 303
    assert auth.login("referent-mjep").status_code == 303
    enrol = page_text(client.get("/accompagnement/inviter"))
    assert "Les LokoMotiv" in enrol and "Les Poireaux" not in enrol


def test_the_pilot_chooses_the_current_defi(demo, client, auth):
    auth.login("pilote")
    import_past_defi(client, "Défi 2019-2020")
    past = db.session.scalar(sa.select(Challenge).where(Challenge.name == "Défi 2019-2020"))
    settings = page_text(client.get("/pilote/parametres"))
    assert "Le défi en cours" in settings and "Défi 2019-2020" in settings
    chosen = client.post("/pilote/defis/en-cours", data={"challenge_id": str(past.id)})
    assert chosen.status_code == 303
    assert current_name() == "Défi 2019-2020"
    assert "Les Poireaux" in page_text(client.get("/pilote/"))
    back = client.post(
        "/pilote/defis/en-cours", data={"challenge_id": str(demo.id)}, follow_redirects=True
    )
    assert f"« {demo.name} » est maintenant le défi en cours." in page_text(back)
    assert current_name() == demo.name
    unknown = client.post("/pilote/defis/en-cours", data={"challenge_id": "99999"})
    assert unknown.status_code == 200
    assert current_name() == demo.name
    assert (
        db.session.scalar(sa.select(sa.func.count(Challenge.id)).where(Challenge.is_current))
        == 2  # one in each demo territory
    )


def test_a_new_defi_made_by_the_pilot_is_the_current_one(demo, client, auth):
    auth.login("pilote")
    answer = client.post("/pilote/defis/suivant", data={"name": "Défi Famille 2022-2023"})
    assert answer.status_code == 303
    assert current_name() == "Défi Famille 2022-2023"
