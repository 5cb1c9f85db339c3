"""Figures computed once, read many times, and never stale.

The publication of a défi is computed once per version of what it publishes
(`figures/cache.py`); a sent relevé, a foyer or an accompaniment bumps its défi's version in
its own transaction, a draft being typed does not, and no other défi's version moves.
"""

import re
from datetime import timedelta

import sqlalchemy as sa

from defi.demo import SECOND_TERRITORY
from defi.extensions import db
from defi.figures import cache
from defi.models import Challenge
from defi.models import Group
from defi.models import Territory
from tests.conftest import DEMO_QUERY
from tests.conftest import enrol_accompanied
from tests.test_collecte import complete_relevé


def version(challenge=None):
    """(the install's, the défi's) version of what the défi publishes (the demo's défi)."""
    challenge = challenge or db.session.scalar(DEMO_QUERY)
    return cache.current_version(db.session, challenge.id)


def second_challenge():
    """The second demo territory's défi (Pays de Lumbres)."""
    return db.session.scalar(
        sa.select(Challenge).join(Territory).where(Territory.name == SECOND_TERRITORY)
    )


def statements_of(app, action):
    counted = []

    def count(*_args):
        counted.append(1)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        result = action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(counted), result


def send(client):
    page = client.get("/collecte/3/envoi").get_data(as_text=True)
    submission = re.search(r'name="submission_id" type="hidden" value="([0-9a-f]+)"', page)
    response = client.post("/collecte/3/envoi", data={"submission_id": submission.group(1)})
    assert response.status_code == 303


def test_a_page_reads_the_figures_computed_before(demo, auth, client, app):
    assert auth.login("animateur-est").status_code == 303
    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    first, page = statements_of(app, lambda: client.get(f"/groupe/{est.id}/progres"))
    assert page.status_code == 200
    again, page = statements_of(app, lambda: client.get(f"/groupe/{est.id}/progres"))
    assert page.status_code == 200
    # The second view reads the version, not the relevés: a handful of queries fewer.
    assert again < first - 3, (first, again)


def test_a_sent_relevé_changes_the_figures_at_once_a_draft_does_not(
    demo, auth, client, monkeypatch
):
    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    assert auth.login("animateur-est").status_code == 303
    before = client.get(f"/groupe/{est.id}/progres").get_data(as_text=True)
    start = version()
    for number in ("01", "02", "03"):
        assert auth.login(f"foyer-est-{number}").status_code == 303
        complete_relevé(client)  # a draft: nothing published changes
        assert version() == start
    for number in ("01", "02", "03"):
        assert auth.login(f"foyer-est-{number}").status_code == 303
        send(client)
    assert version() == (start[0], start[1] + 3)  # its défi's own, one per relevé sent
    assert auth.login("animateur-est").status_code == 303
    during = client.get(f"/groupe/{est.id}/progres").get_data(as_text=True)
    # The wave is open: its figures wait for its close, its count of relevés sent does not.
    assert re.search(r"3 — fin</th><td>Tous</td>\s*<td>(\d+)</td>", during) is None
    assert "publié à la clôture de la collecte" in during
    # It closes by its date, with no write: the figures are published at once.
    end = next(wave for wave in est.challenge.waves if wave.rank == 3)
    monkeypatch.setattr("defi.figures.today", lambda: end.closes_on + timedelta(days=1))
    monkeypatch.setattr("defi.figures.tables.today", lambda: end.closes_on + timedelta(days=1))
    after = client.get(f"/groupe/{est.id}/progres").get_data(as_text=True)
    found = re.search(r"3 — fin</th><td>Tous</td>\s*<td>(\d+)</td>", after)
    assert found is not None and found.group(1) == "3"
    assert re.search(r"3 — fin</th><td>Tous</td>\s*<td>(\d+)</td>", before) is None
    from defi.figures import publication

    assert publication(est.challenge).tables[est.id]["recettes"][3]["tous"].n == 3


def test_a_foyer_and_an_accompaniment_change_the_version(demo, auth, client):
    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    start = version()
    assert auth.login("animateur-est").status_code == 303
    response = client.post(
        f"/groupe/{est.id}/inviter",
        data={"display_name": "Famille Nouvelle", "adults": "1", "children": "0"},
    )
    assert response.status_code == 200
    assert version() == (start[0], start[1] + 1)
    enrol_accompanied(client, auth, est)
    assert version() == (start[0], start[1] + 2)


def test_a_missing_version_row_reads_0_and_is_made_again_by_the_next_change(demo, auth, client):
    from defi.models import FiguresVersion

    db.session.execute(sa.delete(FiguresVersion))
    db.session.commit()
    own = version()[1]
    assert version() == (0, own)  # still a version: pages keep their figures meanwhile
    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    assert auth.login("animateur-est").status_code == 303
    response = client.post(
        f"/groupe/{est.id}/inviter",
        data={"display_name": "Famille Nouvelle", "adults": "1", "children": "0"},
    )
    assert response.status_code == 200
    assert version() == (0, own + 1)
    cache.touch(db.session)  # a change of every défi
    db.session.commit()
    assert version() == (1, own + 1)
    assert db.session.scalar(sa.select(FiguresVersion.version)) == 1


def test_a_group_s_figures_are_rendered_once_per_publication(demo, auth, client, app):
    from flask import template_rendered

    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    names = []

    def note(_sender, template, context, **_extra):
        names.append(template.name)

    template_rendered.connect(note, app)
    try:
        assert auth.login("animateur-est").status_code == 303
        pages = [client.get(f"/groupe/{est.id}/progres") for _ in range(3)]
        pages += [client.get(f"/groupe/{est.id}/progres/projection") for _ in range(2)]
        assert [page.status_code for page in pages] == [200] * 5
        assert names.count("groups/_progress_figures.html") == 1
        assert names.count("groups/_projection_figures.html") == 1
        assert names.count("groups/progress.html") == 3
        # The same figures, whoever reads them: the pilot's page holds them too.
        assert auth.login("pilote").status_code == 303
        pilot_page = client.get(f"/groupe/{est.id}/progres").get_data(as_text=True)
        assert names.count("groups/_progress_figures.html") == 1
        figures = pages[0].get_data(as_text=True).split("Foyers engagés")[1].split("</section>")[0]
        assert figures and figures in pilot_page
        # Renaming the group publishes anew: the figures are rendered again, with its name.
        est.name = "Les LokoMotiv' (Est)"
        db.session.commit()
        assert auth.login("animateur-est").status_code == 303
        slides = client.get(f"/groupe/{est.id}/progres/projection").get_data(as_text=True)
        assert "Les LokoMotiv' (Est)" in slides.replace("&#39;", "'")
        assert names.count("groups/_projection_figures.html") == 2
    finally:
        template_rendered.disconnect(note, app)


def versions():
    """{défi id: version} of every défi."""
    ids = db.session.scalars(sa.select(Challenge.id)).all()
    db.session.rollback()  # what was committed since
    return cache.read_versions(db.session, ids)


def moved(before, after) -> set:
    """The défis whose version moved, "install" where the install's did."""
    ids = {id_ for id_ in before if before[id_][1] != after[id_][1]}
    if any(before[id_][0] != after[id_][0] for id_ in before):
        ids.add("install")
    return ids


def submitted_entry_of(challenge):
    from defi.models import Entry
    from defi.models import Household

    return db.session.scalar(
        sa.select(Entry)
        .join(Household)
        .where(Household.challenge_id == challenge.id, Entry.status == "submitted")
        .where(Entry.purchases.any(), Entry.answers.any())
        .limit(1)
    )


def new_purchase(entry):
    from defi.models import Purchase

    entry.purchases.append(Purchase(place_type="marche", total_cents=500))


CHANGES = {
    "household": lambda c, e: setattr(e.household, "adults", e.household.adults + 1),
    "accompaniment": lambda c, e: setattr(accompaniment_of(c), "label", "Foyer Nouveau"),
    "group": lambda c, e: setattr(c.groups[0], "name", "Les Pousses vertes"),
    "wave": lambda c, e: setattr(c.waves[0], "opens_on", c.waves[0].opens_on - timedelta(1)),
    "question": lambda c, e: setattr(e.answers[0].choice.question, "text", "Autre question ?"),
    "choice": lambda c, e: setattr(e.answers[0].choice, "label", "Autre choix"),
    "entry": lambda c, e: setattr(e, "period_days", 1 + (e.period_days or 7)),
    "purchase": lambda c, e: setattr(e.purchases[0], "total_cents", e.purchases[0].total_cents + 1),
    "answer": lambda c, e: db.session.delete(e.answers[0]),
    "new purchase": lambda c, e: new_purchase(e),
}


def accompaniment_of(challenge):
    from defi.models import Accompaniment
    from defi.models import Household

    return db.session.scalar(
        sa.select(Accompaniment).join(Household).where(Household.challenge_id == challenge.id)
    )


def test_each_kind_of_change_bumps_its_own_defi_alone(demo):
    """Every table whose change is published, changed through the ORM in the second territory:
    its défi's version moves, no other défi's, nor the install's."""
    second = second_challenge()
    for kind, change in CHANGES.items():
        before = versions()
        second = second_challenge()
        change(second, submitted_entry_of(second))
        db.session.commit()
        assert moved(before, versions()) == {second.id}, kind


def test_a_draft_and_its_rows_bump_nothing(demo):
    from defi.models import Entry

    second = second_challenge()
    foyer, wave = unsent(second)
    before = versions()
    draft = Entry(household_id=foyer.id, wave_id=wave.id, status="draft")
    db.session.add(draft)
    db.session.commit()
    new_purchase(draft)
    draft.period_days = 7
    db.session.commit()
    assert moved(before, versions()) == set()
    draft.status = "submitted"
    db.session.commit()
    assert moved(before, versions()) == {second.id}


def unsent(challenge):
    """A foyer of the défi and its end wave, for which it has no relevé."""
    from defi.models import Entry
    from defi.models import Household
    from defi.models import Wave

    wave = db.session.scalar(
        sa.select(Wave).where(Wave.challenge_id == challenge.id, Wave.rank == 3)
    )
    foyer = db.session.scalar(
        sa.select(Household)
        .where(Household.challenge_id == challenge.id)
        .where(~sa.exists().where(Entry.household_id == Household.id, Entry.wave_id == wave.id))
        .limit(1)
    )
    return foyer, wave


def test_statements_bump_every_defi_unless_sent_in_changing(demo):
    from defi.models import Household

    second = second_challenge()
    mine = sa.update(Household).where(Household.challenge_id == second.id).values(children=0)
    before = versions()
    db.session.execute(mine)
    db.session.commit()
    assert moved(before, versions()) == {"install"}  # its défi not known: every défi
    before = versions()
    with cache.changing(db.session, second.id):
        db.session.execute(mine)
    db.session.commit()
    assert moved(before, versions()) == {second.id}


def test_an_erased_foyer_bumps_its_defi_alone(demo):
    from defi.models import Household
    from defi.rights import erase_household

    second = second_challenge()
    foyer = db.session.scalar(sa.select(Household).where(Household.challenge_id == second.id))
    second_id, before = second.id, versions()
    erase_household(foyer)
    db.session.commit()
    assert moved(before, versions()) == {second_id}


def test_an_import_bumps_its_defi_alone(demo):
    """On SQLite its statements, on PostgreSQL its COPY: the imported défi's version alone."""
    from tests.test_import import import_entries
    from tests.test_import import releves

    import_entries(releves(3), "Défi d'avant")
    db.session.commit()
    imported = db.session.scalar(sa.select(Challenge).where(Challenge.name == "Défi d'avant"))
    before = versions()
    # New foyers and relevés alone: written by COPY on PostgreSQL, which no listener sees.
    assert import_entries(releves(30), "Défi d'avant")["created"] == 27
    db.session.commit()
    assert moved(before, versions()) == {imported.id}
    before = versions()
    counts = import_entries(releves(30, {4: {"jours": "7"}}), "Défi d'avant")
    db.session.commit()
    assert counts["updated"] == 1
    assert moved(before, versions()) == {imported.id}


def test_a_defi_made_under_a_deleted_defi_s_id_reads_its_own_figures(demo):
    """A défi made or deleted bumps its version (its waves are made or deleted with it): the
    figures kept under its id are not read for another défi of the same id."""
    from defi.figures import publication
    from defi.models import Wave
    from tests.conftest import territory_id

    def made(challenge_id=None):
        challenge = Challenge(id=challenge_id, territory_id=territory_id(), name="Défi éphémère")
        day = demo.waves[0].opens_on
        challenge.waves = [Wave(rank=rank, opens_on=day, closes_on=day) for rank in (1, 2, 3)]
        db.session.add(challenge)
        db.session.commit()
        return challenge

    first = made()
    kept = publication(first)
    assert publication(first) is kept
    first_id = first.id
    db.session.delete(first)
    db.session.commit()
    again = made(first_id)
    assert publication(again) is not kept
    assert publication(again) is publication(again)
    # Deleted by a statement too: every défi's version moves.
    before = versions()
    db.session.execute(sa.delete(Challenge).where(Challenge.id == first_id))
    db.session.commit()
    after = versions()
    assert after[demo.id][0] == before[demo.id][0] + 1


def test_the_network_computes_again_the_changed_defi_alone(demo, auth, client, monkeypatch):
    """A relevé sent in one territory: the coordinator's next page computes that défi's
    figures and the total again, and reads every other défi's as they were kept."""
    import defi.figures
    from defi.figures import publish
    from defi.models import Entry

    computed = []

    def counted(challenge, k):
        computed.append(challenge.id)
        return publish(challenge, k)

    monkeypatch.setattr(defi.figures, "publish", counted)
    assert auth.login("reseau").status_code == 303
    assert client.get("/reseau/comparaison").status_code == 200
    assert sorted(computed) == sorted(versions())  # every défi, once
    computed.clear()
    assert client.get("/reseau/comparaison").status_code == 200
    assert computed == []
    second = second_challenge()
    foyer, wave = unsent(second)
    db.session.add(Entry(household_id=foyer.id, wave_id=wave.id, status="submitted"))
    db.session.commit()
    assert client.get("/reseau/comparaison").status_code == 200
    assert computed == [second.id]


def test_the_versions_are_bumped_when_the_transaction_commits(demo):
    """Noted at each flush, bumped once at the commit (a version row is locked for the commit
    alone); a rollback bumps nothing."""
    from defi.models import ChallengeFiguresVersion

    second = second_challenge()
    own = sa.select(ChallengeFiguresVersion.version).where(
        ChallengeFiguresVersion.challenge_id == second.id
    )
    start = db.session.scalar(own) or 0
    entry = submitted_entry_of(second)
    entry.period_days = 1 + (entry.period_days or 7)
    db.session.flush()
    assert cache.changed(db.session, [second.id])
    assert (db.session.scalar(own) or 0) == start  # not written yet
    db.session.rollback()
    assert (db.session.scalar(own) or 0) == start
    assert not cache.changed(db.session, [second.id])
    entry = submitted_entry_of(second)
    entry.period_days = 1 + (entry.period_days or 7)
    db.session.commit()
    assert db.session.scalar(own) == start + 1


def test_figures_of_a_change_rolled_back_are_never_kept(demo):
    """Figures read in a transaction that changed them, flushed or not, in a savepoint or not,
    are made for it alone: after its rollback the committed figures are read again."""
    from defi.figures import publication

    second = second_challenge()
    kept = publication(second)  # the versions are read once in this transaction
    entry = submitted_entry_of(second)
    purchase = entry.purchases[0]
    purchase.total_cents += 10_000
    during = publication(second)  # not flushed yet: flushed first
    assert during is not kept
    db.session.rollback()
    second = second_challenge()
    assert publication(second) is kept
    with db.session.begin_nested():  # a savepoint released: still this transaction's change
        submitted_entry_of(second).purchases[0].total_cents += 10_000
    assert cache.changed(db.session, [second.id])
    assert publication(second) is not kept
    db.session.rollback()
    assert publication(second_challenge()) is kept
