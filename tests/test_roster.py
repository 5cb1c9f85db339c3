"""The facilitator's group on a phone: the roster as cards with each wave's state, reminders
by SMS and e-mail, a foyer's relevé read only, and the progress on a projector."""

import html as html_module
import re
import statistics
from datetime import datetime
from decimal import ROUND_HALF_UP
from decimal import Decimal
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from defi.extensions import db
from defi.formatting import today
from defi.groups.services import mailto_href
from defi.groups.services import phone_uri
from defi.groups.services import sms_href
from defi.models import Accompaniment
from defi.models import Answer
from defi.models import Choice
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Group
from defi.models import Household
from defi.models import Producer
from defi.models import Purchase
from defi.models import Question
from defi.models import Recipe
from defi.models import User
from defi.models import Wave
from tests.conftest import demo_code
from tests.conftest import demo_wave
from tests.conftest import page_text

HTMX = {"HX-Request": "true"}
IPHONE = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"}
ANDROID = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36"}
MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
          "nov.", "déc.")  # fmt: skip


def group(prefix):
    return db.session.scalar(sa.select(Group).where(Group.code_prefix == prefix))


def household(name):
    return db.session.scalar(sa.select(Household).where(Household.code == demo_code(name)))


def wave(rank):
    return demo_wave(rank)


def entry_of(target, rank):
    return db.session.scalar(
        sa.select(Entry).where(Entry.household_id == target.id, Entry.wave_id == wave(rank).id)
    )


def label_of(target):
    return db.session.scalar(
        sa.select(Accompaniment.label).where(Accompaniment.household_id == target.id)
    )


def french_day(value):
    """12 sept. 2021, 1er oct. 2021: written here, not with the app's filter."""
    number = "1er" if value.day == 1 else str(value.day)
    return f"{number} {MONTHS[value.month - 1]} {value.year}"


def euros(cents):
    """1234,5 € as Babel writes it in French (narrow no-break space between thousands)."""
    units, rest = divmod(int(cents), 100)
    grouped = f"{units:,}".replace(",", "\u202f")
    return f"{grouped},{rest:02d} €"


def text_of(markup):
    """What a person reads of some HTML: tags out, entities decoded, spaces collapsed."""
    plain = html_module.unescape(re.sub(r"<[^>]+>", " ", markup)).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", plain).strip()


def card(page, title):
    """The HTML of the roster's card whose heading is `title`."""
    for match in re.finditer(r"<article class=\"foyer-card\".*?</article>", page, re.DOTALL):
        heading = re.search(r"<h3[^>]*>(.*?)</h3>", match.group(0), re.DOTALL)
        if heading and text_of(heading.group(1)).startswith(title):
            return match.group(0)
    raise AssertionError(f"no card for {title}")


def states_of(card_html):
    """{"Collecte 1": "envoyé le …", …} of a card."""
    items = re.findall(r"<li><span class=\"wave-name\">(.*?)</span>(.*?)</li>", card_html, re.S)
    return {text_of(name): text_of(state) for name, state in items}


def hrefs(page):
    return [html_module.unescape(value) for value in re.findall(r'href="([^"]*)"', page)]


@pytest.fixture
def est(demo, auth):
    assert auth.login("animateur-est").status_code == 303
    return group("EST")


@pytest.fixture
def moments(est):
    """EST-01 sent wave 1 on a known day; EST-02 has a draft of the open wave, last changed on
    a known day (a receipt added after the relevé's own fields); EST-01 also sent wave 3."""
    first = entry_of(household("EST-01"), 1)
    first.submitted_at = datetime(2021, 9, 25, 18, 0)
    draft = Entry(
        household=household("EST-02"),
        wave=wave(3),
        persons=3,
        period_days=14,
        updated_at=datetime(2021, 9, 20, 9, 0),
    )
    draft.changes.append(EntryChange(at=datetime(2021, 9, 22, 10, 0), field="achat ajouté"))
    db.session.add(draft)
    sent = Entry(
        household=household("EST-01"),
        wave=wave(3),
        status="submitted",
        submitted_at=datetime(2021, 10, 1, 12, 0),
    )
    db.session.add(sent)
    db.session.commit()
    return first


# The roster as cards


def test_each_wave_state_of_a_named_foyer_is_exact(est, moments, client):
    page = client.get(f"/groupe/{est.id}").get_data(as_text=True)
    second = entry_of(household("EST-01"), 2)
    assert states_of(card(page, household("EST-01").display_name)) == {
        "Collecte 1": "envoyé le 25 sept. 2021",
        "Collecte 2": f"envoyé le {french_day(second.submitted_at)}",
        "Collecte 3": "envoyé le 1er oct. 2021",
    }
    draft = states_of(card(page, household("EST-02").display_name))
    assert draft["Collecte 3"] == "brouillon, modifié le 22 sept. 2021"
    assert states_of(card(page, household("EST-03").display_name))["Collecte 3"] == "pas commencé"
    withdrawn = household("EST-07")
    states = states_of(card(page, withdrawn.display_name))
    assert states["Collecte 1"].startswith("envoyé le ")
    assert states["Collecte 2"] == states["Collecte 3"] == "retiré du défi"
    assert f"retiré le {french_day(withdrawn.withdrawn_on)}" in text_of(
        card(page, withdrawn.display_name)
    )


def test_a_foyer_that_joined_later_and_a_closed_draft(est, client):
    late = household("EST-03")
    late.created_at = datetime.combine(wave(3).opens_on, datetime.min.time())
    for rank in (1, 2):
        db.session.delete(entry_of(late, rank))
    # A draft of a closed wave, never sent.
    unsent = entry_of(household("EST-04"), 2)
    unsent.status, unsent.submitted_at = "draft", None
    unsent.updated_at = datetime(2022, 2, 14, 9, 0)
    db.session.execute(sa.delete(EntryChange).where(EntryChange.entry_id == unsent.id))
    db.session.commit()
    page = client.get(f"/groupe/{est.id}").get_data(as_text=True)
    assert states_of(card(page, late.display_name)) == {
        "Collecte 1": "avant son arrivée",
        "Collecte 2": "avant son arrivée",
        "Collecte 3": "pas commencé",
    }
    state = states_of(card(page, household("EST-04").display_name))["Collecte 2"]
    assert state == "brouillon jamais envoyé, modifié le 14 févr. 2022"


def test_a_card_calls_texts_and_mails_the_foyer(est, client):
    target = household("EST-01")
    target.phone, target.email = "+33 6 12-34.56 78", "famille+défi@example.org"
    db.session.commit()
    found = card(client.get(f"/groupe/{est.id}").get_data(as_text=True), target.display_name)
    links = hrefs(found)
    assert "tel:+33612345678" in links
    assert "sms:+33612345678" in links
    assert "mailto:famille%2Bd%C3%A9fi@example.org" in links
    # The card opens the foyer's relevé first; its form stays one tap away.
    assert links[0] == f"/groupe/{est.id}/foyers/{target.id}/collecte/3"
    assert f"/groupe/{est.id}/foyers/{target.id}" in links


def test_an_accompanied_card_holds_its_label_and_states_only(est, moments, client):
    page = client.get(f"/groupe/{est.id}").get_data(as_text=True)
    target = household("EST-05")
    label = label_of(target)
    found = card(page, label)
    assert states_of(found) == {
        "Collecte 1": f"envoyé le {french_day(entry_of(target, 1).submitted_at)}",
        "Collecte 2": f"envoyé le {french_day(entry_of(target, 2).submitted_at)}",
        "Collecte 3": "pas commencé",
    }
    assert not [link for link in hrefs(found) if not link.startswith(f"/groupe/{est.id}/acc")]
    assert f"/groupe/{est.id}/accompagnes/{quote(label)}/collecte/1" in hrefs(found)
    # An accompanied foyer's enrolment never shows, not even as "avant son arrivée".
    target.created_at = datetime.combine(wave(3).opens_on, datetime.min.time())
    db.session.commit()
    page = client.get(f"/groupe/{est.id}").get_data(as_text=True)
    assert "avant son arrivée" not in text_of(card(page, label))


# Reminders


def expected_message(est_group):
    closes = wave(3).closes_on
    left = (closes - today()).days
    when = "il reste 1 jour" if left == 1 else f"il reste {left} jours"
    return (
        f"Bonjour, {when} (jusqu'au {french_day(closes)}) pour envoyer votre relevé de la "
        f"collecte 3 du Défi Famille. Pour vous connecter : http://localhost/connexion\r\n"
        f"{est_group.name}"
    )


def waiting_named(est_group):
    """The active named foyers of the group without a sent relevé of wave 3, by name."""
    sent = sa.select(Entry.household_id).where(
        Entry.wave_id == wave(3).id, Entry.status == "submitted"
    )
    return db.session.scalars(
        sa.select(Household)
        .outerjoin(Accompaniment, Accompaniment.household_id == Household.id)
        .where(
            Household.group_id == est_group.id,
            Household.status == "active",
            Accompaniment.id.is_(None),
            Household.id.not_in(sent),
        )
        .order_by(Household.display_name, Household.code)
    ).all()


def encoded(text):
    return quote(text, safe="")


def test_relancer_par_sms_and_by_email_fill_everything(est, moments, client):
    household("EST-03").phone = ""  # a foyer without a number is left out of the SMS
    household("EST-04").email = ""
    db.session.commit()
    with_phone = [h for h in waiting_named(est) if h.phone]
    with_email = [h for h in waiting_named(est) if h.email]
    assert household("EST-01") not in waiting_named(est)  # sent
    assert household("EST-02") in waiting_named(est)  # a draft is not sent
    body = encoded(expected_message(est))
    numbers = ",".join(re.sub(r"\D", "", h.phone) for h in with_phone)

    page = client.get(f"/groupe/{est.id}/relances", headers=ANDROID)
    assert page.status_code == 200
    assert "User-Agent" in page.headers["Vary"]
    links = hrefs(page.get_data(as_text=True))
    assert f"sms:{numbers}?&body={body}" in links
    bcc = ",".join(h.email for h in with_email)
    subject = quote("Défi Famille : votre relevé de la collecte 3", safe="")
    assert f"mailto:?bcc={bcc}&subject={subject}&body={body}" in links
    text = page_text(page)
    assert f"Relancer par SMS ({len(with_phone)} foyers)" in text
    assert f"Relancer par courriel ({len(with_email)} foyers, en copie cachée)" in text
    assert "%20" in body and "+" not in body.replace("%2B", "")

    iphone = hrefs(client.get(f"/groupe/{est.id}/relances", headers=IPHONE).get_data(as_text=True))
    assert f"sms:/open?addresses={numbers}&body={body}" in iphone


def test_the_reminders_page_tells_drafts_from_foyers_not_started(est, moments, client):
    page = client.get(f"/groupe/{est.id}/relances").get_data(as_text=True)
    assert "brouillon, modifié le 22 sept. 2021" in text_of(
        card(page, household("EST-02").display_name)
    )
    assert "pas commencé" in text_of(card(page, household("EST-03").display_name))
    with pytest.raises(AssertionError):
        card(page, household("EST-01").display_name)  # sent: not to remind


def test_phones_and_emails_to_copy(est, moments, client):
    page = client.get(f"/groupe/{est.id}/relances").get_data(as_text=True)
    phones = re.search(r'<textarea id="phones"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    emails = re.search(r'<textarea id="emails"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    waiting = waiting_named(est)
    assert html_module.unescape(phones) == ", ".join(h.phone for h in waiting if h.phone)
    assert html_module.unescape(emails) == ", ".join(h.email for h in waiting if h.email)


def test_accompanied_foyers_to_remind_appear_by_label_for_their_referent(est, client):
    page = client.get(f"/groupe/{est.id}/relances").get_data(as_text=True)
    text = text_of(page)
    # Wave 3: EST-05 and EST-12 are active and accompanied (EST-18 withdrew).
    assert "Et 2 foyers accompagnés : leur référent·e peut les relancer." in text
    for name in ("EST-05", "EST-12"):
        assert f"{label_of(household(name))} : pas commencé" in text
    # Not as a part of another label ("Foyer Poire" is in "Foyer Poireau"): as itself.
    withdrawn = label_of(household("EST-18"))
    assert re.search(rf"(?<!\w){re.escape(withdrawn)}(?!\w)", text) is None, withdrawn


def test_the_last_day_says_so(est, client):
    wave(3).closes_on = today()
    db.session.commit()
    page = client.get(f"/groupe/{est.id}/relances").get_data(as_text=True)
    assert quote("Bonjour, c'est le dernier jour (jusqu'au", safe="") in page
    assert "Collecte 3 — fin : dernier jour, jusqu'au" in text_of(page)


@pytest.mark.parametrize(
    ("number", "uri"),
    [
        ("06 12 34 56 78", "0612345678"),
        ("+33 (0)6.12.34.56.78", "+330612345678"),
        (" +33 6-12-34-56-78 ", "+33612345678"),
    ],  # fmt: skip
)
def test_phone_numbers_as_uris(number, uri):
    assert phone_uri(number) == uri


def test_links_encode_every_reserved_character():
    body = "Bonjour & merci ? 100 % #1\nà bientôt"
    assert sms_href(["06 11", "07 22"], body) == (
        "sms:0611,0722?&body=Bonjour%20%26%20merci%20%3F%20100%20%25%20%231%0D%0A%C3%A0%20bient%C3%B4t"
    )
    assert mailto_href(["a&b@x.org", "c,d@y.org"], "Sujet ?", "a b") == (
        "mailto:?bcc=a%26b@x.org,c%2Cd@y.org&subject=Sujet%20%3F&body=a%20b"
    )


# A foyer's relevé, read only


def releve_url(est_group, target, rank):
    return f"/groupe/{est_group.id}/foyers/{target.id}/collecte/{rank}"


def label_url(est_group, label, rank):
    return f"/groupe/{est_group.id}/accompagnes/{quote(label)}/collecte/{rank}"


def figures_of(entry):
    """What the relevé's page must show, computed from the raw rows."""
    purchases = entry.purchases
    total = sum(p.total_cents for p in purchases)
    organic = sum(p.organic_cents for p in purchases)
    local = sum(p.local_cents for p in purchases)
    cost = (Decimal(total) / 100 / entry.meal_covers).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return total, organic, local, cost


def percent(part, total):
    value = (Decimal(part) / Decimal(total) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{value}".replace(".", ",") + " %"


def test_the_relevé_of_a_named_foyer_reads_as_sent(est, client):
    target = household("EST-01")
    entry = entry_of(target, 2)
    entry.recipes.append(Recipe(title="Soupe de fanes", purpose="restes", steps="Mixer."))
    entry.producers.append(Producer(name="Ferme du Marais", kind="ferme", dedup_key="x|"))
    entry.assisted = True
    db.session.commit()
    response = client.get(releve_url(est, target, 2))
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    total, organic, local, cost = figures_of(entry)
    assert f"Coût par repas et par personne {euros(cost * 100)}" in text
    assert f"Total des achats {euros(total)}" in text
    assert f"dont bio {euros(organic)} · {percent(organic, total)}" in text
    assert f"dont local {euros(local)} · {percent(local, total)}" in text
    assert f"Personnes {entry.persons}" in text
    assert f"Repas-convives {entry.meal_covers}" in text
    assert f"Achats ({len(entry.purchases)})" in text
    for purchase in entry.purchases:
        assert f"{french_day(purchase.bought_on)} · " in text
        assert euros(purchase.total_cents) in text
    grams = sum(w.grams for w in entry.weighings)
    if grams:
        kg = f"{Decimal(grams) / 1000:.3f}".replace(".", ",")
        assert f"Total {kg} kg" in text
    assert "Soupe de fanes" in text and "Mixer." in text and "Ferme du Marais" in text
    for question, label in db.session.execute(
        sa.select(Question.text, Choice.label)
        .join(Answer, Answer.question_id == Question.id)
        .join(Choice, Choice.id == Answer.choice_id)
        .where(Answer.entry_id == entry.id)
    ):
        assert question in text and label in text
    assert f"Envoyé le {french_day(entry.submitted_at)}" in text
    assert "saisie accompagnée par un·e référent·e" in text
    assert target.display_name in text and target.code in text
    # Nothing to type: no form, no field; the foyer's form is one link away.
    assert '<form method="post"' not in response.get_data(as_text=True).split("<main")[1]
    assert f"/groupe/{est.id}/foyers/{target.id}" in hrefs(response.get_data(as_text=True))


def test_a_relevé_not_started_says_so(est, client):
    response = client.get(releve_url(est, household("EST-03"), 3))
    assert response.status_code == 200
    assert "Pas commencé" in page_text(response)
    assert "Pas de relevé pour cette collecte." in page_text(response)


def test_an_accompanied_relevé_reads_under_its_label_only(est, client):
    target = household("EST-05")
    entry = entry_of(target, 1)
    label = label_of(target)
    response = client.get(label_url(est, label, 1))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = text_of(page)
    total, organic, local, cost = figures_of(entry)
    assert label in text
    assert f"Coût par repas et par personne {euros(cost * 100)}" in text
    assert f"Part bio {percent(organic, total)}" in text
    assert f"Part locale {percent(local, total)}" in text
    # No size: neither the persons nor what gives them away — an amount beside a figure per
    # person (the spend and the cost per meal per person give the repas-convives; kilograms
    # and kilograms per person and per year give the persons).
    for words in (
        "Personnes",
        "Repas-convives",
        "Période",
        "Modifier le foyer",
        "Total des achats",
    ):
        assert words not in text
    assert set(re.findall(r"\d[\d\s]*,\d\d\s€", text)) == {euros(cost * 100)}
    assert not re.search(r"\d kg(?!/pers| par personne)", text), text
    for purchase in entry.purchases:
        assert euros(purchase.total_cents) not in text
    for value in (target.display_name, target.code, str(target.id)):
        assert value not in page


def test_hostile_addresses_of_relevés(est, client):
    ouest = group("OUEST")
    other = household("OUEST-01")
    accompanied = household("EST-05")
    assert client.get(releve_url(est, other, 1)).status_code == 404  # another group's foyer
    assert client.get(releve_url(ouest, other, 1)).status_code == 404  # another group
    assert client.get(releve_url(est, accompanied, 1)).status_code == 404  # by its id: never
    assert client.get(label_url(est, "Foyer Inconnu", 1)).status_code == 404
    assert client.get(label_url(ouest, label_of(accompanied), 1)).status_code == 404
    for rank in (0, 4):
        assert client.get(releve_url(est, household("EST-01"), rank)).status_code == 404
        assert client.get(label_url(est, label_of(accompanied), rank)).status_code == 404


def test_a_label_of_another_group_is_not_found(est, client):
    ouest_labels = set(
        db.session.scalars(
            sa.select(Accompaniment.label).where(Accompaniment.group_id == group("OUEST").id)
        )
    )
    est_labels = set(
        db.session.scalars(sa.select(Accompaniment.label).where(Accompaniment.group_id == est.id))
    )
    for label in ouest_labels - est_labels:
        assert client.get(label_url(est, label, 1)).status_code == 404


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("animatrice-ouest", 404),
        ("foyer-est-01", 403),
        ("referent-mjep", 403),
        ("pilote", 403),
        (None, 302),
    ],  # fmt: skip
)
def test_other_roles_cannot_read_a_relevé(demo, auth, client, username, status):
    if username:
        assert auth.login(username).status_code == 303
    est_group = group("EST")
    urls = [
        releve_url(est_group, household("EST-01"), 1),
        label_url(est_group, label_of(household("EST-05")), 1),
        f"/groupe/{est_group.id}/progres/projection",
    ]
    for url in urls:
        assert client.get(url).status_code == status, url


# No accompanied foyer's identity anywhere


def test_no_page_of_the_facilitator_holds_an_accompanied_foyers_identity(est, moments, client):
    secrets = []
    for name in ("EST-05", "EST-12", "EST-18"):
        target = household(name)
        target.display_name = f"Famille Secrète {name}"
        target.commune = f"Commune-Cachée-{name}"
        target.phone = f"07 00 00 {name[-2:]} 99"
        target.email = f"cache.{name.lower()}@example.org"
        username = db.session.scalar(sa.select(User.username).where(User.household_id == target.id))
        values = [target.display_name, target.commune, target.phone, target.email, target.code,
                  phone_uri(target.phone), quote(target.email, safe="@")]  # fmt: skip
        secrets.append((target, values + ([username] if username else [])))
    db.session.commit()
    start = [f"/groupe/{est.id}", f"/groupe/{est.id}/relances", f"/groupe/{est.id}/progres"]
    urls, pages = list(start), {}
    while urls:  # every page the facilitator's group pages link to, within the group
        url = urls.pop()
        if url in pages:
            continue
        for headers in ({}, HTMX, IPHONE):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            pages[url] = pages.get(url, "") + response.get_data(as_text=True)
        for link in hrefs(pages[url]):
            if link.startswith(f"/groupe/{est.id}") and link not in pages:
                urls.append(link)
    assert any("/accompagnes/" in url for url in pages)
    assert any("/projection" in url for url in pages)
    assert len(pages) >= 17 + 3
    for target, values in secrets:
        for url, page in pages.items():
            for value in values:
                assert value not in page, (value, url)
                assert value not in html_module.unescape(page), (value, url)
            assert not re.search(rf"\D{target.id}(?:\D|$)", page), url


# The projector


def independent_costs(group_id, rank):
    costs = []
    for entry_id, covers in db.session.execute(
        sa.select(Entry.id, Entry.meal_covers)
        .join(Household, Household.id == Entry.household_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Household.group_id == group_id, Wave.rank == rank, Entry.status == "submitted")
    ):
        total = sum(db.session.scalars(sa.select(Purchase.total_cents).where(
            Purchase.entry_id == entry_id)))  # fmt: skip
        cost = (Decimal(total) / 100 / covers).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        costs.append(float(cost))
    return costs


def test_the_projector_shows_the_published_figures_only(est, client):
    progress = client.get(f"/groupe/{est.id}/progres").get_data(as_text=True)
    assert f"/groupe/{est.id}/progres/projection" in hrefs(progress)
    before = client.get(f"/groupe/{est.id}/progres/projection")
    assert before.status_code == 200
    page = before.get_data(as_text=True)
    for rank in (1, 2):
        mean = statistics.fmean(independent_costs(est.id, rank))
        assert f"{mean:.2f}".replace(".", ",") + "\u00a0€" in page
    # Wave 2: 2 accompanied foyers — the published table hides them; so does the projector.
    assert "publié à la clôture de la collecte" in page_text(before)
    # Relevés of the open wave change nothing on the projector until the wave closes.
    for name in ("EST-01", "EST-02", "EST-03", "EST-04"):
        sent = Entry(household=household(name), wave=wave(3), status="submitted",
                     persons=2, period_days=14, meal_covers=50)  # fmt: skip
        sent.purchases.append(Purchase(place_type="marche", total_cents=99999))
        db.session.add(sent)
    db.session.commit()
    after = client.get(f"/groupe/{est.id}/progres/projection").get_data(as_text=True)
    # Only the count of relevés sent shows during the wave (its first slide); every slide of
    # figures stays as it was.
    assert (
        after.split('aria-labelledby="slide-cout_repas_personne"')[1]
        == page.split('aria-labelledby="slide-cout_repas_personne"')[1]
    )
    assert "<dd>4</dd>" in after
    assert "20,00\u00a0€" not in after  # 999,99 € over 50 repas-convives: not published


def test_the_projector_has_one_slide_per_indicator(est, client):
    page = client.get(f"/groupe/{est.id}/progres/projection").get_data(as_text=True)
    titles = [
        "Coût par repas et par personne (€)",
        "Part bio",
        "Part locale",
        "Gaspillage (kg par personne et par an)",
        "Recettes partagées",
        "Adresses de producteurs collectées",
        "Où les foyers achètent",
    ]
    slides = re.findall(r'<section class="slide"[^>]*>\s*<h2[^>]*>([^<]*)</h2>', page)
    assert [html_module.unescape(title) for title in slides][: len(titles)] == titles
    assert page.count('<figure class="chart">') == 6


def test_a_withdrawn_accompanied_foyers_later_wave_reads_withdrawn(est, client):
    """Its label's relevé says what the roster says: withdrawn, not "pas commencé"."""
    withdrawn = db.session.scalars(
        sa.select(Household)
        .join(Accompaniment, Accompaniment.household_id == Household.id)
        .where(Accompaniment.group_id == est.id, Household.status == "withdrawn")
    ).first()
    response = client.get(label_url(est, label_of(withdrawn), 3))
    assert response.status_code == 200
    text = page_text(response)
    assert "Retiré du défi" in text and "Pas commencé" not in text
