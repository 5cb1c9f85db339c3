"""The referent's follow-up: each foyer's state at every wave, the days left, who needs a hand
first, and the paper relevé to print for a foyer that prefers paper.

The demo's accompanied foyers: the MJEP d'Isbergues accompanies EST-05 (taking part), EST-18 and
OUEST-09 (withdrawn); Noeux Environnement EST-12, OUEST-03 (taking part) and OUEST-15 (withdrawn).
Waves 1 and 2 were sent by every foyer still taking part; wave 3 opens today for 30 days.
"""

import html
import re
from datetime import datetime
from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.dates import format_date

from defi.collecte.forms import PRODUCER_KIND_LABELS
from defi.collecte.services import joined_rank
from defi.extensions import db
from defi.models import Entry
from defi.models import Household
from defi.models import Question
from defi.models import Wave
from defi.models.base import utcnow
from defi.models.collecte import CATEGORY_LABELS
from defi.models.collecte import PLACE_LABELS
from defi.models.collecte import PURPOSE_LABELS
from defi.referents.services import FollowUp
from defi.referents.services import WaveState
from defi.referents.services import joined_rank_of
from tests.conftest import demo_code
from tests.conftest import demo_wave
from tests.conftest import enrol_accompanied
from tests.conftest import new_household
from tests.conftest import page_text

MJEP_FOYERS = ("EST-05", "EST-18", "OUEST-09")
NOEUX_FOYERS = ("EST-12", "OUEST-03", "OUEST-15")
PARIS = ZoneInfo("Europe/Paris")


def paris_today():
    """Today as the app counts it: in France (a wave closes at midnight there)."""
    return datetime.now(PARIS).date()


def household(name) -> Household:
    return db.session.scalar(sa.select(Household).where(Household.code == demo_code(name)))


def wave(rank) -> Wave:
    return demo_wave(rank)


def entry(name, rank) -> Entry | None:
    return db.session.scalar(
        sa.select(Entry).where(
            Entry.household_id == household(name).id, Entry.wave_id == wave(rank).id
        )
    )


def medium(day) -> str:
    """ "28 sept. 2021", "1er oct. 2021": a day as the app writes it, from Babel directly."""
    if isinstance(day, datetime):  # stored in UTC, shown as its day in France
        day = day.replace(tzinfo=ZoneInfo("UTC")).astimezone(PARIS).date()
    text = format_date(day, "medium", locale="fr")
    return "1er" + text[1:] if day.day == 1 else text


def long(day) -> str:
    """ "29 décembre" this year, "3 janvier 2027" another year."""
    pattern = "d MMMM" if day.year == paris_today().year else "d MMMM y"
    text = format_date(day, pattern, locale="fr")
    return "1er" + text[1:] if day.day == 1 else text


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def plain(response) -> str:
    """The page's words alone, without its tags, spaces squashed."""
    return squash(re.sub(r"<[^>]+>", " ", page_text(response)))


def cards(response) -> list[tuple[str, str]]:
    """(foyer name, the card's text) of each foyer on the referent's home, in their order."""
    body = response.get_data(as_text=True)
    found = []
    for block in re.findall(r'<article class="followup-card.*?</article>', body, re.DOTALL):
        text = squash(html.unescape(re.sub(r"<[^>]+>", " ", block)).replace("\u00a0", " "))
        name = squash(html.unescape(re.search(r"<h3[^>]*>(.*?)</h3>", block, re.DOTALL)[1]))
        found.append((re.sub(r"<[^>]+>", "", name).strip(), text))
    return found


def card_of(response, name) -> str:
    return dict(cards(response))[household(name).display_name]


def sent(name, rank) -> str:
    found = entry(name, rank)
    who = "saisie accompagnée" if found.assisted else "par le foyer"
    return f"envoyé le {medium(found.submitted_at)}, {who}"


def withdrawn(name) -> str:
    return f"retiré du défi le {medium(household(name).withdrawn_on)}"


def days_left_text() -> str:
    left = (wave(3).closes_on - paris_today()).days
    return f"Encore {left} jours, jusqu'au {long(wave(3).closes_on)}"


# Every wave's state


def test_the_mjep_referent_sees_every_wave_of_each_of_its_foyers(demo, client, auth):
    auth.login("referent-mjep")
    response = client.get("/accompagnement/")
    assert response.status_code == 200
    est05 = card_of(response, "EST-05")
    assert "Les LokoMotiv'" in est05
    assert demo_code("EST-05") in est05
    assert f"Collecte 1 — début : {sent('EST-05', 1)}" in est05
    assert f"Collecte 2 — milieu : {sent('EST-05', 2)}" in est05
    assert "Collecte 3 — fin : pas commencé" in est05
    assert "Encore 30 jours, jusqu'au " + long(paris_today() + timedelta(days=30)) in est05
    assert days_left_text() in est05
    assert "Remplir son relevé avec lui" in est05
    # Withdrawn between the first two waves: the first one sent, the others not asked for.
    for name, group in (("EST-18", "Les LokoMotiv'"), ("OUEST-09", "Graines d'idées")):
        text = card_of(response, name)
        assert group in text
        assert f"Collecte 1 — début : {sent(name, 1)}" in text
        assert f"Collecte 2 — milieu : {withdrawn(name)}" in text
        assert f"Collecte 3 — fin : {withdrawn(name)}" in text
        assert withdrawn(name).capitalize() in text  # its headline
        assert "Remplir son relevé" not in text
        assert "Relevé papier" not in text
    links = response.get_data(as_text=True)
    assert f"/collecte/foyer/{household('EST-05').id}/3/repas" in links
    assert f"/accompagnement/foyers/{household('EST-05').id}/releve-papier?collecte=3" in links
    assert f"/accompagnement/foyers/{household('EST-18').id}/releve-papier" not in links


def test_the_noeux_referent_sees_its_foyers_in_two_groups(demo, client, auth):
    auth.login("referent-noeux")
    response = client.get("/accompagnement/")
    assert response.status_code == 200
    assert [name for name, _text in cards(response)] == [
        household(name).display_name for name in ("OUEST-03", "EST-12", "OUEST-15")
    ]
    for name, group in (("EST-12", "Les LokoMotiv'"), ("OUEST-03", "Graines d'idées")):
        text = card_of(response, name)
        assert group in text
        assert f"Collecte 1 — début : {sent(name, 1)}" in text
        assert f"Collecte 2 — milieu : {sent(name, 2)}" in text
        assert "Collecte 3 — fin : pas commencé" in text
        assert days_left_text() in text
    text = card_of(response, "OUEST-15")
    assert "Graines d'idées" in text
    assert f"Collecte 2 — milieu : {withdrawn('OUEST-15')}" in text
    assert "2 foyers n'ont pas encore envoyé leur relevé de la collecte ouverte" in page_text(
        response
    )


def test_a_draft_shows_its_last_change_and_who_typed_it(demo, client, auth):
    # The referent starts EST-12's relevé with the foyer, and OUEST-03 starts its own.
    auth.login("referent-noeux")
    est12 = household("EST-12")
    response = client.post(f"/collecte/foyer/{est12.id}/3/repas", data={"period_days": "14"})
    assert response.status_code in (200, 303)
    auth.logout()
    auth.login("foyer-ouest-03")
    response = client.post("/collecte/3/repas", data={"period_days": "7"})
    assert response.status_code in (200, 303)
    auth.logout()
    auth.login("referent-noeux")
    response = client.get("/accompagnement/")
    assert response.status_code == 200
    today = medium(paris_today())
    est12_card = card_of(response, "EST-12")
    assert f"Collecte 3 — fin : brouillon, modifié le {today}, saisie accompagnée" in est12_card
    assert "Continuer son relevé avec lui" in est12_card
    ouest03_card = card_of(response, "OUEST-03")
    assert f"Collecte 3 — fin : brouillon, modifié le {today}, par le foyer" in ouest03_card
    # The two drafts still need a hand; the one typed by nobody's hand since… ties by group.
    assert [name for name, _text in cards(response)] == [
        household(name).display_name for name in ("OUEST-03", "EST-12", "OUEST-15")
    ]


def test_a_relevé_sent_with_the_referent_says_so_and_goes_down_the_list(demo, client, auth):
    found = Entry(household=household("EST-12"), wave=wave(3), status="submitted", assisted=True)
    found.submitted_at = utcnow()
    found.submission_id = "envoi-test"
    db.session.add(found)
    db.session.commit()
    auth.login("referent-noeux")
    response = client.get("/accompagnement/")
    assert response.status_code == 200
    text = card_of(response, "EST-12")
    assert f"Collecte 3 — fin : envoyé le {medium(paris_today())}, saisie accompagnée" in text
    assert "Revoir son relevé avec lui" in text
    assert [name for name, _text in cards(response)] == [
        household(name).display_name for name in ("OUEST-03", "EST-12", "OUEST-15")
    ]
    assert "1 foyer n'a pas encore envoyé son relevé de la collecte ouverte" in page_text(response)
    # A draft of the open wave comes before a foyer that sent it, whatever their names.
    found.status = "draft"
    other = Entry(household=household("OUEST-03"), wave=wave(3), status="submitted")
    other.submitted_at, other.submission_id = utcnow(), "envoi-test-2"
    db.session.add(other)
    db.session.commit()
    response = client.get("/accompagnement/")
    assert [name for name, _text in cards(response)] == [
        household(name).display_name for name in ("EST-12", "OUEST-03", "OUEST-15")
    ]


def test_a_foyer_enrolled_now_has_its_first_waves_before_its_arrival(demo, client, auth):
    est = household("EST-05").group
    enrol_accompanied(client, auth, est, name="Famille Nouvelle")
    response = client.get("/accompagnement/")
    assert response.status_code == 200
    text = dict(cards(response))["Famille Nouvelle"]
    assert "Collecte 1 — début : avant son arrivée dans le défi" in text
    assert "Collecte 2 — milieu : avant son arrivée dans le défi" in text
    assert "Collecte 3 — fin : pas commencé" in text
    assert "Compte : pas encore de compte" in text
    # Not started, 30 days left, like EST-05: by group, then by name.
    names = [name for name, _text in cards(response)]
    assert names[:2] == sorted([household("EST-05").display_name, "Famille Nouvelle"])


def test_the_bulk_joined_rank_is_the_collecte_one(demo, client, auth, app):
    enrol_accompanied(client, auth, household("EST-05").group, name="Famille Nouvelle")
    waves = [demo_wave(rank) for rank in (1, 2, 3)]
    foyers = [household(name) for name in MJEP_FOYERS + NOEUX_FOYERS] + [new_household("EST")]
    for foyer in foyers:
        entries = {found.wave_id: found for found in db.session.scalars(
            sa.select(Entry).where(Entry.household_id == foyer.id))}  # fmt: skip
        assert joined_rank_of(foyer, waves, entries) == joined_rank(foyer)
    assert joined_rank(foyers[-1]) == 3


# Days left at the open wave, from its closing date and today in France


@pytest.mark.parametrize(
    ("opens", "closes", "manual", "expected"),
    [
        (0, 12, None, "Encore 12 jours, jusqu'au {closes}"),
        (-5, 1, None, "Encore 1 jour, jusqu'au {closes}"),
        (-5, 0, None, "Dernier jour"),
        (-40, -10, None, "Close depuis le {closes}"),
        (3, 20, None, "Ouvre le {opens}"),
        (-40, -10, "open", "Ouverte jusqu'à ce que la cheffe de projet la ferme"),
        (0, 12, "closed", "Close depuis le {closes}"),
    ],
)
def test_days_left_at_the_wave_of_the_moment(demo, client, auth, opens, closes, manual, expected):
    today = paris_today()
    end = wave(3)
    end.opens_on, end.closes_on = today + timedelta(days=opens), today + timedelta(days=closes)
    end.manual_state = manual
    db.session.commit()
    auth.login("referent-mjep")
    response = client.get("/accompagnement/")
    assert response.status_code == 200
    text = card_of(response, "EST-05")
    wanted = expected.format(closes=long(end.closes_on), opens=long(end.opens_on))
    assert wanted in text
    state = {
        "Encore": "pas commencé",
        "Dernier": "pas commencé",
        "Ouverte": "pas commencé",
        "Close": "pas de relevé",
        "Ouvre": f"à venir, du {medium(end.opens_on)} au {medium(end.closes_on)}",
    }[expected.split()[0]]
    assert f"Collecte 3 — fin : {state}" in text
    assert ("Remplir son relevé avec lui" in text) == (state == "pas commencé")
    assert ("Relevé papier à imprimer" in text) == (not expected.startswith("Close"))


def follow(active=True, kind="not_started", days=10, group="G", name="N", is_open=True):
    """A FollowUp as the service builds it, for the order alone."""
    foyer = SimpleNamespace(is_active=active, display_name=name, code=name)
    state = WaveState(wave=None, kind=kind, text="")
    group = SimpleNamespace(name=group)
    return FollowUp(foyer, group, None, None, [state], state, "", days, is_open)


def test_the_ones_that_need_a_hand_come_first():
    items = {
        "sent": follow(kind="sent", days=2, name="A"),
        "withdrawn": follow(active=False, kind="withdrawn", days=None, name="A"),
        "draft, 3 days": follow(kind="draft", days=3, name="Z"),
        "not started, 3 days": follow(kind="not_started", days=3, name="Z"),
        "not started, 20 days": follow(kind="not_started", days=20, name="A"),
        "draft, last day": follow(kind="draft", days=0, name="Z"),
        "no wave open": follow(kind="none", days=None, is_open=False, name="B"),
        "open by hand": follow(kind="not_started", days=None, name="A"),
    }
    ordered = sorted(items, key=lambda key: items[key].sort_key())
    assert ordered == [
        "draft, last day",
        "not started, 3 days",
        "draft, 3 days",
        "not started, 20 days",
        "open by hand",
        "sent",
        "no wave open",
        "withdrawn",
    ]


# Nothing of another structure


def test_nothing_of_another_structure_on_the_referent_home(demo, client, auth):
    auth.login("referent-mjep")
    response = client.get("/accompagnement/")
    assert response.status_code == 200
    body = page_text(response)
    for name in NOEUX_FOYERS + ("EST-01", "OUEST-01"):  # the other structure's, and named ones
        foyer = household(name)
        assert foyer.display_name not in body, name
        assert foyer.code not in body, name
        assert f"/{foyer.id}/" not in body, name
    assert "Noeux Environnement" not in body
    assert len(cards(response)) == 3


# The paper relevé


def paper(client, name, query=""):
    return client.get(f"/accompagnement/foyers/{household(name).id}/releve-papier{query}")


def positions(text, items):
    return [text.index(str(item)) for item in items]


def test_the_paper_relevé_has_every_section_place_and_question_in_order(demo, client, auth):
    auth.login("referent-mjep")
    response = paper(client, "EST-05")
    assert response.status_code == 200
    text = plain(response)
    foyer = household("EST-05")
    assert f"{foyer.display_name} · Les LokoMotiv' · {foyer.code}" in text
    end = wave(3)
    assert "Relevé de la collecte 3 — fin" in text
    assert f"collecte du {medium(end.opens_on)} au {medium(end.closes_on)}" in text
    assert "comme saisie accompagnée" in text
    assert f"http://localhost/collecte/foyer/{foyer.id}/3/repas" in text
    sections = ["1. Repas et achats", "2. Pesées du gaspillage", "3. Recettes",
                "4. Producteurs locaux", "5. Questionnaire", "6. Envoi"]  # fmt: skip
    assert positions(text, sections) == sorted(positions(text, sections))
    for words in (
        "Personnes dans le foyer pendant la période",
        "Nombre de jours de la période",
        "Repas pris à la maison par jour",
        "Repas-convives de la période",
        "J'ai gardé mes tickets : je note mes achats",
        "Je n'ai pas de tickets : je donne le coût d'un repas",
        "Coût d'un repas par personne (€)",
        "Montant total (€)",
        "Dont bio (€)",
        "Dont local (€)",
        "Poids (kg)",
        "Titre de la recette",
        "Ingrédients",
        "Étapes",
        "Nom du producteur",
        "Ce qu'il vend",
        "Contact (téléphone, site…)",
    ):
        assert words in text, words
    body = text
    for labels in (PLACE_LABELS, CATEGORY_LABELS, PURPOSE_LABELS, PRODUCER_KIND_LABELS):
        listed = " ".join(str(label) for label in labels.values())
        assert listed in body, listed  # every choice, in the phone's order
    # 8 receipts of 11 places, 8 weighings of 3 categories, each with its boxes.
    assert body.count(str(PLACE_LABELS["epicerie_solidaire"])) == 8
    assert body.count(str(CATEGORY_LABELS["non_evitable"])) == 8
    questions = db.session.scalars(
        sa.select(Question).where(Question.challenge_id == demo.id).order_by(Question.position)
    ).all()
    assert len(questions) == 3
    expected = []
    for number, question in enumerate(questions, start=1):
        expected.append(f"{number}. {question.text}")
        expected += [choice.label for choice in question.choices]
    assert positions(body, expected) == sorted(positions(body, expected))
    assert "Une seule réponse." in text and "Plusieurs réponses possibles." in text


def test_the_paper_relevé_asks_the_questions_of_that_wave_for_that_foyer(demo, client, auth):
    maintien = "Avez-vous réussi à maintenir vos actions depuis la dernière collecte ?"
    auth.login("referent-mjep")
    first = paper(client, "EST-05", "?collecte=1")
    assert first.status_code == 200
    assert "Relevé de la collecte 1 — début" in page_text(first)
    assert maintien not in page_text(first)  # asked from the second wave on
    assert maintien in page_text(paper(client, "EST-05", "?collecte=2"))
    # A foyer that joins at the end wave: its first relevé, so not asked there either.
    enrol_accompanied(client, auth, household("EST-05").group, name="Famille Nouvelle")
    late = new_household("EST")
    response = client.get(f"/accompagnement/foyers/{late.id}/releve-papier")
    assert response.status_code == 200
    assert "Famille Nouvelle" in page_text(response)
    assert "Relevé de la collecte 3 — fin" in page_text(response)
    assert maintien not in page_text(response)
    assert "En mangeant local, est-ce que j'ai réussi à manger mieux ?" in page_text(response)


@pytest.mark.parametrize(
    ("query", "status"),
    [("?collecte=9", 404), ("?collecte=0", 404), ("?collecte=abc", 200), ("?collecte=", 200)],
)
def test_the_paper_relevé_of_an_unknown_wave(demo, client, auth, query, status):
    auth.login("referent-mjep")
    response = paper(client, "EST-05", query)
    assert response.status_code == status
    if status == 200:  # the open wave
        assert "Relevé de la collecte 3 — fin" in page_text(response)


def test_the_next_wave_is_printed_when_none_is_open(demo, client, auth):
    today = paris_today()
    end = wave(3)
    end.opens_on, end.closes_on = today + timedelta(days=5), today + timedelta(days=35)
    db.session.commit()
    auth.login("referent-noeux")
    response = paper(client, "EST-12")
    assert response.status_code == 200
    assert "Relevé de la collecte 3 — fin" in page_text(response)
    assert "ne pourra plus être saisi" not in page_text(response)


@pytest.mark.parametrize("name", ["EST-12", "OUEST-03", "EST-01", "OUEST-01"])
def test_another_structures_or_a_named_foyer_paper_relevé_is_not_found(demo, client, auth, name):
    auth.login("referent-mjep")
    response = paper(client, name)
    assert response.status_code == 404
    assert household(name).display_name not in page_text(response)


def test_an_unknown_foyer_paper_relevé_is_not_found(demo, client, auth):
    auth.login("referent-mjep")
    assert client.get("/accompagnement/foyers/999/releve-papier").status_code == 404


@pytest.mark.parametrize("username", ["animateur-est", "animatrice-ouest", "pilote",
                                      "foyer-est-05", "foyer-est-01"])  # fmt: skip
def test_other_roles_cannot_print_a_paper_relevé(demo, client, auth, username):
    auth.login(username)
    response = paper(client, "EST-05")
    assert response.status_code == 403
    assert household("EST-05").display_name not in page_text(response)
    assert client.get("/accompagnement/").status_code == 403


def test_anonymous_is_sent_to_the_login(demo, client):
    response = paper(client, "EST-05")
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]


def test_a_paper_relevé_says_to_type_it_in_only_where_it_still_can_be(demo, client, auth):
    auth.login("referent-mjep")
    typed_in = "À saisir ensuite sur le site avec le foyer"
    assert typed_in in plain(paper(client, "EST-05", "?collecte=3"))
    closed = plain(paper(client, "EST-05", "?collecte=1"))
    assert "Cette collecte est close" in closed and typed_in not in closed


def test_a_referent_with_many_foyers_sees_them_a_page_at_a_time(demo, client, auth):
    """The neediest first, 25 a page; a search by name or code finds any of them."""
    from defi.households import accompany
    from defi.households import create_household
    from defi.models import Group
    from defi.models import Structure
    from defi.paging import FOYERS_PER_PAGE
    from defi.referents.services import follow_up

    mjep = db.session.scalar(sa.select(Structure).where(Structure.name.like("MJEP%")))
    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    added = []
    for number in range(30):
        foyer = create_household(est, display_name=f"Famille Élan {number:02d}", adults=1)
        accompany(foyer, mjep)
        added.append(foyer)
    db.session.commit()
    auth.login("referent-mjep")
    cards = re.compile(r'<h3 id="foyer-(\d+)">')
    with client.application.test_request_context():
        from flask_login import login_user

        from defi.models import User

        login_user(db.session.scalar(sa.select(User).where(User.username == "referent-mjep")))
        order = [item.household.id for item in follow_up()]
    assert len(order) == 33
    first = client.get("/accompagnement/").get_data(as_text=True)
    second = client.get("/accompagnement/?page=2").get_data(as_text=True)
    assert [int(i) for i in cards.findall(first)] == order[:FOYERS_PER_PAGE]
    assert [int(i) for i in cards.findall(second)] == order[FOYERS_PER_PAGE:]
    assert "Page 1 sur 2" in page_text(client.get("/accompagnement/"))
    assert 'href="/accompagnement/?page=2#followup-title" rel="next"' in first
    found = client.get("/accompagnement/", query_string={"q": "ELAN 1"})
    assert [int(i) for i in cards.findall(found.get_data(as_text=True))] == [
        foyer.id for foyer in sorted(added[10:20], key=lambda f: order.index(f.id))
    ]
    assert "10 foyers trouvés pour « ELAN 1 »." in page_text(found)
    code = client.get("/accompagnement/", query_string={"q": added[3].code.lower()})
    assert [int(i) for i in cards.findall(code.get_data(as_text=True))] == [added[3].id]


def test_the_referents_foyers_are_in_french_order_among_equals(demo, client, auth):
    """Among foyers as urgent as each other, by name with accents and case set aside."""
    from defi.households import accompany
    from defi.households import create_household
    from defi.models import Group
    from defi.models import Structure

    mjep = db.session.scalar(sa.select(Structure).where(Structure.name.like("MJEP%")))
    est = db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))
    for name in ("Ordre Zorro", "ordre adèle", "Ordre Émile"):
        accompany(create_household(est, display_name=name, adults=1), mjep)
    db.session.commit()
    auth.login("referent-mjep")
    page = client.get("/accompagnement/", query_string={"q": "ordre"}).get_data(as_text=True)
    names = re.findall(r'<h3 id="foyer-\d+"><a [^>]*>([^<]+)</a>', page)
    assert [html.unescape(name) for name in names] == ["ordre adèle", "Ordre Émile", "Ordre Zorro"]
