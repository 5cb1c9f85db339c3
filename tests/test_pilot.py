"""The pilot's pages: comparison, downloads, import through the browser, printable report."""

import io

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.models import Challenge
from defi.models import Entry
from defi.models import Household
from defi.pilot.imports import HEADER
from tests.conftest import page_text
from tests.test_import_preview import confirm
from tests.test_import_preview import upload

PILOT_PAGES = (
    "/pilote/comparaison",
    "/pilote/export/comparaison.csv",
    "/pilote/export/retention.csv",
    "/pilote/export/donnees-CONFIDENTIEL.csv",
    "/pilote/export/questionnaire.csv",
    "/pilote/export/comparaison.xlsx",
    "/pilote/import",
    "/pilote/rapport",
)


@pytest.fixture
def pilot(demo, auth):
    assert auth.login("pilote").status_code == 303


def test_comparison_shows_groups_side_by_side_without_names(pilot, client):
    html = page_text(client.get("/pilote/comparaison"))
    assert "Tous les groupes" in html and "Les LokoMotiv'" in html
    assert "Coût par repas et par personne" in html
    # Suppressed figures (too few foyers, or protecting others) read the same (issue 13).
    assert "effectif trop faible" in html
    for household in db.session.scalars(sa.select(Household)):
        assert household.display_name not in html
        assert household.phone not in html
    one = page_text(client.get("/pilote/comparaison?groupe=1"))
    assert "aria-current" in client.get("/pilote/comparaison?groupe=1").get_data(as_text=True)
    assert one != html


def test_downloads_are_attachments_in_the_right_format(pilot, client):
    csv_response = client.get("/pilote/export/retention.csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="retention.csv"' in csv_response.headers["Content-Disposition"]
    text = csv_response.data.decode("utf-8-sig")
    assert text.splitlines()[1].startswith("Tous;tous;40;40;24;0")
    xlsx = client.get("/pilote/export/comparaison.xlsx")
    assert xlsx.status_code == 200
    assert xlsx.data[:2] == b"PK"
    assert client.get("/pilote/export/secret.csv").status_code == 404


def test_import_through_the_page(pilot, client):
    good = ";".join(HEADER) + "\n" + ";".join(
        ["P-01", "Les Poireaux", "non", "1", "2", "7", "30", "3", "6", "28", "", "0,5", "1", "0",
         "manger_mieux", "", ""]
    )  # fmt: skip
    # The file is previewed, then written once confirmed (tests/test_import_preview.py).
    preview = upload(client, good.encode(), "Défi 2019", create=True)
    assert preview.status_code == 200
    response = confirm(client, preview)
    assert response.status_code == 303
    assert "1 relevé créé" in page_text(client.get("/pilote/import"))
    challenge = db.session.scalar(sa.select(Challenge).where(Challenge.name == "Défi 2019"))
    assert challenge is not None
    bad = good.replace(";7;", ";quatre;")
    rejected = client.post(
        "/pilote/import",
        data={"file": (io.BytesIO(bad.encode()), "releves.csv"), "challenge_name": "Défi 2018"},
        content_type="multipart/form-data",
    )
    assert rejected.status_code == 200
    assert "jours doit être un nombre entier" in page_text(rejected)
    assert db.session.scalar(sa.select(Challenge).where(Challenge.name == "Défi 2018")) is None
    entries = db.session.scalar(sa.select(sa.func.count(Entry.id)))
    assert entries == 64 + 21 + 1  # the two demo territories' relevés, and the one imported


def test_report_is_printable(pilot, client):
    html = page_text(client.get("/pilote/rapport"))
    assert "Défi Famille à alimentation positive 2021-2022" in html
    assert "Foyers engagés" in html
    assert "Visite de la Ferme du Bois" in html
    assert "Imprimer ou enregistrer en PDF" in html
    css = client.get("/static/app.css")
    assert b"@page { size: A4" in css.data
    css.close()


@pytest.mark.parametrize("username", ["animateur-est", "referent-mjep", "foyer-est-01"])
def test_only_the_pilot_reaches_these_pages(demo, auth, client, username):
    auth.login(username)
    for url in PILOT_PAGES:
        assert client.get(url).status_code in (403, 404), (username, url)


def test_anonymous_is_sent_to_login(demo, client):
    for url in PILOT_PAGES:
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/connexion")
