"""The demo défi of DESIGN.md: the source's groups, foyers, retention and events.

The numbers are the source's (2 groups × 20 foyers, 6 accompanied, 24 still engaged at the mid
wave...); the relevés are plausible and drawn from a seeded generator, so every load gives the
same rows. Waves 1 and 2 keep the source's dates; the end wave opens on the day of the load.

It is the Béthune-Bruay territory's. A second, smaller territory (one group of 12 foyers, its
own pilot `pilote-2`) runs a défi of the same name beside it, so that a visitor sees that the
territories are sealed from each other.
"""

import random
import uuid
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from defi.accounts.passwords import hash_password
from defi.extensions import db
from defi.households import accompany
from defi.households import create_household
from defi.households import draw_code
from defi.households import get_or_create_structure
from defi.models import Answer
from defi.models import Attendance
from defi.models import Challenge
from defi.models import Entry
from defi.models import Event
from defi.models import Group
from defi.models import Membership
from defi.models import Producer
from defi.models import Purchase
from defi.models import Question
from defi.models import Recipe
from defi.models import Structure
from defi.models import Territory
from defi.models import User
from defi.models import Wave
from defi.models import Weighing
from defi.models import event_groups as event_groups_table
from defi.models.challenge import make_current
from defi.models.collecte import PLACE_TYPES
from defi.producers import dedup_key
from defi.questionnaire import seed_default_questions

DEMO_TERRITORY = "Béthune-Bruay Artois Lys Romane"
SECOND_TERRITORY = "Pays de Lumbres"
DEMO_CHALLENGE = "Défi Famille à alimentation positive 2021-2022"
DEMO_PASSWORD = "carottes-et-poireaux"  # noqa: S105 - the documented demo password
MJEP = "MJEP d'Isbergues"
NOEUX = "Noeux Environnement"
LUMBRES = "Centre social de Lumbres"
COORDINATOR = "reseau"  # the network's coordinator, of no territory

GROUPS = (
    # name, sector, code prefix, account prefix, facilitator's username
    ("Les LokoMotiv'", "Secteur Est", "EST", "foyer-est", "animateur-est"),
    ("Graines d'idées", "Secteur Ouest", "OUEST", "foyer-ouest", "animatrice-ouest"),
)
SECOND_GROUPS = (("Les Pousses", "Secteur Nord", "NORD", "foyer-nord", "animatrice-nord"),)
# Foyers per group.
SIZE = {"EST": 20, "OUEST": 20, "NORD": 12}
# Accompanied foyers: number → (structure, still engaged at the mid wave).
ACCOMPANIED = {
    "EST": {5: (MJEP, True), 12: (NOEUX, True), 18: (MJEP, False)},
    "OUEST": {3: (NOEUX, True), 9: (MJEP, False), 15: (NOEUX, False)},
    "NORD": {4: (LUMBRES, True), 10: (LUMBRES, False)},
}
# Still engaged at the mid wave (the others withdrew between the first two collectes):
# Est 16 of 20 (2 accompanied), Ouest 8 of 20 (1 accompanied); Nord 9 of 12 (1 accompanied).
ENGAGED = {
    "EST": {1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 15, 16, 17, 19},
    "OUEST": {1, 3, 4, 6, 8, 11, 13, 17},
    "NORD": {1, 2, 3, 4, 5, 7, 8, 11, 12},
}
STAFF = (
    ("pilote", "pilot", None),
    ("animateur-est", "facilitator", "Les LokoMotiv'"),
    ("animatrice-ouest", "facilitator", "Graines d'idées"),
    ("referent-mjep", "referent", MJEP),
    ("referent-noeux", "referent", NOEUX),
)
SECOND_STAFF = (
    ("pilote-2", "pilot", None),
    ("animatrice-nord", "facilitator", "Les Pousses"),
    ("referent-lumbres", "referent", LUMBRES),
)
# The staff's first names and contacts, printed on the invitations they hand over. Numbers in
# the ranges ARCEP keeps for fiction (03 53 01, 06 39 98), addresses under .example: none rings.
STAFF_CONTACTS = {
    "pilote": ("Sophie", "03 53 01 20 00", "alimentation@agglo.example"),
    "animateur-est": ("Julien", "06 39 98 12 34", "julien@lokomotiv.example"),
    "animatrice-ouest": ("Claire", "06 39 98 56 78", "claire@grainesdidees.example"),
    "referent-mjep": ("Karim", "03 53 01 45 10", "karim@mjep-isbergues.example"),
    "referent-noeux": ("Nadia", "03 53 01 62 30", "nadia@noeux-environnement.example"),
    "pilote-2": ("Hélène", "03 53 01 70 00", "alimentation@lumbres.example"),
    "animatrice-nord": ("Manon", "06 39 98 90 12", "manon@lespousses.example"),
    "referent-lumbres": ("Yasmine", "03 53 01 75 40", "yasmine@cs-lumbres.example"),
}
COMMUNES = {
    "EST": ("Noeux-les-Mines", "Béthune", "Beuvry", "Barlin", "Hersin-Coupigny", "Annezin"),
    "OUEST": ("Isbergues", "Lillers", "Auchel", "Burbure", "Norrent-Fontes", "Calonne-Ricouart"),
    "NORD": ("Lumbres", "Wavrans-sur-l'Aa", "Elnes", "Setques", "Esquerdes"),
}
SURNAMES = (
    "Martin", "Lefebvre", "Dubois", "Leroy", "Moreau", "Lambert", "Dupont", "Fontaine",
    "Caron", "Delattre", "Duhamel", "Lemaire", "Vasseur", "Delcroix", "Petit", "Boulanger",
    "Carpentier", "Hennebelle", "Wattel", "Lecomte", "Deprez", "Delannoy", "Bernard", "Roussel",
    "Masset", "Gosselin", "Dufour", "Marchand", "Poulain", "Dumont", "Lemoine", "Bailleul",
    "Hochart", "Ledoux", "Blondel", "Cousin", "Facon", "Duquesne", "Merlin", "Noël",
)  # fmt: skip
# Place types a foyer of the défi typically shops at, with weights (start → mid wave shift).
PLACE_WEIGHTS = {
    1: (40, 12, 10, 6, 3, 4, 5, 3, 12, 3, 2),
    2: (30, 8, 14, 10, 6, 7, 7, 3, 10, 3, 2),
}
RECIPES = (
    ("Soupe de fanes de radis", "restes"),
    ("Pain perdu du dimanche", "restes"),
    ("Gratin de restes de légumes", "restes"),
    ("Confiture de rhubarbe", "conserver"),
    ("Pickles de chou-fleur", "conserver"),
    ("Croquettes de purée", "restes"),
    ("Chips d'épluchures", "restes"),
    ("Coulis de tomates en bocaux", "conserver"),
)
PRODUCERS = (
    ("Ferme du Bois", "ferme", "légumes, œufs"),
    ("Marché de Béthune", "marche", "fruits, légumes, fromages"),
    ("AMAP des Terrils", "amap", "panier de légumes"),
    ("La Cagette d'Artois", "magasin_producteurs", "viande, produits laitiers"),
    ("Chèvrerie de la Lys", "ferme", "fromages de chèvre"),
    ("Verger Delobel", "ferme", "pommes, poires, jus"),
)
EVENTS = (
    # kind, title, date, groups (E = Est, O = Ouest)
    ("atelier", "Atelier : lancement et premières mesures", date(2021, 9, 18), "E"),
    ("atelier", "Atelier : lancement et premières mesures", date(2021, 9, 25), "O"),
    ("visite", "Visite de la Ferme du Bois", date(2021, 10, 16), "E"),
    ("atelier", "Atelier : lire les étiquettes et les labels", date(2021, 11, 13), "E"),
    ("atelier", "Atelier : lire les étiquettes et les labels", date(2021, 11, 20), "O"),
    ("atelier", "Atelier culinaire anti-gaspillage", date(2022, 1, 22), "E"),
    ("atelier", "Atelier culinaire anti-gaspillage", date(2022, 1, 29), "O"),
    ("visite", "Visite du Verger Delobel", date(2022, 3, 19), "O"),
    ("atelier", "Atelier : cuisiner de saison à petit prix", date(2022, 4, 9), "E"),
    ("atelier", "Atelier : cuisiner de saison à petit prix", date(2022, 4, 23), "O"),
    ("visite", "Visite de la Chèvrerie de la Lys", date(2022, 5, 21), "EO"),
)


def demo_accounts():
    """(username, what it is) of every demo account, in the order the README lists them."""
    accounts = [
        ("pilote", "pilote du défi (Béthune-Bruay)"),
        ("animateur-est", "animateur des LokoMotiv' (Secteur Est)"),
        ("animatrice-ouest", "animatrice de Graines d'idées (Secteur Ouest)"),
        ("referent-mjep", "référent de la MJEP d'Isbergues"),
        ("referent-noeux", "référente de Noeux Environnement"),
    ]
    accounts += _foyer_accounts(GROUPS)
    accounts += [
        ("pilote-2", "pilote d'un second territoire, le Pays de Lumbres"),
        ("animatrice-nord", "animatrice des Pousses (Pays de Lumbres)"),
        ("referent-lumbres", "référente du Centre social de Lumbres"),
    ]
    accounts += _foyer_accounts(SECOND_GROUPS)
    accounts.append((COORDINATOR, "coordinatrice du réseau : les deux territoires, sans un nom"))
    return accounts


def _foyer_accounts(groups):
    accounts = []
    for _name, _sector, prefix, account_prefix, _facilitator in groups:
        for number in range(1, SIZE[prefix] + 1):
            accompanied = ACCOMPANIED[prefix].get(number)
            what = f"foyer {prefix}-{number:02d}"
            if accompanied:
                what += f", accompagné par {accompanied[0]}"
            accounts.append((f"{account_prefix}-{number:02d}", what))
    return accounts


def demo_loaded() -> bool:
    return (
        db.session.scalar(sa.select(Territory.id).where(Territory.name == DEMO_TERRITORY))
        is not None
    )


def remove_demo():
    """Delete the demo's territories, their défis, accounts and structures (`defi demo
    --reset`)."""
    usernames = [username for username, _what in demo_accounts()]
    db.session.execute(sa.delete(User).where(User.username.in_(usernames)))
    names = (DEMO_TERRITORY, SECOND_TERRITORY)
    ids = sa.select(Territory.id).where(Territory.name.in_(names)).scalar_subquery()
    db.session.execute(sa.delete(Challenge).where(Challenge.territory_id.in_(ids)))
    db.session.execute(sa.delete(Structure).where(Structure.territory_id.in_(ids)))
    db.session.execute(sa.delete(Territory).where(Territory.name.in_(names)))
    db.session.flush()


def load_demo(today: date) -> Challenge:
    """Create the demo's two territories and their défis; return the first's défi. The
    caller commits."""
    password_hash = hash_password(DEMO_PASSWORD)  # one hash for every demo account
    rng = random.Random(2021)  # noqa: S311 - reproducible demo data, not a secret
    challenge, households = _load_territory(
        DEMO_TERRITORY, GROUPS, STAFF, (MJEP, NOEUX), today, password_hash, rng
    )
    _events(rng, challenge, households)
    second = random.Random(2022)  # noqa: S311 - reproducible demo data, not a secret
    _load_territory(
        SECOND_TERRITORY, SECOND_GROUPS, SECOND_STAFF, (LUMBRES,), today, password_hash, second
    )
    coordinator = User(username=COORDINATOR, password_hash=password_hash, territory_id=None)
    coordinator.memberships.append(Membership(role="coordinator"))
    db.session.add(coordinator)
    db.session.flush()
    return challenge


def _load_territory(name, group_rows, staff_rows, structure_names, today, password_hash, rng):
    """One demo territory: its défi, groups, foyers with their relevés, staff; returns the
    défi and its foyers by code, in the order they were made."""
    territory = Territory(name=name)
    db.session.add(territory)
    db.session.flush()
    structures = {
        structure: get_or_create_structure(structure, territory.id) for structure in structure_names
    }
    challenge = Challenge(territory_id=territory.id, name=DEMO_CHALLENGE)
    challenge.waves = [
        Wave(rank=1, opens_on=date(2021, 9, 1), closes_on=date(2021, 9, 30)),
        Wave(rank=2, opens_on=date(2022, 2, 1), closes_on=date(2022, 2, 28)),
        Wave(rank=3, opens_on=today, closes_on=today + timedelta(days=30)),
    ]
    db.session.add(challenge)
    db.session.flush()
    make_current(challenge)
    seed_default_questions(challenge)
    questions = db.session.scalars(
        sa.select(Question).where(Question.challenge_id == challenge.id).order_by(Question.position)
    ).all()

    households = {}
    for group_name, sector, prefix, account_prefix, _facilitator in group_rows:
        group = Group(challenge=challenge, name=group_name, sector=sector, code_prefix=prefix)
        db.session.add(group)
        db.session.flush()
        for number in range(1, SIZE[prefix] + 1):
            household = _household(rng, group, prefix, number, structures)
            households[household.code] = household
            db.session.add(
                User(
                    username=f"{account_prefix}-{number:02d}",
                    password_hash=password_hash,
                    household=household,
                    territory_id=territory.id,
                )
            )
    for username, role, scope in staff_rows:
        first_name, phone, email = STAFF_CONTACTS[username]
        user = User(
            username=username,
            password_hash=password_hash,
            first_name=first_name,
            phone=phone,
            email=email,
            territory_id=territory.id,
        )
        if role == "facilitator":
            group = next(group for group in challenge.groups if group.name == scope)
            user.memberships.append(Membership(role=role, group=group))
        elif role == "referent":
            user.memberships.append(Membership(role=role, structure=structures[scope]))
        else:
            user.memberships.append(Membership(role=role))
        db.session.add(user)
    db.session.flush()

    for household in households.values():
        engaged = household.is_active
        _entry(rng, household, challenge.waves[0], questions)
        if engaged:
            _entry(rng, household, challenge.waves[1], questions)
    db.session.flush()
    return challenge, households


def demo_codes(prefix: str) -> dict[int, str]:
    """The demo foyers' codes, {number: code}: drawn at random like any foyer's, from a fixed
    seed, so that every load of the demo (and its tests) gives the same."""
    rng = random.Random(f"demo-codes-{prefix}")
    codes: dict[int, str] = {}
    for number in range(1, SIZE[prefix] + 1):
        codes[number] = draw_code(prefix, set(codes.values()), choice=rng.choice)
    return codes


def _household(rng, group, prefix, number, structures):
    engaged = number in ENGAGED[prefix]
    surname = SURNAMES[((number - 1) * 2 + (prefix == "OUEST") + 7 * (prefix == "NORD")) % 40]
    household = create_household(
        group,
        code=demo_codes(prefix)[number],
        display_name=f"Famille {surname}",
        adults=rng.choice((1, 2, 2, 2)),
        children=rng.choice((0, 1, 1, 2, 2, 3)),
        commune=rng.choice(COMMUNES[prefix]),
        phone=f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
        f"{rng.randint(10, 99)}",
        email=f"famille.{surname.lower().replace('ë', 'e')}@example.org" if number % 3 else "",
    )
    household.created_at = datetime(2021, 8, 30, 18, 0)
    if not engaged:
        household.status = "withdrawn"
        household.withdrawn_on = date(2021, 10, 15) + timedelta(days=rng.randint(0, 100))
    accompanied = ACCOMPANIED[prefix].get(number)
    if accompanied:
        accompany(household, structures[accompanied[0]])
    return household


def _entry(rng, household, wave, questions):
    """A submitted relevé with purchases, weighings, recipes, producers and answers."""
    progress = wave.rank - 1  # the mid wave shows the progress the source reports
    persons = household.persons
    days = 14
    covers = days * persons * rng.choice((2, 2, 2, 1)) - rng.randint(0, persons * 3)
    per_cover = rng.uniform(1.9, 3.4) - 0.25 * progress
    total = covers * per_cover
    when = wave.opens_on
    entry = Entry(
        household=household,
        wave=wave,
        status="submitted",
        persons=persons,
        period_days=days,
        meal_covers=covers,
        cost_mode="purchases",
        submission_id=uuid.UUID(int=rng.getrandbits(128)).hex,
        submitted_at=datetime.combine(
            when + timedelta(days=rng.randint(14, 27)), datetime.min.time()
        )
        + timedelta(hours=20),
    )
    db.session.add(entry)
    receipts = rng.randint(4, 8)
    weights = PLACE_WEIGHTS[min(wave.rank, 2)]
    shares = [rng.uniform(0.5, 1.5) for _ in range(receipts)]
    for share in shares:
        cents = max(150, round(total * 100 * share / sum(shares)))
        place = rng.choices(PLACE_TYPES, weights=weights)[0]
        local_rate = rng.uniform(0.05, 0.25) + 0.12 * progress
        if place in ("marche", "vente_directe", "amap", "magasin_producteurs", "autoproduction"):
            local_rate = rng.uniform(0.7, 1.0)
        organic_rate = rng.uniform(0.0, 0.15) + 0.08 * progress
        if place in ("magasin_bio", "amap"):
            organic_rate = rng.uniform(0.6, 1.0)
        entry.purchases.append(
            Purchase(
                bought_on=when + timedelta(days=rng.randint(0, days - 1)),
                place_type=place,
                total_cents=cents,
                organic_cents=round(cents * min(organic_rate, 1.0)),
                local_cents=round(cents * min(local_rate, 1.0)),
            )
        )
    if rng.random() < 0.7:  # weighing waste is optional in the source
        for _ in range(rng.randint(3, 6)):
            entry.weighings.append(
                Weighing(
                    weighed_on=when + timedelta(days=rng.randint(0, days - 1)),
                    grams=round(rng.uniform(150, 900) * (1 - 0.3 * progress) * persons / 3),
                    category=rng.choices(
                        ("evitable", "epluchures", "non_evitable"), weights=(5, 3, 2)
                    )[0],
                )
            )
    for _ in range(rng.choice((0, 0, 1, 1, 2)) + progress):
        title, purpose = rng.choice(RECIPES)
        entry.recipes.append(
            Recipe(
                title=title,
                purpose=purpose,
                ingredients="Ce qui reste au frigo, un oignon, un peu d'huile.",
                steps="Éplucher, couper, cuire doucement, goûter.",
            )
        )
    for _ in range(rng.choice((0, 1, 1, 2, 3)) + progress):
        name, kind, products = rng.choice(PRODUCERS)
        commune = rng.choice(COMMUNES["EST"] + COMMUNES["OUEST"])
        entry.producers.append(
            Producer(
                name=name,
                kind=kind,
                products=products,
                commune=commune,
                dedup_key=dedup_key(name, commune),
            )
        )
    db.session.flush()
    for question in questions:
        if question.from_rank > wave.rank:
            continue
        if question.kind == "single":
            picked = [rng.choices(question.choices, weights=(5, 4, 1))[0]]
        else:
            picked = [choice for choice in question.choices if rng.random() < 0.3 + 0.2 * progress]
        for choice in picked:
            db.session.add(Answer(entry=entry, question_id=question.id, choice_id=choice.id))
    return entry


def paris_to_utc(day, hour):
    """10:00 in France that day, as the naive UTC datetime the models store."""
    local = datetime.combine(day, time(hour), tzinfo=ZoneInfo("Europe/Paris"))
    return local.astimezone(UTC).replace(tzinfo=None)


def _events(rng, challenge, households):
    groups = {group.code_prefix: group for group in challenge.groups}
    places = {"E": "Maison des associations, Noeux-les-Mines", "O": "Salle des fêtes, Lillers"}
    for kind, title, day, letters in EVENTS:
        event_groups = [groups["EST" if letter == "E" else "OUEST"] for letter in letters]
        event = Event(
            challenge=challenge,
            kind=kind,
            title=title,
            starts_at=paris_to_utc(day, 10),
            ends_at=paris_to_utc(day, 12),
            place=places[letters[0]] if kind == "atelier" else title.replace("Visite de ", ""),
            description="Temps d'échange entre familles, animé par l'animateur·rice du groupe.",
            groups=event_groups,
        )
        db.session.add(event)
        db.session.flush()
        for group in event_groups:
            accompanied = 0
            for household in households.values():
                if household.group is not group:
                    continue
                gone = household.withdrawn_on is not None and household.withdrawn_on <= day
                if gone or rng.random() >= 0.7:
                    continue
                if household.accompaniment is not None:
                    accompanied += 1  # counted at the door, never named
                else:
                    event.attendances.append(Attendance(household=household))
            db.session.execute(
                sa.update(event_groups_table)
                .where(
                    event_groups_table.c.event_id == event.id,
                    event_groups_table.c.group_id == group.id,
                )
                .values(accompanied_present=accompanied)
            )
