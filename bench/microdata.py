"""The pilot's confidential microdata at 10,000 foyers, step by step, against its SQL floor.

Run: .venv/bin/python bench/microdata.py [--households 10000] [--repeat 5] [--no-doc]
The demo défi is grown to N foyers (bench/generate.py), in a SQLite file. Each step is timed
alone, best of --repeat runs, in this process: the microdata's two statements executed and
fetched by the database driver alone (no SQLAlchemy row processing: the floor of any code that
reads these rows), the same through SQLAlchemy, the table built (`microdata_table`), then the
CSV written from it (`to_csv`). The figures go into the `microdata` section of
docs/PERFORMANCE.md unless --no-doc.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._app import demo_app  # noqa: E402
from bench._app import demo_challenge  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench.generate import add_households  # noqa: E402
from defi.extensions import db  # noqa: E402
from defi.figures.export import answers_statement  # noqa: E402
from defi.figures.export import microdata_table  # noqa: E402
from defi.figures.export import raw_statement  # noqa: E402
from defi.figures.files import to_csv  # noqa: E402

LIMIT_MS = 300


def best(repeat, run):
    """The fastest of `repeat` runs of `run()`, in ms, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    args = parser.parse_args()
    app, _directory = demo_app()
    add_households(app, args.households)
    with app.app_context():
        challenge = demo_challenge()
        connection = db.session.connection()
        statements = [raw_statement(challenge.id), answers_statement(challenge.id)]
        compiled = [
            str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
            for statement in statements
        ]
        driver = connection.connection.driver_connection
        floor, _rows = best(
            args.repeat, lambda: [driver.execute(sql).fetchall() for sql in compiled]
        )
        fetched, _rows = best(
            args.repeat, lambda: [connection.execute(s).all() for s in statements]
        )
        built, table = best(args.repeat, lambda: microdata_table(challenge))
        written, data = best(args.repeat, lambda: to_csv(table))
    rows = [
        ("the two statements, by the driver alone (floor)", f"{floor:.0f}"),
        ("the two statements, through SQLAlchemy", f"{fetched:.0f}"),
        (f"the table built ({len(table.rows):,} rows)", f"{built:.0f}"),
        (f"the CSV written ({len(data) / 1e6:.1f} MB)", f"{written:.0f}"),
        ("table + CSV, as the download makes them", f"{built + written:.0f}"),
    ]
    for label, value in rows:
        print(f"{label}: {value} ms")
    if not args.no_doc:
        met = "met" if built + written <= LIMIT_MS else "NOT met"
        write_section(
            "microdata",
            markdown_table((f"step (best of {args.repeat})", "ms"), rows, "lr")
            + f"\n\n{args.households:,} foyers; bar ≤ {LIMIT_MS} ms for the download: {met}.",
        )


if __name__ == "__main__":
    main()
