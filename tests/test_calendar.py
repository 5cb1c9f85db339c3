"""The calendar: events, attendance at the door, the foyers' view, the iCal feed, privacy."""

import hashlib
import re
from datetime import datetime

import pytest
import sqlalchemy as sa

from defi.calendar.forms import KIND_LABELS
from defi.calendar.ical import escape_text
from defi.calendar.ical import fold
from defi.extensions import db
from defi.models import Accompaniment
from defi.models import Attendance
from defi.models import Event
from defi.models import Group
from defi.models import Household
from defi.models import User
from defi.models.base import utcnow
from defi.models.calendar import EVENT_KINDS
from tests.conftest import demo_code
from tests.conftest import page_text

HTMX = {"HX-Request": "true"}
EST_ONLY = "Visite de la Ferme du Bois"
OUEST_ONLY = "Visite du Verger Delobel"
SHARED = "Visite de la Chèvrerie de la Lys"
ACCOMPANIED_EST = (demo_code("EST-05"), demo_code("EST-12"), demo_code("EST-18"))


def present(count):
    """ "foyer présent" or "foyers présents", as French counts them (0 and 1 are singular)."""
    return "foyers présents" if count > 1 else "foyer présent"


def group(prefix):
    return db.session.scalar(sa.select(Group).where(Group.code_prefix == prefix))


def household(code):
    return db.session.scalar(sa.select(Household).where(Household.code == code))


def event(title):
    return db.session.scalar(sa.select(Event).where(Event.title == title))


def user(username):
    return db.session.scalar(sa.select(User).where(User.username == username))


def attendance_of(target_event, target_household):
    return db.session.scalar(
        sa.select(Attendance).where(
            Attendance.event_id == target_event.id,
            Attendance.household_id == target_household.id,
        )
    )


def accompanied_count(target_event, target_group):
    from defi.models import event_groups

    return db.session.scalar(
        sa.select(event_groups.c.accompanied_present).where(
            event_groups.c.event_id == target_event.id, event_groups.c.group_id == target_group.id
        )
    )


def label_of(code):
    return db.session.scalar(
        sa.select(Accompaniment.label).where(Accompaniment.household_id == household(code).id)
    )


@pytest.fixture
def facilitator(demo, auth):
    assert auth.login("animateur-est").status_code == 303
    return group("EST")


def event_data(**values):
    data = {
        "kind": "visite",
        "title": "Visite de la ferme Delattre",
        "day": "2030-06-14",
        "starts": "18:30",
        "ends": "20:00",
        "place": "Ferme Delattre, 12 rue du Moulin; Gonnehem",
        "description": "Apportez des bottes.\nCovoiturage depuis la gare.",
    }
    data.update(values)
    return data


# Events


def test_create_an_event(facilitator, client):
    url = f"/calendrier/groupe/{facilitator.id}"
    assert client.get(url + "/nouveau").status_code == 200
    response = client.post(url + "/nouveau", data=event_data())
    assert response.status_code == 303
    assert response.headers["Location"] == url
    created = event("Visite de la ferme Delattre")
    assert created.kind == "visite"
    assert [g.id for g in created.groups] == [facilitator.id]
    assert created.challenge_id == facilitator.challenge_id
    # Typed in France in June (UTC+2), stored in UTC.
    assert created.starts_at == datetime(2030, 6, 14, 16, 30)
    assert created.ends_at == datetime(2030, 6, 14, 18, 0)
    assert created.description == "Apportez des bottes.\nCovoiturage depuis la gare."
    html = page_text(client.get(url))
    assert "« Visite de la ferme Delattre » est au calendrier." in html
    assert "Visite de la ferme Delattre" in html
    assert "14 juin 2030, 18:30 – 20:00" in html
    assert "Ferme Delattre, 12 rue du Moulin; Gonnehem" in html


def test_every_kind_of_the_model_has_a_french_name():
    assert tuple(KIND_LABELS) == EVENT_KINDS


def test_a_winter_time_is_stored_in_utc_and_shown_back_as_typed(facilitator, client):
    url = f"/calendrier/groupe/{facilitator.id}/nouveau"
    data = event_data(day="2031-01-18", starts="10:00", ends="")
    assert client.post(url, data=data).status_code == 303
    created = event("Visite de la ferme Delattre")
    assert created.starts_at == datetime(2031, 1, 18, 9, 0)  # UTC+1 in January
    assert created.ends_at is None
    html = page_text(client.get(f"/calendrier/groupe/{facilitator.id}/{created.id}"))
    assert 'value="10:00"' in html
    assert 'value="2031-01-18"' in html


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "  "}, "Donnez un titre"),
        ({"title": "x" * 201}, "200 caractères au plus."),
        ({"day": ""}, "Indiquez la date."),
        ({"day": "2030-02-30"}, "N'est pas une date valide."),
        ({"day": "1899-12-31"}, "Choisissez une date entre 2000 et 2100."),
        ({"starts": ""}, "Indiquez l'heure de début."),
        ({"starts": "25:00"}, "N'est pas un horaire valide."),
        ({"ends": "17:00"}, "L'heure de fin doit venir après l'heure de début."),
        ({"kind": "fete"}, "N'est pas un choix valide."),
        ({"description": "x" * 5001}, "5 000 caractères au plus."),
    ],
)
def test_impossible_events_are_refused_in_french(facilitator, client, fields, message):
    response = client.post(
        f"/calendrier/groupe/{facilitator.id}/nouveau", data=event_data(**fields)
    )
    assert response.status_code == 200
    html = page_text(response)
    assert message in html
    assert 'class="field-error"' in html
    assert event("Visite de la ferme Delattre") is None


def test_edit_an_event(facilitator, client):
    target = event(EST_ONLY)
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}"
    form = page_text(client.get(url))
    assert f'value="{EST_ONLY}"' in form
    assert f'name="version" type="hidden" value="{target.version}"' in form
    data = event_data(title="Visite de la Ferme du Bois (nouvelle date)", day="2030-10-05")
    response = client.post(url, data=dict(data, version=str(target.version)))
    assert response.status_code == 303
    db.session.expire_all()
    changed = db.session.get(Event, target.id)
    assert changed.title == "Visite de la Ferme du Bois (nouvelle date)"
    assert changed.starts_at == datetime(2030, 10, 5, 16, 30)
    assert changed.version == 2
    html = page_text(client.get(f"/calendrier/groupe/{facilitator.id}"))
    assert "« Visite de la Ferme du Bois (nouvelle date) » est modifié." in html
    assert "5 octobre 2030, 18:30 – 20:00" in html


def test_a_stale_edit_is_refused_with_what_was_typed(facilitator, client):
    target = event(EST_ONLY)
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}"
    response = client.post(url, data=event_data(title="Écrasé ?", version="0"))
    assert response.status_code == 409
    html = page_text(response)
    assert "modifié entre-temps" in html
    assert 'value="Écrasé ?"' in html
    assert f'value="{target.version}"' in html  # sending again goes on top of the saved one
    db.session.expire_all()
    assert db.session.get(Event, target.id).title == EST_ONLY


def test_cancel_an_event_and_take_it_back(facilitator, client):
    target = event(EST_ONLY)
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/annulation"
    response = client.post(url)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Event, target.id).cancelled_at is not None
    html = page_text(client.get(f"/calendrier/groupe/{facilitator.id}"))
    assert f"« {EST_ONLY} » est annulé." in html
    assert "annulé</strong>" in html
    assert "Rétablir" in html
    assert client.post(url).status_code == 303
    db.session.expire_all()
    assert db.session.get(Event, target.id).cancelled_at is None


# Attendance


def test_tick_and_untick_a_foyer_at_once_with_htmx(facilitator, client):
    target, foyer, other = (
        event(EST_ONLY),
        household(demo_code("EST-02")),
        household(demo_code("EST-03")),
    )
    db.session.execute(sa.delete(Attendance).where(Attendance.event_id == target.id))
    db.session.commit()
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences/cocher"
    key, other_key = str(foyer.id), str(other.id)
    # htmx sends the whole sheet with the box: only the box's own foyer changes.
    response = client.post(url, data={"foyer": key, "present": [key, other_key]}, headers=HTMX)
    assert response.status_code == 200
    html = page_text(response)
    assert "<html" not in html
    assert 'id="present-count"' in html
    assert "<strong>1</strong> foyer présent · enregistré" in html
    ticked = attendance_of(target, foyer)
    assert ticked is not None
    assert ticked.recorded_by_id == user("animateur-est").id
    assert attendance_of(target, other) is None
    response = client.post(url, data={"foyer": key, "present": [other_key]}, headers=HTMX)
    assert response.status_code == 200
    assert "<strong>0</strong> foyer présent" in page_text(response)
    assert attendance_of(target, foyer) is None


def test_one_box_without_htmx_goes_back_to_the_sheet(facilitator, client):
    target, foyer = event(EST_ONLY), household(demo_code("EST-02"))
    db.session.execute(sa.delete(Attendance).where(Attendance.event_id == target.id))
    db.session.commit()
    base = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences"
    response = client.post(base + "/cocher", data={"foyer": str(foyer.id), "present": [foyer.id]})
    assert response.status_code == 303
    assert response.headers["Location"] == base
    assert attendance_of(target, foyer) is not None


def test_a_box_of_another_group_or_an_unknown_one_is_404(facilitator, client):
    target = event(EST_ONLY)
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences/cocher"
    ouest_foyer = household(demo_code("OUEST-01"))
    ouest_label = db.session.scalar(
        sa.select(Accompaniment.label).where(Accompaniment.group_id == group("OUEST").id)
    )
    est_labels = set(
        db.session.scalars(
            sa.select(Accompaniment.label).where(Accompaniment.group_id == facilitator.id)
        )
    )
    for key in (str(ouest_foyer.id), str(household(demo_code("EST-05")).id), "Foyer Inconnu"):
        response = client.post(url, data={"foyer": key, "present": [key]}, headers=HTMX)
        assert response.status_code == 404, key
    if ouest_label not in est_labels:
        data = {"foyer": ouest_label, "present": [ouest_label]}
        assert client.post(url, data=data, headers=HTMX).status_code == 404
    assert client.post(url, data={}, headers=HTMX).status_code == 400
    assert attendance_of(target, ouest_foyer) is None


def test_the_sheet_saves_every_box_without_javascript(facilitator, client):
    target = event(EST_ONLY)
    url = f"/calendrier/groupe/{facilitator.id}/presences"
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences"
    page = client.get(url)
    assert page.status_code == 200
    html = page_text(page)
    assert 'type="submit">Enregistrer les présences' in html
    assert 'type="checkbox"' in html
    ticked = [str(household(demo_code("EST-01")).id), str(household(demo_code("EST-04")).id)]
    response = client.post(url, data={"present": ticked, "accompanied": "1"})
    assert response.status_code == 303
    assert response.headers["Location"] == url
    present = set(
        db.session.scalars(
            sa.select(Household.code)
            .join(Attendance, Attendance.household_id == Household.id)
            .where(Attendance.event_id == target.id)
        )
    )
    assert present == {demo_code("EST-01"), demo_code("EST-04")}
    assert accompanied_count(target, facilitator) == 1
    html = page_text(client.get(url))
    assert "Présences enregistrées : 3 foyers." in html
    assert "<strong>3</strong> foyers présents" in html
    assert html.count("checked") == 2
    # More accompanied foyers than the group has is refused, in French, nothing written.
    refused = client.post(url, data={"present": ticked, "accompanied": "9"})
    assert refused.status_code == 200
    assert "Entre 0 et 2 foyers accompagnés." in page_text(refused)
    assert accompanied_count(target, facilitator) == 1


def test_withdrawn_foyers_are_on_the_sheet_only_where_they_were_ticked(facilitator, client):
    withdrawn = household(demo_code("EST-07"))
    assert not withdrawn.is_active
    first, later = event("Atelier : lancement et premières mesures"), event(EST_ONLY)
    first = db.session.scalar(
        sa.select(Event)
        .where(Event.title == first.title)
        .where(Event.groups.any(Group.code_prefix == "EST"))
    )
    db.session.execute(
        sa.delete(Attendance).where(
            Attendance.household_id == withdrawn.id, Attendance.event_id == later.id
        )
    )
    if attendance_of(first, withdrawn) is None:
        db.session.add(Attendance(event_id=first.id, household_id=withdrawn.id))
    db.session.commit()
    base = f"/calendrier/groupe/{facilitator.id}"
    assert withdrawn.display_name in page_text(client.get(f"{base}/{first.id}/presences"))
    assert withdrawn.display_name not in page_text(client.get(f"{base}/{later.id}/presences"))
    # The sheet's button leaves foyers that are not on it as they are.
    assert client.post(f"{base}/{later.id}/presences", data={"present": []}).status_code == 303
    assert attendance_of(first, withdrawn) is not None


def test_the_sheet_as_an_htmx_fragment_is_the_count(facilitator, client):
    target = event(EST_ONLY)
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences"
    response = client.get(url, headers=HTMX)
    assert response.status_code == 200
    html = page_text(response)
    assert "<html" not in html
    assert html.strip().startswith('<p id="present-count"')
    full = client.get(url, headers={**HTMX, "HX-Boosted": "true"})
    assert "<html" in full.get_data(as_text=True)


def test_a_shared_event_shows_and_counts_only_the_groups_foyers(facilitator, client):
    shared = event(SHARED)
    ouest_present = db.session.scalar(
        sa.select(sa.func.count(Attendance.id))
        .join(Household, Household.id == Attendance.household_id)
        .where(Attendance.event_id == shared.id, Household.group_id == group("OUEST").id)
    )
    est_present = db.session.scalar(
        sa.select(sa.func.count(Attendance.id))
        .join(Household, Household.id == Attendance.household_id)
        .where(Attendance.event_id == shared.id, Household.group_id == facilitator.id)
    )
    assert ouest_present > 0
    est_present += accompanied_count(shared, facilitator)
    html = page_text(client.get(f"/calendrier/groupe/{facilitator.id}/{shared.id}/presences"))
    assert f"<strong>{est_present}</strong> {present(est_present)}" in html
    assert household(demo_code("OUEST-01")).display_name not in html


def test_attendance_figures_per_event_and_per_foyer(facilitator, client):
    counts = dict(
        db.session.execute(
            sa.select(Event.title, sa.func.count(Attendance.id))
            .join(Attendance, Attendance.event_id == Event.id)
            .join(Household, Household.id == Attendance.household_id)
            .where(Household.group_id == facilitator.id, Event.title == EST_ONLY)
            .group_by(Event.title)
        ).all()
    )
    counts[EST_ONLY] += accompanied_count(event(EST_ONLY), facilitator)
    html = page_text(client.get(f"/calendrier/groupe/{facilitator.id}"))
    card = html.split(EST_ONLY, 1)[1].split("</article>", 1)[0]
    assert f"<strong>{counts[EST_ONLY]}</strong> {present(counts[EST_ONLY])}" in card
    # Per foyer: the Est group had 6 events, all past, none cancelled.
    first = household(demo_code("EST-01"))
    came = db.session.scalar(
        sa.select(sa.func.count(Attendance.id)).where(Attendance.household_id == first.id)
    )
    response = client.get(f"/calendrier/groupe/{facilitator.id}/presences")
    assert response.status_code == 200
    summary = page_text(response)
    assert "Évènements du groupe déjà passés (hors annulés) : <strong>6</strong>." in summary
    line = summary.split(first.display_name, 1)[1].split("</li>", 1)[0]
    assert f"<strong>{came} / 6</strong>" in line
    # Accompanied foyers: one total, counted at each event, no line per label.
    from defi.models import event_groups

    total = db.session.scalar(
        sa.select(sa.func.sum(event_groups.c.accompanied_present)).where(
            event_groups.c.group_id == facilitator.id
        )
    )
    assert f"<strong>{total}</strong> présence{'s' if total > 1 else ''} en tout." in summary
    for code in ACCOMPANIED_EST:
        assert label_of(code) not in summary


# Privacy


def test_accompanied_foyers_are_counted_never_named_nor_labelled(facilitator, client):
    secrets_of = []
    for code in ACCOMPANIED_EST:
        target = household(code)
        target.display_name = f"Famille Secrète {code}"
        target.commune = f"Commune-Cachée-{code}"
        target.phone = f"07 00 00 {code[-2:]} 99"
        target.email = f"cache.{code.lower()}@example.org"
        username = db.session.scalar(sa.select(User.username).where(User.household_id == target.id))
        secrets_of.append((target, username))
    db.session.commit()
    est_event = event(EST_ONLY)
    base = f"/calendrier/groupe/{facilitator.id}"
    # Two accompanied foyers came: the count is saved at once; the fragment is searched too.
    mark = client.post(
        f"{base}/{est_event.id}/presences/cocher", data={"accompanied": "2"}, headers=HTMX
    )
    assert mark.status_code == 200
    assert accompanied_count(est_event, facilitator) == 2
    # A label is no key of the sheet: it ticks nobody.
    by_label = client.post(
        f"{base}/{est_event.id}/presences/cocher",
        data={"foyer": label_of(demo_code("EST-05")), "present": [label_of(demo_code("EST-05"))]},
        headers=HTMX,
    )
    assert by_label.status_code == 404
    pages = [("mark", mark.get_data(as_text=True))]
    for url in (
        base,
        f"{base}/{est_event.id}/presences",
        f"{base}/{event(SHARED).id}/presences",
        f"{base}/presences",
        f"{base}/{est_event.id}",
        f"{base}/nouveau",
    ):
        for headers in ({}, HTMX):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            pages.append((url, response.get_data(as_text=True)))
    sheet = page_text(client.get(f"{base}/{est_event.id}/presences"))
    summary = page_text(client.get(f"{base}/presences"))
    for code in ACCOMPANIED_EST:
        # Not even their label: ticking a label at the door would tell who it hides.
        assert label_of(code) not in sheet
        assert label_of(code) not in summary
    for target, username in secrets_of:
        values = (target.display_name, target.commune, target.phone, target.email, username)
        for value in (*values, target.code):
            for url, html in pages:
                assert value not in html, (value, url)
                assert value not in page_text_of(html), (value, url)
        for url, html in pages:
            text = page_text_of(html)
            assert f'value="{target.id}"' not in text, url
            assert f'"foyer": "{target.id}"' not in text, url
            assert not re.search(rf"/foyers/{target.id}(?:\D|$)", html), url


def page_text_of(html):
    import html as html_module

    return html_module.unescape(html)


def test_another_groups_facilitator_gets_404_on_every_calendar_url(demo, auth, client):
    est, target = group("EST"), event(EST_ONLY)
    assert auth.login("animatrice-ouest").status_code == 303
    base = f"/calendrier/groupe/{est.id}"
    for method, url in (
        ("GET", base),
        ("GET", f"{base}/nouveau"),
        ("POST", f"{base}/nouveau"),
        ("GET", f"{base}/{target.id}"),
        ("POST", f"{base}/{target.id}"),
        ("POST", f"{base}/{target.id}/annulation"),
        ("GET", f"{base}/{target.id}/presences"),
        ("POST", f"{base}/{target.id}/presences"),
        ("POST", f"{base}/{target.id}/presences/cocher"),
        ("GET", f"{base}/presences"),
    ):
        data = event_data() if method == "POST" else None
        assert client.open(url, method=method, data=data).status_code == 404, (method, url)
    # Its own group with the other group's event: no such event there either.
    own = f"/calendrier/groupe/{group('OUEST').id}/{target.id}"
    assert client.get(own).status_code == 404
    assert client.get(own + "/presences").status_code == 404
    assert client.post(own + "/annulation").status_code == 404
    db.session.expire_all()
    assert event(EST_ONLY).cancelled_at is None


def test_a_facilitator_lands_on_its_groups_calendar(facilitator, client):
    response = client.get("/calendrier/")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/calendrier/groupe/{facilitator.id}"


def test_facilitator_of_two_groups_switches_calendar(demo, auth, client):
    from defi.models import Membership

    account = user("animateur-est")
    account.memberships.append(Membership(role="facilitator", group=group("OUEST")))
    db.session.commit()
    auth.login("animateur-est")
    html = page_text(client.get(f"/calendrier/groupe/{group('EST').id}"))
    assert f"/calendrier/groupe/{group('OUEST').id}" in html
    ouest = page_text(client.get(f"/calendrier/groupe/{group('OUEST').id}"))
    assert OUEST_ONLY in ouest
    assert EST_ONLY not in ouest


# The foyer's calendar


def test_a_foyer_sees_its_groups_calendar_only(demo, auth, client):
    cancelled = event("Atelier culinaire anti-gaspillage")  # an Est and an Ouest one
    est_workshop = db.session.scalar(
        sa.select(Event)
        .where(Event.title == cancelled.title)
        .where(Event.groups.any(Group.code_prefix == "EST"))
    )
    est_workshop.cancelled_at = utcnow()
    db.session.commit()
    assert auth.login("foyer-est-01").status_code == 303
    response = client.get("/calendrier/")
    assert response.status_code == 200
    html = page_text(response)
    assert "Le calendrier du groupe" in html
    assert EST_ONLY in html
    assert SHARED in html
    assert OUEST_ONLY not in html
    card = html.split("Atelier culinaire anti-gaspillage", 1)[0].rsplit("<article", 1)[1]
    assert "annulé" in card
    assert html.count("annulé</strong>") == 1
    assert 'href="/calendrier/"' in html  # in the menu
    if attendance_of(event(EST_ONLY), household(demo_code("EST-01"))):
        assert "Vous y étiez." in html
    assert client.get(f"/calendrier/groupe/{group('EST').id}").status_code == 403
    auth.logout()
    assert auth.login("foyer-ouest-01").status_code == 303
    html = page_text(client.get("/calendrier/"))
    assert OUEST_ONLY in html
    assert EST_ONLY not in html


def test_a_foyer_sees_an_upcoming_event(facilitator, auth, client):
    data = event_data(day=f"{utcnow().year + 1}-03-04")
    assert client.post(f"/calendrier/groupe/{facilitator.id}/nouveau", data=data).status_code == 303
    auth.logout()
    auth.login("foyer-est-02")
    html = page_text(client.get("/calendrier/"))
    upcoming = html.split("À venir", 1)[1].split("Passés", 1)[0]
    assert "Visite de la ferme Delattre" in upcoming
    assert "Aucun évènement prévu" not in upcoming


# The iCal feed


def unfold(text):
    return text.replace("\r\n ", "")


def create_feed(client):
    response = client.post("/calendrier/abonnement")
    assert response.status_code == 200
    html = page_text(response)
    match = re.search(r">http://localhost(/calendrier/ical/([\w-]+)\.ics)</textarea>", html)
    assert match, "the feed URL is shown"
    assert f'href="webcal://localhost{match.group(1)}"' in html  # one tap on a phone
    return match.group(1), match.group(2)


def test_ical_feed_of_a_foyer(demo, auth, client):
    cancelled = event(EST_ONLY)
    cancelled.cancelled_at = utcnow()
    cancelled.description = "Bottes, gants; et bonne humeur.\nRDV au portail \\ sud."
    db.session.commit()
    auth.login("foyer-est-01")
    page = page_text(client.get("/calendrier/abonnement"))
    assert "Créer mon adresse" in page
    path, token = create_feed(client)
    assert len(token) >= 43
    account = user("foyer-est-01")
    assert account.feed_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in page_text(client.get("/calendrier/abonnement"))  # shown once
    auth.logout()
    response = client.get(path)  # no login: the token is the key
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    raw = response.get_data()
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode()  # never cut inside a character
    assert raw.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    text = unfold(raw.decode())
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.count("BEGIN:VEVENT") == 6  # the Est group's events
    assert "SUMMARY:Visite de la Chèvrerie de la Lys\r\n" in text
    assert OUEST_ONLY not in text
    vevent = text.split(f"SUMMARY:Annulé : {EST_ONLY}", 1)[1].split("END:VEVENT", 1)[0]
    assert "STATUS:CANCELLED" in vevent
    assert (
        "DESCRIPTION:Bottes\\, gants\\; et bonne humeur.\\nRDV au portail \\\\ sud.\r\n" in vevent
    )
    assert f"UID:evenement-{cancelled.id}@localhost" in text
    # 10:00 in France on 16 October 2021 (summer time) is 08:00 UTC.
    assert "DTSTART:20211016T080000Z" in text
    assert "DTEND:20211016T100000Z" in text
    assert re.search(r"DTSTAMP:\d{8}T\d{6}Z", text)
    assert "LOCATION:Maison des associations\\, Noeux-les-Mines" in text
    assert text.count("STATUS:CONFIRMED") == 5


def test_ical_feed_of_a_facilitator_has_its_groups_events(facilitator, client):
    path, _token = create_feed(client)
    text = unfold(client.get(path).get_data(as_text=True))
    assert f"SUMMARY:{EST_ONLY}" in text
    assert OUEST_ONLY not in text


def test_a_new_feed_address_voids_the_old_one_and_revoking_ends_it(demo, auth, client):
    auth.login("foyer-est-01")
    old, _token = create_feed(client)
    new, _token = create_feed(client)
    assert old != new
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    page = page_text(client.get("/calendrier/abonnement"))
    assert "Vous avez déjà une adresse" in page
    response = client.post("/calendrier/abonnement/supprimer")
    assert response.status_code == 303
    assert response.headers["Location"] == "/calendrier/abonnement"
    assert user("foyer-est-01").feed_token_hash is None
    assert client.get(new).status_code == 404
    auth.logout()
    assert client.get(new).status_code == 404


@pytest.mark.parametrize("token", ["inconnu", "x" * 43, "a" * 500])
def test_an_unknown_feed_token_is_404(demo, client, token):
    response = client.get(f"/calendrier/ical/{token}.ics")
    assert response.status_code == 404
    assert "BEGIN:VCALENDAR" not in response.get_data(as_text=True)


def test_a_deactivated_accounts_feed_is_404(demo, auth, client):
    auth.login("foyer-est-01")
    path, _token = create_feed(client)
    account = user("foyer-est-01")
    account.active = False
    db.session.commit()
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "line",
    [
        "SUMMARY:" + "court",
        "DESCRIPTION:" + "a" * 200,
        "DESCRIPTION:" + "é" * 100,  # 2 octets each
        "DESCRIPTION:" + "🥕" * 40,  # 4 octets each
        "LOCATION:" + "x" * 66 + "é" * 5,  # a character across the 75th octet
    ],
)
def test_fold_keeps_lines_within_75_octets_and_whole_characters(line):
    folded = fold(line)
    for part in folded.split("\r\n"):
        assert len(part.encode()) <= 75
    assert all(part.startswith(" ") for part in folded.split("\r\n")[1:])
    assert folded.replace("\r\n ", "") == line


def test_escape_text():
    assert escape_text("a,b;c\\d\ne\r\nf\rg") == "a\\,b\\;c\\\\d\\ne\\nf\\ng"
    assert escape_text("bip\x07") == "bip"


# Pages


def test_calendar_pages_have_no_inline_script_style_or_handler(facilitator, auth, client):
    target = event(EST_ONLY)
    base = f"/calendrier/groupe/{facilitator.id}"
    urls = [base, f"{base}/nouveau", f"{base}/{target.id}", f"{base}/{target.id}/presences"]
    urls += [f"{base}/presences", "/calendrier/abonnement"]
    pages = [client.get(url) for url in urls]
    auth.logout()
    auth.login("foyer-est-01")
    pages.append(client.get("/calendrier/"))
    for response in pages:
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert not re.search(r"<script>|<script [^>]*>[^<]|<style| style=\"| on[a-z]+=\"", html)


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}",
    '=HYPERLINK("http://x")',
    "a\x00b\x1fc",
    "\u202eevil",
    "🥕" * 60,
    "x" * 10000,
    "Robert'); DROP TABLE event;--",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_never_breaks_the_calendar_nor_comes_back_raw(facilitator, client, value):
    base = f"/calendrier/groupe/{facilitator.id}"
    for name in ("title", "place", "description", "day", "starts", "ends", "kind", "version"):
        for headers in ({}, HTMX):
            response = client.post(
                f"{base}/nouveau", data=event_data(**{name: value}), headers=headers
            )
            assert response.status_code in (200, 303), (name, response.status_code)
    mark = client.post(
        f"{base}/{event(EST_ONLY).id}/presences/cocher",
        data={"foyer": value, "present": [value]},
        headers=HTMX,
    )
    assert mark.status_code in (400, 404)
    pages = [client.get(base), client.get("/calendrier/abonnement")]
    path, _token = create_feed(client)
    feed = client.get(path)
    assert feed.status_code == 200
    for line in feed.get_data().split(b"\r\n"):
        assert len(line) <= 75
    assert b"\x00" not in feed.get_data()
    for response in pages:
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
        assert "onerror=alert(1)>" not in html
    if value == "{{7*7}}":  # stored and shown as typed, never evaluated
        assert "{{7*7}}" in page_text(pages[0])
    for created in db.session.scalars(sa.select(Event)):
        assert len(created.title) <= 200
        assert "\x00" not in created.title + created.place + created.description


# A large group's sheet: a page at a time, a search by name


def grow(target_group, count):
    from defi.households import create_household

    added = [
        create_household(target_group, display_name=f"Famille Élan {number:02d}", adults=2)
        for number in range(count)
    ]
    db.session.commit()
    return added


def boxes(html):
    return re.findall(r'type="checkbox" value="([^"]+)"', html) or re.findall(
        r'<input[^>]*name="present"[^>]*value="([^"]+)"', html
    )


def test_a_large_groups_sheet_is_shown_a_page_at_a_time(facilitator, client):
    from defi.calendar.services import attendance_sheet
    from defi.paging import FOYERS_PER_PAGE

    target = event(EST_ONLY)
    grow(facilitator, 40)
    keys = [key for key, _name in attendance_sheet(facilitator, target).named]
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences"
    first, second = page_text(client.get(url)), page_text(client.get(url + "?page=2"))
    assert boxes(first) == keys[:FOYERS_PER_PAGE]
    assert boxes(second) == keys[FOYERS_PER_PAGE : 2 * FOYERS_PER_PAGE]
    assert f"Foyers ({len(keys)})" in first
    assert "Page 1 sur 3" in first
    assert f'href="{url}?page=2#boxes" rel="next"' in first
    # Without JavaScript, changing page loses the ticks not saved: the page says so.
    assert "enregistrez les présences de cette page avant d'en changer" in first
    # The boxes of the page only are the button's: hidden `shown` keys name them.
    assert re.findall(r'name="shown" value="([^"]+)"', second) == boxes(second)


def test_the_button_saves_the_boxes_of_its_page_only(facilitator, client):
    """Without JavaScript, saving page 2 ticks and unticks page 2's boxes; the foyers
    ticked on page 1 stay ticked."""
    from defi.calendar.services import attendance_sheet
    from defi.paging import FOYERS_PER_PAGE

    target = event(EST_ONLY)
    db.session.execute(sa.delete(Attendance).where(Attendance.event_id == target.id))
    grow(facilitator, 40)
    keys = [key for key, _name in attendance_sheet(facilitator, target).named]
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences"
    page_one, page_two = keys[:FOYERS_PER_PAGE], keys[FOYERS_PER_PAGE : 2 * FOYERS_PER_PAGE]
    saved = client.post(url, data={"shown": page_one, "present": page_one[:3], "accompanied": 0})
    assert saved.status_code == 303 and saved.headers["Location"] == url
    saved = client.post(
        url + "?page=2", data={"shown": page_two, "present": page_two[:2], "accompanied": 0}
    )
    assert saved.status_code == 303 and saved.headers["Location"] == url + "?page=2"

    def ticked():
        return {
            str(household_id)
            for household_id in db.session.scalars(
                sa.select(Attendance.household_id).where(Attendance.event_id == target.id)
            )
        }

    assert ticked() == set(page_one[:3] + page_two[:2])
    # Unticking a box of page 2 leaves page 1 as it was.
    client.post(url + "?page=2", data={"shown": page_two, "present": page_two[1:2]})
    assert ticked() == set(page_one[:3] + page_two[1:2])
    # A box of another page sent as if shown on this one is refused, in French, nothing written.
    refused = client.post(url + "?page=2", data={"shown": page_two, "present": page_one[4:5]})
    assert refused.status_code == 200
    assert "Un foyer coché n'est plus sur cette page de la liste : rien n'est enregistré." in (
        page_text(refused)
    )
    assert boxes(page_text(refused)) == page_two  # the page's boxes, as they were sent
    assert ticked() == set(page_one[:3] + page_two[1:2])


def test_the_sheet_finds_a_foyer_by_name_whatever_the_accents(facilitator, client):
    target = event(EST_ONLY)
    added = grow(facilitator, 30)
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences"
    found = page_text(client.get(url, query_string={"q": "elan 1"}))
    assert boxes(found) == [str(household.id) for household in added[10:20]]
    assert "10 foyers trouvés pour « elan 1 »." in found
    assert boxes(page_text(client.get(url, query_string={"q": "ÉLAN 07"}))) == [str(added[7].id)]
    # An accompanied foyer is never a box, whatever is searched.
    accompanied = household(ACCOMPANIED_EST[0])
    nobody = page_text(client.get(url, query_string={"q": accompanied.display_name}))
    assert "0 foyer trouvé pour" in nobody and boxes(nobody) == []
    # Ticking from a search brings the facilitator back to it.
    one = [str(added[7].id)]
    saved = client.post(url + "?q=%C3%89LAN+07", data={"shown": one, "present": one})
    assert saved.status_code == 303
    assert saved.headers["Location"] == url + "?q=%C3%89LAN+07"
    assert attendance_of(target, added[7]) is not None


def test_the_attendance_summary_is_paged_and_searched(facilitator, client):
    from defi.calendar.services import foyer_attendance
    from defi.paging import FOYERS_PER_PAGE

    added = grow(facilitator, 40)
    named = foyer_attendance(facilitator, utcnow()).named
    url = f"/calendrier/groupe/{facilitator.id}/presences"
    lines = re.compile(r"<li><span>([^<]+) <small>([^<·]+?)(?: ·[^<]*)?</small>")

    def shown(**args):
        html = page_text(client.get(url, query_string=args))
        return [code.strip() for _name, code in lines.findall(html)], html

    first, html = shown()
    assert first == [code for _name, code, _active, _count in named[:FOYERS_PER_PAGE]]
    assert f"Foyers ({len(named)})" in html and "Page 1 sur 3" in html
    assert f'href="{url}?page=3#named-title" rel="next"' in shown(page=2)[1]
    assert shown(page=3)[0] == [code for _n, code, _a, _c in named[2 * FOYERS_PER_PAGE :]]
    found, html = shown(q="ÉLAN 0")
    assert found == [household.code for household in added[:10]]
    assert "10 foyers trouvés pour « ÉLAN 0 »." in html
    assert shown(q=added[12].code.lower())[0] == [added[12].code]


def test_saving_a_search_that_found_nobody_changes_no_box(facilitator, client):
    """A search that finds no foyer shows no box: its button changes no tick (an outside
    review saw it untick the whole sheet), and the accompanied count it sends is kept."""
    target = event(EST_ONLY)
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences"
    everyone = [str(household(demo_code(f"EST-{n:02d}")).id) for n in (1, 2, 4)]
    client.post(url, data={"present": everyone, "accompanied": "1"})
    page = client.get(url, query_string={"q": "personne de ce nom"}).get_data(as_text=True)
    assert boxes(page) == [] and 'name="paged"' in page
    # What a browser sends from that page: its hidden fields and the accompanied count.
    saved = client.post(url + "?q=personne+de+ce+nom", data={"paged": "1", "accompanied": "2"})
    assert saved.status_code == 303
    ticked = db.session.scalars(
        sa.select(Attendance.household_id).where(Attendance.event_id == target.id)
    )
    assert {str(household_id) for household_id in ticked} == set(everyone)
    assert accompanied_count(target, facilitator) == 2


def test_a_sheet_posted_without_the_accompanied_field_keeps_its_count(facilitator, client):
    target = event(EST_ONLY)
    url = f"/calendrier/groupe/{facilitator.id}/{target.id}/presences"
    one = [str(household(demo_code("EST-01")).id)]
    client.post(url, data={"present": one, "accompanied": "2"})
    assert accompanied_count(target, facilitator) == 2
    assert client.post(url, data={"paged": "1", "shown": one}).status_code == 303
    assert accompanied_count(target, facilitator) == 2  # not set to 0
    assert attendance_of(target, household(demo_code("EST-01"))) is None  # unticked, as shown
    client.post(url, data={"paged": "1", "shown": one, "accompanied": ""})
    assert accompanied_count(target, facilitator) == 0  # a field left empty is none
