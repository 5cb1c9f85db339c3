"""SQL queries per page, with the demo défi (40 foyers) and with 10,000 foyers, side by side.

QUALITY.md, speed: "SQL queries per page ≤ 12 and the same with 40 foyers as with 10,000".
Each page is fetched once to warm up, once under `QueryCounter`, then 5 more times for a median
time (informative only: the Flask test client, no network, no gunicorn). As in
bench/collecte_page.py, foyer-est-01 first starts its wave-3 relevé with four purchases.

Run: .venv/bin/python bench/queries.py
"""

import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._app import FOYER_PAGES  # noqa: E402
from bench._app import QueryCounter  # noqa: E402
from bench._app import demo_app  # noqa: E402
from bench._app import logged_in  # noqa: E402
from bench.generate import add_households  # noqa: E402
from defi.extensions import db  # noqa: E402
from defi.models import Group  # noqa: E402

BIG = 10_000
LIMIT = 12
TIMED_GETS = 5
FOYER = "foyer-est-01"
FACILITATOR = "animateur-est"
# (username, pages); `{group}` is the Est group's id.
PAGES = (
    (FOYER, FOYER_PAGES),
    (FACILITATOR, ("/groupe/{group}", "/groupe/{group}/relances", "/groupe/{group}/progres")),
    ("referent-mjep", ("/accompagnement/",)),
    ("pilote", ("/pilote/",)),
)
CALENDAR_USERS = (FOYER, FACILITATOR)


class Site:
    """One app, its query counter and a logged-in client per user."""

    def __init__(self, app):
        self.app = app
        with app.app_context():
            self.counter = QueryCounter(db.engine)
            self.group_id = db.session.scalar(sa.select(Group.id).where(Group.code_prefix == "EST"))
        self.clients = {}

    def client(self, username):
        if username not in self.clients:
            self.clients[username] = logged_in(self.app, username)
        return self.clients[username]

    def measure(self, username, page):
        """(queries, median ms) of a GET of the page, after a warm-up GET."""
        client = self.client(username)
        response = client.get(page)
        assert response.status_code == 200, (username, page, response.status_code)
        self.counter.count = 0
        response = client.get(page)
        queries = self.counter.count
        assert response.status_code == 200, (username, page, response.status_code)
        times = []
        for _ in range(TIMED_GETS):
            started = time.perf_counter()
            client.get(page)
            times.append((time.perf_counter() - started) * 1000)
        return queries, statistics.median(times)


def start_releve(site):
    """Give foyer-est-01 a wave-3 relevé in progress, as bench/collecte_page.py does."""
    client = site.client(FOYER)
    client.post(
        "/collecte/3/repas",
        data={"persons": "4", "period_days": "14", "meal_covers": "112", "cost_mode": "purchases"},
    )
    for total in ("23,40", "12,00", "8,75", "41,10"):
        client.post(
            "/collecte/3/achats",
            data={"total": total, "organic": "2", "local": "3", "place_type": "marche"},
        )


def calendar_pages(site):
    """(pages, skipped) of /calendrier/ for the foyer and the facilitator, from app.url_map.

    GET routes without arguments or with only the group id; those answering anything but 200
    for a user (a redirect, a refusal) are skipped with the reason.
    """
    pages, skipped = [], []
    rules = sorted(site.app.url_map.iter_rules(), key=lambda rule: rule.rule)
    for username in CALENDAR_USERS:
        client = site.client(username)
        for rule in rules:
            if not rule.rule.startswith("/calendrier/") or "GET" not in rule.methods:
                continue
            if not set(rule.arguments) <= {"group_id"}:
                skipped.append((username, rule.rule, "needs other arguments"))
                continue
            page = rule.rule.replace("<int:group_id>", "{group}")
            response = client.get(page.format(group=site.group_id))
            if response.status_code == 200:
                pages.append((username, page))
            elif response.status_code in (301, 302, 303, 307, 308):
                target = response.headers.get("Location", "?")
                skipped.append((username, page, f"{response.status_code} to {target}"))
            else:
                skipped.append((username, page, f"answers {response.status_code}"))
    return pages, skipped


def main():
    print("Building the demo défi (40 foyers)...", flush=True)
    small = Site(demo_app()[0])
    print(f"Building the demo défi grown to {BIG} foyers...", flush=True)
    started = time.perf_counter()
    big_app = demo_app()[0]
    add_households(big_app, BIG)
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    big = Site(big_app)
    for site in (small, big):
        start_releve(site)

    pages = [(username, page) for username, user_pages in PAGES for page in user_pages]
    calendar, skipped = calendar_pages(small)
    pages += calendar

    header = (
        f"{'user':<15}{'page':<38}{'q@40':>6}{f'q@{BIG}':>9}{'ms@40':>8}{f'ms@{BIG}':>10}  flags"
    )
    print()
    print(f"{{group}}: Est group id ({small.group_id} at 40 foyers, {big.group_id} at {BIG}).")
    print("Counts include the BEGIN IMMEDIATE that starts each request's transaction on SQLite.")
    print(header)
    print("-" * len(header))
    flagged = 0
    for username, page in pages:
        small_queries, small_ms = small.measure(username, page.format(group=small.group_id))
        big_queries, big_ms = big.measure(username, page.format(group=big.group_id))
        flags = []
        if max(small_queries, big_queries) > LIMIT:
            flags.append(f"> {LIMIT}")
        if small_queries != big_queries:
            flags.append("grows")
        flagged += bool(flags)
        print(
            f"{username:<15}{page:<38}{small_queries:>6}{big_queries:>9}"
            f"{small_ms:>8.1f}{big_ms:>10.1f}  {', '.join(flags)}",
            flush=True,
        )
    print()
    print(f"{flagged} of {len(pages)} pages flagged (over {LIMIT} queries or growing with size).")
    print(f"Times: median of {TIMED_GETS} GETs through the Flask test client, informative only.")
    if skipped:
        print("Calendar routes not measured:")
        for username, page, reason in skipped:
            print(f"  {username:<15}{page:<62}{reason}")


if __name__ == "__main__":
    main()
