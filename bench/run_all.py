"""Every benchmark of QUALITY.md's speed section, one after the other: `make bench`.

Each runs in its own process (the export measures its process's peak memory), prints its
figures and writes them into its section of docs/PERFORMANCE.md. Speed is never asserted by
the test suite; this is where it is measured.

Run: .venv/bin/python bench/run_all.py
"""

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = (
    ("SQL queries per page, every role, 40 and 10,000 foyers", "queries.py"),
    ("Published figures, computed once per version", "figures.py"),
    ("Latency of each page alone under 32 connections on gunicorn", "latency.py"),
    ("CPU per request and profiles of each page", "profile_pages.py"),
    ("Weight of the foyer's pages", "collecte_page.py"),
    ("Comparison export, 10,000 foyers × 3 waves", "export.py"),
    ("Import of past relevés, 10,000 rows and the cap", "import.py"),
)


def main():
    started = time.perf_counter()
    failed = []
    for title, script in SCRIPTS:
        print(f"\n=== {title} (bench/{script})", flush=True)
        began = time.perf_counter()
        result = subprocess.run([sys.executable, str(BENCH / script)], check=False)  # noqa: S603
        print(f"=== bench/{script}: {time.perf_counter() - began:.0f} s", flush=True)
        if result.returncode:
            failed.append(script)
    print(f"\nAll benchmarks in {time.perf_counter() - started:.0f} s.")
    if failed:
        print(f"Failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
