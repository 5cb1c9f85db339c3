"""A défi's publication: computed once per version, at 40 and at 10,000 foyers.

Times `figures.tables.publish` (every relevé read and valued, every table built, the disclosure
decision over all of it) cold, then `figures.publication` read again at the same version (what
every page after the first does), and prints what the disclosure step went through and how long
it took on its own (`disclosure.decide`, part of the cold time).

Run: .venv/bin/python bench/figures.py [--households 10000] [--no-doc]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._app import demo_app  # noqa: E402
from bench._app import demo_challenge  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench.generate import add_households  # noqa: E402
from defi.figures import publication  # noqa: E402
from defi.figures import tables  # noqa: E402
from defi.figures.tables import publish  # noqa: E402

RUNS = 3


def timed(function, spent: list):
    """`function`, appending the seconds each call takes to `spent`."""

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        spent.append(time.perf_counter() - started)
        return result

    return wrapper


def measure(app):
    """(cold median s, disclosure median s, warm median ms, decision) of the current défi's
    publication."""
    deciding = []
    decide, tables.decide = tables.decide, timed(tables.decide, deciding)
    with app.app_context():
        challenge = demo_challenge()
        k = app.config["DEFI_MIN_COUNT"]
        cold = []
        for _ in range(RUNS):
            started = time.perf_counter()
            published = publish(challenge, k)
            cold.append(time.perf_counter() - started)
        tables.decide = decide
        with app.test_request_context():
            publication(challenge)  # computed once for this version
            warm = []
            for _ in range(RUNS):
                started = time.perf_counter()
                publication(challenge)
                warm.append((time.perf_counter() - started) * 1000)
    return (
        statistics.median(cold),
        statistics.median(deciding),
        statistics.median(warm),
        published.decision,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    rows = []
    app, _directory = demo_app()
    for size in (40, args.households):
        if size > 40:
            add_households(app, size)
        cold, deciding, warm, decision = measure(app)
        hidden = len(decision.hidden)
        contexts = getattr(decision, "contexts", "-")  # counted since the insiders
        print(
            f"{size:,} foyers: computed in {cold:.2f} s (median of {RUNS}), of which the "
            f"disclosure step {deciding * 1000:.0f} ms, read again in {warm:.2f} ms; "
            f"{decision.variables} variables, {contexts} contexts, {decision.shapes} shapes "
            f"decided, {decision.eliminations} eliminations, {hidden} figures hidden"
        )
        rows.append(
            (f"{size:,}", f"{cold:.2f} s", f"{deciding * 1000:.0f} ms", f"{warm:.2f} ms",
             str(decision.variables), str(contexts), str(decision.shapes),
             str(decision.eliminations), str(hidden))
        )  # fmt: skip
    if not args.no_doc:
        table = markdown_table(
            ("foyers", "computed (cold)", "of which disclosure", "read again", "variables",
             "contexts", "shapes decided", "eliminations", "figures hidden"),
            rows,
            "rrrrrrrrr",
        )  # fmt: skip
        write_section(
            "figures",
            f"{table}\n\nThe demo défi (2 groups) grown by `bench/generate.py`; medians of "
            f"{RUNS} runs, SQLite. Cold: `figures.tables.publish`, what the first page after a "
            "change of a published figure pays, once per worker; of which disclosure: "
            "`disclosure.decide` alone. Read again: `figures.publication` at the same version "
            "(one query), what every other page pays. Contexts: the secondary tests run, one "
            "per variable and pass without insiders plus one per insider's set (a group's or "
            "a structure's foyers) that a shown figure crosses. "
            "Command: `.venv/bin/python bench/figures.py`.",
        )
        print("(written to docs/PERFORMANCE.md, section figures)")


if __name__ == "__main__":
    main()
