"""The facilitator's group: roster, reminders, progress, privacy of accompanied foyers."""

import re
import statistics
from decimal import ROUND_HALF_UP
from decimal import Decimal

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from defi.models import Purchase
from defi.models import User
from defi.models import Wave
from tests.conftest import demo_code
from tests.conftest import demo_wave
from tests.conftest import page_text

HTMX = {"HX-Request": "true"}


def group(prefix):
    return db.session.scalar(sa.select(Group).where(Group.code_prefix == prefix))


def household(code):
    return db.session.scalar(sa.select(Household).where(Household.code == code))


@pytest.fixture
def facilitator(demo, auth):
    assert auth.login("animateur-est").status_code == 303
    return group("EST")


def facilitator_urls(est):
    named = household(demo_code("EST-01"))
    return [
        f"/groupe/{est.id}",
        f"/groupe/{est.id}/relances",
        f"/groupe/{est.id}/progres",
        f"/groupe/{est.id}/inviter",
        f"/groupe/{est.id}/foyers/{named.id}",
    ]


# Privacy


def test_no_identifying_value_of_an_accompanied_foyer_reaches_the_facilitator(facilitator, client):
    secrets_of = []
    for code in (demo_code("EST-05"), demo_code("EST-12"), demo_code("EST-18")):
        target = household(code)
        # Distinctive values, so that a byte search cannot match another foyer's.
        target.display_name = f"Famille Secrète {code}"
        target.commune = f"Commune-Cachée-{code}"
        target.phone = f"07 00 00 {code[-2:]} 99"
        target.email = f"cache.{code.lower()}@example.org"
        username = db.session.scalar(sa.select(User.username).where(User.household_id == target.id))
        secrets_of.append((target, username))
    db.session.commit()
    pages = []
    for url in facilitator_urls(facilitator):
        for headers in ({}, HTMX):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            pages.append((url, response.get_data(as_text=True)))
    for target, username in secrets_of:
        for value in (target.display_name, target.commune, target.phone, target.email, username,
                      target.code):  # fmt: skip
            for url, html in pages:
                assert value not in html, (value, url)
                assert value not in page_text_of(html), (value, url)
        for url, html in pages:
            # No link or form value that carries the foyer's database id.
            assert not re.search(rf"/foyers/{target.id}(?:\D|$)", html), url
            assert f'value="{target.id}"' not in html, url


def page_text_of(html):
    import html as html_module

    return html_module.unescape(html)


def test_accompanied_foyers_appear_under_stable_random_labels(facilitator, client):
    labels = db.session.scalars(
        sa.select(Accompaniment.label).where(Accompaniment.group_id == facilitator.id)
    ).all()
    first = page_text(client.get(f"/groupe/{facilitator.id}"))
    second = page_text(client.get(f"/groupe/{facilitator.id}"))
    for label in labels:
        assert label in first and label in second
    # Not a function of the id: labels are drawn among words, none holds a number or code.
    for label in labels:
        assert not re.search(r"\d", label)


def test_labels_are_drawn_at_random(demo):
    from defi.households import draw_label

    drawn = {draw_label(group("EST").id) for _ in range(30)}
    assert len(drawn) > 5


# Roster and reminders


def test_roster_shows_each_wave_state(facilitator, client):
    html = page_text(client.get(f"/groupe/{facilitator.id}"))
    assert "Foyers du groupe (17)" in html
    assert "Foyers accompagnés (3)" in html
    assert html.count("envoyé") >= 17 + 14
    assert "retiré le" in html


def test_withdraw_and_reactivate_a_foyer(facilitator, client):
    target = household(demo_code("EST-02"))
    response = client.post(f"/groupe/{facilitator.id}/foyers/{target.id}/statut")
    assert response.status_code == 303
    db.session.expire_all()
    assert target.status == "withdrawn" and target.withdrawn_on is not None
    assert client.post(f"/groupe/{facilitator.id}/foyers/{target.id}/statut").status_code == 303
    db.session.expire_all()
    assert target.status == "active" and target.withdrawn_on is None


def test_edit_a_foyers_persons(facilitator, client):
    target = household(demo_code("EST-03"))
    data = {"display_name": "Famille Renommée", "adults": "2", "children": "4", "commune": "Beuvry"}
    response = client.post(f"/groupe/{facilitator.id}/foyers/{target.id}", data=data)
    assert response.status_code == 303
    db.session.expire_all()
    assert (target.display_name, target.persons) == ("Famille Renommée", 6)
    refused = client.post(
        f"/groupe/{facilitator.id}/foyers/{target.id}", data={**data, "children": "-1"}
    )
    assert refused.status_code == 200
    assert "Entre 0 et 20 enfants." in page_text(refused)


def test_facilitator_cannot_edit_or_withdraw_an_accompanied_foyer(facilitator, client):
    target = household(demo_code("EST-05"))
    assert client.get(f"/groupe/{facilitator.id}/foyers/{target.id}").status_code == 404
    assert client.post(f"/groupe/{facilitator.id}/foyers/{target.id}/statut").status_code == 404
    db.session.expire_all()
    assert target.status == "active"


def test_who_has_not_filled_the_open_wave(facilitator, client):
    # Two named foyers and one accompanied foyer send the end wave.
    wave = demo_wave(3)
    for code in (demo_code("EST-01"), demo_code("EST-02"), demo_code("EST-05")):
        db.session.add(Entry(household=household(code), wave=wave, status="submitted"))
    db.session.commit()
    html = re.sub(r"<[^>]+>", "", page_text(client.get(f"/groupe/{facilitator.id}/relances")))
    # 16 active foyers: 14 named, 2 accompanied; sent: 2 named and 1 accompanied.
    assert "13 foyers actifs n'ont pas encore envoyé" in html
    assert "Et 1 foyer accompagné" in html
    assert household(demo_code("EST-03")).display_name in html
    assert household(demo_code("EST-01")).display_name not in html
    assert household(demo_code("EST-07")).display_name not in html  # withdrawn
    assert household(demo_code("EST-03")).phone in html
    assert re.search(r"plus que \d+ jours?, jusqu'au", html)


def test_another_groups_facilitator_gets_404(demo, auth, client):
    auth.login("animatrice-ouest")
    est = group("EST")
    for url in facilitator_urls(est):
        assert client.get(url).status_code == 404, url
    target = household(demo_code("EST-01"))
    assert client.post(f"/groupe/{est.id}/foyers/{target.id}/statut").status_code == 404


def test_facilitator_of_two_groups_switches(demo, auth, client):
    from defi.models import Membership

    user = db.session.scalar(sa.select(User).where(User.username == "animateur-est"))
    user.memberships.append(Membership(role="facilitator", group=group("OUEST")))
    db.session.commit()
    auth.login("animateur-est")
    html = page_text(client.get(f"/groupe/{group('EST').id}"))
    assert f"/groupe/{group('OUEST').id}" in html
    assert client.get(f"/groupe/{group('OUEST').id}/progres").status_code == 200


# Progress


def independent_costs(group_id, rank):
    """€ per meal per person of each submitted relevé, from the raw rows (not the app's code)."""
    costs = {}
    rows = db.session.execute(
        sa.select(Entry.id, Entry.meal_covers, Household.id)
        .join(Household, Household.id == Entry.household_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Household.group_id == group_id, Wave.rank == rank, Entry.status == "submitted")
    ).all()
    for entry_id, covers, household_id in rows:
        total = sum(
            db.session.scalars(sa.select(Purchase.total_cents).where(Purchase.entry_id == entry_id))
        )
        cost = (Decimal(total) / 100 / covers).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        costs[household_id] = float(cost)
    return costs


def euros(value):
    return f"{value:.2f}".replace(".", ",") + "\xa0€"


def test_group_progress_equals_figures_computed_from_the_raw_rows(facilitator, client):
    first = independent_costs(facilitator.id, 1)
    second = independent_costs(facilitator.id, 2)
    html = client.get(f"/groupe/{facilitator.id}/progres").get_data(as_text=True)
    assert len(first) == 20 and len(second) == 16
    for costs in (first, second):
        assert euros(statistics.fmean(costs.values())) in html
        assert euros(statistics.median(costs.values())) in html
    paired = [h for h in second if h in first]
    before = statistics.fmean(first[h] for h in paired)
    after = statistics.fmean(second[h] for h in paired)
    assert f"{(after - before) / before * 100:+.0f}\u00a0% <small>(n=16)</small>" in html
    # Wave 2: 2 accompanied foyers (< K) — they and their complement are not shown.
    text = page_text_of(html)
    assert "pas assez de relevés" in text
    assert "masqué pour protéger d'autres chiffres" in text
