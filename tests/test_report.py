"""The printed report (issue 13): its date, titles, questions in order, published figures only,
and attendance counted as the calendar counts it. Its 2 A4 pages are checked by printing it in
Chromium (tests/browser/test_report_pdf.py)."""

from datetime import date

import pytest
import sqlalchemy as sa

from defi.calendar.services import present_counts
from defi.extensions import db
from defi.formatting import day
from defi.formatting import today
from defi.models import Event
from defi.models import Group
from defi.models.challenge import current_challenge
from defi.pilot.services import event_attendance
from tests.conftest import page_text
from tests.conftest import territory_id
from tests.test_comparison import tables_of


@pytest.fixture
def pilot(demo, auth):
    assert auth.login("pilote").status_code == 303


def test_attendance_counts_accompanied_foyers_counted_at_the_door(app, pilot, client):
    challenge = current_challenge(territory_id())
    # The calendar's count, group by group: named foyers ticked plus accompanied ones counted.
    expected = {}
    for group in db.session.scalars(sa.select(Group)):
        for event_id, count in present_counts(group, [e.id for e in group_events()]).items():
            expected[event_id] = expected.get(event_id, 0) + count
    counted = {event.id: present for event, present in event_attendance(challenge)}
    assert counted == {event.id: expected.get(event.id, 0) for event in group_events()}
    grid = tables_of(client.get("/pilote/rapport"), "report-events")[0]
    with app.test_request_context():
        first = day(date(2021, 9, 18)).replace("\u00a0", " ")
    (launch,) = [cells for cells in grid if cells[0] == first]
    assert launch[1:] == ["Atelier : lancement et premières mesures", "Les LokoMotiv'", "15"]
    assert "comptés à l'entrée (sans leur nom)" in page_text(client.get("/pilote/rapport"))


def group_events():
    return db.session.scalars(sa.select(Event)).all()


def test_the_report_is_dated_titled_and_in_the_questionnaire_s_order(app, pilot, client):
    response = client.get("/pilote/rapport")
    assert response.status_code == 200
    html = page_text(response)
    with app.test_request_context():
        written = day(today()).replace("\u00a0", " ")
    assert f'Rapport établi le <time datetime="{today().isoformat()}">{written}</time>' in html
    titles = [
        "1. Foyers engagés",
        "2. Indicateurs, par groupe",
        "3. Les principaux indicateurs en graphiques",
        "4. Questionnaire (tous les groupes)",
        "5. Évènements et participation",
    ]
    positions = [html.index(title) for title in titles]
    assert positions == sorted(positions)
    for caption in (
        "<figcaption>Coût par repas et par personne (€)</figcaption>",
        "<figcaption>Part bio (% des dépenses)</figcaption>",
        "<figcaption>Part locale (% des dépenses)</figcaption>",
        "<figcaption>Gaspillage (kg par personne et par an)</figcaption>",
    ):
        assert caption in html
    questions = [
        "En mangeant local, est-ce que j'ai réussi à manger mieux ?",
        "Pour réduire l'impact de mon alimentation, j'agis sur :",
        "Avez-vous réussi à maintenir vos actions depuis la dernière collecte ?",
    ]
    positions = [html.index(f"<caption>{question}</caption>") for question in questions]
    assert positions == sorted(positions)
    # The open end wave is announced, its figures withheld.
    assert "La collecte 3 (fin) est en cours : ses chiffres seront publiés à sa clôture." in html


def test_a_dash_only_where_nothing_was_collected(pilot, client):
    response = client.get("/pilote/rapport")
    (indicators,) = tables_of(response, "report-indicators")
    assert (
        indicators[0][1:]
        == ["Graines d'idées"] * 3 + ["Les LokoMotiv'"] * 3 + ["Tous les groupes"] * 3
    )
    assert indicators[1] == ["Indicateur"] + ["Début", "Milieu", "Évolution"] * 3
    body = indicators[2:]
    assert [cells[0] for cells in body] == [
        "Coût par repas et par personne (€)",
        "Part bio (% des dépenses)",
        "Part locale (% des dépenses)",
        "Gaspillage (kg par personne et par an)",
        "Recettes partagées (nombre par foyer)",
        "Adresses de producteurs collectées (nombre par foyer)",
    ]
    # Every start and mid figure was collected: shown, or suppressed in words, never "—".
    for cells in body:
        for text in cells[1:]:
            assert text and text != "—", cells
    waste = body[3]
    assert waste[2] == waste[5] == "effectif trop faible"
    assert waste[3] == waste[6] == "effectif trop faible"
    # The territory's mid wave rests on 15 weighings, few of them in one group: the other
    # group's facilitator, who reads its own, would take them out (disclosure insiders).
    assert waste[8] == waste[9] == "effectif trop faible"
    assert body[1][9].endswith("points (n = 24)")
    # A question first asked at the mid wave: nothing was collected at the start.
    keeping = tables_of(response, "question-table")[2]
    assert [cells[1] for cells in keeping[1:]] == ["—", "—", "—"]
    assert all(cells[2].endswith("%") for cells in keeping[1:])


def test_the_print_css_numbers_the_pages_and_keeps_tables_whole(client):
    response = client.get("/static/app.css")
    css = response.get_data(as_text=True)
    response.close()
    assert '@bottom-right { content: counter(page) " / " counter(pages);' in css
    assert ".report { page: report;" in css
    assert "break-inside: avoid" in css
