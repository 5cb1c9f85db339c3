"""The demo défi holds exactly the source's numbers (DESIGN.md, demo scenario)."""

import sqlalchemy as sa
from click.testing import CliRunner

from defi.demo import DEMO_CHALLENGE
from defi.demo import SECOND_TERRITORY
from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Challenge
from defi.models import Entry
from defi.models import Event
from defi.models import Group
from defi.models import Household
from defi.models import Structure
from defi.models import Territory
from defi.models import User
from defi.models import Wave
from tests.conftest import demo_code
from tests.conftest import territory_id


def _count(query):
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))


def test_demo_has_the_source_numbers(demo):
    groups = {
        g.name: g for g in db.session.scalars(sa.select(Group).where(Group.challenge_id == demo.id))
    }
    assert set(groups) == {"Les LokoMotiv'", "Graines d'idées"}
    assert groups["Les LokoMotiv'"].sector == "Secteur Est"
    assert groups["Graines d'idées"].sector == "Secteur Ouest"

    def households(group, **filters):
        query = sa.select(Household).where(Household.group_id == groups[group].id)
        for column, value in filters.items():
            query = query.where(getattr(Household, column) == value)
        return query

    def accompanied(query):
        return query.join(Accompaniment, Accompaniment.household_id == Household.id)

    # 2 groups × 20 foyers, 3 accompanied in each.
    assert _count(households("Les LokoMotiv'")) == 20
    assert _count(households("Graines d'idées")) == 20
    assert _count(accompanied(households("Les LokoMotiv'"))) == 3
    assert _count(accompanied(households("Graines d'idées"))) == 3
    # 24 still engaged at the mid wave: 16 Est (2 accompanied), 8 Ouest (1 accompanied).
    ours = sa.select(Household).where(Household.challenge_id == demo.id)
    assert _count(ours.where(Household.status == "active")) == 24
    assert _count(households("Les LokoMotiv'", status="active")) == 16
    assert _count(households("Graines d'idées", status="active")) == 8
    assert _count(accompanied(households("Les LokoMotiv'", status="active"))) == 2
    assert _count(accompanied(households("Graines d'idées", status="active"))) == 1
    assert _count(households("Les LokoMotiv'", status="withdrawn")) == 4
    assert _count(households("Graines d'idées", status="withdrawn")) == 12

    # Of the 3 engaged accompanied foyers: 1 MJEP d'Isbergues, 2 Noeux Environnement.
    engaged_by_structure = dict(
        db.session.execute(
            sa.select(Structure.name, sa.func.count(Household.id))
            .join(Accompaniment, Accompaniment.structure_id == Structure.id)
            .join(Household, Household.id == Accompaniment.household_id)
            .where(Household.status == "active", Household.challenge_id == demo.id)
            .group_by(Structure.name)
        ).all()
    )
    assert engaged_by_structure == {"MJEP d'Isbergues": 1, "Noeux Environnement": 2}

    # 8 ateliers and 3 farm visits.
    kinds = dict(
        db.session.execute(
            sa.select(Event.kind, sa.func.count(Event.id))
            .where(Event.challenge_id == demo.id)
            .group_by(Event.kind)
        ).all()
    )
    assert kinds == {"atelier": 8, "visite": 3}


def test_a_second_smaller_territory_runs_a_defi_of_the_same_name(demo):
    """Its own pilot, group, structure and foyers (sealed: tests/test_territories.py)."""
    territory = db.session.scalar(sa.select(Territory).where(Territory.name == SECOND_TERRITORY))
    assert territory is not None and territory.id != demo.territory_id
    challenge = db.session.scalar(
        sa.select(Challenge).where(Challenge.territory_id == territory.id, Challenge.is_current)
    )
    assert challenge.name == demo.name == DEMO_CHALLENGE
    assert [group.name for group in challenge.groups] == ["Les Pousses"]
    ours = sa.select(Household).where(Household.challenge_id == challenge.id)
    assert _count(ours) == 12
    assert _count(ours.where(Household.status == "active")) == 9
    accompanied = ours.join(Accompaniment, Accompaniment.household_id == Household.id)
    assert _count(accompanied) == 2
    structures = db.session.scalars(
        sa.select(Structure.name).where(Structure.territory_id == territory.id)
    ).all()
    assert structures == ["Centre social de Lumbres"]
    submitted = dict(
        db.session.execute(
            sa.select(Wave.rank, sa.func.count(Entry.id))
            .join(Entry, Entry.wave_id == Wave.id)
            .where(Entry.status == "submitted", Wave.challenge_id == challenge.id)
            .group_by(Wave.rank)
        ).all()
    )
    assert submitted == {1: 12, 2: 9}


def test_demo_relevés_follow_the_retention(demo):
    submitted = dict(
        db.session.execute(
            sa.select(Wave.rank, sa.func.count(Entry.id))
            .join(Entry, Entry.wave_id == Wave.id)
            .where(Entry.status == "submitted", Wave.challenge_id == demo.id)
            .group_by(Wave.rank)
        ).all()
    )
    # All 40 foyers submitted the start wave, the 24 engaged the mid wave, nobody the end yet.
    assert submitted == {1: 40, 2: 24}
    withdrawn_at_mid = _count(
        sa.select(Entry)
        .join(Household, Household.id == Entry.household_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Wave.rank == 2, Household.status == "withdrawn")
    )
    assert withdrawn_at_mid == 0


def test_demo_waves_keep_the_source_dates_and_open_the_end_today(demo):
    from datetime import date
    from datetime import timedelta

    from defi.formatting import today

    waves = demo.waves
    assert [(w.rank, w.opens_on, w.closes_on) for w in waves[:2]] == [
        (1, date(2021, 9, 1), date(2021, 9, 30)),
        (2, date(2022, 2, 1), date(2022, 2, 28)),
    ]
    assert waves[2].opens_on == today()
    assert waves[2].closes_on == today() + timedelta(days=30)
    assert waves[2].is_open(today())
    assert not waves[0].is_open(today())


def test_demo_accounts_exist_with_their_roles(demo, auth):
    users = {u.username: u for u in db.session.scalars(sa.select(User))}
    expected = {"pilote", "animateur-est", "animatrice-ouest", "referent-mjep", "referent-noeux"}
    expected |= {f"foyer-est-{n:02d}" for n in range(1, 21)}
    expected |= {f"foyer-ouest-{n:02d}" for n in range(1, 21)}
    second = {"pilote-2", "animatrice-nord", "referent-lumbres"}
    second |= {f"foyer-nord-{n:02d}" for n in range(1, 13)}
    assert set(users) == expected | second | {"reseau"}
    assert users["reseau"].roles == {"coordinator"} and users["reseau"].territory_id is None
    assert {users[name].territory_id for name in expected} == {demo.territory_id}
    assert {users[name].territory_id for name in second} == {
        db.session.scalar(sa.select(Territory.id).where(Territory.name == SECOND_TERRITORY))
    }
    assert users["pilote-2"].roles == {"pilot"}
    assert users["pilote"].roles == {"pilot"}
    assert users["animateur-est"].roles == {"facilitator"}
    assert users["referent-noeux"].roles == {"referent"}
    assert users["foyer-ouest-20"].household.code == demo_code("OUEST-20")
    # Every account logs in with the documented password.
    response = auth.login("foyer-est-07")
    assert response.status_code == 303


def test_demo_command_is_idempotent_and_resets(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "foyer-ouest-20" in first.output
    assert "carottes-et-poireaux" in first.output
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0
    assert "already loaded" in again.output
    assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 40 + 12
    assert db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 2
    assert db.session.scalar(sa.select(sa.func.count(Territory.id))) == 2

    # --reset starts over: a foyer edited by hand is back to the demo's.
    household = db.session.scalar(sa.select(Household).where(Household.code == demo_code("EST-01")))
    household.display_name = "Changé"
    db.session.commit()
    reset = runner.invoke(args=["demo", "--reset"])
    assert reset.exit_code == 0, reset.output
    db.session.expire_all()
    names = db.session.scalars(sa.select(Household.display_name)).all()
    assert len(names) == 40 + 12 and "Changé" not in names
    assert db.session.scalars(sa.select(Challenge.name)).all() == [DEMO_CHALLENGE] * 2
    assert db.session.scalar(sa.select(sa.func.count(Territory.id))) == 2


def test_demo_if_empty_leaves_a_real_install_alone(app):
    from defi.accounts.services import create_pilot

    create_pilot("cheffe-de-projet", "une phrase de passe assez longue", territory_id())
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0
    assert "not loaded" in result.output
    assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 0


def test_cli_runner_is_click(app):
    assert isinstance(app.test_cli_runner(), CliRunner)
