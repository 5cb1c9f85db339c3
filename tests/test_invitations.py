"""Invitations that fit a year-long défi (issue 13).

- Whoever prints a code chooses how long it stays valid (7, 14, 30, 60 or 90 days; 30 unless
  chosen), on every form that prints one: a facilitator's foyer and new code, a referent's
  accompanied foyer and new code, the pilot's staff invitation and new password code. A value
  not offered is refused in French, and nothing is created.
- An expired code says so, with its date, on the redeem page (also when the QR code is scanned).
- Staff give their first name, phone and e-mail on "Mes coordonnées"; the printout carries the
  group, its facilitators' contacts (the referent's too, for its accompanied foyers), the next
  collecte's dates and the code's validity in words — never another group's facilitator.
"""

from datetime import date
from datetime import timedelta

import pytest
import sqlalchemy as sa

from defi.accounts.services import long_day
from defi.accounts.services import long_moment
from defi.accounts.services import next_wave
from defi.extensions import db
from defi.models import Household
from defi.models import Invitation
from defi.models import Membership
from defi.models import Structure
from defi.models import User
from defi.models import Wave
from defi.models.base import utcnow
from tests.conftest import demo_code
from tests.conftest import enrol_accompanied
from tests.conftest import page_text
from tests.test_accounts import GOOD_PASSWORD
from tests.test_accounts import code_in
from tests.test_accounts import group
from tests.test_accounts import user

REFUSED = "Choisissez une durée de la liste : 7, 14, 30, 60, 90 jours."
# The demo's staff contacts (defi/demo.py STAFF_CONTACTS).
JULIEN = ("Julien", "06 39 98 12 34", "julien@lokomotiv.example")
CLAIRE = ("Claire", "06 39 98 56 78", "claire@grainesdidees.example")
KARIM = ("Karim", "03 53 01 45 10", "karim@mjep-isbergues.example")
SOPHIE = ("Sophie", "03 53 01 20 00", "alimentation@agglo.example")


def household(name):
    """A demo foyer by its group and number: "EST-01"."""
    return db.session.scalar(sa.select(Household).where(Household.code == demo_code(name)))


def mjep():
    return db.session.scalar(sa.select(Structure).where(Structure.name.like("MJEP%")))


def invitations():
    db.session.expire_all()
    return db.session.scalars(sa.select(Invitation).order_by(Invitation.id)).all()


def households_count():
    return db.session.scalar(sa.select(sa.func.count(Household.id)))


def lifetime(invitation):
    return invitation.expires_at - invitation.created_at


# Every form that prints a code: (who, how to post it with extra fields).
def _foyer(client, extra):
    est = group("EST")
    data = {"display_name": "Famille Nouvelle", "adults": "2", "children": "1", **extra}
    return client.post(f"/groupe/{est.id}/inviter", data=data)


def _foyer_code(client, extra):
    est, foyer = group("EST"), household("EST-01")
    return client.post(f"/groupe/{est.id}/foyers/{foyer.id}/code", data=extra)


def _accompanied(client, extra):
    data = {
        "display_name": "Famille Accompagnée",
        "adults": "1",
        "children": "0",
        "group_id": str(group("EST").id),
        "structure_id": str(mjep().id),
        **extra,
    }
    return client.post("/accompagnement/inviter", data=data)


def _accompanied_code(client, extra):
    return client.post(f"/accompagnement/foyers/{household('EST-05').id}/code", data=extra)


def _staff(client, extra):
    data = {"role": "facilitator", "group_id": str(group("OUEST").id), **extra}
    return client.post("/pilote/equipe/inviter", data=data)


def _staff_code(client, extra):
    return client.post(f"/pilote/equipe/{user('animateur-est').id}/code", data=extra)


ISSUERS = {
    "groups.invite": ("animateur-est", _foyer, "page"),
    "groups.reset": ("animateur-est", _foyer_code, "button"),
    "referents.invite": ("referent-mjep", _accompanied, "page"),
    "referents.reset": ("referent-mjep", _accompanied_code, "button"),
    "pilot.invite_staff": ("pilote", _staff, "page"),
    "pilot.reset": ("pilote", _staff_code, "button"),
}


def issue(client, auth, endpoint, **extra):
    username, post, _kind = ISSUERS[endpoint]
    assert auth.login(username).status_code == 303
    return post(client, extra)


# How long a code stays valid


@pytest.mark.parametrize("endpoint", ISSUERS)
def test_a_code_is_valid_30_days_unless_chosen(demo, client, auth, endpoint):
    page = issue(client, auth, endpoint)
    assert page.status_code == 200
    [invitation] = invitations()
    assert lifetime(invitation) == timedelta(days=30)
    assert "Il est valable 30 jours, jusqu'au" in page_text(page)


@pytest.mark.parametrize("days", [7, 14, 30, 60, 90])
def test_each_offered_duration_is_stored_exactly(demo, client, auth, app, days):
    page = issue(client, auth, "groups.invite", valid_days=str(days))
    assert page.status_code == 200
    [invitation] = invitations()
    assert lifetime(invitation) == timedelta(days=days)
    with app.test_request_context():
        until = long_moment(invitation.expires_at)
    assert f"Il est valable {days} jours, jusqu'au <strong>{until}</strong>." in page_text(page)


@pytest.mark.parametrize("endpoint", ISSUERS)
def test_every_form_that_prints_a_code_stores_the_choice(demo, client, auth, endpoint):
    assert issue(client, auth, endpoint, valid_days="90").status_code == 200
    [invitation] = invitations()
    assert lifetime(invitation) == timedelta(days=90)


FORGED = ["31", "0", "-30", "abc", "", "30.5", "99999999999999999999"]


@pytest.mark.parametrize(
    ("endpoint", "forged"),
    [("groups.invite", forged) for forged in FORGED]
    + [
        (endpoint, forged)
        for endpoint in ISSUERS
        if endpoint != "groups.invite"
        for forged in ("31", "")
    ],
)
def test_a_duration_not_offered_is_refused_and_nothing_created(
    demo, client, auth, endpoint, forged
):
    foyers = households_count()
    response = issue(client, auth, endpoint, valid_days=forged)
    if ISSUERS[endpoint][2] == "page":
        assert response.status_code == 200  # the form again, with the message beside the list
        text = page_text(response)
    else:
        assert response.status_code == 303  # back to the list, the message flashed
        text = page_text(client.get(response.headers["Location"]))
    assert REFUSED in text
    assert 'class="invitation-code"' not in page_text(response)
    assert invitations() == []
    assert households_count() == foyers


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("animateur-est", "/groupe/{est}/inviter"),
        ("referent-mjep", "/accompagnement/inviter"),
        ("pilote", "/pilote/"),
    ],
)
def test_invitation_forms_offer_the_durations_30_days_chosen(demo, client, auth, username, url):
    auth.login(username)
    html = page_text(client.get(url.format(est=group("EST").id)))
    assert "Valable pendant" in html
    for days in (7, 14, 60, 90):
        assert f'<option value="{days}">{days} jours' in html
    assert '<option selected value="30">30 jours (un mois)</option>' in html


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("animateur-est", "/groupe/{est}"),
        ("referent-mjep", "/accompagnement/"),
        ("pilote", "/pilote/"),
    ],
)
def test_new_code_buttons_carry_the_durations(demo, client, auth, username, url):
    auth.login(username)
    response = client.get(url.format(est=group("EST").id))
    assert response.status_code == 200
    html = page_text(response)
    assert 'name="valid_days"' in html
    assert '<option value="30" selected>30 jours (un mois)</option>' in html


def test_the_setting_gives_the_default(demo, client, auth, app):
    app.config["INVITATION_LIFETIME"] = timedelta(days=45)
    auth.login("animateur-est")
    html = page_text(client.get(f"/groupe/{group('EST').id}/inviter"))
    assert '<option selected value="45">45 jours</option>' in html
    assert issue(client, auth, "groups.reset").status_code == 200
    assert lifetime(invitations()[0]) == timedelta(days=45)


# An expired code


def test_an_expired_code_says_when_it_expired(demo, client, auth, app):
    code = code_in(issue(client, auth, "groups.invite", valid_days="7"))
    expired_at = utcnow() - timedelta(minutes=1)
    db.session.execute(sa.update(Invitation).values(expires_at=expired_at))
    db.session.commit()
    with app.test_request_context():
        when = long_moment(expired_at)
    family = app.test_client()
    data = {"code": code, "username": "trop-tard", "password": GOOD_PASSWORD}
    refused = family.post("/invitation", data={**data, "confirm": GOOD_PASSWORD})
    assert refused.status_code == 200
    assert f"Ce code a expiré le {when} : il ne marche plus." in page_text(refused)
    assert user("trop-tard") is None
    # The QR code scanned too late says so before anything is typed.
    scanned = family.get(f"/invitation?code={code}")
    assert scanned.status_code == 200
    assert f"Ce code a expiré le {when}" in page_text(scanned)


def test_a_used_or_unknown_code_is_not_called_expired(demo, client, auth, app):
    code = code_in(issue(client, auth, "groups.invite"))
    db.session.execute(sa.update(Invitation).values(used_at=utcnow()))
    db.session.commit()
    for tried in (code, "ABCD-EFGH-JKMN"):
        page = app.test_client().get(f"/invitation?code={tried}")
        assert page.status_code == 200
        assert "Ce code n'est pas valable" in page_text(page)
        assert "expiré le" not in page_text(page)


def test_a_valid_code_scanned_shows_no_error(demo, client, auth, app):
    code = code_in(issue(client, auth, "groups.invite"))
    page = app.test_client().get(f"/invitation?code={code}")
    assert page.status_code == 200
    assert "Ce code" not in page_text(page)


# The printout


def contact_shown(text, contact):
    first_name, phone, email = contact
    return first_name in text and phone in text and email in text


def test_the_printout_has_group_contacts_collecte_and_validity(demo, client, auth, app):
    page = issue(client, auth, "groups.invite")
    assert page.status_code == 200
    text = page_text(page)
    closes = demo.waves[2].closes_on
    with app.test_request_context():
        until = long_day(closes)
    assert "Groupe <strong>Les LokoMotiv'</strong> (Secteur Est)" in text
    assert "<strong>Julien</strong>, animateur·rice du groupe — tél. " in text
    assert '<a href="tel:0639981234">06 39 98 12 34</a>' in text
    assert '<a href="mailto:julien@lokomotiv.example">julien@lokomotiv.example</a>' in text
    assert f"<strong>Collecte en cours</strong> (collecte 3 — fin) : jusqu'au {until}." in text
    assert "Il est valable 30 jours, jusqu'au" in text
    assert not contact_shown(text, KARIM) and not contact_shown(text, SOPHIE)


def test_the_printout_gives_the_next_collecte_when_none_is_open(demo, client, auth, app):
    wave = db.session.scalar(sa.select(Wave).where(Wave.challenge_id == demo.id, Wave.rank == 3))
    today = wave.opens_on  # the demo's last collecte opens the day it is loaded
    wave.opens_on, wave.closes_on = today + timedelta(days=20), today + timedelta(days=50)
    db.session.commit()
    text = page_text(issue(client, auth, "groups.invite"))
    with app.test_request_context():
        opens, closes = long_day(wave.opens_on), long_day(wave.closes_on)
    assert (
        f"<strong>Prochaine collecte</strong> (collecte 3 — fin) : du {opens} au {closes}." in text
    )


def test_the_printout_names_no_collecte_after_the_last(demo, client, auth):
    db.session.execute(sa.update(Wave).values(manual_state="closed"))
    db.session.commit()
    text = page_text(issue(client, auth, "groups.invite"))
    assert "Collecte en cours" not in text and "Prochaine collecte" not in text


def test_next_wave_order_and_manual_states(demo):
    day = date(2022, 1, 10)
    waves = sorted(demo.waves, key=lambda wave: wave.rank)
    assert next_wave(waves, day) == (waves[1], False)  # February 2022 comes next
    assert next_wave(waves, date(2021, 9, 15)) == (waves[0], True)
    waves[1].manual_state = "closed"
    assert next_wave(waves, day) == (waves[2], False)
    waves[2].manual_state = "open"
    assert next_wave(waves, day) == (waves[2], True)
    db.session.rollback()


def test_a_foyer_code_printed_again_has_the_same_contacts(demo, client, auth):
    text = page_text(issue(client, auth, "groups.reset", valid_days="14"))
    assert contact_shown(text, JULIEN)
    assert "Il est valable 14 jours, jusqu'au" in text


def test_another_groups_foyer_never_reads_this_facilitators_contact(demo, client, auth):
    auth.login("animatrice-ouest")
    ouest = group("OUEST")
    data = {"display_name": "Famille Ouest", "adults": "2", "children": "0"}
    text = page_text(client.post(f"/groupe/{ouest.id}/inviter", data=data))
    assert contact_shown(text, CLAIRE)
    assert "Groupe <strong>Graines d'idées</strong>" in text
    for value in JULIEN:
        assert value not in text
    # An accompanied foyer of Graines d'idées, printed by its referent: the same.
    client.post("/deconnexion")
    text = page_text(enrol_accompanied(client, auth, ouest))
    assert contact_shown(text, CLAIRE) and contact_shown(text, KARIM)
    for value in JULIEN:
        assert value not in text


def test_a_referents_printout_adds_the_referent(demo, client, auth):
    text = page_text(issue(client, auth, "referents.invite"))
    assert contact_shown(text, JULIEN)
    assert "<strong>Karim</strong>, votre référent·e" in text
    text = page_text(issue(client, auth, "referents.reset"))
    assert contact_shown(text, JULIEN) and contact_shown(text, KARIM)


def test_a_facilitators_printout_never_names_a_referent(demo, client, auth):
    text = page_text(issue(client, auth, "groups.invite"))
    assert "référent" not in text
    for value in KARIM:
        assert value not in text


def test_a_staff_invitation_names_who_printed_it(demo, client, auth):
    text = page_text(issue(client, auth, "pilot.invite_staff"))
    assert "<strong>Sophie</strong>, qui vous a remis ce code" in text
    assert contact_shown(text, SOPHIE)
    assert "Groupe <strong>Graines d'idées</strong>" in text
    assert not contact_shown(text, CLAIRE)


def test_facilitators_without_contact_or_deactivated_are_left_out(demo, client, auth):
    julien = user("animateur-est")
    julien.first_name = julien.phone = julien.email = None
    second = User(
        username="animatrice-est", password_hash="x", first_name="Inès", phone="0639980000"
    )
    second.memberships.append(Membership(role="facilitator", group=group("EST")))
    gone = User(username="ancien-est", password_hash="x", first_name="Marc", active=False)
    gone.memberships.append(Membership(role="facilitator", group=group("EST")))
    db.session.add_all([second, gone])
    db.session.commit()
    text = page_text(issue(client, auth, "referents.invite"))
    assert "<strong>Inès</strong>, animateur·rice du groupe" in text
    assert "Marc" not in text and "Julien" not in text
    assert "<strong>Karim</strong>, votre référent·e" in text


# Mes coordonnées


@pytest.mark.parametrize("username", ["animateur-est", "referent-mjep", "pilote"])
def test_staff_reach_their_details_from_the_account_menu(demo, client, auth, username):
    auth.login(username)
    home = client.get("/", follow_redirects=True)
    assert '<a href="/mes-coordonnees">Mes coordonnées</a>' in page_text(home)
    page = client.get("/mes-coordonnees")
    assert page.status_code == 200
    assert "Mes coordonnées" in page_text(page)


def test_a_foyer_has_no_details_page(demo, client, auth):
    auth.login("foyer-est-01")
    assert "/mes-coordonnees" not in page_text(client.get("/collecte/"))
    assert client.get("/mes-coordonnees").status_code == 403
    assert client.post("/mes-coordonnees", data={"first_name": "X"}).status_code == 403


def test_details_are_saved_and_printed(demo, client, auth):
    auth.login("animateur-est")
    data = {"first_name": "  Jules ", "phone": "+33 6 39 98 00 11", "email": "jules@est.example"}
    response = client.post("/mes-coordonnees", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == "/mes-coordonnees"
    page = page_text(client.get("/mes-coordonnees"))
    assert "Vos coordonnées sont enregistrées." in page
    assert "Jules — tél. +33 6 39 98 00 11 — jules@est.example" in page
    db.session.expire_all()
    julien = user("animateur-est")
    assert (julien.first_name, julien.phone, julien.email) == (
        "Jules",
        "+33 6 39 98 00 11",
        "jules@est.example",
    )
    text = page_text(issue(client, auth, "groups.invite"))
    assert "<strong>Jules</strong>" in text and '<a href="tel:+33639980011">' in text


def test_details_can_be_left_empty(demo, client, auth):
    auth.login("animatrice-ouest")
    response = client.post("/mes-coordonnees", data={"first_name": "", "phone": "", "email": ""})
    assert response.status_code == 303
    db.session.expire_all()
    claire = user("animatrice-ouest")
    assert (claire.first_name, claire.phone, claire.email) == (None, None, None)
    auth.login("animatrice-ouest")
    ouest = group("OUEST")
    data = {"display_name": "Famille Ouest", "adults": "2", "children": "0"}
    text = page_text(client.post(f"/groupe/{ouest.id}/inviter", data=data))
    assert "Une question" not in text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "06-12-34-56-78", "Ce numéro n'est pas valide"),
        ("phone", "06 12", "Ce numéro n'est pas valide"),
        ("phone", "0612345678 poste 4", "Ce numéro n'est pas valide"),
        ("phone", "6" * 16, "Ce numéro n'est pas valide"),
        ("phone", "+", "Ce numéro n'est pas valide"),
        ("phone", "06 12 34 56 78 +", "Ce numéro n'est pas valide"),
        ("email", "claire@", "Cette adresse de courriel n'est pas valide"),
        ("email", "claire at example.fr", "Cette adresse de courriel n'est pas valide"),
        ("email", "a@b.c" + "x" * 250, "254 caractères au plus."),
        ("first_name", "C" * 61, "60 caractères au plus."),
    ],
)
def test_bad_details_are_refused_in_french_and_kept(demo, client, auth, field, value, message):
    auth.login("animatrice-ouest")
    data = {"first_name": "Claire", "phone": "06 39 98 56 78", "email": "c@ouest.example"}
    data[field] = value
    response = client.post("/mes-coordonnees", data=data)
    assert response.status_code == 200
    text = page_text(response)
    assert message in text
    assert f'value="{value}"' in text  # what was typed comes back
    db.session.expire_all()
    assert user("animatrice-ouest").email == CLAIRE[2]  # nothing saved


def test_only_ones_own_details_change(demo, client, auth):
    """No field names another account: whatever is posted, the user's own row changes."""
    claire = user("animatrice-ouest")
    auth.login("animateur-est")
    response = client.post(
        "/mes-coordonnees",
        data={
            "first_name": "Pirate",
            "phone": "06 00 00 00 00",
            "email": "pirate@example.org",
            "user_id": str(claire.id),
            "id": str(claire.id),
            "username": "animatrice-ouest",
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert user("animatrice-ouest").first_name == "Claire"
    assert user("animatrice-ouest").email == CLAIRE[2]
    assert user("animateur-est").first_name == "Pirate"
    page = client.get(f"/mes-coordonnees?user_id={claire.id}")
    assert page.status_code == 200
    assert CLAIRE[1] not in page_text(page) and CLAIRE[2] not in page_text(page)
    assert 'value="pirate@example.org"' in page_text(page)


def test_anonymous_is_sent_to_login(client):
    response = client.get("/mes-coordonnees")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")
