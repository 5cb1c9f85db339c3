"""Accounts: login, sessions, invitations, password rules, throttling, CSRF (QUALITY.md)."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from defi.accounts.passwords import password_problem
from defi.accounts.services import CODE_ALPHABET
from defi.accounts.services import normalise_code
from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Group
from defi.models import Household
from defi.models import Invitation
from defi.models import Structure
from defi.models import User
from defi.models.base import utcnow
from tests.conftest import Auth
from tests.conftest import demo_code
from tests.conftest import new_household
from tests.conftest import page_text

GOOD_PASSWORD = "le jardin de mamie en mai"
CODE_RE = re.compile(r'class="invitation-code"[^>]*>([0-9A-Z-]{14})<')


def user(username):
    return db.session.scalar(sa.select(User).where(User.username == username))


def household(code):
    return db.session.scalar(sa.select(Household).where(Household.code == code))


def group(prefix):
    return db.session.scalar(sa.select(Group).where(Group.code_prefix == prefix))


def code_in(response):
    match = CODE_RE.search(page_text(response))
    assert match, "no invitation code on the page"
    return match.group(1)


# Login and logout


def test_login_form_has_username_and_password_fields(client):
    page = client.get("/connexion")
    assert page.status_code == 200
    html = page_text(page)
    assert 'name="username"' in html and 'name="password"' in html
    assert "Connexion" in html


def test_wrong_password_keeps_the_username_and_says_so_in_french(demo, client, auth):
    response = auth.login("foyer-est-01", "pas le bon mot de passe")
    assert response.status_code == 200
    html = page_text(response)
    assert "Identifiant ou mot de passe incorrect." in html
    assert 'value="foyer-est-01"' in html


def test_unknown_user_gets_the_same_message(demo, auth):
    response = auth.login("personne", "pas le bon mot de passe")
    assert response.status_code == 200
    assert "Identifiant ou mot de passe incorrect." in page_text(response)


def test_password_is_hashed_with_argon2id_at_owasp_parameters(demo):
    assert user("pilote").password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/groupe/", "/groupe/"),
        ("https://evil.example/", "/groupe/"),
        ("//evil.example/", "/groupe/"),
        ("/\\evil.example", "/groupe/"),
        ("javascript:alert(1)", "/groupe/"),
        ("/\t/evil.example", "/groupe/"),
        ("/\x00/evil.example", "/groupe/"),
        ("/ /evil.example", "/groupe/"),
        ("\t//evil.example", "/groupe/"),
        ("https:evil.example", "/groupe/"),
        ("http:/evil.example", "/groupe/"),
        ("/\u2215/evil.example", "/%E2%88%95/evil.example"),  # a path of this site
        ("/calendrier/?retour=//evil.example", "/calendrier/?retour=//evil.example"),
        ("/%2F/evil.example", "/%2F/evil.example"),
    ],
)
def test_next_never_leaves_the_site(demo, client, next_url, landing):
    response = client.post(
        "/connexion",
        data={"username": "animateur-est", "password": "carottes-et-poireaux", "next": next_url},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == landing


def test_anonymous_is_sent_to_login_with_next(demo, client, auth):
    response = client.get("/pilote/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion?next=/pilote/"
    login = client.post(
        "/connexion",
        data={"username": "pilote", "password": "carottes-et-poireaux", "next": "/pilote/"},
    )
    assert login.headers["Location"] == "/pilote/"


def test_logout_kills_a_copied_session_cookie(demo, client, auth, app):
    auth.login("foyer-est-01")
    copied = client.get_cookie("session").value
    assert client.get("/collecte/").status_code == 200
    logout = auth.logout()
    assert logout.status_code == 303
    assert logout.headers["Location"] == "/connexion"
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/collecte/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")


def test_password_change_kills_a_cookie_copied_before_it(demo, client, auth, app):
    auth.login("foyer-est-02")
    copied = client.get_cookie("session").value
    changed = client.post(
        "/mot-de-passe",
        data={
            "current": "carottes-et-poireaux",
            "password": GOOD_PASSWORD,
            "confirm": GOOD_PASSWORD,
        },
    )
    assert changed.status_code == 303
    assert client.get("/collecte/").status_code == 200  # the device that changed it stays
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/collecte/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")
    assert thief.post("/collecte/3/repas", data={"persons": "9"}).status_code == 302


def test_a_deactivated_staff_account_loses_its_sessions_and_its_login(demo, client, auth, app):
    facilitator = app.test_client()
    assert Auth(facilitator).login("animateur-est").status_code == 303
    copied = facilitator.get_cookie("session").value
    auth.login("pilote")
    target = user("animateur-est")
    response = client.post(f"/pilote/equipe/{target.id}/statut", follow_redirects=True)
    assert response.status_code == 200
    assert "Le compte animateur-est est désactivé." in page_text(response)
    assert "Réactiver le compte" in page_text(response)
    db.session.expire_all()
    assert user("animateur-est").active is False
    assert facilitator.get("/groupe/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/groupe/").status_code == 302
    refused = Auth(app.test_client()).login("animateur-est")
    assert refused.status_code == 200
    assert "Identifiant ou mot de passe incorrect" in page_text(refused)

    back = client.post(f"/pilote/equipe/{target.id}/statut", follow_redirects=True)
    assert "Le compte animateur-est est de nouveau actif." in page_text(back)
    assert Auth(app.test_client()).login("animateur-est").status_code == 303
    assert thief.get("/groupe/").status_code == 302  # the old cookie stays dead


def test_only_staff_accounts_can_be_deactivated(demo, client, auth):
    auth.login("pilote")
    for username in ("foyer-est-01", "pilote"):
        response = client.post(f"/pilote/equipe/{user(username).id}/statut")
        assert response.status_code == 404, username
    db.session.expire_all()
    assert user("foyer-est-01").active and user("pilote").active


def test_staff_session_ends_after_30_minutes_idle(demo, client, auth):
    auth.login("animateur-est")
    with client.session_transaction() as session:
        session["seen_at"] -= 31 * 60
    response = client.get("/groupe/")
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "Votre session a expiré" in page_text(page)


def test_staff_session_ends_after_12_hours(demo, client, auth):
    auth.login("pilote")
    with client.session_transaction() as session:
        session["started_at"] -= 12 * 3600 + 1
    assert client.get("/pilote/").status_code == 302


def test_household_session_survives_an_idle_evening(demo, client, auth):
    auth.login("foyer-est-01")
    with client.session_transaction() as session:
        session["seen_at"] -= 6 * 3600
    assert client.get("/collecte/").status_code == 200


@pytest.mark.parametrize(
    ("username", "page"), [("foyer-est-01", "/collecte/"), ("pilote", "/pilote/")]
)
def test_a_page_does_not_send_the_session_cookie_again_when_nothing_changed(
    demo, client, auth, username, page
):
    auth.login(username)
    first = client.get(page)
    again = client.get(page)
    assert (first.status_code, again.status_code) == (200, 200)
    # The first page may store the session's CSRF token; the next changes nothing.
    assert "Set-Cookie" not in again.headers
    assert "Set-Cookie" not in client.get(page).headers


def test_a_staff_session_seen_a_minute_ago_is_renewed_and_stays_open(demo, client, auth):
    auth.login("pilote")
    with client.session_transaction() as session:
        session["seen_at"] -= 25 * 60
        stale = session["seen_at"]
    response = client.get("/pilote/")
    assert response.status_code == 200
    assert "session=" in response.headers["Set-Cookie"]
    with client.session_transaction() as session:
        assert session["seen_at"] >= stale + 25 * 60
    # 25 more minutes: idle 25 min since the last request, not 50 since the login.
    with client.session_transaction() as session:
        session["seen_at"] -= 25 * 60
    assert client.get("/pilote/").status_code == 200


def test_a_foyer_cookie_is_renewed_once_a_day_of_use(demo, client, auth):
    auth.login("foyer-est-01")
    with client.session_transaction() as session:
        session["seen_at"] -= 2 * 24 * 3600
        stale = session["seen_at"]
    response = client.get("/collecte/")
    assert response.status_code == 200
    assert "session=" in response.headers["Set-Cookie"]
    assert "Expires=" in response.headers["Set-Cookie"]
    with client.session_transaction() as session:
        assert session["seen_at"] >= stale + 2 * 24 * 3600


# Invitations


def invite_foyer(client, auth, **data):
    auth.login("animateur-est")
    est = group("EST")
    form = {"display_name": "Famille Nouvelle", "adults": "2", "children": "1", "commune": "Beuvry"}
    form.update(data)
    return client.post(f"/groupe/{est.id}/inviter", data=form)


def test_facilitator_invites_a_foyer_who_creates_its_account(demo, client, auth, app):
    page = invite_foyer(client, auth, phone="06 12 34 56 78")
    assert page.status_code == 200
    html = page_text(page)
    assert 'src="data:image/svg+xml' in html  # the QR code
    assert "valable 30 jours, jusqu'au" in html
    code = code_in(page)
    assert all(ch in CODE_ALPHABET + "-" for ch in code)
    new = new_household("EST")
    assert new.display_name == "Famille Nouvelle" and new.persons == 3
    assert new.phone == "06 12 34 56 78"
    stored = db.session.scalar(sa.select(Invitation).where(Invitation.household_id == new.id))
    assert normalise_code(code) not in stored.code_hash  # only the hash is kept
    assert stored.expires_at - stored.created_at == timedelta(days=30)

    family = app.test_client()
    form = family.get(f"/invitation?code={code}")
    assert form.status_code == 200
    assert code in page_text(form)
    response = family.post(
        "/invitation",
        data={
            "code": code.lower().replace("-", " "),
            "username": "famille-nouvelle",
            "password": GOOD_PASSWORD,
            "confirm": GOOD_PASSWORD,
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/collecte/"
    account = user("famille-nouvelle")
    assert account.household_id == new.id
    assert family.get("/collecte/").status_code == 200

    # Single use.
    again = app.test_client().post(
        "/invitation",
        data={
            "code": code,
            "username": "autre-nom",
            "password": GOOD_PASSWORD,
            "confirm": GOOD_PASSWORD,
        },
    )
    assert again.status_code == 200
    assert "Ce code n'est pas valable" in page_text(again)
    assert user("autre-nom") is None


def test_expired_code_is_refused(demo, client, auth, app):
    code = code_in(invite_foyer(client, auth))
    db.session.execute(sa.update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    response = app.test_client().post(
        "/invitation",
        data={
            "code": code,
            "username": "trop-tard",
            "password": GOOD_PASSWORD,
            "confirm": GOOD_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "Ce code a expiré le" in page_text(response)
    assert user("trop-tard") is None


def test_a_new_code_voids_the_previous_one(demo, client, auth, app):
    est = group("EST")
    first = code_in(invite_foyer(client, auth))
    new = new_household("EST")
    second = code_in(client.post(f"/groupe/{est.id}/foyers/{new.id}/code"))
    assert first != second
    family = app.test_client()
    data = {"username": "famille-x", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    refused = family.post("/invitation", data={"code": first, **data})
    assert "Ce code n'est pas valable" in page_text(refused)
    assert family.post("/invitation", data={"code": second, **data}).status_code == 303


def test_reset_code_gives_a_new_password_and_ends_other_sessions(demo, client, auth, app):
    phone = app.test_client()
    phone.post("/connexion", data={"username": "foyer-est-02", "password": "carottes-et-poireaux"})
    assert phone.get("/collecte/").status_code == 200

    auth.login("animateur-est")
    target = household(demo_code("EST-02"))
    page = client.post(f"/groupe/{target.group_id}/foyers/{target.id}/code")
    assert page.status_code == 200
    assert "Nouveau mot de passe pour foyer-est-02" in page_text(page)
    code = code_in(page)

    family = app.test_client()
    form = family.get(f"/invitation?code={code}")
    assert "foyer-est-02" in page_text(form)
    response = family.post(
        "/invitation", data={"code": code, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    assert response.status_code == 303
    assert phone.get("/collecte/").status_code == 302  # the other session is over
    assert (
        family.post(
            "/connexion", data={"username": "foyer-est-02", "password": GOOD_PASSWORD}
        ).status_code
        == 303
    )
    assert (
        db.session.scalar(sa.select(sa.func.count(User.id)).where(User.household_id == target.id))
        == 1
    )


def test_facilitator_never_sees_or_sets_a_password(demo, client, auth):
    page = page_text(invite_foyer(client, auth))
    assert 'type="password"' not in page


def test_referent_enrols_an_accompanied_foyer_under_a_random_label(demo, client, auth):
    auth.login("referent-noeux")
    est = group("EST")
    noeux = db.session.scalar(sa.select(Structure).where(Structure.name == "Noeux Environnement"))
    response = client.post(
        "/accompagnement/inviter",
        data={
            "display_name": "Famille Accompagnée",
            "adults": "1",
            "children": "2",
            "commune": "Noeux-les-Mines",
            "group_id": str(est.id),
            "structure_id": str(noeux.id),
        },
    )
    assert response.status_code == 200
    code_in(response)
    new = new_household("EST")
    accompaniment = db.session.scalar(
        sa.select(Accompaniment).where(Accompaniment.household_id == new.id)
    )
    assert accompaniment.structure_id == noeux.id
    assert accompaniment.label.startswith("Foyer ")
    assert str(new.id) not in accompaniment.label and "EST" not in accompaniment.label
    # The facilitator sees the label, never the name.
    auth.logout()
    auth.login("animateur-est")
    roster = page_text(client.get(f"/groupe/{est.id}"))
    assert accompaniment.label in roster
    assert "Famille Accompagnée" not in roster


def test_referent_cannot_use_a_structure_it_does_not_belong_to(demo, client, auth):
    auth.login("referent-mjep")
    noeux = db.session.scalar(sa.select(Structure).where(Structure.name == "Noeux Environnement"))
    response = client.post(
        "/accompagnement/inviter",
        data={
            "display_name": "Famille Z",
            "adults": "1",
            "children": "0",
            "group_id": str(group("EST").id),
            "structure_id": str(noeux.id),
        },
    )
    assert response.status_code == 200
    assert new_household("EST") is None


def test_pilot_invites_a_facilitator_and_a_referent(demo, client, auth, app):
    auth.login("pilote")
    ouest = group("OUEST")
    page = client.post(
        "/pilote/equipe/inviter", data={"role": "facilitator", "group_id": str(ouest.id)}
    )
    assert page.status_code == 200
    code = code_in(page)
    staff = app.test_client()
    staff.post(
        "/invitation",
        data={
            "code": code,
            "username": "co-animatrice",
            "password": GOOD_PASSWORD,
            "confirm": GOOD_PASSWORD,
        },
    )
    assert user("co-animatrice").facilitated_group_ids() == [ouest.id]
    assert staff.get(f"/groupe/{ouest.id}").status_code == 200

    page = client.post(
        "/pilote/equipe/inviter", data={"role": "referent", "structure_name": "CCAS de Lillers"}
    )
    assert page.status_code == 200
    code = code_in(page)
    app.test_client().post(
        "/invitation",
        data={
            "code": code,
            "username": "referente-ccas",
            "password": GOOD_PASSWORD,
            "confirm": GOOD_PASSWORD,
        },
    )
    structure = db.session.scalar(sa.select(Structure).where(Structure.name == "CCAS de Lillers"))
    assert user("referente-ccas").structure_ids() == [structure.id]


def test_pilot_invitation_needs_a_group_or_a_structure(demo, client, auth):
    auth.login("pilote")
    response = client.post(
        "/pilote/equipe/inviter", data={"role": "referent", "structure_name": ""}
    )
    assert response.status_code == 200
    assert "Choisissez la structure du ou de la référent·e" in page_text(response)
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0


# Password rules


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("court", "au moins 12 caractères"),
        ("x" * 129, "au plus 128 caractères"),
        ("motdepasse2024!", "trop courant"),
        ("Azerty123456", "trop courant"),
        ("123456789012", "trop courant"),
        ("aaaaaaaaaaaaaa", "trop courant"),
        ("Carottes-et-Poireaux", "trop courant"),
        ("famille-martin-2024", "identifiant"),
    ],
)
def test_password_rules_refuse(app, password, message):
    with app.test_request_context():
        problem = password_problem(password, "famille-martin")
    assert problem is not None and message in problem


@pytest.mark.parametrize(
    "password", [GOOD_PASSWORD, "Tr0ub4dor&3 cheval", "àéèùâêîôûçëï", "x" * 120 + "abcdefgh"]
)
def test_password_rules_accept_long_phrases(app, password):
    with app.test_request_context():
        assert password_problem(password, "famille-martin") is None


def test_redeem_refuses_a_weak_password_and_keeps_the_typing(demo, client, auth, app):
    code = code_in(invite_foyer(client, auth))
    response = app.test_client().post(
        "/invitation",
        data={"code": code, "username": "famille-n", "password": "court", "confirm": "court"},
    )
    assert response.status_code == 200
    html = page_text(response)
    assert "au moins 12 caractères" in html
    assert 'value="famille-n"' in html
    assert user("famille-n") is None


def test_change_password_requires_the_current_one(demo, client, auth, app):
    auth.login("foyer-est-03")
    other_device = app.test_client()
    other_device.post(
        "/connexion", data={"username": "foyer-est-03", "password": "carottes-et-poireaux"}
    )
    wrong = client.post(
        "/mot-de-passe",
        data={"current": "faux", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
    )
    assert wrong.status_code == 200
    assert "Ce n'est pas votre mot de passe actuel." in page_text(wrong)
    right = client.post(
        "/mot-de-passe",
        data={
            "current": "carottes-et-poireaux",
            "password": GOOD_PASSWORD,
            "confirm": GOOD_PASSWORD,
        },
    )
    assert right.status_code == 303
    assert client.get("/collecte/").status_code == 200  # this device stays logged in
    assert other_device.get("/collecte/").status_code == 302  # the other one does not


def test_create_pilot_command_asks_the_password_twice(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-territory", "Pays d'essai", "--pilot", "Cheffe-Projet"],
        input="court\ncourt\n" + f"{GOOD_PASSWORD}\n" * 2,
    )
    assert result.exit_code == 0, result.output
    assert "au moins 12 caractères" in result.output
    pilot = user("cheffe-projet")
    assert pilot.roles == {"pilot"}
    another = runner.invoke(args=["create-pilot", "Adjoint"], input=f"{GOOD_PASSWORD}\n" * 2)
    assert another.exit_code == 0, another.output  # the install's only territory
    assert user("adjoint").territory_id == pilot.territory_id is not None
    taken = runner.invoke(args=["create-pilot", "cheffe-projet"], input=f"{GOOD_PASSWORD}\n" * 2)
    assert taken.exit_code != 0


# Throttling


def test_ten_failures_lock_the_account_with_retry_after(demo, client, auth):
    for _ in range(10):
        assert auth.login("foyer-est-04", "mauvais mot de passe").status_code == 200
    locked = auth.login("foyer-est-04")  # even the right password waits now
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Trop de tentatives" in page_text(locked)
    # Another account from the same address is not affected.
    assert auth.login("foyer-est-06").status_code == 303


def test_a_workshop_of_25_foyers_logs_in_from_one_address(demo, app):
    usernames = [f"foyer-est-{n:02d}" for n in range(1, 21)] + [
        f"foyer-ouest-{n:02d}" for n in range(1, 6)
    ]
    for username in usernames:
        phone = app.test_client()
        typo = phone.post("/connexion", data={"username": username, "password": "carotes"})
        assert typo.status_code == 200
        ok = phone.post(
            "/connexion", data={"username": username, "password": "carottes-et-poireaux"}
        )
        assert ok.status_code == 303, username


# CSRF


@pytest.fixture
def csrf_client(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app.test_client()


def test_login_without_csrf_token_shows_the_form_again_with_the_typing(demo, csrf_client):
    response = csrf_client.post(
        "/connexion", data={"username": "foyer-est-01", "password": "carottes-et-poireaux"}
    )
    assert response.status_code == 200
    html = page_text(response)
    assert "Rien n'a été enregistré" in html
    assert 'value="foyer-est-01"' in html
    # The page carries a fresh token, and the form then works.
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    ok = csrf_client.post(
        "/connexion",
        data={"username": "foyer-est-01", "password": "carottes-et-poireaux", "csrf_token": token},
    )
    assert ok.status_code == 303


def test_logout_without_csrf_token_is_refused(demo, csrf_client):
    page = page_text(csrf_client.get("/connexion"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    logged = csrf_client.post(
        "/connexion",
        data={"username": "foyer-est-01", "password": "carottes-et-poireaux", "csrf_token": token},
    )
    assert logged.status_code == 303
    refused = csrf_client.post("/deconnexion")
    assert refused.status_code == 400
    assert "Rien n'a été enregistré" in page_text(refused)
    assert csrf_client.get("/collecte/").status_code == 200


def test_invitation_without_csrf_token_writes_nothing(demo, csrf_client):
    page = page_text(csrf_client.get("/connexion"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    logged = csrf_client.post(
        "/connexion",
        data={"username": "animateur-est", "password": "carottes-et-poireaux", "csrf_token": token},
    )
    assert logged.status_code == 303
    est = group("EST")
    response = csrf_client.post(
        f"/groupe/{est.id}/inviter",
        data={"display_name": "Famille Sans Jeton", "adults": "1", "children": "0"},
    )
    assert response.status_code == 200
    html = page_text(response)
    assert "Rien n'a été enregistré" in html
    assert 'value="Famille Sans Jeton"' in html
    assert new_household("EST") is None


def test_a_bogus_code_says_nothing_of_the_usernames(demo, client):
    # "Cet identifiant est déjà pris" with any code told who has an account.
    for username in ("pilote", "foyer-est-01", "personne-ici"):
        answer = client.post(
            "/invitation",
            data={
                "code": "ABCD-EFGH-JKMN",
                "username": username,
                "password": GOOD_PASSWORD,
                "confirm": GOOD_PASSWORD,
            },
        )
        assert answer.status_code == 200
        text = page_text(answer)
        assert "Ce code n'est pas valable" in text
        assert "déjà pris" not in text


def test_a_request_for_another_host_is_refused(app_config, demo):
    from defi import create_app

    config = type("Config", (app_config,), {"TRUSTED_HOSTS": ["defi.example.org"]})
    client = create_app(config).test_client()
    assert client.get("/connexion", headers={"Host": "defi.example.org"}).status_code == 200
    refused = client.get("/connexion", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    assert "Cette adresse n'est pas celle du site." in refused.get_data(as_text=True)
