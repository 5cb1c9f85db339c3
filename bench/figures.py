"""A défi's publication: computed once per version, at 40 and at 10,000 foyers.

Times `figures.tables.publish` (every relevé read and valued, every table built, the disclosure
decision over all of it) cold, then `figures.publication` read again at the same version (what
every page after the first does), and prints what the disclosure step went through.

Run: .venv/bin/python bench/figures.py [--households 10000] [--no-doc]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._app import demo_app  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench.generate import add_households  # noqa: E402
from defi.figures import publication  # noqa: E402
from defi.figures.tables import publish  # noqa: E402
from defi.models.challenge import current_challenge  # noqa: E402

RUNS = 3


def measure(app):
    """(cold median s, warm median ms, decision) of the current défi's publication."""
    with app.app_context():
        challenge = current_challenge()
        k = app.config["DEFI_MIN_COUNT"]
        cold = []
        for _ in range(RUNS):
            started = time.perf_counter()
            published = publish(challenge, k)
            cold.append(time.perf_counter() - started)
        with app.test_request_context():
            publication(challenge)  # computed once for this version
            warm = []
            for _ in range(RUNS):
                started = time.perf_counter()
                publication(challenge)
                warm.append((time.perf_counter() - started) * 1000)
    return statistics.median(cold), statistics.median(warm), published.decision


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
        cold, warm, decision = measure(app)
        hidden = len(decision.hidden)
        print(
            f"{size:,} foyers: computed in {cold:.2f} s (median of {RUNS}), read again in "
            f"{warm:.2f} ms; {decision.variables} variables, {decision.shapes} shapes decided, "
            f"{decision.eliminations} eliminations, {hidden} figures hidden"
        )
        rows.append(
            (f"{size:,}", f"{cold:.2f} s", f"{warm:.2f} ms", str(decision.variables),
             str(decision.shapes), str(decision.eliminations), str(hidden))
        )  # fmt: skip
    if not args.no_doc:
        table = markdown_table(
            ("foyers", "computed (cold)", "read again", "variables", "shapes decided",
             "eliminations", "figures hidden"),
            rows,
            "rrrrrrr",
        )  # fmt: skip
        write_section(
            "figures",
            f"{table}\n\nThe demo défi (2 groups) grown by `bench/generate.py`; medians of "
            f"{RUNS} runs, SQLite. Cold: `figures.tables.publish`, what the first page after a "
            "change of a published figure pays, once per worker. Read again: "
            "`figures.publication` at the same version (one query), what every other page "
            "pays. Command: `.venv/bin/python bench/figures.py`.",
        )
        print("(written to docs/PERFORMANCE.md, section figures)")


if __name__ == "__main__":
    main()
