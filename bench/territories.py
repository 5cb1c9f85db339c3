"""Many territories on one install: a territory's pages against one territory alone, and the
coordinator's comparison of all of them (issue 15).

Run: .venv/bin/python bench/territories.py [--territories 50] [--requests 20] [--no-doc]
Two SQLite databases are prepared: the demo alone (its two territories), and the demo with
territories added up to --territories, each of 40 foyers in 2 groups with 3 waves of relevés
(the demo's own generator, `demo._load_territory`, its end wave closed and filled). In each,
the same pages of the demo's first territory are requested in the Flask test client (as its
pilot, a facilitator and a foyer): the SQL statements of one request and the median time of
--requests. Then the coordinator's pages on the larger database: the first request after a
relevé sent in one défi (that défi's figures and the network's total computed again, the other
défis' read from the worker's cache; median of 3), after a change of every défi (every défi's
figures computed again: a statement whose défi is not known, once), and served from the
worker's cache (every other request), median of --requests. Each measure runs alone. The
figures go into the `territories` section of docs/PERFORMANCE.md unless --no-doc.
"""

import argparse
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench._app import QueryCounter  # noqa: E402
from bench._app import demo_app  # noqa: E402
from bench._app import logged_in  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from defi import demo  # noqa: E402
from defi.accounts.passwords import hash_password  # noqa: E402
from defi.extensions import db  # noqa: E402
from defi.figures import cache  # noqa: E402
from defi.models import Challenge  # noqa: E402
from defi.models import Group  # noqa: E402
from defi.models import Question  # noqa: E402
from defi.models import Territory  # noqa: E402
from defi.models import Wave  # noqa: E402

LIMIT_MS = 300
PAGES = [
    ("pilot", "pilote", "/pilote/"),
    ("pilot", "pilote", "/pilote/comparaison"),
    ("pilot", "pilote", "/pilote/parametres"),
    ("pilot", "pilote", "/pilote/export/comparaison.xlsx"),
    ("facilitator", "animateur-est", "/groupe/{est}"),
    ("facilitator", "animateur-est", "/groupe/{est}/progres"),
    ("foyer", "foyer-est-01", "/collecte/"),
]
NETWORK_PAGES = ["/reseau/", "/reseau/comparaison", "/reseau/export/comparaison.xlsx"]


def add_territories(app, total: int) -> int:
    """Territories added to the demo's two, up to `total`: 40 foyers each, 3 waves sent."""
    added = 0
    password_hash = hash_password(demo.DEMO_PASSWORD)
    with app.app_context():
        for number in range(3, total + 1):
            groups = tuple(
                (name, sector, prefix, f"t{number}-{account}", f"t{number}-{facilitator}")
                for name, sector, prefix, account, facilitator in demo.GROUPS
            )
            staff = tuple((f"t{number}-{user}", role, scope) for user, role, scope in demo.STAFF)
            for username, _role, _scope in staff:
                demo.STAFF_CONTACTS.setdefault(username, ("Camille", "", ""))
            rng = random.Random(number)  # noqa: S311 - reproducible bench data
            challenge, households = demo._load_territory(
                f"Territoire {number:02d}",
                groups,
                staff,
                (demo.MJEP, demo.NOEUX),
                date(2022, 6, 1),
                password_hash,
                rng,
            )
            end = challenge.waves[2]
            end.opens_on, end.closes_on = date(2022, 6, 1), date(2022, 6, 30)
            questions = db.session.scalars(
                sa.select(Question).where(Question.challenge_id == challenge.id)
            ).all()
            for household in households.values():
                if household.is_active:
                    demo._entry(rng, household, end, questions)
            db.session.commit()
            added += 1
    return added


def median_ms(client, url, count):
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def territory_pages(app, count):
    """{(actor, page): (statements, median ms)} of the demo's first territory's pages."""
    with app.app_context():
        est = db.session.scalar(sa.select(Group.id).where(Group.name == "Les LokoMotiv'"))
        counter = QueryCounter(db.engine)
    clients, result = {}, {}
    for actor, username, page in PAGES:
        url = page.format(est=est)
        client = clients.setdefault(username, logged_in(app, username))
        client.get(url)  # the figures computed once, as every later request finds them
        counter.count = 0
        client.get(url)
        statements = counter.count
        result[(actor, page)] = (statements, median_ms(client, url, count))
    return result


def network_pages(app, count):
    """{page: (ms after one défi's change, ms after every défi's, median ms from the cache)}."""
    client = logged_in(app, "reseau")
    with app.app_context():
        one = db.session.scalar(  # a relevé sent in the demo's défi
            sa.select(Challenge.id)
            .join(Territory)
            .where(Territory.name == demo.DEMO_TERRITORY, Challenge.is_current)
        )
    result = {}
    for url in NETWORK_PAGES:
        client.get(url)
        after = {}
        for changed, repeats in (([one], 3), (None, 1)):
            times = []
            for _ in range(repeats):
                with app.app_context():
                    cache.touch(db.session, changed)
                    db.session.commit()
                started = time.perf_counter()
                assert client.get(url).status_code == 200
                times.append((time.perf_counter() - started) * 1000)
            after["one" if changed else "every"] = statistics.median(times)
        result[url] = (after["one"], after["every"], median_ms(client, url, count))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--territories", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    args = parser.parse_args()
    alone, _directory = demo_app()
    before = territory_pages(alone, args.requests)
    many, _other = demo_app()
    started = time.perf_counter()
    added = add_territories(many, args.territories)
    print(f"{added} territories added in {time.perf_counter() - started:.0f} s")
    after = territory_pages(many, args.requests)
    with many.app_context():
        waves = db.session.scalar(sa.select(sa.func.count(Wave.id)))
    rows = []
    for key, (statements, ms) in before.items():
        statements_after, ms_after = after[key]
        rows.append(
            (key[0], f"`{key[1]}`", statements, statements_after, f"{ms:.1f}", f"{ms_after:.1f}")
        )
        print(f"{key[0]:<12} {key[1]:<36} {statements:>3} → {statements_after:>3} statements, "
              f"{ms:6.1f} → {ms_after:6.1f} ms")  # fmt: skip
    network = network_pages(many, args.requests)
    for url, (one, every, warm) in network.items():
        print(f"coordinator  {url:<36} after one défi's change {one:6.1f} ms, "
              f"after every défi's {every:7.1f} ms, from the cache {warm:6.1f} ms")  # fmt: skip
    if args.no_doc:
        return
    pages = markdown_table(
        ("role", "page", "statements, 2 territories", f"statements, {args.territories}",
         "median ms, 2 territories", f"median ms, {args.territories}"),
        rows,
        "llrrrr",
    )  # fmt: skip
    coordinator = markdown_table(
        ("page", "after a relevé sent in one défi (ms)", "from the cache (median ms)", "",
         "after a change of every défi (ms)"),
        [
            (f"`{url}`", f"{one:.0f}", f"{warm:.0f}",
             "" if max(one, warm) <= LIMIT_MS else "> 300 ms", f"{every:.0f}")
            for url, (one, every, warm) in network.items()
        ],
        "lrrlr",
    )  # fmt: skip
    write_section(
        "territories",
        f"{args.territories} territories of 40 foyers and 3 waves ({waves} waves in all), "
        f"against the demo's 2 territories; Flask test client, {args.requests} requests each.\n\n"
        f"{pages}\n\nThe coordinator, {args.territories} territories:\n\n{coordinator}",
    )


if __name__ == "__main__":
    main()
