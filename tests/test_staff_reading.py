"""Staff read what DESIGN.md's matrix gives them: the recipe book, the producer directory and
the calendar of a group (its facilitators, its foyers' referents, the pilot), its progress (its
facilitators, the pilot); and the facilitator prints an attendance sheet per event."""

import html
import re

import pytest
import sqlalchemy as sa

from defi.calendar import services as calendar_services
from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Challenge
from defi.models import Entry
from defi.models import Event
from defi.models import Group
from defi.models import Household
from defi.models import Membership
from defi.models import Producer
from defi.models import Recipe
from defi.models import User
from defi.models import Wave
from defi.producers import dedup_key
from tests.conftest import demo_code
from tests.conftest import territory_id

HTMX = {"HX-Request": "true"}
BOOK = "/collecte/equipe/recettes"
DIRECTORY = "/collecte/equipe/producteurs"
EST_ONLY = "Visite de la Ferme du Bois"
OUEST_ONLY = "Visite du Verger Delobel"
FORM_CONTROLS = re.compile(r"<(form|input|button|select|textarea)\b")


def main_of(response) -> str:
    """The page's <main>, as HTML: the header's account menu (a logout form) left out."""
    found = re.search(r"<main\b.*?</main>", response.get_data(as_text=True), re.DOTALL)
    assert found
    return found.group(0)


def words(fragment: str) -> str:
    """The text of some HTML, entities decoded, spaces (French non-breaking ones too) single."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", fragment))
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


def group(prefix) -> Group:
    return db.session.scalar(sa.select(Group).where(Group.code_prefix == prefix))


def household(name) -> Household:
    return db.session.scalar(sa.select(Household).where(Household.code == demo_code(name)))


def entry_of(name, rank=1) -> Entry:
    return db.session.scalar(
        sa.select(Entry)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Entry.household_id == household(name).id, Wave.rank == rank)
    )


def titles(response) -> list[str]:
    """The cards' titles of a book or directory page, in order."""
    return [words(title) for title in re.findall(r"<article>\s*<h2>(.*?)</h2>", response.text)]


@pytest.fixture
def shelves(demo):
    """Known recipes and producers: Est's written by a named foyer and by an accompanied one
    (EST-05, the MJEP's), Ouest's by a named foyer; the demo's own removed."""
    db.session.execute(sa.delete(Recipe))
    db.session.execute(sa.delete(Producer))
    named, accompanied, west = entry_of("EST-01"), entry_of("EST-05"), entry_of("OUEST-01")
    for number in range(1, 13):
        named.recipes.append(
            Recipe(title=f"Recette Est {number:02d}", purpose="restes", ingredients="poireaux")
        )
    accompanied.recipes.append(
        Recipe(title="Soupe du label", purpose="conserver", ingredients="rhubarbe")
    )
    west.recipes.append(Recipe(title="Recette de l'Ouest", purpose="restes"))
    for entry, name in ((named, "Ferme du Bois"), (accompanied, "Ferme du Bois"),
                        (west, "Verger Delobel")):  # fmt: skip
        entry.producers.append(
            Producer(name=name, kind="ferme", commune="Beuvry", products="pommes",
                     dedup_key=dedup_key(name, "Beuvry"))
        )  # fmt: skip
    db.session.commit()


@pytest.fixture
def lonely_group(demo):
    """A third group of the current défi, without a foyer of any structure."""
    challenge = db.session.scalar(sa.select(Challenge).where(Challenge.is_current))
    nord = Group(
        challenge_id=challenge.id, name="Les Jardiniers", sector="Nord", code_prefix="NORD"
    )
    db.session.add(nord)
    db.session.commit()
    return nord


def authors_identities() -> list[str]:
    """Everything that names the demo's foyers: display names, codes and labels."""
    names = db.session.execute(sa.select(Household.display_name, Household.code)).all()
    labels = db.session.scalars(sa.select(Accompaniment.label)).all()
    return [value for row in names for value in row] + list(labels)


# The recipe book and the producer directory


@pytest.mark.parametrize("username", ["animateur-est", "referent-mjep", "pilote"])
def test_staff_read_the_book_and_the_directory_of_a_group(shelves, client, auth, username):
    est = group("EST")
    auth.login(username)
    book = client.get(BOOK, query_string={"groupe": est.id})
    assert book.status_code == 200
    assert words(main_of(book)).count("Les LokoMotiv' · Secteur Est") == 1
    assert "13 recettes" in words(main_of(book))
    # Ten a page, by title: the accompanied foyer's recipe is in the book like any other.
    assert titles(book) == [f"Recette Est {n:02d}" for n in range(1, 11)]
    second = client.get(BOOK, query_string={"groupe": est.id, "page": 2})
    assert titles(second) == ["Recette Est 11", "Recette Est 12", "Soupe du label"]
    found = client.get(BOOK, query_string={"groupe": est.id, "q": "rhubarbe"})
    assert titles(found) == ["Soupe du label"]
    directory = client.get(DIRECTORY, query_string={"groupe": est.id})
    assert directory.status_code == 200
    # One card for the farm both foyers gave, counted, never named.
    assert titles(directory) == ["Ferme du Bois"]
    assert "signalé par 2 foyers" in words(main_of(directory))
    for page in (book, second, found, directory):
        text = words(main_of(page))
        assert "Recette de l'Ouest" not in text and "Verger Delobel" not in text
        for identity in authors_identities():
            assert identity not in text, (username, identity)


def test_the_chosen_group_stays_in_the_search_and_the_pages(shelves, client, auth):
    est = group("EST")
    auth.login("pilote")
    page = client.get(BOOK, query_string={"groupe": est.id})
    main = main_of(page)
    assert f'<input type="hidden" name="groupe" value="{est.id}">' in main
    assert f'href="/collecte/equipe/recettes?groupe={est.id}&amp;page=2"' in main
    fragment = client.get(BOOK, query_string={"groupe": est.id, "q": "Est 1"}, headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert titles(fragment) == ["Recette Est 10", "Recette Est 11", "Recette Est 12"]
    directory = client.get(DIRECTORY, query_string={"groupe": est.id, "kind": "ferme"})
    assert f'<input type="hidden" name="groupe" value="{est.id}">' in main_of(directory)


def test_the_group_chooser_lists_the_groups_in_reach(shelves, lonely_group, client, auth):
    est, ouest = group("EST"), group("OUEST")
    auth.login("pilote")
    # Without a group asked for: the first of the current défi's, by name.
    page = client.get(DIRECTORY)
    assert page.status_code == 200
    chooser = re.search(r'<nav aria-label="Groupes">(.*?)</nav>', main_of(page), re.DOTALL)
    assert words(chooser.group(1)) == "Graines d'idées Les Jardiniers Les LokoMotiv'"
    assert f'href="/collecte/equipe/producteurs?groupe={ouest.id}" aria-current="page"' in (
        chooser.group(1)
    )
    assert titles(page) == ["Verger Delobel"]
    assert client.get(DIRECTORY, query_string={"groupe": lonely_group.id}).status_code == 200
    auth.logout()
    # A facilitator of one group has nothing to choose.
    auth.login("animateur-est")
    page = client.get(BOOK)
    assert page.status_code == 200
    assert 'aria-label="Groupes"' not in page.text
    assert f'name="groupe" value="{est.id}"' in page.text


def test_a_facilitator_of_two_groups_chooses(shelves, client, auth):
    facilitator = db.session.scalar(sa.select(User).where(User.username == "animateur-est"))
    db.session.add(Membership(user=facilitator, role="facilitator", group_id=group("OUEST").id))
    db.session.commit()
    auth.login("animateur-est")
    page = client.get(BOOK, query_string={"groupe": group("OUEST").id})
    assert page.status_code == 200
    assert titles(page) == ["Recette de l'Ouest"]
    assert 'aria-label="Groupes"' in page.text


@pytest.mark.parametrize("url", [BOOK, DIRECTORY])
@pytest.mark.parametrize(
    ("username", "prefix"),
    [("animateur-est", "OUEST"), ("animatrice-ouest", "EST"), ("referent-mjep", "NORD")],
)
def test_a_group_out_of_reach_is_a_404(shelves, lonely_group, client, auth, url, username, prefix):
    auth.login(username)
    response = client.get(url, query_string={"groupe": group(prefix).id})
    assert response.status_code == 404
    assert "Recette" not in response.text and "Verger" not in response.text


@pytest.mark.parametrize("value", ["abc", "-1", "", str(2**63), "1.5"])
def test_a_bad_group_parameter_is_a_404(shelves, client, auth, value):
    auth.login("pilote")
    assert client.get(BOOK, query_string={"groupe": value}).status_code == 404
    assert client.get(DIRECTORY, query_string={"groupe": value}).status_code == 404


def test_a_referent_without_foyers_has_no_group_to_read(shelves, client, auth):
    db.session.execute(sa.delete(Accompaniment))
    db.session.commit()
    auth.login("referent-mjep")
    assert client.get(BOOK).status_code == 404
    assert client.get(f"/calendrier/groupe/{group('EST').id}").status_code == 404


@pytest.mark.parametrize("username", ["foyer-est-01", "foyer-est-05"])
def test_foyers_keep_their_own_book_and_not_the_staffs(shelves, client, auth, username):
    auth.login(username)
    assert client.get(BOOK).status_code == 403
    assert client.get(DIRECTORY, query_string={"groupe": group("EST").id}).status_code == 403
    own = client.get("/collecte/recettes")
    assert own.status_code == 200
    assert titles(own)[:2] == ["Recette Est 01", "Recette Est 02"]


@pytest.mark.parametrize("username", ["animateur-est", "referent-mjep", "pilote"])
def test_staff_keep_off_the_foyers_own_book(shelves, client, auth, username):
    auth.login(username)
    assert client.get("/collecte/recettes").status_code == 403
    assert client.get("/collecte/producteurs").status_code == 403


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(BOOK)
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]


# The group's progress


def sections(response) -> list[str]:
    return re.findall(r"<section\b.*?</section>", main_of(response), re.DOTALL)


def test_the_pilot_reads_every_groups_progress_as_its_facilitator_does(demo, client, auth):
    for prefix, facilitator in (("EST", "animateur-est"), ("OUEST", "animatrice-ouest")):
        url = f"/groupe/{group(prefix).id}/progres"
        auth.login(facilitator)
        theirs = client.get(url)
        auth.logout()
        auth.login("pilote")
        pilots = client.get(url)
        auth.logout()
        assert theirs.status_code == pilots.status_code == 200
        # The same published figures, section by section.
        assert sections(pilots) == sections(theirs)
        assert len(sections(pilots)) >= 8
    text = words(main_of(pilots))
    assert "Graines d'idées" in text
    # Retention of Graines d'idées: 20 enrolled, 20 then 8 relevés sent.
    assert "Tous 20 20 8 0" in text
    assert 'href="/pilote/"' in main_of(pilots)
    assert f'/groupe/{group("OUEST").id}"' not in main_of(pilots)


def test_progress_is_refused_to_others(demo, client, auth):
    est = group("EST")
    auth.login("animatrice-ouest")
    assert client.get(f"/groupe/{est.id}/progres").status_code == 404
    auth.logout()
    for username in ("referent-mjep", "foyer-est-01"):
        auth.login(username)
        assert client.get(f"/groupe/{est.id}/progres").status_code == 403
        auth.logout()


def test_the_pilot_reads_only_the_current_defis_groups(demo, client, auth):
    other = Challenge(name="Un autre défi", territory_id=territory_id())
    other.groups.append(Group(name="Ailleurs", code_prefix="AIL"))
    db.session.add(other)
    db.session.commit()
    auth.login("pilote")
    assert client.get(f"/groupe/{other.groups[0].id}/progres").status_code == 404
    assert client.get(f"/calendrier/groupe/{other.groups[0].id}").status_code == 404
    assert client.get(BOOK, query_string={"groupe": other.groups[0].id}).status_code == 404


# The calendar, read only


def event_cards(response) -> dict[str, str]:
    """{event title: its card's text}."""
    cards = re.findall(r'<article class="event">.*?</article>', main_of(response), re.DOTALL)
    return {
        words(re.search(r'class="event-title[^"]*">(.*?)</h3>', card).group(1)): words(card)
        for card in cards
    }


@pytest.mark.parametrize(("username", "prefix"), [("pilote", "OUEST"), ("pilote", "EST"),
                                                  ("referent-mjep", "EST")])  # fmt: skip
def test_read_only_calendar(demo, client, auth, username, prefix):
    target = group(prefix)
    auth.login(username)
    response = client.get(f"/calendrier/groupe/{target.id}")
    assert response.status_code == 200
    main = main_of(response)
    assert "Calendrier du groupe" in words(main)
    # No control to create, edit, cancel or tick; no link to a page with names.
    assert not FORM_CONTROLS.search(main)
    for forbidden in ("/nouveau", "/presences", "/annulation", "/feuille", "/abonnement"):
        assert forbidden not in main
    events = calendar_services.group_events([target.id])
    counts = calendar_services.present_counts(target, [event.id for event in events])
    cards = event_cards(response)
    assert len(cards) == len(events) == 6
    for event in events:
        count = counts.get(event.id, 0)
        noun = "foyers présents" if count > 1 else "foyer présent"
        assert f"{count} {noun}" in cards[event.title]
    assert (EST_ONLY in cards) == (prefix == "EST")
    assert (OUEST_ONLY in cards) == (prefix == "OUEST")
    for identity in authors_identities():
        assert identity not in words(main), identity


def test_the_facilitator_still_runs_its_calendar(demo, client, auth):
    est = group("EST")
    auth.login("animateur-est")
    response = client.get(f"/calendrier/groupe/{est.id}")
    assert response.status_code == 200
    main = main_of(response)
    assert "Calendrier et présences" in words(main)
    assert f'href="/calendrier/groupe/{est.id}/nouveau"' in main
    event = db.session.scalar(sa.select(Event).where(Event.title == EST_ONLY))
    assert f'href="/calendrier/groupe/{est.id}/{event.id}/feuille"' in main
    assert main.count("<form") == 6


def test_the_calendar_of_a_group_out_of_reach_is_a_404(lonely_group, client, auth):
    auth.login("referent-mjep")
    assert client.get(f"/calendrier/groupe/{lonely_group.id}").status_code == 404
    auth.logout()
    auth.login("animatrice-ouest")
    assert client.get(f"/calendrier/groupe/{group('EST').id}").status_code == 404
    auth.logout()
    auth.login("foyer-est-01")
    assert client.get(f"/calendrier/groupe/{group('EST').id}").status_code == 403


@pytest.mark.parametrize("username", ["pilote", "referent-mjep"])
def test_readers_manage_nothing(demo, client, auth, username):
    est = group("EST")
    event = db.session.scalar(sa.select(Event).where(Event.title == EST_ONLY))
    auth.login(username)
    for method, url in (
        ("GET", f"/calendrier/groupe/{est.id}/nouveau"),
        ("GET", f"/calendrier/groupe/{est.id}/{event.id}"),
        ("POST", f"/calendrier/groupe/{est.id}/{event.id}/annulation"),
        ("GET", f"/calendrier/groupe/{est.id}/{event.id}/presences"),
        ("GET", f"/calendrier/groupe/{est.id}/{event.id}/feuille"),
        ("GET", f"/calendrier/groupe/{est.id}/presences"),
    ):
        assert client.open(url, method=method).status_code == 403, url


# The printed attendance sheet


def sheet_url(prefix="EST", title=EST_ONLY):
    event = db.session.scalar(sa.select(Event).where(Event.title == title))
    return f"/calendrier/groupe/{group(prefix).id}/{event.id}/feuille"


def test_the_sheet_lists_exactly_the_groups_active_named_foyers(demo, client, auth):
    est = group("EST")
    auth.login("animateur-est")
    response = client.get(sheet_url())
    assert response.status_code == 200
    main = main_of(response)
    expected = sorted(
        db.session.scalars(
            sa.select(Household.display_name)
            .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
            .where(
                Household.group_id == est.id,
                Household.status == "active",
                Accompaniment.id.is_(None),
            )
        ),
        key=str.casefold,
    )
    assert len(expected) == 14  # 16 still engaged, 2 of them accompanied
    listed = [words(name) for name in re.findall(r'<th scope="row">(.*?)</th>', main)]
    assert listed == expected
    # A box on every line, the foyers' and four blank ones.
    assert main.count('<span class="box"></span>') == 14 + 4
    assert main.count('<tr class="blank-line">') == 4
    text = words(main)
    for part in (
        "Feuille de présence",
        "Les LokoMotiv' · Secteur Est",
        EST_ONLY,
        "(Visite de producteur)",
        "samedi 16 octobre 2021, 10:00 – 12:00",
        "la Ferme du Bois",
        "Présent Foyer Personnes",
        "Foyers accompagnés présents (au plus 2) :",
    ):
        assert part in text, part
    # Accompanied foyers are a count: no name, code nor label; withdrawn foyers are not on it;
    # no foyer's code at all.
    others = db.session.scalars(
        sa.select(Household).where(
            Household.group_id == est.id, Household.display_name.not_in(expected)
        )
    ).all()
    assert len(others) == 20 - 14
    for other in others:
        assert other.display_name not in text, other.display_name
    for label in db.session.scalars(sa.select(Accompaniment.label)):
        assert label not in text, label
    for code in db.session.scalars(sa.select(Household.code)):
        assert code not in text, code


def test_the_sheet_has_no_accompanied_line_without_accompanied_foyers(demo, client, auth):
    db.session.execute(sa.delete(Accompaniment).where(Accompaniment.group_id == group("EST").id))
    db.session.commit()
    auth.login("animateur-est")
    response = client.get(sheet_url())
    assert response.status_code == 200
    assert "Foyers accompagnés présents" not in response.text
    # They are named foyers now, on the sheet when active.
    assert household("EST-05").display_name in words(main_of(response))


def test_the_sheet_is_linked_from_the_attendance_page(demo, client, auth):
    auth.login("animateur-est")
    attendance = client.get(sheet_url().replace("/feuille", "/presences"))
    assert attendance.status_code == 200
    assert f'href="{sheet_url()}"' in attendance.text
    sheet = client.get(sheet_url())
    assert "data-print" in sheet.text
    assert 'href="' + sheet_url().replace("/feuille", "/presences") + '"' in sheet.text


def test_the_sheet_is_the_groups_facilitators_only(demo, client, auth):
    auth.login("animatrice-ouest")
    assert client.get(sheet_url()).status_code == 404
    # Another group's event under its own group: not one of the group's.
    assert client.get(sheet_url("OUEST", EST_ONLY)).status_code == 404
    auth.logout()
    auth.login("animateur-est")
    assert client.get(sheet_url("EST", OUEST_ONLY)).status_code == 404
    auth.logout()
    for username in ("pilote", "referent-mjep", "foyer-est-01"):
        auth.login(username)
        assert client.get(sheet_url()).status_code == 403, username
        auth.logout()


# Links from the staff's pages


def test_the_pilot_home_links_each_groups_pages(demo, client, auth):
    auth.login("pilote")
    page = client.get("/pilote/")
    assert page.status_code == 200
    for prefix in ("EST", "OUEST"):
        gid = group(prefix).id
        for href in (f"/groupe/{gid}/progres", f"/calendrier/groupe/{gid}",
                     f"{BOOK}?groupe={gid}", f"{DIRECTORY}?groupe={gid}"):  # fmt: skip
            assert f'href="{href}"' in page.text, href


def test_the_referent_home_links_its_foyers_groups(lonely_group, client, auth):
    auth.login("referent-mjep")
    page = client.get("/accompagnement/")
    assert page.status_code == 200
    for prefix in ("EST", "OUEST"):
        gid = group(prefix).id
        for href in (f"/calendrier/groupe/{gid}", f"{BOOK}?groupe={gid}",
                     f"{DIRECTORY}?groupe={gid}"):  # fmt: skip
            assert f'href="{href}"' in page.text, href
        assert f'href="/groupe/{gid}/progres"' not in page.text
    assert f"groupe={lonely_group.id}" not in page.text


def test_the_facilitator_group_page_links_the_book_and_directory(demo, client, auth):
    est = group("EST")
    auth.login("animateur-est")
    page = client.get(f"/groupe/{est.id}")
    assert page.status_code == 200
    assert f'href="{BOOK}?groupe={est.id}"' in page.text
    assert f'href="{DIRECTORY}?groupe={est.id}"' in page.text
