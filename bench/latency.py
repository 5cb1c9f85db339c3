"""Latency of every main page, each served alone to 32 connections by gunicorn, against /healthz.

QUALITY.md, speed, and issue 14: "Each main page of each role, served alone to 32 connections,
has a median ≤ 3 × /healthz's in the same run, with 0 errors, on the demo défi; and ≤ 4 × at
10,000 foyers. Whole-défi downloads (CSV, XLSX) and the report are measured apart: ≤ 300 ms at
10,000 foyers."

The demo défi (and the same grown to 10,000 foyers) is prepared in a SQLite file as for
bench/queries.py, and its pages are found the same way (bench/_pages.py): every GET route a
role may use, not a hand list. gunicorn then serves it (`wsgi:app` with gunicorn.conf.py, two
workers as `make run`) in a subprocess; each role logs in once over HTTP. Then, page after
page: wrk (Debian's package: `apt-get install wrk`) sends that page alone from 32 keep-alive
connections for a few seconds, then /healthz the same way, and the page's median is divided by
that /healthz's. With 32 connections always busy, a median is the time one request waits for
the 31 others plus its own: the ratio is the page's cost over /healthz's, the framework's floor
(a request that reads the database once and answers a small JSON). Before each load the
server is left to finish what the last one queued (a lone /healthz answered as fast as when
idle): a slow page's last requests still run when wrk stops, and /healthz would wait for them.

The downloads of the whole défi and the report are measured apart, one request at a time
(their bar is a time, not a ratio). `--mixed` also runs the former measure: every page of
every role in one shuffled cycle from 32 threads, /healthz between them, which measures the
queue that all pages share rather than each page.

Run: .venv/bin/python bench/latency.py [--households 40 10000] [--duration 3] [--only REGEX]
     [--mixed] [--no-doc]
"""

import argparse
import http.client
import random
import re
import shutil
import statistics
import subprocess
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

from bench._doc import code  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench._pages import prepared_database  # noqa: E402
from defi.demo import DEMO_PASSWORD  # noqa: E402
from tests.servers import Gunicorn  # noqa: E402

DEMO_SIZE = 40
RATIO = 3
HEALTHZ = "/healthz"
HEALTHZ_EVERY = 4  # /healthz after every 4 pages, so that it is measured as often as needed
TIMEOUT = 120  # seconds a request may take before it counts as an error
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


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


def measure_mixed(size, args, url, pages) -> Run:
    log_path = Path(url.removeprefix("sqlite:///")).with_name("gunicorn-mixed.log")
    print(f"Mixed load: starting gunicorn ({args.workers} workers)...", flush=True)
    with Gunicorn(url, log_path, workers=args.workers) as server:
        # One session per role, opened once.
        usernames = dict.fromkeys(page.username for page in pages)
        cookies = {username: log_in_over_http(server.port, username) for username in usernames}
        cycle = schedule_of(pages, cookies)
        print(f"Warming up ({args.mixed_warmup:.0f} s), then {args.mixed_duration:.0f} s...")
        drive(server.port, cycle, args.connections, args.mixed_warmup)
        started = time.perf_counter()
        results, kinds = drive(server.port, cycle, args.connections, args.mixed_duration)
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
    print(summary_mixed(run, args))
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


def summary_mixed(run, args):
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


def report_mixed(runs, args):
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
        parts.append(f"{summary_mixed(run, args)}\n\n{table}")
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Each page alone (the bar of issue 14)

# Endpoints of the whole défi's downloads and the report: measured apart, against a time.
DOWNLOADS = {
    "pilot.export_csv",
    "pilot.export_xlsx",
    "pilot.export_microdata",
    "pilot.report",
}
DOWNLOAD_BAR = 0.300  # seconds, at 10,000 foyers
BIG = 10_000
# wrk's script: count the answers that are not 200 (wrk counts a redirect as a success: a page
# answering 303 to the login page would look fast), and print the figures in plain lines.
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) not_ok = 0 end
function response(status, headers, body) if status ~= 200 then not_ok = not_ok + 1 end end
function done(summary, latency, requests)
  local not_ok = 0
  for _, thread in ipairs(threads) do not_ok = not_ok + thread:get("not_ok") end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, not_ok, latency:percentile(50),
    latency:percentile(99)))
end
"""


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int  # socket errors and timeouts, and answers other than 200
    median: float  # seconds
    p99: float

    @property
    def rate(self):
        return self.requests / self.seconds


def wrk(port, url, headers, duration, connections, threads, script):
    """The Load of `url` sent alone by wrk from `connections` connections for `duration` s."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s"]
    command += ["-s", str(script)]
    for name, value in dict(headers, **{"Accept-Encoding": "gzip"}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}{url}")
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    requests, micros, errors, not_ok, median, tail = (int(value) for value in line.split()[1:])
    return Load(requests, micros / 1e6, errors + not_ok, median / 1e6, tail / 1e6)


def settle(port, idle, limit=120.0):
    """Wait until the server has worked off what a load left queued: a slow page's last
    requests are still running when wrk stops, and /healthz measured then would wait for them.
    Idle is a lone /healthz answered about as fast as before any load (`idle` s)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        started = time.perf_counter()
        get(port, HEALTHZ)
        if time.perf_counter() - started < 3 * idle + 0.005:
            return
        time.sleep(0.05)


def ratio_of(alone, health):
    """The page's median over /healthz's (infinite when /healthz got no answer)."""
    return alone.median / health.median if health.median else float("inf")


def warm_up(port, url, headers, connections=4):
    """Send `url` from a few connections at once, so that every worker has served it."""
    threads = [
        threading.Thread(target=one_at_a_time, args=(port, url, headers, 2))
        for _ in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def one_at_a_time(port, url, headers, count):
    """(median s, max s, errors) of `count` requests of `url` sent one after the other."""
    times, errors = [], 0
    for _ in range(count):
        started = time.perf_counter()
        status, _body, _headers = get(port, url, dict(headers, **{"Accept-Encoding": "gzip"}))
        times.append(time.perf_counter() - started)
        errors += status != 200
    return statistics.median(times), max(times), errors


@dataclass
class AloneRun:
    size: int
    rows: list  # (page, page's Load, /healthz's Load)
    downloads: list  # (page, median s, max s, errors, count)
    failures: Counter  # gunicorn's log: {exception or timeout: count}
    seconds: float

    @property
    def bar(self):
        return RATIO if self.size <= DEMO_SIZE else RATIO + 1


def measure_alone(size, args, url, pages) -> AloneRun:
    log_path = Path(url.removeprefix("sqlite:///")).with_name("gunicorn.log")
    script = Path(url.removeprefix("sqlite:///")).with_name("wrk.lua")
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    shown = [page for page in pages if page.endpoint not in DOWNLOADS]
    downloads = [page for page in pages if page.endpoint in DOWNLOADS]
    if args.only:
        shown = [page for page in shown if re.search(args.only, page.label)]
        downloads = [page for page in downloads if re.search(args.only, page.label)]
    print(f"Starting gunicorn ({args.workers} workers)...", flush=True)
    started = time.perf_counter()
    rows, measured = [], []
    with Gunicorn(url, log_path, workers=args.workers) as server:
        usernames = dict.fromkeys(page.username for page in pages)
        cookies = {username: log_in_over_http(server.port, username) for username in usernames}

        idle = one_at_a_time(server.port, HEALTHZ, {}, 20)[0]

        def load(path, headers, duration):
            settle(server.port, idle)
            return wrk(server.port, path, headers, duration, args.connections, 2, script)

        for page in shown + downloads:  # warm-up: each worker computes the figures once
            warm_up(server.port, page.url, dict(page.headers, Cookie=cookies[page.username]))
        load(HEALTHZ, {}, 1)
        width = max((len(page.label) for page in shown), default=10) + 20
        print(f"\n{'page':<{width}}{'req/s':>8}{'err':>5}{'median':>9}{'/healthz':>10}{'×':>6}")
        for page in shown:
            headers = dict(page.headers, Cookie=cookies[page.username])
            alone = load(page.url, headers, args.duration)
            health = load(HEALTHZ, {}, args.duration)
            rows.append((page, alone, health))
            ratio = ratio_of(alone, health)
            print(
                f"{page.actor + ' ' + page.label:<{width}}{alone.rate:>8.0f}{alone.errors:>5}"
                f"{alone.median * 1000:>9.1f}{health.median * 1000:>10.1f}{ratio:>6.2f}",
                flush=True,
            )
        for page in downloads:
            headers = dict(page.headers, Cookie=cookies[page.username])
            settle(server.port, idle)
            median, worst, errors = one_at_a_time(server.port, page.url, headers, args.requests)
            measured.append((page, median, worst, errors, args.requests))
            print(f"{page.actor + ' ' + page.label:<{width}}{median * 1000:>9.1f} ms alone")
    return AloneRun(size, rows, measured, server.failures(), time.perf_counter() - started)


def flags_of(run, alone, health):
    flags = [f"> {run.bar} ×"] if ratio_of(alone, health) > run.bar else []
    return flags + (["errors"] if alone.errors else [])


def report_alone(runs, args):
    parts = []
    for run in runs:
        over = sum(1 for _page, alone, health in run.rows if flags_of(run, alone, health))
        ratios = [ratio_of(alone, health) for _page, alone, health in run.rows]
        text = (
            f"{run.size:,} foyers: {len(run.rows)} pages, each served alone for "
            f"{args.duration:g} s to {args.connections} connections (wrk, 2 threads), then "
            f"`/healthz` for as long; {args.workers} gunicorn workers. Ratio of the medians "
            f"from {min(ratios, default=0):.2f} to {max(ratios, default=0):.2f} "
            f"(median {statistics.median(ratios) if ratios else 0:.2f}); bar {run.bar} ×: "
            f"{over} pages above it or with errors."
        )
        if run.failures:
            listed = "; ".join(f"{n} × {what}" for what, n in run.failures.most_common())
            text += f" In gunicorn's log: {listed}."
        table = markdown_table(
            ("role", "page", "req/s", "errors", "median ms", "p99 ms", "`/healthz` ms", "×", ""),
            [
                (
                    page.actor,
                    code(page.label),
                    f"{alone.rate:.0f}",
                    alone.errors,
                    f"{alone.median * 1000:.1f}",
                    f"{alone.p99 * 1000:.1f}",
                    f"{health.median * 1000:.1f}",
                    f"{ratio_of(alone, health):.2f}",
                    ", ".join(flags_of(run, alone, health)),
                )
                for page, alone, health in run.rows
            ],
            "llrrrrrrl",
        )
        parts.append(f"{text}\n\n{table}")
        if run.downloads:
            bar = DOWNLOAD_BAR * 1000
            rows = [
                (
                    page.actor,
                    code(page.label),
                    count,
                    errors,
                    f"{median * 1000:.0f}",
                    f"{worst * 1000:.0f}",
                    "errors" if errors else (f"> {bar:.0f} ms" if median > DOWNLOAD_BAR else ""),
                )
                for page, median, worst, errors, count in run.downloads
            ]
            parts.append(
                f"{run.size:,} foyers, the whole défi's downloads and the report, one request "
                f"at a time (bar at {BIG:,} foyers: {bar:.0f} ms):\n\n"
                + markdown_table(
                    ("role", "download", "requests", "errors", "median ms", "max ms", ""),
                    rows,
                    "llrrrrl",
                )
            )
    return "\n\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, nargs="+", default=[DEMO_SIZE, BIG])
    parser.add_argument("--duration", type=int, default=3, help="seconds of wrk per page")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--requests", type=int, default=10, help="of each download, in turn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (make run: 2)")
    parser.add_argument("--only", help="measure only the pages whose label matches this")
    parser.add_argument("--mixed", action="store_true", help="also the mixed load (60 s)")
    parser.add_argument("--mixed-duration", type=float, default=60)
    parser.add_argument("--mixed-warmup", type=float, default=5)
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/latency.py needs wrk: apt-get install -y wrk")
    alone, mixed = [], []
    for size in args.households:
        print(f"Preparing the demo défi with {size:,} foyers...", flush=True)
        url, pages = prepared_database(size)
        alone.append(measure_alone(size, args, url, pages))
        if args.mixed:
            mixed.append(measure_mixed(size, args, url, pages))
    if not args.no_doc and not args.only:
        write_section("latency", report_alone(alone, args))
        if mixed:
            write_section("latency-mixed", report_mixed(mixed, args))
    elif args.no_doc or args.only:
        print(report_alone(alone, args))


if __name__ == "__main__":
    main()
