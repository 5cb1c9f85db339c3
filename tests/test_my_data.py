"""A foyer's own data ("Mes données"): a page in French words, and its JSON and CSV downloads."""

import csv
import io
import json
from datetime import datetime

import pytest
import sqlalchemy as sa

from defi.accounts.services import data_as_csv
from defi.extensions import db
from defi.formatting import money
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Household
from defi.models import Reminder
from defi.models import Wave
from defi.models import Weighing
from defi.models.collecte import CATEGORY_LABELS
from defi.models.collecte import PLACE_LABELS
from tests.conftest import demo_code
from tests.conftest import page_text


def household(code):
    return db.session.scalar(sa.select(Household).where(Household.code == code))


def entries_of(target):
    return db.session.scalars(
        sa.select(Entry)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Entry.household_id == target.id)
        .order_by(Wave.rank)
    ).all()


def first_purchase(target):
    """The first purchase of the foyer's first relevé, as the relevé lists them (by date)."""
    return entries_of(target)[0].purchases[0]


def spaced(text):
    """French typography's non-breaking spaces read as spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def csv_rows(response):
    text = response.data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def test_the_page_shows_the_foyers_data_in_french(demo, auth, client, app):
    target = household(demo_code("EST-05"))
    other = household(demo_code("EST-01"))
    purchase = first_purchase(target)
    weighing = db.session.scalar(
        sa.select(Weighing)
        .join(Entry, Entry.id == Weighing.entry_id)
        .where(Entry.household_id == target.id)
    )
    auth.login("foyer-est-05")
    response = client.get("/mes-donnees")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    text = spaced(page_text(response))
    assert "<h1>Mes données</h1>" in text
    assert target.display_name in text and target.phone in text
    assert "Les LokoMotiv'" in text  # the group
    assert "2 adultes et 3 enfants" in text
    assert "foyer-est-05" in text
    with app.test_request_context():
        assert spaced(money(purchase.total_cents)) in text
    assert str(PLACE_LABELS[purchase.place_type]) in text
    assert str(CATEGORY_LABELS[weighing.category]) in text
    assert "envoyé le" in text
    assert "pas commencé" in text  # the open collecte, not started by this foyer
    assert "avec les tickets" in text
    assert "submitted" not in text and "supermarche" not in text
    # The questionnaire in words: a question and one of its choices.
    assert "Pour réduire l'impact de mon alimentation" in text
    # The downloads and the deletion are offered, and nothing of another foyer is shown.
    assert 'href="/mes-donnees?format=json"' in text
    assert 'href="/mes-donnees?format=csv"' in text
    assert 'href="/supprimer-mon-compte"' in text
    assert other.display_name not in text and other.phone not in text
    assert other.code not in text


def test_a_draft_and_its_history_read_in_words(demo, auth, client):
    target = household(demo_code("EST-05"))
    entry = entries_of(target)[-1]
    entry.status = "draft"
    db.session.add_all(
        [
            EntryChange(entry=entry, field="meal_covers", old_value="20", new_value="24"),
            EntryChange(
                entry=entry,
                field="cost_mode",
                old_value="purchases",
                new_value="direct",
                assisted=True,
            ),
        ]
    )
    db.session.commit()
    auth.login("foyer-est-05")
    response = client.get("/mes-donnees")
    assert response.status_code == 200
    text = spaced(page_text(response))
    assert "brouillon, pas encore envoyé" in text
    assert "repas-convives : 20 → 24" in text
    assert "avec les tickets → coût donné directement" in text
    assert "saisie accompagnée par votre référent·e" in text
    data = json.loads(client.get("/mes-donnees?format=json").data)
    releve = data["releves"][-1]
    assert releve["statut"] == "brouillon"
    assert releve["historique"][0]["champ"] == "repas-convives"
    assert releve["historique"][1]["avant"] == "avec les tickets"
    assert releve["historique"][1]["saisie_accompagnee"] is True


def test_the_json_download_is_an_attachment_in_french(demo, auth, client):
    target = household(demo_code("EST-05"))
    other = household(demo_code("EST-01"))
    purchase = first_purchase(target)
    auth.login("foyer-est-05")
    response = client.get("/mes-donnees?format=json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="mes-donnees-')
    assert response.headers["Content-Disposition"].endswith('.json"')
    data = json.loads(response.data)
    assert data["foyer"]["nom"] == target.display_name
    assert data["foyer"]["statut"] == "actif"
    assert [releve["statut"] for releve in data["releves"]] == ["envoyé", "envoyé"]
    achat = data["releves"][0]["achats"][0]
    assert achat["lieu"] == str(PLACE_LABELS[purchase.place_type])
    assert achat["total_eur"] == purchase.total_cents / 100  # a number, not a text
    places = {str(label) for label in PLACE_LABELS.values()}
    assert {a["lieu"] for r in data["releves"] for a in r["achats"]} <= places
    categories = {str(label) for label in CATEGORY_LABELS.values()}
    assert {p["categorie"] for r in data["releves"] for p in r["pesees"]} <= categories
    answers = data["releves"][0]["reponses"]
    assert answers and all(a["question"] and a["choix"] for a in answers)
    assert ":" not in "".join(choice for a in answers for choice in a["choix"])  # no codes
    assert other.display_name not in response.get_data(as_text=True)


def test_the_csv_download_is_an_attachment_in_french(demo, auth, client):
    target = household(demo_code("EST-05"))
    other = household(demo_code("EST-01"))
    purchase = first_purchase(target)
    auth.login("foyer-est-05")
    response = client.get("/mes-donnees?format=csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].endswith('.csv"')
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["section", "collecte", "champ", "valeur"]
    assert ["foyer", "", "nom", target.display_name] in rows
    assert ["releve", "1", "statut", "envoyé"] in rows
    assert ["releve/achats/1", "1", "lieu", str(PLACE_LABELS[purchase.place_type])] in rows
    euros = f"{purchase.total_cents / 100:g}".replace(".", ",")  # "37,92": decimal comma
    assert ["releve/achats/1", "1", "total_eur", euros] in rows
    assert other.display_name not in response.data.decode("utf-8-sig")


def test_a_csv_cell_never_starts_a_formula(demo, auth, client):
    target = household(demo_code("EST-05"))
    target.display_name = '=HYPERLINK("http://example.org")'
    target.commune = "-2+3"
    db.session.commit()
    auth.login("foyer-est-05")
    rows = csv_rows(client.get("/mes-donnees?format=csv"))
    assert ["foyer", "", "nom", '\'=HYPERLINK("http://example.org")'] in rows
    assert ["foyer", "", "commune", "'-2+3"] in rows


def test_csv_numbers_stay_numbers():
    data = {
        "foyer": {"adultes": 2, "kg": 0.125, "part": 0.5, "vrai": True, "rien": None},
        "comptes": [],
        "releves": [],
    }
    rows = list(csv.reader(io.StringIO(data_as_csv(data).decode("utf-8-sig")), delimiter=";"))
    assert rows[1:] == [
        ["foyer", "", "adultes", "2"],
        ["foyer", "", "kg", "0,125"],
        ["foyer", "", "part", "0,5"],
        ["foyer", "", "vrai", "oui"],
        ["foyer", "", "rien", ""],
    ]


@pytest.mark.parametrize("query", ["", "?format=json", "?format=csv"])
def test_anonymous_is_sent_to_log_in(demo, client, query):
    response = client.get(f"/mes-donnees{query}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=/mes-donnees")


@pytest.mark.parametrize("username", ["animateur-est", "referent-mjep", "pilote"])
@pytest.mark.parametrize("query", ["", "?format=json", "?format=csv"])
def test_staff_reach_no_foyers_data_here(demo, auth, client, username, query):
    auth.login(username)
    assert client.get(f"/mes-donnees{query}").status_code == 403


def test_an_accompanied_foyer_reads_by_whom_and_under_which_label(demo, client, auth):
    """Being accompanied is held about the foyer: its page and its downloads say so."""
    from defi.models import Accompaniment

    code = demo_code("EST-05")
    household = db.session.scalar(sa.select(Household).where(Household.code == code))
    accompaniment = db.session.scalar(
        sa.select(Accompaniment).where(Accompaniment.household_id == household.id)
    )
    assert auth.login("foyer-est-05").status_code == 303
    page = page_text(client.get("/mes-donnees"))
    assert f"accompagné par {accompaniment.structure.name}" in page
    assert f"« {accompaniment.label} »" in page
    with client.get("/mes-donnees?format=json") as download:
        data = json.loads(download.get_data(as_text=True))
    assert data["foyer"]["accompagne_par"] == accompaniment.structure.name


def test_the_reminders_sent_are_in_the_foyers_data(demo, auth, client):
    """The e-mails `defi remind` sent are the foyer's data too: on the page, in JSON and CSV."""
    target = household(demo_code("EST-05"))
    wave = db.session.scalar(
        sa.select(Wave).where(Wave.challenge_id == target.challenge_id, Wave.rank == 3)
    )
    db.session.add(
        Reminder(household_id=target.id, wave_id=wave.id, kind=7, sent_at=datetime(2026, 11, 3, 8))
    )
    db.session.commit()
    auth.login("foyer-est-05")
    assert "Collecte 3, 7 jours avant sa clôture : envoyé le 3 nov. 2026" in page_text(
        client.get("/mes-donnees")
    )
    data = client.get("/mes-donnees?format=json").get_json()
    assert data["rappels"] == [
        {"collecte": 3, "jours_avant_cloture": 7, "envoye_le": "2026-11-03T09:00:00+01:00"}
    ]
    rows = csv_rows(client.get("/mes-donnees?format=csv"))
    assert ["rappel/1", "3", "jours_avant_cloture", "7"] in rows
