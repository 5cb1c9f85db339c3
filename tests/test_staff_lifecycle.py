"""Staff who leave stay out, and every new access to the accompanied foyers' names is seen
(QUALITY.md, security: staff lifecycle).

- Deactivating a staff account voids every open code of it; a code never brings a deactivated
  account back, even one issued before (a referent once regained the names for 72 h).
- The pilot gives a referent access to an existing structure by choosing it in a list, never by
  retyping its name; the structure's referents see the invitation at once and may cancel it,
  then see the new access ("nouvel accès à vos foyers", who invited, when) and may take it
  back: the newcomer's sessions end. A newcomer cannot take back an older access.
- Every grant and removal of a staff role is in the audit trail the pilot reads, with who and
  when; no foyer ever is.
"""

import re

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.models import AuditEvent
from defi.models import Household
from defi.models import Invitation
from defi.models import Membership
from defi.models import Structure
from defi.models import User
from tests.conftest import IN_DEMO
from tests.conftest import Auth
from tests.conftest import demo_code
from tests.conftest import page_text
from tests.conftest import territory_id
from tests.test_accounts import GOOD_PASSWORD
from tests.test_accounts import code_in
from tests.test_accounts import group
from tests.test_accounts import user


def redeem(app, code, username=None, password=GOOD_PASSWORD):
    """Use a code in a fresh browser: (its client, the answer)."""
    browser = app.test_client()
    data = {"code": code, "password": password, "confirm": password}
    if username:
        data["username"] = username
    return browser, browser.post("/invitation", data=data)


def structure(name):
    return db.session.scalar(sa.select(Structure).where(Structure.name == name))


def audit_rows():
    return db.session.execute(
        sa.select(
            AuditEvent.actor_name,
            AuditEvent.action,
            AuditEvent.subject_name,
            AuditEvent.role,
            AuditEvent.scope_name,
        ).order_by(AuditEvent.id)
    ).all()


# Staff who leave


def test_deactivation_voids_the_accounts_open_codes(demo, client, auth, app):
    auth.login("pilote")
    target = user("referent-mjep")
    code = code_in(client.post(f"/pilote/equipe/{target.id}/code"))
    assert client.post(f"/pilote/equipe/{target.id}/statut").status_code == 303
    db.session.expire_all()
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Invitation.id)).where(
                Invitation.user_id == target.id, Invitation.voided_at.is_(None)
            )
        )
        == 0
    )
    _browser, answer = redeem(app, code)
    assert answer.status_code == 200
    assert "Ce code n'est pas valable" in page_text(answer)
    db.session.expire_all()
    assert user("referent-mjep").active is False
    assert Auth(app.test_client()).login("referent-mjep", GOOD_PASSWORD).status_code == 200


def test_a_code_never_brings_a_deactivated_account_back(demo, client, auth, app):
    # A code issued while the account was active, the account then deactivated some other way
    # (an older version, or by hand): the code still does not open it.
    auth.login("pilote")
    target = user("referent-mjep")
    code = code_in(client.post(f"/pilote/equipe/{target.id}/code"))
    target.active = False
    db.session.commit()
    looked_up = app.test_client().get("/invitation", query_string={"code": code})
    assert "referent-mjep" not in page_text(looked_up)
    browser, answer = redeem(app, code)
    assert answer.status_code == 200
    assert "Ce code n'est pas valable" in page_text(answer)
    db.session.expire_all()
    assert user("referent-mjep").active is False
    assert browser.get("/accompagnement/").status_code == 302


def test_a_reset_code_for_a_deactivated_account_is_refused_by_the_pilot(demo, client, auth):
    auth.login("pilote")
    target = user("animateur-est")
    assert client.post(f"/pilote/equipe/{target.id}/statut").status_code == 303
    refused = client.post(f"/pilote/equipe/{target.id}/code", follow_redirects=True)
    assert "Réactivez d'abord le compte animateur-est." in page_text(refused)
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Invitation.id)).where(Invitation.user_id == target.id)
        )
        == 0
    )


# A new referent of a structure that has referents


def test_an_existing_structure_is_chosen_never_retyped(demo, client, auth):
    auth.login("pilote")
    page = page_text(client.get("/pilote/"))
    assert "MJEP d&#39;Isbergues" in page or "MJEP d'Isbergues" in page
    for typed in ("MJEP d'Isbergues", "mjep d'isbergues"):
        answer = client.post(
            "/pilote/equipe/inviter", data={"role": "referent", "structure_name": typed}
        )
        assert answer.status_code == 200
        assert "Une structure porte déjà ce nom : choisissez-la dans la liste" in page_text(answer)
    both = client.post(
        "/pilote/equipe/inviter",
        data={
            "role": "referent",
            "structure_id": str(structure("MJEP d'Isbergues").id),
            "structure_name": "Autre",
        },
    )
    assert "pas les deux" in page_text(both)
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Structure.id))) == 2 + 1  # + Lumbres


def invite_referent(client, structure_name):
    page = client.post(
        "/pilote/equipe/inviter",
        data={"role": "referent", "structure_id": str(structure(structure_name).id)},
    )
    assert page.status_code == 200
    return code_in(page)


def test_referents_see_and_cancel_an_invitation_to_their_structure(demo, client, auth, app):
    auth.login("pilote")
    code = invite_referent(client, "MJEP d'Isbergues")
    referent = app.test_client()
    Auth(referent).login("referent-mjep")
    home = page_text(referent.get("/accompagnement/"))
    assert "Invitation en attente pour MJEP d'Isbergues" in home
    assert "nouvel accès à vos foyers" in home
    assert "par pilote" in home
    # Another structure's referent does not see it, and cannot cancel it.
    other = app.test_client()
    Auth(other).login("referent-noeux")
    assert "Invitation en attente" not in page_text(other.get("/accompagnement/"))
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.role == "referent"))
    assert other.post(f"/accompagnement/invitations/{invitation.id}/annuler").status_code == 404

    cancelled = referent.post(
        f"/accompagnement/invitations/{invitation.id}/annuler", follow_redirects=True
    )
    assert "L'invitation est annulée" in page_text(cancelled)
    _browser, answer = redeem(app, code, "nouvelle-referente")
    assert "Ce code n'est pas valable" in page_text(answer)
    assert user("nouvelle-referente") is None
    assert ("referent-mjep", "invitation_voided", "", "referent", "MJEP d'Isbergues") in (
        audit_rows()
    )


def test_referents_see_a_new_access_and_take_it_back(demo, client, auth, app):
    auth.login("pilote")
    code = invite_referent(client, "MJEP d'Isbergues")
    newcomer, answer = redeem(app, code, "nouvelle-referente")
    assert answer.status_code == 303
    foyers = page_text(newcomer.get("/accompagnement/"))
    assert "Mes foyers accompagnés" in foyers
    mine = db.session.scalar(
        sa.select(Membership).join(Membership.user).where(User.username == "nouvelle-referente")
    )
    older = db.session.scalar(
        sa.select(Membership).join(Membership.user).where(User.username == "referent-mjep")
    )
    assert mine.granted_by_id == user("pilote").id
    # The newcomer cannot take the older access back: it is not a newer one.
    refused = newcomer.post(f"/accompagnement/acces/{older.id}/retirer")
    assert refused.status_code == 404

    referent = app.test_client()
    Auth(referent).login("referent-mjep")
    home = page_text(referent.get("/accompagnement/"))
    assert "nouvelle-referente" in home
    assert "nouvel accès à vos foyers" in home
    assert "invité·e par pilote" in home
    taken = referent.post(f"/accompagnement/acces/{mine.id}/retirer", follow_redirects=True)
    assert "nouvelle-referente n'a plus accès à vos foyers." in page_text(taken)
    # The newcomer's session is over, and its account has no role left.
    assert newcomer.get("/accompagnement/").status_code == 302
    db.session.expire_all()
    assert user("nouvelle-referente").active is False
    assert Auth(app.test_client()).login("nouvelle-referente", GOOD_PASSWORD).status_code == 200
    assert [row[1:] for row in audit_rows()] == [
        ("invited", "", "referent", "MJEP d'Isbergues"),
        ("granted", "nouvelle-referente", "referent", "MJEP d'Isbergues"),
        ("revoked", "nouvelle-referente", "referent", "MJEP d'Isbergues"),
    ]
    assert [row[0] for row in audit_rows()] == ["pilote", "pilote", "referent-mjep"]


# The audit trail


def test_the_pilot_reads_every_grant_and_removal_and_no_foyer(demo, client, auth, app):
    auth.login("pilote")
    ouest = group("OUEST")
    page = client.post(
        "/pilote/equipe/inviter", data={"role": "facilitator", "group_id": str(ouest.id)}
    )
    redeem(app, code_in(page), "co-animatrice")
    invited = client.post(
        "/pilote/equipe/inviter", data={"role": "referent", "structure_name": "CCAS de Lillers"}
    )
    assert invited.status_code == 200
    target = user("animateur-est")
    assert client.post(f"/pilote/equipe/{target.id}/code").status_code == 200
    assert client.post(f"/pilote/equipe/{target.id}/statut").status_code == 303
    assert client.post(f"/pilote/equipe/{target.id}/statut").status_code == 303
    # A facilitator invites a foyer: not staff, not in the trail.
    facilitator = app.test_client()
    Auth(facilitator).login("animatrice-ouest")
    facilitator.post(
        f"/groupe/{ouest.id}/inviter",
        data={"display_name": "Famille Tournesol", "adults": "2", "children": "1"},
    )
    assert audit_rows() == [
        ("pilote", "invited", "", "facilitator", "Graines d'idées"),
        ("pilote", "granted", "co-animatrice", "facilitator", "Graines d'idées"),
        ("pilote", "invited", "", "referent", "CCAS de Lillers"),
        ("pilote", "password_code", "animateur-est", "facilitator", ""),
        ("pilote", "deactivated", "animateur-est", "facilitator", "Les LokoMotiv'"),
        ("pilote", "reactivated", "animateur-est", "facilitator", "Les LokoMotiv'"),
    ]
    journal = client.get("/pilote/journal")
    assert journal.status_code == 200
    text = page_text(journal)
    for sentence in (
        "a imprimé une invitation",
        "a donné l'accès",
        "a imprimé un code de mot de passe",
        "a désactivé le compte",
        "a réactivé le compte",
        "co-animatrice",
        "CCAS de Lillers",
    ):
        assert sentence in text, sentence
    assert "Tournesol" not in text
    assert "foyer-" not in text


def test_the_audit_trail_is_paged(demo, client, auth):
    from defi.accounts.services import record_staff_event

    pilot = user("pilote")
    for _ in range(130):
        record_staff_event("password_code", pilot, "facilitator", subject=user("animateur-est"))
    db.session.commit()
    auth.login("pilote")
    first = page_text(client.get("/pilote/journal"))
    assert first.count("a imprimé un code de mot de passe") == 100
    older = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)).all()[30]
    assert f"/pilote/journal?avant={older}" in first
    second = page_text(client.get(f"/pilote/journal?avant={older}"))
    assert second.count("a imprimé un code de mot de passe") == 30
    assert "Plus anciens" not in second


def test_next_years_facilitators_and_a_new_pilot_are_in_the_trail(demo, client, auth, app):
    auth.login("pilote")
    answer = client.post("/pilote/defis/suivant", data={"name": "Défi Famille 2022-2023"})
    assert answer.status_code == 303
    granted = [row for row in audit_rows() if row[1] == "granted"]
    assert ("pilote", "granted", "animateur-est", "facilitator", "Les LokoMotiv'") in granted
    assert len(granted) == 2
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-pilot", "cheffe-projet", *IN_DEMO], input=f"{GOOD_PASSWORD}\n" * 2
    )
    assert result.exit_code == 0, result.output
    assert audit_rows()[-1] == ("", "granted", "cheffe-projet", "pilot", "")


def test_an_import_attaches_its_accompanied_foyers_to_a_structure_that_exists(demo, client, auth):
    # Once, an import made a structure of its own, with nobody as its referent: nobody would
    # see a new access to its foyers' names. Now the pilot names an existing structure.
    from defi.models import Accompaniment
    from defi.pilot.imports import ImportRejected
    from defi.pilot.imports import import_entries
    from defi.pilot.imports.write import IMPORT_STRUCTURE
    from tests.test_import import releves

    structures_before = db.session.scalar(sa.select(sa.func.count(Structure.id)))
    with pytest.raises(ImportRejected) as refused:
        # H-00000 is said accompanied
        import_entries(releves(3), "Défi 2016", territory_id=territory_id(), create_challenge=True)
    db.session.rollback()
    assert refused.value.message == (
        "Ligne 2 : le foyer H-00000 est nouveau et accompagné : choisissez la structure qui "
        "accompagne les nouveaux foyers accompagnés du fichier."
    )
    assert db.session.scalar(sa.select(sa.func.count(Structure.id))) == structures_before
    mjep = structure("MJEP d'Isbergues")
    import_entries(
        releves(3), "Défi 2016", mjep.id, territory_id=territory_id(), create_challenge=True
    )
    db.session.commit()
    attached = db.session.scalar(
        sa.select(Accompaniment.structure_id)
        .join(Household, Household.id == Accompaniment.household_id)
        .where(Household.code == "H-00000")
    )
    assert attached == mjep.id
    assert db.session.scalar(sa.select(sa.func.count(Structure.id))) == structures_before
    # The structure earlier versions made is still never offered for a referent.
    db.session.add(Structure(name=IMPORT_STRUCTURE, territory_id=territory_id()))
    db.session.commit()
    auth.login("pilote")
    assert IMPORT_STRUCTURE not in page_text(client.get("/pilote/"))
    typed = client.post(
        "/pilote/equipe/inviter",
        data={"role": "referent", "structure_name": IMPORT_STRUCTURE.upper()},
    )
    assert typed.status_code == 200
    assert "Une structure porte déjà ce nom" in page_text(typed)
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0


def test_the_import_page_offers_the_structures(demo, client, auth):
    auth.login("pilote")
    page = client.get("/pilote/import")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Structure qui accompagne les nouveaux foyers accompagnés" in html
    assert "MJEP d&#39;Isbergues" in html or "MJEP d'Isbergues" in html


def test_referents_see_and_cancel_a_password_code_for_one_of_theirs(demo, client, auth, app):
    # Whoever holds such a code takes the account, and with it the foyers' names.
    auth.login("pilote")
    target = user("referent-mjep")
    code = code_in(client.post(f"/pilote/equipe/{target.id}/code"))
    referent = app.test_client()
    Auth(referent).login("referent-mjep")
    home = re.sub(r"<[^>]+>", "", page_text(referent.get("/accompagnement/")))
    assert "Code pour choisir un nouveau mot de passe du compte referent-mjep" in home
    assert "par pilote" in home
    other = app.test_client()
    Auth(other).login("referent-noeux")
    assert "referent-mjep" not in page_text(other.get("/accompagnement/"))
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.user_id == target.id))
    assert other.post(f"/accompagnement/invitations/{invitation.id}/annuler").status_code == 404
    cancelled = referent.post(
        f"/accompagnement/invitations/{invitation.id}/annuler", follow_redirects=True
    )
    assert cancelled.status_code == 200
    _browser, answer = redeem(app, code)
    assert "Ce code n'est pas valable" in page_text(answer)
    assert audit_rows()[-1] == (
        "referent-mjep",
        "invitation_voided",
        "referent-mjep",
        "referent",
        "MJEP d'Isbergues",
    )


def test_codes_a_staff_member_printed_die_with_its_access(demo, client, auth, app):
    # A facilitator who left kept a printed code: it opened a foyer's account, or a new one.
    facilitator = app.test_client()
    Auth(facilitator).login("animatrice-ouest")
    ouest = group("OUEST")
    from tests.test_accounts import household

    target = household(demo_code("OUEST-05"))
    reset = code_in(facilitator.post(f"/groupe/{ouest.id}/foyers/{target.id}/code"))
    invited = code_in(
        facilitator.post(
            f"/groupe/{ouest.id}/inviter",
            data={"display_name": "Famille Tournesol", "adults": "2", "children": "1"},
        )
    )
    auth.login("pilote")
    gone = client.post(
        f"/pilote/equipe/{user('animatrice-ouest').id}/statut", follow_redirects=True
    )
    assert "Les 2 codes qu'il ou elle avait imprimés pour des foyers ne marchent plus" in (
        page_text(gone)
    )
    for code, username in ((reset, None), (invited, "famille-tournesol")):
        _browser, answer = redeem(app, code, username)
        assert answer.status_code == 200
        assert "Ce code n'est pas valable" in page_text(answer)
    assert user("famille-tournesol") is None


@pytest.mark.parametrize(
    "typed",
    [
        "  MJEP   d'Isbergues ",
        "MJEP\u00a0d'Isbergues",
        "MJ\u200bEP d'Isbergues",
        "\uff2d\uff2a\uff25\uff30 d'Isbergues",
        "MJÉP d’Isbergues",
        "Nœux Environnement",
        "noeux-environnement",
    ],
)
def test_a_structure_that_reads_the_same_is_not_new(demo, client, auth, typed):
    auth.login("pilote")
    answer = client.post(
        "/pilote/equipe/inviter", data={"role": "referent", "structure_name": typed}
    )
    assert "Une structure porte déjà ce nom" in page_text(answer), repr(typed)
    assert db.session.scalar(sa.select(sa.func.count(Structure.id))) == 2 + 1  # + Lumbres


def test_a_new_structure_is_stored_on_one_line(demo, client, auth):
    auth.login("pilote")
    page = client.post(
        "/pilote/equipe/inviter",
        data={"role": "referent", "structure_name": " CCAS\u200b  de\tLillers "},
    )
    assert page.status_code == 200
    assert structure("CCAS de Lillers") is not None
