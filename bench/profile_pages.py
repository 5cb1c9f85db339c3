"""Where each page's time goes: CPU per request against /healthz's, and a profile of each.

Issue 14: "Find where the time goes with a profiler (write the top entries of each slow page in
docs/PERFORMANCE.md)". The pages are bench/_pages.py's, on the demo défi (or the same grown by
bench/generate.py); the app runs with the production settings that gunicorn uses (CSRF tokens,
signed session cookie, gzip), in the Flask test client, one request at a time in this process.
For each page: the CPU time of a request (`time.process_time`, the mean of the fastest quarter
of `--requests`, so that another program on the machine changes it little), its ratio to
/healthz's, then, for the pages above `--over` × /healthz, cProfile's top entries by own
time and the time spent under a few functions that every page calls (the template, the SQL,
gzip, the session cookie).

Run: .venv/bin/python bench/profile_pages.py [--households 40] [--over 2] [--only REGEX]
     [--top 12] [--no-doc]
"""

import argparse
import cProfile
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._doc import code  # noqa: E402
from bench._doc import markdown_table  # noqa: E402
from bench._doc import write_section  # noqa: E402
from bench._pages import prepared_database  # noqa: E402
from config import Config  # noqa: E402
from defi import create_app  # noqa: E402
from defi.demo import DEMO_PASSWORD  # noqa: E402

HEALTHZ = "/healthz"
GZIP = {"Accept-Encoding": "gzip"}
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# Functions that every page goes through: the time spent under each (cumulative), per request.
UNDER = {
    "template": ("flask/templating.py", "render_template"),
    "SQL": ("sqlalchemy/engine/base.py", "_execute_context"),
    "ORM loading": ("sqlalchemy/orm/loading.py", "instances"),
    "gzip": ("gzip.py", "compress"),
    "session cookie": ("flask/sessions.py", "save_session"),
    "login (user load)": ("flask_login/login_manager.py", "_load_user"),
    "CSRF token": ("flask_wtf/csrf.py", "generate_csrf"),
    "gettext": ("flask_babel/__init__.py", "gettext"),
    "url_for": ("flask/helpers.py", "url_for"),
}


def production_app(url):
    """The app as gunicorn runs it (production settings) on the bench's database."""
    settings = {
        "SECRET_KEY": "bench-profile-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "SESSION_COOKIE_SECURE": False,  # the test client speaks plain HTTP
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    return create_app(type("ProfileConfig", (Config,), settings))


def log_in(app, username):
    client = app.test_client()
    token = CSRF.search(client.get("/connexion").get_data(as_text=True)).group(1)
    response = client.post(
        "/connexion",
        data={"csrf_token": token, "username": username, "password": DEMO_PASSWORD},
    )
    assert response.status_code == 303, (username, response.status_code)
    return client


def cpu_per_request(client, url, headers, count):
    """CPU seconds of one request of `url`: the mean of the fastest quarter of `count`
    requests, the ones least disturbed by the other programs of the machine."""
    times = []
    for _ in range(count):
        started = time.process_time()
        response = client.get(url, headers=headers)
        response.get_data()
        times.append(time.process_time() - started)
        assert response.status_code == 200, (url, response.status_code)
    fastest = sorted(times)[: max(1, count // 4)]
    return sum(fastest) / len(fastest)


def profile(client, url, headers, count):
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        client.get(url, headers=headers).get_data()
    profiler.disable()
    return pstats.Stats(profiler)


def top_entries(stats, count, top):
    """[(function, own ms per request, calls per request)] of the costliest functions."""
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return [
        (_name(function), own * 1000 / count, calls / count)
        for function, (_primitive, calls, own, _cumulative, _callers) in rows
    ]


def under(stats, count):
    """{area: ms per request spent under its function}."""
    found = {}
    for area, (path, name) in UNDER.items():
        total = 0.0
        for (filename, _line, function), (
            _p,
            _c,
            _own,
            cumulative,
            _callers,
        ) in stats.stats.items():
            if function == name and filename.endswith(path):
                total += cumulative
        found[area] = total * 1000 / count
    return found


def _name(function):
    filename, line, name = function
    if filename == "~":
        return name
    parts = Path(filename).parts
    short = "/".join(
        parts[parts.index("site-packages") + 1 :] if "site-packages" in parts else parts[-2:]
    )
    return f"{short}:{line}({name})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=40)
    parser.add_argument("--requests", type=int, default=40, help="per page, timed")
    parser.add_argument("--over", type=float, default=2.0, help="profile pages above × /healthz")
    parser.add_argument("--only", help="only the pages whose label matches this")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    args = parser.parse_args()

    print(f"Preparing the demo défi with {args.households:,} foyers...", flush=True)
    url, pages = prepared_database(args.households)
    if args.only:
        pages = [page for page in pages if re.search(args.only, page.label)]

    app = production_app(url)
    clients = {username: log_in(app, username) for username in {p.username for p in pages}}
    anonymous = app.test_client()
    for page in pages:  # warm-up: the figures computed once, templates compiled
        clients[page.username].get(page.url, headers=dict(page.headers) | GZIP).get_data()
    floor = cpu_per_request(anonymous, HEALTHZ, GZIP, args.requests * 3)
    print(f"/healthz: {floor * 1000:.2f} ms of CPU per request\n")
    rows, profiles = [], []
    for page in pages:
        client, headers = clients[page.username], dict(page.headers) | GZIP
        cpu = cpu_per_request(client, page.url, headers, args.requests)
        ratio = cpu / floor
        rows.append((page, cpu, ratio))
        print(f"{page.actor:<18}{page.label:<58}{cpu * 1000:>8.2f} ms {ratio:>6.2f} ×", flush=True)
        if ratio > args.over:
            stats = profile(client, page.url, headers, args.requests)
            profiles.append(
                (
                    page,
                    cpu,
                    under(stats, args.requests),
                    top_entries(stats, args.requests, args.top),
                )
            )
    for page, cpu, areas, entries in profiles:
        print(f"\n{page.actor} {page.label}: {cpu * 1000:.2f} ms of CPU")
        print(
            "  under: " + ", ".join(f"{area} {ms:.2f}" for area, ms in areas.items() if ms >= 0.05)
        )
        for name, own, calls in entries:
            print(f"  {own:7.3f} ms {calls:8.1f} calls  {name}")
    if not args.no_doc and not args.only:
        write_section("profile", report(args, floor, rows, profiles))


def report(args, floor, rows, profiles):
    ratios = [ratio for _page, _cpu, ratio in rows]
    text = (
        f"{args.households:,} foyers, {len(rows)} pages; `/healthz`: {floor * 1000:.2f} ms of CPU "
        f"per request. Ratio of CPU per request to `/healthz`'s from {min(ratios):.2f} to "
        f"{max(ratios):.2f} (median {statistics.median(ratios):.2f}); {len(profiles)} pages "
        f"above {args.over:g} × profiled below."
    )
    table = markdown_table(
        ("role", "page", "CPU ms", "× `/healthz`"),
        [
            (page.actor, code(page.label), f"{cpu * 1000:.2f}", f"{ratio:.2f}")
            for page, cpu, ratio in rows
        ],
        "llrr",
    )
    parts = [text, table]
    for page, cpu, areas, entries in profiles:
        spent = ", ".join(f"{area} {ms:.2f}" for area, ms in areas.items() if ms >= 0.05)
        lines = [f"- {own:.3f} ms, {calls:g} calls: `{name}`" for name, own, calls in entries[:5]]
        parts.append(
            f"**{page.actor} {code(page.label)}**: {cpu * 1000:.2f} ms; under (ms): {spent}. "
            "Top own time:\n\n" + "\n".join(lines)
        )
    return "\n\n".join(parts)


if __name__ == "__main__":
    main()
