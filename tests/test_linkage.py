"""No linkage: nothing a facilitator sees tells which family a label stands for.

Codes and ids carry no order and leave no gap where a referent enrolled an accompanied foyer,
and a code is never given twice, not even after an erasure.
"""

import re

import pytest
import sqlalchemy as sa

from defi import households
from defi.extensions import db
from defi.households import CODE_ALPHABET
from defi.models import Accompaniment
from defi.models import Group
from defi.models import Household
from defi.models import RetiredCode
from defi.pilot.imports import ImportRejected
from defi.pilot.imports import import_entries
from defi.producers import fold
from defi.rights import erase_household
from tests.conftest import demo_code
from tests.conftest import enrol_accompanied
from tests.conftest import page_text
from tests.conftest import territory_id

CODE = re.compile(rf"^(EST|OUEST)-[{CODE_ALPHABET}]{{4}}$")


def group(prefix):
    return db.session.scalar(sa.select(Group).where(Group.code_prefix == prefix))


def invite(client, est, name):
    response = client.post(
        f"/groupe/{est.id}/inviter", data={"display_name": name, "adults": "1", "children": "0"}
    )
    assert response.status_code == 200
    return db.session.scalar(sa.select(Household).where(Household.display_name == name))


def test_the_roster_shows_codes_with_no_order_and_no_gap(demo, auth, client):
    assert auth.login("animateur-est").status_code == 303
    est = group("EST")
    html = client.get(f"/groupe/{est.id}").get_data(as_text=True)
    shown = re.findall(r"<small>(EST-[0-9A-Z]{4})</small>", html)
    named = db.session.scalars(
        sa.select(Household.code)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Household.group_id == est.id, Accompaniment.id.is_(None))
    ).all()
    assert sorted(shown) == sorted(named) and len(shown) == 17
    assert all(CODE.match(code) for code in shown)
    # Listed by name, not by code or by enrolment.
    names = re.findall(r'foyers/\d+">([^<]+)</a> <small>EST-', html)
    assert names == sorted(names)
    for accompanied in ("EST-05", "EST-12", "EST-18"):
        assert demo_code(accompanied) not in html


def test_new_foyers_get_random_codes_and_ids(demo, auth, client):
    assert auth.login("animateur-est").status_code == 303
    est = group("EST")
    made = [invite(client, est, f"Famille Nouvelle {n}") for n in range(3)]
    # A referent enrols one in between: the facilitator's next code or id says nothing of it.
    enrol_accompanied(client, auth, est)
    assert auth.login("animateur-est").status_code == 303
    made.append(invite(client, est, "Famille Nouvelle 3"))
    codes = [household.code for household in made]
    ids = sorted(household.id for household in made)
    assert all(CODE.match(code) for code in codes) and len(set(codes)) == 4
    # No sequence: the ids are spread over 2^31 (four consecutive ones would be a 1e-27 chance).
    assert ids[-1] - ids[0] > 3
    assert all(0 < id_ < 2**31 - 1 for id_ in ids)


def test_an_erased_foyers_code_is_never_given_again(demo, monkeypatch):
    victim = db.session.scalar(sa.select(Household).where(Household.code == demo_code("EST-03")))
    erased = victim.code
    erase_household(victim)
    db.session.commit()
    retired = db.session.scalars(sa.select(RetiredCode).where(RetiredCode.code == erased)).all()
    assert [r.territory_id for r in retired] == [territory_id()]
    # The draw gives the erased code first, then one already in use, then a free one.
    taken = demo_code("EST-04")
    drawn = iter([erased, taken, "EST-2222"])
    monkeypatch.setattr(households, "draw_code", lambda prefix, used, choice=None: next(drawn))
    assert households.new_household_code(group("EST")) == "EST-2222"


def test_an_import_refuses_an_erased_foyers_code(demo):
    victim = db.session.scalar(sa.select(Household).where(Household.code == demo_code("EST-03")))
    erased = victim.code
    erase_household(victim)
    db.session.commit()
    line = (f"{erased};Les Radis;non;1;3;14;84,50;10;20;42;;1,2;1;2;;;\n").encode()
    from defi.pilot.imports import HEADER

    with pytest.raises(ImportRejected) as refused:
        import_entries(
            ";".join(HEADER).encode() + b"\n" + line,
            "Défi 2019",
            territory_id=territory_id(),
            create_challenge=True,
        )
    db.session.rollback()
    assert "effacé" in refused.value.message and refused.value.message.startswith("Ligne 2")
    assert db.session.scalar(sa.select(Household).where(Household.code == erased)) is None


def test_another_territory_s_erasure_is_none_of_an_import_s_business(demo, monkeypatch):
    """A code erased in one territory: an import of another territory takes it as any new
    code (its refusal would tell the erasure), a code retired before codes had a territory is
    refused in every territory, and a drawn code is never one retired anywhere."""
    from defi.demo import SECOND_TERRITORY
    from defi.models import Territory
    from defi.pilot.imports import HEADER

    victim = db.session.scalar(sa.select(Household).where(Household.code == demo_code("EST-03")))
    erased = victim.code
    erase_household(victim)
    db.session.add(RetiredCode(territory_id=None, code="OLD-0001"))
    db.session.commit()
    second = db.session.scalar(sa.select(Territory.id).where(Territory.name == SECOND_TERRITORY))

    def imported(code):
        line = f"{code};Les Radis;non;1;3;14;84,50;10;20;42;;1,2;1;2;;;\n"
        return import_entries(
            ";".join(HEADER).encode() + b"\n" + line.encode(),
            "Défi 2019",
            territory_id=second,
            create_challenge=True,
        )

    assert imported(erased)["created"] == 1
    db.session.commit()
    with pytest.raises(ImportRejected) as refused:
        imported("OLD-0001")
    db.session.rollback()
    assert "effacé" in refused.value.message
    # Erased in the second territory too: retired there as well, one row each.
    erase_household(db.session.scalar(sa.select(Household).where(Household.code == erased)))
    db.session.commit()
    retired = db.session.scalars(
        sa.select(RetiredCode.territory_id).where(RetiredCode.code == erased)
    )
    assert sorted(retired) == sorted([territory_id(), second])
    # A drawn code skips a code retired in any territory, as one in use.
    drawn = iter(["OLD-0001", erased, "EST-2222"])
    monkeypatch.setattr(households, "draw_code", lambda prefix, used, choice=None: next(drawn))
    assert households.new_household_code(group("EST")) == "EST-2222"


def test_the_import_gives_its_new_foyers_random_ids(app):
    from defi.pilot.imports import HEADER

    lines = [";".join(HEADER)] + [
        f"H-{n:03d};Les Radis;non;1;3;14;84,50;10;20;42;;1,2;1;2;;;" for n in range(30)
    ]
    import_entries(
        "\n".join(lines).encode() + b"\n",
        "Défi 2019",
        territory_id=territory_id(),
        create_challenge=True,
    )
    db.session.commit()
    ids = sorted(db.session.scalars(sa.select(Household.id)))
    assert len(ids) == 30
    consecutive = sum(1 for a, b in zip(ids, ids[1:], strict=False) if b == a + 1)
    assert consecutive == 0


def test_the_labels_are_listed_in_their_own_order(demo, auth, client):
    """Alphabetically, in French ("Échalote" among the E's), not in the order of enrolment."""
    assert auth.login("animateur-est").status_code == 303
    text = page_text(client.get(f"/groupe/{group('EST').id}"))
    labels = re.findall(r"Foyer [A-ZÉ][a-zéèâ]+", text)
    assert labels == sorted(labels, key=lambda label: (fold(label), label.casefold()))
    assert len(labels) == 3
