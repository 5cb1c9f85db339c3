"""SQL queries per page, for every main page of every role, with 40 and with 10,000 foyers.

QUALITY.md, speed: "SQL queries per page ≤ 12 and the same with 40 foyers as with 10,000".
The pages are found in app.url_map and the access POLICY (bench/_pages.py): every GET route a
role may use, with the htmx fragments and downloads the app serves. Each page is fetched once
to warm up, then up to 5 times (fewer when slow) for its query count and a median time
(informative only: the Flask test client, no network, no gunicorn).

Run: .venv/bin/python bench/queries.py [--households 10000] [--no-doc]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._app import QueryCounter  # noqa: E402
from bench._app import demo_app  # noqa: E402
from bench._app import logged_in  # noqa: E402
from bench._doc import code  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench._pages import main_pages  # noqa: E402
from bench._pages import prepare  # noqa: E402
from bench.generate import add_households  # noqa: E402
from defi.extensions import db  # noqa: E402

LIMIT = 12
TIMED_GETS = 5
TIME_BUDGET = 2.0  # seconds of timed GETs per page and size, at least one GET
# Downloads of the whole défi: allowed a fixed count above the bar (issue 6), never growth.
WHOLE_CHALLENGE = ("/pilote/export/",)


class Site:
    """One demo database, its query counter, its actors' clients and their pages."""

    def __init__(self, app):
        self.app = app
        self.actors = prepare(app)
        with app.app_context():
            self.counter = QueryCounter(db.engine)
        self.clients = {actor.username: logged_in(app, actor.username) for actor in self.actors}
        pages, self.not_measured = main_pages(app, self.clients, self.actors)
        self.pages = {(page.actor, page.label): page for page in pages}

    def measure(self, page):
        """(queries, median ms) of GETs of the page; the query count of every GET must agree."""
        client = self.clients[page.username]
        counts, times = set(), []
        spent = 0.0
        while len(times) < TIMED_GETS and (not times or spent < TIME_BUDGET):
            self.counter.count = 0
            started = time.perf_counter()
            response = client.get(page.url, headers=dict(page.headers))
            response.get_data()
            elapsed = time.perf_counter() - started
            response.close()
            assert response.status_code == 200, (page, response.status_code)
            counts.add(self.counter.count)
            times.append(elapsed * 1000)
            spent += elapsed
        assert len(counts) == 1, (page, counts)
        return counts.pop(), statistics.median(times)


def flags_of(label, small, big):
    flags = []
    if max(small, big) > LIMIT:
        whole = any(label.startswith(prefix) for prefix in WHOLE_CHALLENGE)
        flags.append("whole défi" if whole else f"> {LIMIT}")
    if small != big:
        flags.append("grows")
    return flags


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=10_000, help="foyers of the big défi")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    args = parser.parse_args()
    big_size = args.households
    print("Building the demo défi (40 foyers)...", flush=True)
    small = Site(demo_app()[0])
    print(f"Building the demo défi grown to {big_size} foyers...", flush=True)
    started = time.perf_counter()
    big_app = demo_app()[0]
    add_households(big_app, big_size)
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    big = Site(big_app)

    print()
    print("Counts include the BEGIN IMMEDIATE that starts each request's transaction on SQLite.")
    print(
        f"{'role':<18}{'page':<56}{'q@40':>5}{f'q@{big_size}':>8}"
        f"{'ms@40':>9}{f'ms@{big_size}':>9}  flags"
    )
    rows, flagged = [], 0
    for key, page in small.pages.items():
        other = big.pages.get(key)
        if other is None:
            print(f"{page.actor:<18}{page.label:<56}  not a page at {big_size} foyers")
            flagged += 1
            continue
        small_queries, small_ms = small.measure(page)
        big_queries, big_ms = big.measure(other)
        flags = flags_of(page.label, small_queries, big_queries)
        flagged += bool(flags) and flags != ["whole défi"]
        rows.append((page.actor, page.label, small_queries, big_queries, small_ms, big_ms, flags))
        print(
            f"{page.actor:<18}{page.label:<56}{small_queries:>5}{big_queries:>8}"
            f"{small_ms:>9.1f}{big_ms:>9.1f}  {', '.join(flags)}",
            flush=True,
        )
    missing = sorted(set(big.pages) - set(small.pages))
    for actor, label in missing:
        print(f"{actor:<18}{label:<56}  not a page at 40 foyers")
    print()
    print(
        f"{len(rows)} pages; {flagged} above {LIMIT} queries or growing with the foyers "
        f"(whole-défi downloads are allowed a fixed count)."
    )
    print(f"Times: median of up to {TIMED_GETS} GETs through the Flask test client, informative.")
    print("Routes of a role that are not pages (not measured):")
    for page, reason in small.not_measured:
        print(f"  {page.actor:<18}{page.label:<56}{reason}")
    if not args.no_doc:
        write_section("queries", report(rows, small.not_measured, big_size, flagged))


def report(rows, not_measured, big_size, flagged):
    size = f"{big_size:,}"
    table = markdown_table(
        ("role", "page", "queries @40", f"queries @{size}", "ms @40", f"ms @{size}", "flags"),
        [
            (
                actor,
                code(label),
                small,
                big,
                f"{small_ms:.1f}",
                f"{big_ms:.1f}",
                ", ".join(flags),
            )
            for actor, label, small, big, small_ms, big_ms, flags in rows
        ],
        "llrrrrl",
    )
    skipped = ", ".join(
        sorted({f"{code(page.label)} ({reason.split(' to ')[0]})" for page, reason in not_measured})
    )
    return (
        f"{table}\n\n{len(rows)} pages; {flagged} above {LIMIT} queries or growing with the "
        f"foyers (whole-défi downloads are allowed a fixed count). Routes that are not pages "
        f"for a role (redirects to its home): {skipped}."
    )


if __name__ == "__main__":
    main()
