"""The network's coordinator (issue 15): every territory's figures, side by side, through one
disclosure step over everything it is shown, and never a name, a contact, a code or a relevé.
"""

import csv
import io
import re
import statistics
import zipfile

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from defi.demo import DEMO_PASSWORD
from defi.extensions import db
from defi.figures.network import hide_total
from defi.figures.sums import sums_for
from defi.figures.tables import Publication
from defi.figures.tables import build
from defi.models import Challenge
from defi.models import Entry
from defi.models import Household
from defi.models import Invitation
from defi.models import Structure
from defi.models import Territory
from defi.models import User
from defi.models import Wave
from tests.conftest import page_text
from tests.test_disclosure import foyer_strategy
from tests.test_disclosure import generated
from tests.test_disclosure import recoverable_sets
from tests.test_disclosure import shown_sets

PAGES = ("/reseau/", "/reseau/comparaison", "/reseau/comparaison?indicateur=part_bio")
FILES = ("/reseau/export/comparaison.csv", "/reseau/export/retention.csv")


@pytest.fixture
def coordinator(demo, auth):
    assert auth.login("reseau").status_code == 303
    return demo


def everything_shown(client) -> str:
    """Every page and file of the coordinator, as text (the workbook's sheets too)."""
    urls = list(PAGES) + list(FILES)
    urls += [f"/reseau/defis/{c}" for c in db.session.scalars(sa.select(Challenge.id))]
    texts = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        texts.append(response.get_data(as_text=True))
    workbook = client.get("/reseau/export/comparaison.xlsx")
    with zipfile.ZipFile(io.BytesIO(workbook.data)) as archive:
        texts += [archive.read(name).decode() for name in archive.namelist()]
    return "\n".join(texts)


def test_the_coordinator_lands_on_the_network_and_nowhere_else(coordinator, client):
    assert client.get("/").headers["Location"] == "/reseau/"
    home = page_text(client.get("/reseau/"))
    assert "Béthune-Bruay Artois Lys Romane" in home and "Pays de Lumbres" in home
    for url in ("/pilote/", "/groupe/", "/accompagnement/", "/collecte/", "/pilote/journal"):
        assert client.get(url).status_code == 403, url


def test_the_coordinator_sees_no_name_contact_code_or_releve(coordinator, client):
    shown = everything_shown(client)
    for household in db.session.scalars(sa.select(Household)):
        for value in (household.code, household.display_name, household.phone, household.email):
            if value:
                assert value not in shown, value
    # "pilote" is also a word of the pages ("son ou sa pilote"): its contact is looked for.
    for user in db.session.scalars(sa.select(User).where(User.username != "reseau")):
        username = user.username if user.username != "pilote" else None
        for value in (username, user.first_name, user.phone, user.email):
            if value:
                assert value not in shown, value
    for structure in db.session.scalars(sa.select(Structure)):
        assert structure.name not in shown, structure.name


def csv_rows(client, url):
    return list(csv.reader(io.StringIO(client.get(url).data.decode("utf-8-sig")), delimiter=";"))


def row_of(rows, territory, key, group, rank, subgroup="tous"):
    return next(
        r
        for r in rows
        if r[0] == territory and r[2] == key and r[3] == group and r[4] == subgroup
        and r[5] == str(rank)
    )  # fmt: skip


def test_the_network_figures_are_those_of_the_raw_rows(coordinator, client):
    """Recipes shared at the mid wave, over both territories, from the relevés' rows."""
    submitted = sa.select(Entry.id).join(Wave).where(Wave.rank == 2, Entry.status == "submitted")
    values = [sums.recipes for sums in sums_for(submitted).values()]
    rows = csv_rows(client, FILES[0])
    assert rows[0][:3] == ["territoire", "defi", "indicateur"]
    total = row_of(rows, "Tous les territoires", "recettes", "Tous", 2)
    assert int(total[6]) == len(values) == 24 + 9
    assert float(total[7].replace(",", ".")) == pytest.approx(round(statistics.fmean(values), 2))


def test_a_total_that_would_tell_a_hidden_figure_is_hidden(coordinator, client):
    """The Pays de Lumbres (12 foyers, 2 accompanied) hides its cost of a meal at the start;
    the total, minus Béthune-Bruay's, would tell it: the total is hidden too."""
    rows = csv_rows(client, FILES[0])
    lumbres = row_of(rows, "Pays de Lumbres", "cout_repas_personne", "Tous", 1)
    bethune = row_of(rows, "Béthune-Bruay Artois Lys Romane", "cout_repas_personne", "Tous", 1)
    total = row_of(rows, "Tous les territoires", "cout_repas_personne", "Tous", 1)
    assert lumbres[6:8] == ["", ""] and bethune[6] == "40"
    assert total[6:] == [""] * 6
    # Each défi's cells are those its pilot reads.
    client.post("/deconnexion")
    auth_client = client
    auth_client.post("/connexion", data={"username": "pilote-2", "password": DEMO_PASSWORD})
    pilot_rows = csv_rows(auth_client, "/pilote/export/comparaison.csv")
    mine = next(
        r for r in pilot_rows
        if r[0] == "cout_repas_personne" and r[1] == "Tous" and r[2] == "tous" and r[3] == "1"
    )  # fmt: skip
    assert mine[4:] == lumbres[6:]


def test_a_wave_still_open_publishes_no_figure_of_it(coordinator, client):
    rows = csv_rows(client, FILES[0])
    # The demo's end wave is open in both territories: no mean of it anywhere.
    assert {r[7] for r in rows[1:] if r[5] == "3"} == {""}
    retention = csv_rows(client, FILES[1])
    assert retention[0] == [
        "territoire", "defi", "groupe", "sous_groupe", "inscrits",
        "actifs_collecte_1", "actifs_collecte_2", "actifs_collecte_3",
    ]  # fmt: skip
    total = next(r for r in retention if r[0] == "Tous les territoires" and r[3] == "tous")
    assert total[6:8] == ["33", "0"]  # as each pilot reads it: none sent yet at the end


def test_a_new_territory_and_its_first_pilot(coordinator, client, auth):
    refused = client.post("/reseau/territoires", data={"name": "  ", "valid_days": "14"})
    assert refused.status_code == 200
    assert "Donnez un nom au territoire." in page_text(refused)
    twin = client.post("/reseau/territoires", data={"name": "pays de LUMBRES", "valid_days": "14"})
    assert "Un territoire porte déjà ce nom." in page_text(twin)
    assert 'value="pays de LUMBRES"' in twin.get_data(as_text=True)  # the typing is kept
    assert db.session.scalar(sa.select(sa.func.count(Territory.id))) == 2
    name = "Pays de l'Audomarois"
    made = client.post("/reseau/territoires", data={"name": name, "valid_days": "14"})
    assert made.status_code == 200
    territory = db.session.scalar(sa.select(Territory).where(Territory.name == name))
    invitation = db.session.scalar(sa.select(Invitation).order_by(Invitation.id.desc()))
    assert invitation.role == "pilot" and invitation.territory_id == territory.id
    # The code, shown once on the printout, makes the territory's pilot.
    printed = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", page_text(made)).group(0)
    auth.logout()
    redeemed = client.post(
        "/invitation",
        data={
            "code": printed,
            "username": "pilote-audomarois",
            "password": DEMO_PASSWORD + " et des navets",
            "confirm": DEMO_PASSWORD + " et des navets",
        },
    )
    assert redeemed.status_code in (200, 303), redeemed.status_code
    pilot = db.session.scalar(sa.select(User).where(User.username == "pilote-audomarois"))
    assert pilot.roles == {"pilot"} and pilot.territory_id == territory.id
    home = page_text(client.get("/pilote/", follow_redirects=True))
    assert "Aucun défi pour le moment" in home
    assert "LokoMotiv" not in home and "Les Pousses" not in home


# Disclosure over everything the coordinator is shown together: each défi's groups and
# accompanied subgroups, as its pilot's publication shows them, and the network's total. The
# same checker as tests/test_disclosure.py, over the foyers of every défi at once.


network_strategy = st.lists(
    st.lists(st.lists(foyer_strategy, min_size=1, max_size=6), min_size=1, max_size=3),
    min_size=2,
    max_size=3,
)


@pytest.mark.parametrize("check", ["form", "form and service"])
def test_a_territory_made_meanwhile_by_another_request(coordinator, client, monkeypatch, check):
    """The name was free when the form was checked, not when the territory is written (the
    service's own check, then the database's unique name): the French message, the typing
    kept, no territory and no invitation made."""
    import defi.network.forms
    import defi.territories

    monkeypatch.setattr(defi.territories, "territory_like", lambda name: None)
    if check == "form and service":  # the service's check sees it: TerritoryError
        monkeypatch.undo()
        monkeypatch.setattr(defi.network.forms, "ValidationError", type("Never", (Exception,), {}))
        monkeypatch.setattr(
            defi.network.forms.TerritoryForm, "validate_name", lambda self, field: None
        )
    invitations = db.session.scalar(sa.select(sa.func.count(Invitation.id)))
    twin = client.post("/reseau/territoires", data={"name": "Pays de Lumbres", "valid_days": "14"})
    assert twin.status_code == 200
    assert "Un territoire porte déjà ce nom." in page_text(twin)
    assert 'value="Pays de Lumbres"' in twin.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Territory.id))) == 2
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == invitations


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(network_strategy)
def test_no_set_of_fewer_than_k_foyers_is_told_by_the_network(territories):
    groups = [group for territory in territories for group in territory]
    rows, sums, enrolled, facts = generated(groups)
    parts, variables, number = [], {}, 1
    for territory in territories:
        ids = set(range(number, number + len(territory)))
        number += len(territory)
        part = build(
            ranks=[1, 2, 3],
            group_ids=sorted(ids),
            choices=[],
            rows=[row for row in rows if row[4] in ids],
            sums=sums,
            enrolled=[row for row in enrolled if row[2] in ids],
            k=3,
        )
        parts.append(part)
        for variable, sets in shown_sets(part, rows, sums, facts, sorted(ids)).items():
            variables.setdefault(variable, []).extend(sets)
    everyone = list(range(1, number))
    raw = build([1, 2, 3], everyone, [], rows, sums, enrolled, 3, decided=False)
    total = hide_total(raw, parts)
    alone = Publication(
        tables={0: total.tables[0]}, retention={0: total.retention[0]}, choices=[], decision=None
    )
    for variable, sets in shown_sets(alone, rows, sums, facts, everyone).items():
        variables.setdefault(variable, []).extend(sets)
    for variable, sets in variables.items():
        assert recoverable_sets(sets, 3) == [], variable


def test_a_current_defi_of_two_collectes_is_compared_too(coordinator, client, auth):
    # The Pays de Lumbres starts a défi of two collectes: it becomes its current one.
    client.post("/deconnexion")
    assert auth.login("pilote-2").status_code == 303
    made = client.post(
        "/pilote/defis",
        data={
            "name": "Défi court",
            "opens_1": "2027-01-10",
            "closes_1": "2027-02-10",
            "opens_2": "2027-06-10",
            "closes_2": "2027-07-10",
        },
    )
    assert made.status_code == 303
    client.post("/deconnexion")
    assert auth.login("reseau").status_code == 303
    page = client.get("/reseau/comparaison")
    assert page.status_code == 200
    text = page_text(page)
    assert "Pays de Lumbres" in text and "Tous les territoires" in text
    assert client.get("/reseau/export/comparaison.xlsx").status_code == 200


def test_a_network_without_a_defi_yet(app, client, auth):
    from defi.accounts.services import create_coordinator
    from defi.territories import create_territory

    create_territory("Pays neuf")
    create_coordinator("coordination", DEMO_PASSWORD)
    db.session.commit()
    assert auth.login("coordination", DEMO_PASSWORD).status_code == 303
    home = page_text(client.get("/reseau/"))
    assert "Pays neuf" in home and "Pas encore de défi." in home
    empty = client.get("/reseau/comparaison")
    assert empty.status_code == 200
    assert "Aucun territoire n'a encore de défi en cours" in page_text(empty)
    for url in FILES:
        assert client.get(url).status_code == 200, url


def test_the_files_follow_the_figures(coordinator, client):
    """Made once per version of the figures, a file is made anew when a relevé is sent."""
    before = client.get(FILES[1]).data
    assert client.get(FILES[1]).data == before
    # One more foyer of Les Pousses sends the end wave: the total's count of it changes.
    wave = db.session.scalar(
        sa.select(Wave)
        .join(Challenge)
        .join(Territory)
        .where(Territory.name == "Pays de Lumbres", Wave.rank == 3)
    )
    foyer = db.session.scalar(
        sa.select(Household).where(Household.challenge_id == wave.challenge_id).limit(1)
    )
    db.session.add(Entry(household_id=foyer.id, wave_id=wave.id, status="submitted"))
    db.session.commit()
    after = client.get(FILES[1]).data
    assert after != before
    assert client.get("/reseau/export/comparaison.xlsx").status_code == 200
