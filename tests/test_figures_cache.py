"""Figures computed once, read many times, and never stale.

The publication of a défi is computed once per version of what is published
(`figures/cache.py`); a sent relevé, a foyer or an accompaniment bumps the version in its own
transaction, a draft being typed does not.
"""

import re
from datetime import timedelta

import sqlalchemy as sa

from defi.extensions import db
from defi.figures import cache
from defi.models import Group
from tests.conftest import enrol_accompanied
from tests.test_collecte import complete_relevé


def version():
    return cache.current_version(db.session)


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
    assert version() > start
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
    assert version() == start + 1
    enrol_accompanied(client, auth, est)
    assert version() == start + 2


def test_a_missing_version_row_is_made_again_by_the_next_change(demo, auth, client):
    from defi.models import FiguresVersion

    db.session.execute(sa.delete(FiguresVersion))
    db.session.commit()
    assert version() is None  # pages compute the figures afresh meanwhile
    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    assert auth.login("animateur-est").status_code == 303
    response = client.post(
        f"/groupe/{est.id}/inviter",
        data={"display_name": "Famille Nouvelle", "adults": "1", "children": "0"},
    )
    assert response.status_code == 200
    assert version() == 1


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
