"""Latency of every main page under 32 concurrent connections on gunicorn, against /healthz.

QUALITY.md, speed: "Under 32 concurrent connections on gunicorn, each main page's median
latency ≤ 3 × that of /healthz in the same run, 0 errors."

The demo défi (and the same grown to 10,000 foyers) is prepared in a SQLite file as for
bench/queries.py, and its pages are found the same way (bench/_pages.py). gunicorn then serves
it (`wsgi:app`, 2 sync workers as `make run`) in a subprocess; each role logs in once over
HTTP, and 32 threads, each with its own keep-alive connection, send the pages of every role
with /healthz between them, in one shuffled cycle, for a fixed time. Latency is from sending
the request to the last byte of the answer (gzip accepted, as a browser does).

Run: .venv/bin/python bench/latency.py [--households 40 10000] [--duration 60] [--no-doc]
"""

import argparse
import http.client
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._app import demo_app  # noqa: E402
from bench._app import logged_in  # noqa: E402
from bench._doc import code  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench._pages import main_pages  # noqa: E402
from bench._pages import prepare  # noqa: E402
from bench.generate import add_households  # noqa: E402
from defi.demo import DEMO_PASSWORD  # noqa: E402
from defi.extensions import db  # noqa: E402
from tests.servers import Gunicorn  # noqa: E402

DEMO_SIZE = 40
RATIO = 3
HEALTHZ = "/healthz"
HEALTHZ_EVERY = 4  # /healthz after every 4 pages, so that it is measured as often as needed
TIMEOUT = 120  # seconds a request may take before it counts as an error
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def prepared_database(size):
    """(SQLite URL, pages) of the demo défi grown to `size` foyers, with its sample rows."""
    app, directory = demo_app()
    if size > DEMO_SIZE:
        add_households(app, size)
    actors = prepare(app)
    clients = {actor.username: logged_in(app, actor.username) for actor in actors}
    pages, _not_pages = main_pages(app, clients, actors)
    with app.app_context():
        url = str(db.engine.url)
        db.engine.dispose()
    return url, pages


def get(port, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), response.headers
    finally:
        connection.close()


def cookies_of(headers, jar):
    for header in headers.get_all("Set-Cookie") or ():
        for name, morsel in SimpleCookie(header).items():
            jar[name] = morsel.value
    return jar


def log_in_over_http(port, username):
    """The Cookie header of a session of `username`, opened through the login form."""
    status, body, headers = get(port, "/connexion")
    assert status == 200, status
    jar = cookies_of(headers, {})
    token = CSRF.search(body.decode()).group(1)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request(
            "POST",
            "/connexion",
            body=urlencode({"csrf_token": token, "username": username, "password": DEMO_PASSWORD}),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
            },
        )
        response = connection.getresponse()
        response.read()
        assert response.status == 303, (username, response.status)
        cookies_of(response.headers, jar)
    finally:
        connection.close()
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def schedule_of(pages, cookies):
    """One cycle: every page once, shuffled, with /healthz after every HEALTHZ_EVERY pages."""
    order = list(pages)
    random.Random(2022).shuffle(order)  # noqa: S311 - a reproducible order, not a secret
    cycle = []
    for index, page in enumerate(order):
        headers = dict(page.headers, Cookie=cookies[page.username])
        cycle.append(((page.actor, page.label), page.url, headers))
        if index % HEALTHZ_EVERY == HEALTHZ_EVERY - 1:
            cycle.append((("", HEALTHZ), HEALTHZ, {}))
    return cycle


def drive(port, cycle, connections, duration):
    """({key: ([seconds], errors)}, {kind of error: count}) of the cycle's requests sent by
    `connections` threads for `duration` seconds."""
    samples = {key: ([], [0]) for key, _url, _headers in cycle}
    kinds = Counter()
    lock = threading.Lock()
    position = [0]
    deadline = time.monotonic() + duration

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        while time.monotonic() < deadline:
            with lock:
                key, url, headers = cycle[position[0] % len(cycle)]
                position[0] += 1
            headers = dict(headers, **{"Accept-Encoding": "gzip"})
            started = time.perf_counter()
            try:
                connection.request("GET", url, headers=headers)
                response = connection.getresponse()
                response.read()
                failure = None if response.status == 200 else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as error:
                connection.close()  # reconnects on the next request
                failure = type(error).__name__
            elapsed = time.perf_counter() - started
            times, errors = samples[key]
            with lock:
                times.append(elapsed)
                if failure:
                    errors[0] += 1
                    kinds[failure] += 1
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {key: (times, errors[0]) for key, (times, errors) in samples.items()}, kinds


def p99(times):
    return statistics.quantiles(times, n=100)[98] if len(times) > 1 else times[0]


@dataclass
class Run:
    size: int
    total: int
    elapsed: float
    rows: list  # (key, requests, errors, median s, p99 s, × median, × p99, flags)
    kinds: Counter  # {HTTP status or exception seen by the client: count}
    failures: Counter  # gunicorn's log: {exception or timeout: count}


def measure(size, args) -> Run:
    print(f"Preparing the demo défi with {size} foyers...", flush=True)
    url, pages = prepared_database(size)
    log_path = Path(url.removeprefix("sqlite:///")).with_name("gunicorn.log")
    print(f"Starting gunicorn ({args.workers} workers)...", flush=True)
    with Gunicorn(url, log_path, workers=args.workers) as server:
        # One session per role, opened once.
        usernames = dict.fromkeys(page.username for page in pages)
        cookies = {username: log_in_over_http(server.port, username) for username in usernames}
        cycle = schedule_of(pages, cookies)
        print(f"Warming up ({args.warmup:.0f} s), then {args.duration:.0f} s...", flush=True)
        drive(server.port, cycle, args.connections, args.warmup)
        started = time.perf_counter()
        results, kinds = drive(server.port, cycle, args.connections, args.duration)
        elapsed = time.perf_counter() - started
    failures = server.failures()
    health = results[("", HEALTHZ)][0]
    base_median, base_p99 = statistics.median(health), p99(health)
    rows = []
    for key, (times, errors) in results.items():
        if not times:
            continue
        median, tail = statistics.median(times), p99(times)
        flags = [f"> {RATIO}×"] if median > RATIO * base_median else []
        flags += ["errors"] if errors else []
        ratios = (median / base_median, tail / base_p99)
        rows.append((key, len(times), errors, median, tail, *ratios, flags))
    rows.sort(key=lambda row: (row[0] != ("", HEALTHZ), row[0]))
    run = Run(size, sum(row[1] for row in rows), elapsed, rows, kinds, failures)
    print()
    print(summary(run, args))
    print(
        f"{'role':<18}{'page':<56}{'n':>6}{'err':>5}{'median':>9}{'p99':>9}"
        f"{'×med':>7}{'×p99':>7}  flags"
    )
    for (actor, label), count, errors, median, tail, ratio, tail_ratio, flags in rows:
        print(
            f"{actor:<18}{label:<56}{count:>6}{errors:>5}{median * 1000:>9.1f}"
            f"{tail * 1000:>9.1f}{ratio:>7.2f}{tail_ratio:>7.2f}  {', '.join(flags)}"
        )
    return run


def summary(run, args):
    flagged = sum(1 for row in run.rows if row[-1])
    text = (
        f"{run.size:,} foyers: {run.total:,} requests in {run.elapsed:.0f} s "
        f"({run.total / run.elapsed:.0f}/s), {args.connections} connections, {args.workers} "
        f"gunicorn workers; {flagged} rows above {RATIO} × the median of /healthz or with errors."
    )
    for name, counter in (("Errors seen", run.kinds), ("In gunicorn's log", run.failures)):
        if counter:
            listed = "; ".join(f"{count} × {what}" for what, count in counter.most_common())
            text += f" {name}: {listed}."
    return text


def report(runs, args):
    parts = []
    for run in runs:
        table = markdown_table(
            (
                "role",
                "page",
                "requests",
                "errors",
                "median ms",
                "p99 ms",
                "× median",
                "× p99",
                "flags",
            ),
            [
                (
                    actor or "anyone",
                    code(label),
                    count,
                    errors,
                    f"{median * 1000:.1f}",
                    f"{tail * 1000:.1f}",
                    f"{ratio:.2f}",
                    f"{tail_ratio:.2f}",
                    ", ".join(flags),
                )
                for (
                    actor,
                    label,
                ), count, errors, median, tail, ratio, tail_ratio, flags in run.rows
            ],
            "llrrrrrrl",
        )
        parts.append(f"{summary(run, args)}\n\n{table}")
    return "\n\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, nargs="+", default=[DEMO_SIZE, 10_000])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load per size")
    parser.add_argument("--warmup", type=float, default=5, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (make run: 2)")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    args = parser.parse_args()
    runs = [measure(size, args) for size in args.households]
    if not args.no_doc:
        write_section("latency", report(runs, args))


if __name__ == "__main__":
    main()
