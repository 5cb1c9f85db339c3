"""A foyer's rights over its data, the purge of identities, and `defi backup`."""

import csv
import io
import json
from datetime import date
from datetime import timedelta

import sqlalchemy as sa

from defi.demo import SECOND_TERRITORY
from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Attendance
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Group
from defi.models import Household
from defi.models import Invitation
from defi.models import Producer
from defi.models import Purchase
from defi.models import Recipe
from defi.models import User
from defi.models import Wave
from defi.models import Weighing
from tests.conftest import demo_code
from tests.conftest import page_text
from tests.conftest import territory_id


def household(code):
    return db.session.scalar(sa.select(Household).where(Household.code == code))


def test_a_foyer_downloads_all_its_data(demo, auth, client):
    auth.login("foyer-est-05")
    target = household(demo_code("EST-05"))
    response = client.get("/mes-donnees?format=json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["foyer"]["nom"] == target.display_name
    assert data["foyer"]["telephone"] == target.phone
    assert [r["collecte"] for r in data["releves"]] == [1, 2]
    purchases = db.session.scalar(
        sa.select(sa.func.count(Purchase.id))
        .join(Entry, Entry.id == Purchase.entry_id)
        .where(Entry.household_id == target.id)
    )
    assert sum(len(r["achats"]) for r in data["releves"]) == purchases
    assert data["comptes"][0]["identifiant"] == "foyer-est-05"
    as_csv = client.get("/mes-donnees?format=csv")
    assert as_csv.status_code == 200
    rows = list(csv.reader(io.StringIO(as_csv.data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == ["section", "collecte", "champ", "valeur"]
    assert ["foyer", "", "nom", target.display_name] in rows
    assert sum(1 for row in rows if row[2] == "total_eur") == purchases


def test_staff_has_no_foyer_data_to_download(demo, auth, client):
    auth.login("animateur-est")
    assert client.get("/mes-donnees").status_code == 403


def rows_of(household_id):
    """How many rows of every table still point at the foyer."""
    entries = sa.select(Entry.id).where(Entry.household_id == household_id)
    counts = {
        "household": sa.select(Household.id).where(Household.id == household_id),
        "user": sa.select(User.id).where(User.household_id == household_id),
        "entry": entries,
        "purchase": sa.select(Purchase.id).where(Purchase.entry_id.in_(entries)),
        "weighing": sa.select(Weighing.id).where(Weighing.entry_id.in_(entries)),
        "recipe": sa.select(Recipe.id).where(Recipe.entry_id.in_(entries)),
        "producer": sa.select(Producer.id).where(Producer.entry_id.in_(entries)),
        "answer": sa.select(Answer.id).where(Answer.entry_id.in_(entries)),
        "change": sa.select(EntryChange.id).where(EntryChange.entry_id.in_(entries)),
        "attendance": sa.select(Attendance.id).where(Attendance.household_id == household_id),
        "accompaniment": sa.select(Accompaniment.id).where(
            Accompaniment.household_id == household_id
        ),
        "invitation": sa.select(Invitation.id).where(Invitation.household_id == household_id),
    }
    return {
        name: db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        for name, query in counts.items()
    }


def test_deleting_the_account_needs_the_password_and_leaves_no_row(demo, auth, client, app):
    target = household(demo_code("EST-12"))  # accompanied, with relevés, attendance, an account
    target_id = target.id
    db.session.add(
        Invitation(
            code_hash="x" * 64,
            role="household",
            household_id=target_id,
            expires_at=target.created_at,
            territory_id=territory_id(),
        )
    )
    db.session.commit()
    before = rows_of(target_id)
    assert before["entry"] == 2 and before["purchase"] > 0 and before["accompaniment"] == 1
    auth.login("foyer-est-12")
    assert client.get("/supprimer-mon-compte").status_code == 200
    refused = client.post("/supprimer-mon-compte", data={"password": "pas le bon"})
    assert refused.status_code == 200
    assert "Ce n'est pas votre mot de passe." in page_text(refused)
    assert rows_of(target_id)["household"] == 1
    done = client.post("/supprimer-mon-compte", data={"password": "carottes-et-poireaux"})
    assert done.status_code == 303
    assert done.headers["Location"] == "/connexion"
    db.session.expire_all()
    assert set(rows_of(target_id).values()) == {0}
    assert client.get("/collecte/").status_code == 302  # logged out
    # The group's figures still render without it.
    staff = app.test_client()
    staff.post("/connexion", data={"username": "animateur-est", "password": "carottes-et-poireaux"})
    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    assert staff.get(f"/groupe/{est.id}/progres").status_code == 200


def test_purge_removes_identities_of_old_défis_and_keeps_measurements(demo, app):
    # Make the demo défi end long ago: 2 years before today (the second territory's runs on).
    for wave in db.session.scalars(sa.select(Wave).where(Wave.challenge_id == demo.id)):
        wave.opens_on = date.today() - timedelta(days=800 - wave.rank)
        wave.closes_on = date.today() - timedelta(days=790 - wave.rank)
    db.session.commit()
    entries = db.session.scalar(sa.select(sa.func.count(Entry.id)))
    purchases = db.session.scalar(sa.select(sa.func.count(Purchase.id)))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "foyers anonymised: 40" in result.output
    db.session.expire_all()
    for target in db.session.scalars(sa.select(Household).where(Household.challenge_id != demo.id)):
        assert target.display_name != target.code and target.anonymised_at is None
    for target in db.session.scalars(sa.select(Household).where(Household.challenge_id == demo.id)):
        assert target.display_name == target.code
        assert target.phone == target.email == target.commune == ""
        assert target.anonymised_at is not None
    assert (
        db.session.scalar(sa.select(sa.func.count(User.id)).where(User.household_id.is_not(None)))
        == 12  # the second territory's foyers
    )
    assert db.session.scalar(sa.select(sa.func.count(Entry.id))) == entries
    assert db.session.scalar(sa.select(sa.func.count(Purchase.id))) == purchases
    # Staff accounts stay; a second run changes nothing.
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 5 + 3 + 12 + 1  # + reseau
    again = runner.invoke(args=["purge"])
    assert "foyers anonymised: 0" in again.output


def test_purge_of_one_territory_leaves_the_others_alone(demo, app):
    # Both demo défis ended long ago; only the second territory is purged.
    for wave in db.session.scalars(sa.select(Wave)):
        wave.opens_on = date.today() - timedelta(days=800 - wave.rank)
        wave.closes_on = date.today() - timedelta(days=790 - wave.rank)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["purge", "--territory", SECOND_TERRITORY])
    assert result.exit_code == 0, result.output
    assert f"foyers anonymised: 12 (défis of {SECOND_TERRITORY} ended" in result.output
    db.session.expire_all()
    assert household(demo_code("EST-01")).anonymised_at is None
    unknown = runner.invoke(args=["purge", "--territory", "Nulle part"])
    assert unknown.exit_code != 0 and "No territory named 'Nulle part'" in unknown.output
    everything = runner.invoke(args=["purge"])
    assert "foyers anonymised: 40 " in everything.output


def test_purge_leaves_a_running_défi_alone(demo, app):
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "foyers anonymised: 0" in result.output
    assert household(demo_code("EST-01")).display_name != demo_code("EST-01")


def test_backup_command_copies_and_checks(app, backend, tmp_path):
    runner = app.test_cli_runner()
    target = tmp_path / "copie.db"
    result = runner.invoke(args=["backup", str(target)])
    if backend == "postgresql":
        assert result.exit_code != 0
        assert "pg_dump" in result.output
        return
    assert result.exit_code == 0, result.output
    assert "integrity check: ok" in result.output
    import sqlite3

    with sqlite3.connect(target) as copy:
        tables = {
            row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {"household", "entry", "user"} <= tables
    again = runner.invoke(args=["backup", str(target)])
    assert again.exit_code != 0 and "exists already" in again.output
