"""The pilot sets a défi up: collectes, groups, questionnaire, next year's défi."""

from datetime import date
from datetime import timedelta

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.models import Challenge
from defi.models import Group
from defi.models import Membership
from defi.models import Question
from tests.conftest import demo_wave
from tests.conftest import page_text


@pytest.fixture
def pilot(demo, auth):
    assert auth.login("pilote").status_code == 303


def latest():
    return db.session.scalar(sa.select(Challenge).order_by(Challenge.id.desc()).limit(1))


def future(days):
    return (date.today() + timedelta(days=days)).isoformat()


def test_create_a_défi_with_three_collectes_and_a_group(pilot, client):
    data = {
        "name": "Défi 2027",
        "opens_1": future(30),
        "closes_1": future(45),
        "opens_2": future(150),
        "closes_2": future(170),
        "opens_3": future(270),
        "closes_3": future(290),
    }
    response = client.post("/pilote/defis", data=data)
    assert response.status_code == 303
    challenge = latest()
    assert challenge.name == "Défi 2027"
    assert [wave.rank for wave in challenge.waves] == [1, 2, 3]
    assert (
        len(
            db.session.scalars(
                sa.select(Question).where(Question.challenge_id == challenge.id)
            ).all()
        )
        == 3
    )
    group = client.post(
        "/pilote/groupes", data={"name": "Les Courgettes", "sector": "Centre", "code_prefix": "ctr"}
    )
    assert group.status_code == 303
    assert (
        db.session.scalar(sa.select(Group.code_prefix).where(Group.name == "Les Courgettes"))
        == "CTR"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"opens_2": future(40)}, "Une collecte commence après la clôture de la précédente."),
        ({"closes_1": future(10)}, "La clôture doit suivre l'ouverture."),
        ({"name": "Défi Famille à alimentation positive 2021-2022"}, "Un défi porte déjà ce nom."),
    ],
)
def test_bad_collecte_dates_are_refused(pilot, client, change, message):
    data = {
        "name": "Défi 2028",
        "opens_1": future(30),
        "closes_1": future(45),
        "opens_2": future(150),
        "closes_2": future(170),
    }
    data.update(change)
    response = client.post("/pilote/defis", data=data)
    assert response.status_code == 200
    assert message in page_text(response)
    assert (
        db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 2
    )  # the two demo territories' défis: nothing added


def test_questionnaire_is_editable_until_the_first_collecte_opens(pilot, client, app):
    # The demo's first collecte has opened: no change.
    question = db.session.scalar(sa.select(Question).order_by(Question.id))
    refused = client.post(
        f"/pilote/questions/{question.id}",
        data={"text": "Autre", "kind": "single", "from_rank": "1", "choice_lines": "a\nb"},
    )
    assert refused.status_code == 403
    db.session.expire_all()
    assert question.text.startswith("En mangeant local")
    # Next year's défi, its collectes moved to the future: the families ask for one more question.
    assert client.post("/pilote/defis/suivant", data={"name": "Défi 2022-2023"}).status_code == 303
    challenge = latest()
    assert [g.name for g in challenge.groups] == ["Graines d'idées", "Les LokoMotiv'"]
    assert [(w.opens_on.year, w.rank) for w in challenge.waves] == [
        (2022, 1),
        (2023, 2),
        (date.today().year + 1, 3),
    ]
    est = next(g for g in challenge.groups if g.code_prefix == "EST")
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Membership.id)).where(Membership.group_id == est.id)
        )
        == 1
    )
    for offset, wave in enumerate(challenge.waves):
        wave.opens_on = date.today() + timedelta(days=30 + offset * 100)
        wave.closes_on = wave.opens_on + timedelta(days=20)
    db.session.commit()
    added = client.post(
        "/pilote/questions/nouvelle",
        data={
            "text": "Cuisinez-vous plus de légumes ?",
            "kind": "single",
            "from_rank": "1",
            # A control character pasted into a choice is dropped, not stored.
            "choice_lines": "Oui\nUn\x01 peu\x1f\nNon",
        },
    )
    assert added.status_code == 303
    new = db.session.scalar(
        sa.select(Question).where(
            Question.challenge_id == challenge.id,
            Question.text == "Cuisinez-vous plus de légumes ?",
        )
    )
    assert new.key == "cuisinez_vous_plus_de_legumes"
    assert [c.key for c in new.choices] == ["oui", "un_peu", "non"]
    assert [c.label for c in new.choices] == ["Oui", "Un peu", "Non"]
    assert (
        len(
            db.session.scalars(
                sa.select(Question).where(Question.challenge_id == challenge.id)
            ).all()
        )
        == 4
    )
    settings = page_text(client.get("/pilote/parametres"))
    assert "Cuisinez-vous plus de légumes ?" in settings
    new_id = new.id
    assert client.post(f"/pilote/questions/{new_id}/supprimer").status_code == 303
    db.session.expunge_all()
    assert db.session.get(Question, new_id) is None


def test_a_collecte_can_be_closed_by_hand(pilot, client):
    wave = demo_wave(3)
    assert wave.is_open(date.today())
    response = client.post(
        f"/pilote/collectes/{wave.id}",
        data={
            "opens_on": wave.opens_on.isoformat(),
            "closes_on": wave.closes_on.isoformat(),
            "manual_state": "closed",
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert wave.manual_state == "closed" and not wave.is_open(date.today())


def test_only_the_pilot_sets_up(demo, auth, client):
    auth.login("animateur-est")
    assert client.get("/pilote/parametres").status_code == 403
    assert client.post("/pilote/defis", data={"name": "x"}).status_code == 403
