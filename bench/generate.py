"""Grow the demo défi to thousands of foyers, fast, for the speed benchmarks (QUALITY.md).

`add_households(app, total)` adds foyers to the two demo groups until the défi has `total`
of them, each with a login, submitted relevés for waves 1 and 2 (wave 3 stays open and empty),
about 10 % accompanied and about 30 % withdrawn before wave 2. Rows go in with SQLAlchemy Core
bulk inserts, in batches, with ids chosen here so that children need no round trip.

Run: .venv/bin/python bench/generate.py --households 10000 --database sqlite:////tmp/x.db
"""

import argparse
import random
import secrets
import sys
import tempfile
import time
import uuid
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._app import demo_challenge  # noqa: E402
from config import TestConfig  # noqa: E402
from config import database_url  # noqa: E402
from defi import create_app  # noqa: E402
from defi.demo import COMMUNES  # noqa: E402
from defi.demo import GROUPS  # noqa: E402
from defi.demo import MJEP  # noqa: E402
from defi.demo import NOEUX  # noqa: E402
from defi.demo import PLACE_WEIGHTS  # noqa: E402
from defi.demo import PRODUCERS  # noqa: E402
from defi.demo import RECIPES  # noqa: E402
from defi.demo import SURNAMES  # noqa: E402
from defi.demo import demo_loaded  # noqa: E402
from defi.demo import load_demo  # noqa: E402
from defi.extensions import db  # noqa: E402
from defi.formatting import today  # noqa: E402
from defi.households import ANONYMOUS_LABELS  # noqa: E402
from defi.households import draw_code  # noqa: E402
from defi.models import Accompaniment  # noqa: E402
from defi.models import Answer  # noqa: E402
from defi.models import Attendance  # noqa: E402
from defi.models import Entry  # noqa: E402
from defi.models import Event  # noqa: E402
from defi.models import Group  # noqa: E402
from defi.models import Household  # noqa: E402
from defi.models import Producer  # noqa: E402
from defi.models import Purchase  # noqa: E402
from defi.models import Question  # noqa: E402
from defi.models import Recipe  # noqa: E402
from defi.models import Structure  # noqa: E402
from defi.models import User  # noqa: E402
from defi.models import Wave  # noqa: E402
from defi.models import Weighing  # noqa: E402
from defi.models import event_groups  # noqa: E402
from defi.models.collecte import PLACE_TYPES  # noqa: E402
from defi.producers import dedup_key  # noqa: E402

BATCH = 1000  # foyers per round of inserts
ACCOMPANIED_SHARE = 0.10
WITHDRAWN_SHARE = 0.30
LOCAL_PLACES = ("marche", "vente_directe", "amap", "magasin_producteurs", "autoproduction")
ORGANIC_PLACES = ("magasin_bio", "amap")
CREATED_AT = datetime(2021, 8, 30, 18, 0)


def add_households(app, total: int, seed: int = 2022) -> int:
    """Grow the demo défi to `total` foyers, spread evenly over its two groups.

    Needs the demo loaded (`defi.demo.load_demo`). Commits. Returns the number of foyers added
    (0 when the défi already has `total` or more).
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible bench data, not a secret
    with app.app_context():
        context = _Context.load()
        missing = total - context.existing
        if missing <= 0:
            return 0
        # Both groups grow by half of what is missing (Est takes the odd one).
        plans = []
        for index, prefix in enumerate(context.groups):
            count = missing // 2 + (missing % 2 if index == 0 else 0)
            plans.extend((prefix, number) for number in context.numbers(prefix, count))
        for start in range(0, len(plans), BATCH):
            _insert_batch(rng, context, plans[start : start + BATCH])
        _fix_sequences()
        db.session.commit()
        return missing


class _Context:
    """What the generator reads once: the demo's ids, questions, events and used values."""

    @classmethod
    def load(cls):
        self = cls()
        challenge = demo_challenge()
        if challenge is None:
            raise RuntimeError("load the demo défi first (defi.demo.load_demo)")
        self.challenge_id = challenge.id
        self.waves = {
            wave.rank: wave
            for wave in db.session.scalars(sa.select(Wave).where(Wave.challenge_id == challenge.id))
        }
        self.groups = {}  # prefix → (group id, account prefix)
        for _name, _sector, prefix, account_prefix, _facilitator in GROUPS:
            group_id = db.session.scalar(
                sa.select(Group.id).where(
                    Group.challenge_id == challenge.id, Group.code_prefix == prefix
                )
            )
            self.groups[prefix] = (group_id, account_prefix)
        self.existing = db.session.scalar(
            sa.select(sa.func.count(Household.id)).where(Household.challenge_id == challenge.id)
        )
        self.codes = set(
            db.session.scalars(
                sa.select(Household.code).where(Household.challenge_id == challenge.id)
            )
        )
        self.structures = dict(
            db.session.execute(
                sa.select(Structure.name, Structure.id).where(Structure.name.in_((MJEP, NOEUX)))
            ).all()
        )
        # The demo's password works for every generated account: copy a demo foyer's hash.
        self.password_hash = db.session.scalar(
            sa.select(User.password_hash)
            .join(Household, Household.id == User.household_id)
            .where(Household.challenge_id == challenge.id)
            .limit(1)
        )
        self.labels = {
            group_id: set(
                db.session.scalars(
                    sa.select(Accompaniment.label).where(Accompaniment.group_id == group_id)
                )
            )
            for group_id, _account_prefix in self.groups.values()
        }
        questions = db.session.scalars(
            sa.select(Question)
            .where(Question.challenge_id == challenge.id)
            .order_by(Question.position)
        ).all()
        self.questions = [
            (question.id, question.kind, question.from_rank, [c.id for c in question.choices])
            for question in questions
        ]
        self.events = {}  # group id → [(event id, day)]
        for event_id, starts_at, group_id in db.session.execute(
            sa.select(Event.id, Event.starts_at, event_groups.c.group_id)
            .join(event_groups, event_groups.c.event_id == Event.id)
            .where(Event.challenge_id == challenge.id)
        ):
            self.events.setdefault(group_id, []).append((event_id, starts_at.date()))
        self.household_ids = set(db.session.scalars(sa.select(Household.id)))
        self.usernames = set(db.session.scalars(sa.select(User.username)))
        self.next_entry_id = _next_id(Entry)
        return self

    def new_household_id(self, rng) -> int:
        """An id at random, as the app draws them (models.challenge.random_household_id)."""
        while True:
            candidate = rng.randrange(1, 2**31 - 1)
            if candidate not in self.household_ids:
                self.household_ids.add(candidate)
                return candidate

    def new_code(self, rng, prefix: str) -> str:
        """A code at random, as the app draws them (households.draw_code)."""
        code = draw_code(prefix, self.codes, choice=rng.choice)
        self.codes.add(code)
        return code

    def numbers(self, prefix: str, count: int) -> list[int]:
        """The next `count` free foyer numbers of the group: its accounts are named by them
        (foyer-est-21, foyer-est-22...), its codes are drawn at random."""
        account_prefix = self.groups[prefix][1]
        used = [
            int(name.rsplit("-", 1)[1])
            for name in self.usernames
            if name.startswith(account_prefix + "-") and name.rsplit("-", 1)[1].isdigit()
        ]
        first = max(used, default=0) + 1
        return list(range(first, first + count))

    def draw_label(self, rng, group_id: int) -> str:
        """A label not yet used in the group: a vegetable and a random number.

        The number is random, never the foyer's own, so that the label does not reveal its code.
        """
        used = self.labels[group_id]
        while True:
            label = f"{rng.choice(ANONYMOUS_LABELS)} {rng.randint(1000, 999999)}"
            if label not in used:
                used.add(label)
                return label


def _next_id(model) -> int:
    return (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1


def _insert_batch(rng, context, plan):
    """Insert a batch of foyers with their accounts, relevés and attendance."""
    rows = {
        model: []
        for model in (
            Household,
            User,
            Accompaniment,
            Entry,
            Purchase,
            Weighing,
            Recipe,
            Producer,
            Answer,
            Attendance,
        )
    }
    structures = (context.structures[MJEP], context.structures[NOEUX])
    for prefix, number in plan:
        group_id, account_prefix = context.groups[prefix]
        household_id = context.new_household_id(rng)
        withdrawn = rng.random() < WITHDRAWN_SHARE
        withdrawn_on = None
        if withdrawn:  # between the first two collectes
            withdrawn_on = date(2021, 10, 15) + timedelta(days=rng.randint(0, 100))
        adults = rng.choice((1, 2, 2, 2))
        children = rng.choice((0, 1, 1, 2, 2, 3))
        surname = rng.choice(SURNAMES)
        rows[Household].append(
            {
                "id": household_id,
                "version": 1,
                "challenge_id": context.challenge_id,
                "group_id": group_id,
                "code": context.new_code(rng, prefix),
                "display_name": f"Famille {surname}",
                "adults": adults,
                "children": children,
                "commune": rng.choice(COMMUNES[prefix]),
                "phone": "06 " + " ".join(str(rng.randint(10, 99)) for _ in range(4)),
                "email": f"famille.{surname.lower()}.{number}@example.org" if number % 3 else "",
                "status": "withdrawn" if withdrawn else "active",
                "withdrawn_on": withdrawn_on,
                "created_at": CREATED_AT,
            }
        )
        rows[User].append(
            {
                "version": 1,
                "username": f"{account_prefix}-{number:02d}",
                "password_hash": context.password_hash,
                "session_token": secrets.token_urlsafe(32),
                "active": True,
                "household_id": household_id,
                "created_at": CREATED_AT,
            }
        )
        if rng.random() < ACCOMPANIED_SHARE:
            rows[Accompaniment].append(
                {
                    "household_id": household_id,
                    "structure_id": rng.choice(structures),
                    "group_id": group_id,
                    "label": context.draw_label(rng, group_id),
                    "created_at": CREATED_AT,
                }
            )
        persons = adults + children
        _entry(rng, context, rows, household_id, persons, context.waves[1])
        if not withdrawn:
            _entry(rng, context, rows, household_id, persons, context.waves[2])
        for event_id, day in context.events.get(group_id, ()):
            gone = withdrawn_on is not None and withdrawn_on <= day
            if not gone and rng.random() < 0.7:
                rows[Attendance].append(
                    {
                        "event_id": event_id,
                        "household_id": household_id,
                        "recorded_at": datetime.combine(day, datetime.min.time()),
                    }
                )
    # Parents before children: SQLite checks the foreign keys. Inserting into the Table (not
    # the mapped class) skips the ORM's bulk path, which splits a batch by the keys set to None.
    for model, batch in rows.items():
        if batch:
            db.session.execute(sa.insert(model.__table__), batch)


def _entry(rng, context, rows, household_id, persons, wave):
    """A submitted relevé with its purchases, weighings, recipes, producers and answers."""
    entry_id = context.next_entry_id
    context.next_entry_id += 1
    progress = wave.rank - 1
    days = 14
    covers = max(1, days * persons * rng.choice((2, 2, 2, 1)) - rng.randint(0, persons * 3))
    total = covers * (rng.uniform(1.9, 3.4) - 0.25 * progress)
    submitted_at = datetime.combine(
        wave.opens_on + timedelta(days=rng.randint(14, 27)), datetime.min.time()
    ) + timedelta(hours=20)
    rows[Entry].append(
        {
            "id": entry_id,
            "version": 1,
            "household_id": household_id,
            "wave_id": wave.id,
            "status": "submitted",
            "persons": persons,
            "period_days": days,
            "meal_covers": covers,
            "cost_mode": "purchases",
            "submission_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "submitted_at": submitted_at,
            "created_at": datetime.combine(wave.opens_on, datetime.min.time()),
            "updated_at": submitted_at,
            "assisted": False,
            "imported": False,
        }
    )
    weights = PLACE_WEIGHTS[min(wave.rank, 2)]
    shares = [rng.uniform(0.5, 1.5) for _ in range(rng.randint(3, 6))]
    for share in shares:
        cents = max(150, round(total * 100 * share / sum(shares)))
        place = rng.choices(PLACE_TYPES, weights=weights)[0]
        local_rate = rng.uniform(0.05, 0.25) + 0.12 * progress
        if place in LOCAL_PLACES:
            local_rate = rng.uniform(0.7, 1.0)
        organic_rate = rng.uniform(0.0, 0.15) + 0.08 * progress
        if place in ORGANIC_PLACES:
            organic_rate = rng.uniform(0.6, 1.0)
        rows[Purchase].append(
            {
                "version": 1,
                "entry_id": entry_id,
                "bought_on": wave.opens_on + timedelta(days=rng.randint(0, days - 1)),
                "place_type": place,
                "total_cents": cents,
                "organic_cents": round(cents * min(organic_rate, 1.0)),
                "local_cents": round(cents * min(local_rate, 1.0)),
                "created_at": submitted_at,
            }
        )
    if rng.random() < 0.7:  # weighing waste is optional
        for _ in range(rng.randint(2, 4)):
            rows[Weighing].append(
                {
                    "version": 1,
                    "entry_id": entry_id,
                    "weighed_on": wave.opens_on + timedelta(days=rng.randint(0, days - 1)),
                    "grams": round(rng.uniform(150, 900) * (1 - 0.3 * progress) * persons / 3),
                    "category": rng.choices(
                        ("evitable", "epluchures", "non_evitable"), weights=(5, 3, 2)
                    )[0],
                    "created_at": submitted_at,
                }
            )
    for _ in range(rng.randint(0, 2)):
        title, purpose = rng.choice(RECIPES)
        rows[Recipe].append(
            {
                "version": 1,
                "entry_id": entry_id,
                "title": title,
                "purpose": purpose,
                "ingredients": "Ce qui reste au frigo, un oignon, un peu d'huile.",
                "steps": "Éplucher, couper, cuire doucement, goûter.",
                "created_at": submitted_at,
            }
        )
    for _ in range(rng.randint(0, 2)):
        name, kind, products = rng.choice(PRODUCERS)
        commune = rng.choice(COMMUNES["EST"] + COMMUNES["OUEST"])
        rows[Producer].append(
            {
                "version": 1,
                "entry_id": entry_id,
                "name": name,
                "products": products,
                "kind": kind,
                "commune": commune,
                "address": "",
                "contact": "",
                "dedup_key": dedup_key(name, commune),
                "created_at": submitted_at,
            }
        )
    for question_id, kind, from_rank, choice_ids in context.questions:
        if from_rank > wave.rank or not choice_ids:
            continue
        if kind == "single":
            weights = (5, 4, 1) if len(choice_ids) == 3 else None
            picked = [rng.choices(choice_ids, weights=weights)[0]]
        else:
            picked = [choice for choice in choice_ids if rng.random() < 0.3 + 0.2 * progress]
        for choice_id in picked:
            rows[Answer].append(
                {"entry_id": entry_id, "question_id": question_id, "choice_id": choice_id}
            )


def _fix_sequences():
    """PostgreSQL: move the id sequences past the ids chosen here (SQLite needs nothing)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("entry",):  # foyers' ids are drawn at random, never from the sequence
        db.session.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608
                f'(SELECT max(id) FROM "{table}"))'
            )
        )


def bench_app(url: str):
    """The app on the database at `url`, with the test settings (no secret key needed)."""
    config = type("GenerateConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": database_url(url)})
    return create_app(config)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=10_000, help="foyers in the end")
    parser.add_argument(
        "--database",
        help="SQLAlchemy URL (default: a new SQLite file in a temporary directory)",
    )
    args = parser.parse_args()
    url = args.database or f"sqlite:///{Path(tempfile.mkdtemp(prefix='defi-bench-')) / 'x.db'}"
    app = bench_app(url)
    with app.app_context():
        started = time.perf_counter()
        db.create_all()
        if not demo_loaded():
            with app.test_request_context():
                load_demo(today())
            db.session.commit()
        demo_seconds = time.perf_counter() - started
    started = time.perf_counter()
    added = add_households(app, args.households)
    grow_seconds = time.perf_counter() - started
    with app.app_context():
        counts = {
            model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Household, Entry, Purchase, Weighing, Recipe, Producer, Answer)
        }
    print(f"database: {url}")
    print(f"schema and demo: {demo_seconds:.1f} s")
    print(f"{added} foyers added in {grow_seconds:.1f} s")
    print(", ".join(f"{count} {table}" for table, count in counts.items()))


if __name__ == "__main__":
    main()
