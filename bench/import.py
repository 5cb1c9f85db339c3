"""Import of past relevés (`defi/pilot/imports/`): its speed, its queries, its memory, its cap.

The issue's bar: "Importing 10,000 rows takes ≤ 3 s (bulk inserts, not queries per row) ...
200,000 rows are either imported in bounded memory or refused with a French message before
work starts — never a killed worker."

(a) In process: `import_entries` of a generated file (10,000 rows, then MAX_IMPORT_ROWS) into a
    new past défi of a database holding the demo défi, on SQLite and, with --postgresql, on a
    throwaway database of that server: wall and CPU time, SQL statements (a
    `before_cursor_execute` listener), then the same file again (everything unchanged); then
    the peak of Python's allocations (tracemalloc) while importing it into another new défi,
    and again.
(b) gunicorn (`tests.servers.Gunicorn`, as a production install runs it) on a SQLite file with the
    demo défi: the pilot logs in over HTTP, posts the 10,000-row file to `/pilote/import` for a
    new past défi and confirms its preview (`/pilote/import/confirmer`); meanwhile two threads
    poll `/healthz` and a logged-in foyer's `/collecte/` every 100 ms. Prints the import's
    response time (both requests) and the pollers' median and maximum latency, idle (2 s
    before the import) and during it.
(c) A file of MAX_IMPORT_ROWS rows, then one of 200,000 rows (18 MB, under the page's 20 MB),
    posted the same way: status and time to answer, whether the French refusal is in the page,
    and the workers' peak resident memory (VmHWM in /proc) after each post.

Run: .venv/bin/python bench/import.py [--rows 10000] [--postgresql URL] [--no-doc]
The figures go into the `import` section of docs/PERFORMANCE.md unless --no-doc.
"""

import argparse
import contextlib
import html
import http.client
import random
import re
import resource
import statistics
import sys
import threading
import time
import tracemalloc
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench._app import QueryCounter  # noqa: E402
from bench._app import demo_app  # noqa: E402
from bench._app import demo_challenge  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench.latency import CSRF  # noqa: E402
from bench.latency import cookies_of  # noqa: E402
from bench.latency import log_in_over_http  # noqa: E402
from config import TestConfig  # noqa: E402
from config import database_url  # noqa: E402
from defi import create_app  # noqa: E402
from defi.demo import load_demo  # noqa: E402
from defi.extensions import db  # noqa: E402
from defi.formatting import today  # noqa: E402
from defi.pilot.imports import HEADER  # noqa: E402
from defi.pilot.imports import MAX_IMPORT_ROWS  # noqa: E402
from defi.pilot.imports import import_entries  # noqa: E402
from tests.servers import WORKERS  # noqa: E402
from tests.servers import Gunicorn  # noqa: E402

LIMIT_SECONDS = 3
HUGE_ROWS = 200_000
POLL_EVERY = 0.1  # seconds between two polls of a page while the import runs
IDLE_SECONDS = 2
TIMEOUT = 300  # seconds an HTTP request may take before the bench gives up on it
REFUSAL = "un import en accepte"
# Choices of the default questionnaire, by key or by label, as a pilot's spreadsheet gives them.
BETTER = ("manger_mieux", "nouveaux_aliments", "nouveaux_gouts", "Plus équilibré")
ACTIONS = ("bio", "saison", "compostage", "achats_locaux", "")
KEPT = ("mieux", "identique", "moins bien")  # the French refusal of a file over MAX_IMPORT_ROWS


def releves_csv(rows: int, seed: int = 2019) -> bytes:
    """`rows` lines of DESIGN.md's import format: foyers with 3 collectes, 20 foyers a group,
    one in ten accompanied, a few questionnaire answers ticked (about 90 bytes a line)."""
    generator = random.Random(seed)
    lines = [";".join(HEADER)]
    for index in range(rows):
        foyer, rank = index // 3, index % 3 + 1
        spend = generator.randint(3000, 15000)
        better = generator.sample(BETTER, generator.randint(0, 2))
        lines.append(
            ";".join(
                (
                    f"H-{foyer:05d}",
                    f"Groupe {foyer // 20:03d}",
                    "oui" if foyer % 10 == 0 else "non",
                    str(rank),
                    str(generator.randint(1, 6)),
                    "14",
                    f"{spend // 100},{spend % 100:02d}",
                    f"{spend // 500},50",
                    f"{spend // 300}",
                    str(generator.randint(20, 80)),
                    "",
                    f"{generator.randint(0, 4000) / 1000:.3f}".replace(".", ","),
                    str(generator.randint(0, 3)),
                    str(generator.randint(0, 3)),
                    "|".join(better),
                    generator.choice(ACTIONS),
                    generator.choice(KEPT) if rank > 1 else "",
                )
            )
        )
    return ("\n".join(lines) + "\n").encode()


# (a) In process


@contextlib.contextmanager
def postgresql_app(server_url):
    """An app on a new database of the PostgreSQL server, with the demo défi; dropped after."""
    server = sa.make_url(database_url(server_url))
    name = f"defi_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        app = create_app(type("BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
        with app.app_context():
            db.create_all()
            with app.test_request_context():
                load_demo(today())
            db.session.commit()
        yield app
        with app.app_context():
            db.engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def demo_territory():
    """The id of the demo's first territory, which the file is imported into."""
    return demo_challenge().territory_id


def demo_structure():
    """The id of the demo's first structure, which accompanies the file's accompanied foyers."""
    from defi.models import Structure

    return db.session.scalar(sa.select(Structure.id).order_by(Structure.id).limit(1))


def timed_import(app, counter, data, name):
    """(wall s, CPU s, statements, counts) of one import and its commit."""
    with app.app_context():
        before = counter.count
        started, cpu_started = time.perf_counter(), time.process_time()
        counts = import_entries(
            data, name, demo_structure(), territory_id=demo_territory(), create_challenge=True
        )
        db.session.commit()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        return wall, cpu, counter.count - before, counts


def traced_import(app, data, name):
    """Peak MB of Python's allocations during one import (tracemalloc slows it down)."""
    with app.app_context():
        tracemalloc.start()
        try:
            import_entries(
                data, name, demo_structure(), territory_id=demo_territory(), create_challenge=True
            )
            db.session.commit()
            return tracemalloc.get_traced_memory()[1] / 1e6
        finally:
            tracemalloc.stop()


def in_process(app, backend, sizes):
    """Rows of figures for each file size on one database."""
    with app.app_context():
        counter = QueryCounter(db.engine)
    rows = []
    for size in sizes:
        data = releves_csv(size)
        first = timed_import(app, counter, data, f"Défi historique {size}")
        again = timed_import(app, counter, data, f"Défi historique {size}")
        # Memory apart, as tracemalloc slows the import down: for a new défi, then again.
        peaks = [traced_import(app, data, f"Défi historique {size} (mémoire)") for _ in "12"]
        print(
            f"{backend}, {size:,} rows ({len(data) / 1e6:.1f} MB): import {first[0]:.2f} s "
            f"(CPU {first[1]:.2f} s, {first[2]} statements, {first[3]}); same file again "
            f"{again[0]:.2f} s ({again[2]} statements, {again[3]}); peak of Python's "
            f"allocations {peaks[0]:.0f} MB, again {peaks[1]:.0f} MB",
            flush=True,
        )
        rows.append((backend, size, len(data), first, again, peaks))
    return rows


# (b) and (c) Through gunicorn


def request(port, method, path, cookie, body=None, headers=None):
    """(status, seconds, body, headers) of one request on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    started = time.perf_counter()
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}, Cookie=cookie))
        response = connection.getresponse()
        content = response.read()
        return response.status, time.perf_counter() - started, content, response.headers
    finally:
        connection.close()


def multipart(fields, filename, data):
    """(body, Content-Type) of a form with text fields and one file `file`."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: text/csv\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post_import(port, cookie, data, challenge_name):
    """(status, seconds, page text) of the import form posted with the file (a new défi), then
    of its preview's confirmation; the seconds of both."""
    status, _seconds, body, headers = request(port, "GET", "/pilote/import", cookie)
    assert status == 200, status
    jar = cookies_of(headers, dict(part.split("=", 1) for part in cookie.split("; ")))
    cookie = "; ".join(f"{name}={value}" for name, value in jar.items())
    token = CSRF.search(body.decode()).group(1)
    structure = re.search(r'<option value="([1-9][0-9]*)"', body.decode())
    fields = {
        "csrf_token": token,
        "challenge_name": challenge_name,
        "create_challenge": "y",
        "structure_id": structure[1],
    }
    body, content_type = multipart(fields, "releves.csv", data)
    try:
        status, seconds, content, _headers = request(
            port, "POST", "/pilote/import", cookie, body, {"Content-Type": content_type}
        )
        page = content.decode(errors="replace")
        hidden = dict(re.findall(r'name="(payload|token)" type="hidden" value="([^"]*)"', page))
        if status != 200 or len(hidden) != 2:
            return status, seconds, html.unescape(page)
        form = urllib.parse.urlencode({"csrf_token": token, **hidden}).encode()
        status, confirmed, content, _headers = request(
            port,
            "POST",
            "/pilote/import/confirmer",
            cookie,
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, None, ""
    return status, seconds + confirmed, html.unescape(content.decode(errors="replace"))


class Poller(threading.Thread):
    """GETs a page every POLL_EVERY seconds and keeps (latency s, status) of each answer."""

    def __init__(self, port, path, cookie):
        super().__init__(daemon=True)
        self.port, self.path, self.cookie = port, path, cookie
        self.samples = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            started = time.perf_counter()
            try:
                status = request(self.port, "GET", self.path, self.cookie)[0]
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
            elapsed = time.perf_counter() - started
            self.samples.append((elapsed, status))
            self.stopped.wait(max(0.0, POLL_EVERY - elapsed))

    def take(self):
        """The samples so far, emptied."""
        taken, self.samples = self.samples, []
        return taken


def latency(samples):
    """'median / max ms (n, errors)' of a poller's samples."""
    if not samples:
        return "no answer"
    times = [seconds * 1000 for seconds, _status in samples]
    errors = sum(1 for _seconds, status in samples if status != 200)
    text = f"{statistics.median(times):.0f} / {max(times):.0f} ms ({len(samples)} polls"
    return text + (f", {errors} not 200)" if errors else ")")


def answered(status, seconds):
    """'HTTP 303 in 1.20 s', or the error that came instead of an answer."""
    return f"HTTP {status} in {seconds:.2f} s" if seconds else str(status)


def worker_peaks(master_pid):
    """{pid: peak resident MB} of gunicorn's workers (VmHWM in /proc)."""
    peaks = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != master_pid:
                continue
            status = (stat.parent / "status").read_text()
            peaks[int(stat.parent.name)] = int(re.search(r"VmHWM:\s+(\d+)", status)[1]) / 1024
    return peaks


def through_gunicorn(rows):
    """Figures of (b) and (c), as {name: text}."""
    app, directory = demo_app()
    with app.app_context():
        url = str(db.engine.url)
        db.engine.dispose()
    figures = {}
    with Gunicorn(url, Path(directory) / "gunicorn.log") as server:
        pilot = log_in_over_http(server.port, "pilote")
        pollers = [
            Poller(server.port, "/healthz", ""),
            Poller(server.port, "/collecte/", log_in_over_http(server.port, "foyer-est-01")),
        ]
        for poller in pollers:
            poller.start()
        time.sleep(IDLE_SECONDS)
        idle = [poller.take() for poller in pollers]
        status, seconds, page = post_import(server.port, pilot, releves_csv(rows), "Défi 2018")
        during = [poller.take() for poller in pollers]
        for poller in pollers:
            poller.stopped.set()
            poller.join()
        figures["import"] = answered(status, seconds)
        for poller, quiet, busy in zip(pollers, idle, during, strict=True):
            figures[poller.path] = (latency(quiet), latency(busy))
        peaks = [max(worker_peaks(server.process.pid).values())]
        largest = releves_csv(MAX_IMPORT_ROWS)
        status, seconds, _page = post_import(server.port, pilot, largest, "Défi 2017")
        figures["largest"] = (f"{len(largest) / 1e6:.1f} MB", answered(status, seconds))
        peaks.append(max(worker_peaks(server.process.pid).values()))
        huge = releves_csv(HUGE_ROWS)
        status, seconds, page = post_import(server.port, pilot, huge, "Défi 2016")
        figures["huge"] = (f"{len(huge) / 1e6:.1f} MB", answered(status, seconds), REFUSAL in page)
        peaks.append(max(worker_peaks(server.process.pid).values()))
        figures["rss"] = peaks
    failures = server.failures()
    figures["failures"] = "; ".join(f"{n} × {what}" for what, n in failures.most_common())
    return figures


def report(rows, figures, args):
    """The Markdown of the `import` section."""
    table = markdown_table(
        (
            "database",
            "rows",
            "import",
            "CPU",
            "statements",
            "same file again",
            "Python peak, new / again",
        ),
        [
            (
                backend,
                f"{size:,} ({length / 1e6:.1f} MB)",
                f"{first[0]:.2f} s",
                f"{first[1]:.2f} s",
                first[2],
                f"{again[0]:.2f} s, {again[2]} statements",
                f"{peaks[0]:.0f} / {peaks[1]:.0f} MB",
            )
            for backend, size, length, first, again, peaks in rows
        ],
        "lrrrrrr",
    )
    bars = [
        f"{backend} {first[0]:.2f} s ({'met' if first[0] <= LIMIT_SECONDS else 'NOT met'})"
        for backend, size, _length, first, _again, _peaks in rows
        if size == args.rows
    ]
    text = (
        f"{table}\n\nStatements as a `before_cursor_execute` listener counts them: an executemany "
        "once, a COPY (PostgreSQL's inserts) not at all. The Python peak is tracemalloc's, in "
        f"separate imports. Bar ({args.rows:,} rows ≤ {LIMIT_SECONDS} s): {'; '.join(bars)}."
    )
    if figures:
        healthz, collecte = figures["/healthz"], figures["/collecte/"]
        largest_size, largest_answer = figures["largest"]
        huge_size, huge_answer, refused = figures["huge"]
        peaks = " → ".join(f"{peak:.0f}" for peak in figures["rss"])
        text += "\n\n" + markdown_table(
            (f"through gunicorn ({WORKERS} workers, SQLite)", "figure"),
            [
                (f"POST `/pilote/import`, {args.rows:,} rows", figures["import"]),
                ("`/healthz` every 100 ms, median / max: idle", healthz[0]),
                ("… during the import", healthz[1]),
                ("`/collecte/` (foyer) every 100 ms, median / max: idle", collecte[0]),
                ("… during the import", collecte[1]),
                (f"POST of {MAX_IMPORT_ROWS:,} rows, the cap ({largest_size})", largest_answer),
                (f"POST of {HUGE_ROWS:,} rows ({huge_size})", huge_answer),
                ("French refusal in the page", "yes" if refused else "NO"),
                (
                    f"workers' peak resident memory after the {args.rows:,}, "
                    f"{MAX_IMPORT_ROWS:,} and {HUGE_ROWS:,}-row posts",
                    f"{peaks} MB",
                ),
                ("exceptions or timeouts in gunicorn's log", figures["failures"] or "none"),
            ],
            "ll",
        )
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the timed file")
    parser.add_argument("--postgresql", metavar="URL", help="also measure (a) on this server")
    parser.add_argument("--no-gunicorn", action="store_true", help="only (a), in process")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    args = parser.parse_args()
    sizes = [args.rows, MAX_IMPORT_ROWS]
    app, _directory = demo_app()
    rows = in_process(app, "SQLite", sizes)
    if args.postgresql:
        with postgresql_app(args.postgresql) as app:
            rows += in_process(app, "PostgreSQL", sizes)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process (tracemalloc's included): {rss:.0f} MB")
    figures = {}
    if not args.no_gunicorn:
        print("Starting gunicorn...", flush=True)
        figures = through_gunicorn(args.rows)
        print(f"POST /pilote/import, {args.rows:,} rows: {figures['import']}")
        for path in ("/healthz", "/collecte/"):
            print(f"{path}: idle {figures[path][0]}; during the import {figures[path][1]}")
        size, answer = figures["largest"]
        print(f"POST of {MAX_IMPORT_ROWS:,} rows ({size}): {answer}")
        size, answer, refused = figures["huge"]
        print(f"POST of {HUGE_ROWS:,} rows ({size}): {answer}; French refusal: {refused}")
        peaks = " MB, ".join(f"{peak:.0f}" for peak in figures["rss"])
        print(f"workers' peak resident memory after each of the three posts: {peaks} MB")
        print(f"gunicorn's log: {figures['failures'] or 'no exception, no timeout'}")
    if not args.no_doc:
        write_section("import", report(rows, figures, args))


if __name__ == "__main__":
    main()
