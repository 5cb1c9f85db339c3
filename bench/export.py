"""Time and peak memory of the comparison export for 10,000 foyers × 3 waves.

Run: .venv/bin/python bench/export.py [--households 10000] [--no-doc]
The demo défi is grown to N foyers (bench/generate.py), their end wave submitted too, then
the four tables are built and written as CSV and as XLSX, as `defi export-comparison` does.
Peak memory is the process's maximum resident size (getrusage), which includes Python itself.
The CPU time of the export is printed beside its wall time: on a machine busy with other work
the wall time grows, the CPU time much less. The figures go into the `export` section of
docs/PERFORMANCE.md unless --no-doc.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench._app import demo_app  # noqa: E402
from bench._app import demo_challenge  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench.generate import add_households  # noqa: E402
from defi.extensions import db  # noqa: E402
from defi.figures.export import comparison_tables  # noqa: E402
from defi.figures.export import microdata_table  # noqa: E402
from defi.figures.files import to_csv  # noqa: E402
from defi.figures.files import to_xlsx  # noqa: E402
from defi.models import Entry  # noqa: E402
from defi.models import Wave  # noqa: E402

LIMIT_SECONDS = 3
LIMIT_MB = 300


def third_wave(app):
    """Copy each wave-2 relevé into wave 3, so that every foyer still engaged has 3 waves."""
    with app.app_context():
        wave2 = db.session.scalar(sa.select(Wave.id).where(Wave.rank == 2))
        wave3 = db.session.scalar(sa.select(Wave.id).where(Wave.rank == 3))
        columns = [
            "household_id",
            "persons",
            "period_days",
            "meal_covers",
            "cost_mode",
            "spend_total_cents",
            "spend_organic_cents",
            "spend_local_cents",
            "declared_waste_grams",
            "declared_recipes",
            "declared_producers",
        ]
        rows = db.session.execute(
            sa.select(*(getattr(Entry, name) for name in columns)).where(Entry.wave_id == wave2)
        ).all()
        batch = []
        for row in rows:
            values = dict(zip(columns, row, strict=True))
            values.update(
                wave_id=wave3,
                status="submitted",
                version=1,
                cost_mode="totals",
                spend_total_cents=5000,
                spend_organic_cents=900,
                spend_local_cents=1500,
                meal_covers=values["meal_covers"] or 40,
                declared_waste_grams=2500,
                declared_recipes=1,
                declared_producers=2,
                assisted=False,
                imported=True,
            )
            batch.append(values)
        db.session.execute(sa.insert(Entry.__table__), batch)
        db.session.commit()
        return len(batch)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10000)
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    args = parser.parse_args()
    app, _directory = demo_app()
    started = time.perf_counter()
    add_households(app, args.households)
    added = third_wave(app)
    print(
        f"generated {args.households} foyers (+{added} end-wave relevés) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    with app.app_context():
        challenge = demo_challenge()
        entries = db.session.scalar(sa.select(sa.func.count(Entry.id)))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started, cpu_started = time.perf_counter(), time.process_time()
        tables = comparison_tables(challenge, app.config["DEFI_MIN_COUNT"])
        tables.append(microdata_table(challenge))
        built = time.perf_counter() - started
        csv_bytes = sum(len(to_csv(table)) for table in tables)
        csv_done = time.perf_counter() - started
        xlsx_bytes = len(to_xlsx(tables))
        total = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"relevés: {entries}; rows: " + ", ".join(f"{t.name} {len(t.rows)}" for t in tables))
    print(
        f"tables built in {built:.2f} s; + CSV ({csv_bytes / 1e6:.1f} MB) at {csv_done:.2f} s; "
        f"+ XLSX ({xlsx_bytes / 1e6:.1f} MB) at {total:.2f} s (CPU {cpu:.2f} s)"
    )
    print(f"peak resident memory: {peak:.0f} MB (before the export: {before:.0f} MB)")
    if not args.no_doc:
        rows = {table.name: len(table.rows) for table in tables}
        table = markdown_table(
            ("step", "time"),
            [
                (
                    f"tables built ({rows['comparaison']:,} comparison rows, "
                    f"{rows['donnees']:,} raw rows)",
                    f"{built:.2f} s",
                ),
                (f"+ CSV ({csv_bytes / 1e6:.1f} MB)", f"{csv_done:.2f} s"),
                (f"+ XLSX ({xlsx_bytes / 1e6:.1f} MB)", f"{total:.2f} s"),
                ("CPU time of the whole export", f"{cpu:.2f} s"),
                ("peak resident memory (process, Python included)", f"{peak:.0f} MB"),
            ],
            "lr",
        )
        met = "met" if total <= LIMIT_SECONDS and peak <= LIMIT_MB else "NOT met"
        write_section(
            "export",
            f"{table}\n\n{args.households:,} foyers, {entries:,} relevés; one run. "
            f"Bar (≤ {LIMIT_SECONDS} s, ≤ {LIMIT_MB} MB): {met}.",
        )


if __name__ == "__main__":
    main()
