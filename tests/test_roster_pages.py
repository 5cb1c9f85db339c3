"""A large group's roster, a page at a time: each list (named foyers, accompanied foyers) paged
on its own, named foyers searched by name, code or commune, the facilitator brought back to
its page after acting on a card, and only the shown foyers' rows read."""

import html as html_module
import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.formatting import today
from defi.groups.services import open_wave
from defi.groups.services import roster
from defi.groups.services import waiting
from defi.groups.services import waiting_count
from defi.households import accompany
from defi.households import create_household
from defi.models import Accompaniment
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Structure
from defi.paging import FOYERS_PER_PAGE
from defi.producers import fold
from tests.conftest import demo_code
from tests.conftest import demo_wave

NAMED_CARD = re.compile(r'<h3 id="foyer-(\d+)">')
LABEL_CARD = re.compile(r'<h3 id="label-\d+">(?:<a [^>]*>)?([^<]+)')


@pytest.fixture
def est(demo, auth):
    assert auth.login("animateur-est").status_code == 303
    return db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))


def named_in_order(group):
    """The ids of the group's named foyers in the roster's order: name (accents and case set
    aside, then as written), then code (unique in a défi)."""
    rows = db.session.execute(
        sa.select(Household.id, Household.display_name, Household.code)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id == group.id, Accompaniment.id.is_(None))
    ).all()
    return [
        row.id
        for row in sorted(
            rows,
            key=lambda row: (
                fold(row[1]),
                row[1].casefold(),
                fold(row[2]),
                row[2].casefold(),
                row.id,
            ),
        )
    ]


def grow(group, count, **fields):
    """`count` more named foyers in the group, named "Famille Nouvelle NN"."""
    added = [
        create_household(group, display_name=f"Famille Nouvelle {number:02d}", adults=2, **fields)
        for number in range(count)
    ]
    db.session.commit()
    return added


def roster_page(client, group, **args):
    response = client.get(f"/groupe/{group.id}", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def shown_ids(page):
    return [int(found) for found in NAMED_CARD.findall(page)]


def test_a_large_group_is_shown_a_page_at_a_time_in_the_rosters_order(est, client):
    grow(est, 60)
    everyone = named_in_order(est)
    pages = -(-len(everyone) // FOYERS_PER_PAGE)
    assert len(everyone) == 77 and pages == 4
    seen = []
    for number in range(1, pages + 1):
        page = roster_page(client, est, page=number)
        seen += shown_ids(page)
        assert f"Page {number} sur {pages}" in page_text_of(page)
        assert "Foyers du groupe (77)" in page_text_of(page)
    assert seen == everyone  # each foyer once, none left out
    first = roster_page(client, est)
    assert shown_ids(first) == everyone[:FOYERS_PER_PAGE]
    assert f'href="/groupe/{est.id}?page=2#roster-title" rel="next"' in first
    assert 'rel="prev"' not in first
    # A page past the end is the last one; a page that is not a number, the first.
    assert shown_ids(roster_page(client, est, page=99)) == everyone[3 * FOYERS_PER_PAGE :]
    assert shown_ids(roster_page(client, est, page="deux")) == everyone[:FOYERS_PER_PAGE]
    assert shown_ids(roster_page(client, est, page=-3)) == everyone[:FOYERS_PER_PAGE]


def page_text_of(page):
    return html_module.unescape(re.sub(r"\s+", " ", page)).replace("\u00a0", " ")


def test_a_small_group_has_one_page_and_no_search(est, client):
    page = roster_page(client, est)
    assert len(shown_ids(page)) == 17
    assert "Page 1 sur" not in page_text_of(page)
    assert 'role="search"' not in page


def test_the_search_finds_named_foyers_by_name_code_or_commune(est, client):
    added = grow(est, 30)
    added[7].commune = "Saint-Pierre-lès-Calais"
    db.session.commit()
    page = roster_page(client, est, q="nouvelle 1")
    assert shown_ids(page) == [household.id for household in added[10:20]]
    assert "10 foyers trouvés pour « nouvelle 1 »." in page_text_of(page)
    assert 'value="nouvelle 1"' in page  # the search is kept in its field
    assert shown_ids(roster_page(client, est, q="PIERRE-lès")) == [added[7].id]
    # A name and a commune together, as a person types them.
    assert shown_ids(roster_page(client, est, q="nouvelle 07 saint pierre")) == [added[7].id]
    code = added[3].code
    assert shown_ids(roster_page(client, est, q=code.lower())) == [added[3].id]
    # A "%" or "_" typed is looked for as such.
    assert shown_ids(roster_page(client, est, q="%")) == []
    assert shown_ids(roster_page(client, est, q="_")) == []
    empty = roster_page(client, est, q="personne de ce nom")
    assert "0 foyer trouvé pour « personne de ce nom »." in page_text_of(empty)
    assert f'href="/groupe/{est.id}#roster-title">Voir tous les foyers' in empty
    assert '<ul class="roster-cards">' in empty  # the accompanied list's, not an empty one
    assert empty.count('<ul class="roster-cards">') == 1


def test_names_are_in_french_order_and_found_whatever_the_case_and_accents(est, client):
    """SQLite's and PostgreSQL's own orders put "Éléonore" after "Wattel", and SQLite's
    lower() leaves "É" as it is: the roster orders and searches its names itself."""
    eleonore, wattel, emile = (
        create_household(est, display_name=name, adults=1)
        for name in ("Famille Éléonore", "Famille Wattel", "famille emile")
    )
    db.session.commit()
    everyone = named_in_order(est)
    assert everyone.index(eleonore.id) < everyone.index(emile.id) < everyone.index(wattel.id)
    assert [
        i for i in shown_ids(roster_page(client, est)) if i in (eleonore.id, wattel.id, emile.id)
    ] == [eleonore.id, emile.id, wattel.id]
    for query in ("Éléonore", "éléonore", "ÉLÉONORE", "eleonore", "ELEONORE"):
        assert shown_ids(roster_page(client, est, q=query)) == [eleonore.id], query
    assert shown_ids(roster_page(client, est, q="ÉMILE")) == [emile.id]


def test_the_search_never_finds_an_accompanied_foyer(est, client):
    """An accompanied foyer's name is not the facilitator's to know: searching it finds no
    card, and the accompanied list is the same whatever is searched."""
    accompanied = db.session.scalar(
        sa.select(Household).where(Household.code == demo_code("EST-05"))
    )
    labels = LABEL_CARD.findall(roster_page(client, est))
    for query in (accompanied.display_name, accompanied.code, accompanied.display_name[-5:]):
        page = roster_page(client, est, q=query)
        assert LABEL_CARD.findall(page) == labels
        assert accompanied.id not in shown_ids(page)
        if query != accompanied.display_name[-5:]:  # a part of it may be in a named foyer's
            assert f"0 foyer trouvé pour « {query} »." in page_text_of(page)


def test_accompanied_foyers_are_paged_on_their_own(est, client):
    structure = db.session.scalar(sa.select(Structure))
    for household in grow(est, 30):
        accompany(household, structure)
    db.session.commit()
    labels = sorted(
        db.session.scalars(
            sa.select(Accompaniment.label).where(Accompaniment.group_id == est.id)
        ).all(),
        key=lambda label: (fold(label), label.casefold()),
    )
    assert len(labels) > FOYERS_PER_PAGE
    first = roster_page(client, est)
    second = roster_page(client, est, accompagnes=2)
    assert LABEL_CARD.findall(first) == labels[:FOYERS_PER_PAGE]
    assert LABEL_CARD.findall(second) == labels[FOYERS_PER_PAGE:]
    assert f"Foyers accompagnés ({len(labels)})" in page_text_of(first)
    # The named foyers' page and search stay as they were.
    assert shown_ids(second) == shown_ids(first)
    searched = roster_page(client, est, q="famille", accompagnes=2)
    assert LABEL_CARD.findall(searched) == labels[FOYERS_PER_PAGE:]
    # The first page needs no number; the accompanied list's pages open at its heading.
    assert f'href="/groupe/{est.id}?q=famille#anonymous-title" rel="prev"' in searched


def test_acting_on_a_card_brings_the_facilitator_back_to_its_page(est, client):
    grow(est, 40)
    target_id = shown_ids(roster_page(client, est, page=2, q="famille"))[0]
    target = db.session.get(Household, target_id)
    place = "q=famille&amp;page=2"
    page = roster_page(client, est, page=2, q="famille")
    assert f'action="/groupe/{est.id}/foyers/{target_id}/statut?{place}"' in page
    assert f'action="/groupe/{est.id}/foyers/{target_id}/code?{place}"' in page
    assert f'href="/groupe/{est.id}/foyers/{target_id}?{place}"' in page

    response = client.post(f"/groupe/{est.id}/foyers/{target_id}/statut?page=2&q=famille")
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.location).query) == {"page": ["2"], "q": ["famille"]}
    assert urlsplit(response.location).fragment == f"foyer-{target_id}"  # opened at the card
    db.session.refresh(target)
    assert not target.is_active
    # A new code printed from the card: its page leads back to the same place.
    printed = client.post(
        f"/groupe/{est.id}/foyers/{target_id}/code?page=2&q=famille", data={"valid_days": 7}
    )
    assert printed.status_code == 200
    assert f'href="/groupe/{est.id}?q=famille&amp;page=2#foyer-{target_id}"' in printed.text

    edit = client.get(f"/groupe/{est.id}/foyers/{target_id}?page=2&q=famille")
    back = f"/groupe/{est.id}?q=famille&amp;page=2#foyer-{target_id}"
    assert f'href="{back}">Retour au groupe' in edit.text
    response = client.post(
        f"/groupe/{est.id}/foyers/{target_id}?page=2&q=famille",
        data={"display_name": "Famille Déplacée", "adults": 3, "children": 0, "commune": "",
              "phone": "", "email": ""},
    )  # fmt: skip
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.location).query) == {"page": ["2"], "q": ["famille"]}
    db.session.refresh(target)
    assert target.display_name == "Famille Déplacée"


def test_the_waiting_count_is_the_whole_rosters(est, client):
    """The open wave's "not yet sent" counts every active foyer of the group, named or
    accompanied, whatever page is shown."""
    grow(est, 30)
    db.session.add(Entry(household=named_first(est), wave=open_wave(est, today()), status="draft"))
    db.session.commit()
    wave = open_wave(est, today())
    cards = roster(est, today())
    expected = len(waiting(cards.named + cards.anonymous, wave))
    assert waiting_count(est, wave) == expected
    for args in ({}, {"page": 2}, {"accompagnes": 2}, {"q": "nouvelle"}):
        text = page_text_of(roster_page(client, est, **args))
        assert f"Pas encore envoyé : {expected} foyers actifs." in text


def named_first(group):
    return db.session.get(Household, named_in_order(group)[0])


def test_a_roster_page_reads_the_rows_of_its_foyers_only(est, client):
    """Whatever the size of the group, a page runs the same statements and fetches the
    relevés of the foyers it shows."""
    statements = []
    address = f"/groupe/{est.id}"

    def count(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    def run():
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get(address).status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        return list(statements)

    small = run()
    grow(est, 120)
    wave3 = demo_wave(3)
    for household in db.session.scalars(sa.select(Household).where(Household.group_id == est.id)):
        if not db.session.scalar(
            sa.select(Entry.id).where(Entry.household_id == household.id, Entry.wave_id == wave3.id)
        ):
            db.session.add(Entry(household=household, wave=wave3, status="draft"))
    db.session.commit()
    large = run()
    assert len(large) == len(small)
    relevés = [parameters for statement, parameters in large if "entry_change" in statement]
    assert len(relevés) == 1
    # The ids of the named and accompanied foyers shown, and nothing else.
    assert len(relevés[0]) <= 2 * FOYERS_PER_PAGE
