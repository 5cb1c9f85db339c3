"""Browser-test harness: Debian's Chromium, a live server with the demo, screenshots and axe.

Playwright never downloads a browser here: the tests drive `/usr/bin/chromium` and skip, with
the command to install it, when it is absent. The live server runs the real app (CSRF on) in a
thread, on the test's database backend, with the demo défi loaded.
"""

import threading
from pathlib import Path

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from axe_playwright_python.base import AxeResults
from playwright.sync_api import expect
from werkzeug.serving import make_server

from defi import create_app
from defi.demo import load_demo
from defi.extensions import db
from defi.formatting import today
from tests.browser.helpers import SMALL_PHONE
from tests.browser.helpers import watch_csp
from tests.conftest import BACKENDS
from tests.conftest import empty_postgres
from tests.conftest import make_config
from tests.conftest import sqlite_file

CHROMIUM = Path("/usr/bin/chromium")
MISSING_CHROMIUM = "Debian's chromium is not installed: apt-get install chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps trying hosts it cannot reach (NOTES.md).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
BLOCKING_IMPACTS = ("serious", "critical")
BROWSER_DIR = Path(__file__).resolve().parent
# How long `expect` waits for what a person would see. Playwright's 5 s is not enough while the
# suite's processes share 2 cores with Chromium and the live servers: in CI a page that was
# quick alone answered after 5 s (a login's redirect, then its home). Waiting longer changes
# no verdict: what never appears still fails, 15 s later.
expect.set_options(timeout=15_000)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Skip every browser test, before any fixture starts Playwright, when Chromium is absent."""
    if BROWSER_DIR in Path(item.path).resolve().parents and not CHROMIUM.exists():
        pytest.skip(MISSING_CHROMIUM)


@pytest.fixture(scope="session")
def backend():
    """The browser tests run once, not once per database: they check what a person sees, and
    the rest of the suite runs the database code on both. On PostgreSQL when it is configured
    (production's database, as in CI), on SQLite otherwise."""
    return BACKENDS[-1]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium (pytest-playwright's own options, e.g. --headed, kept)."""
    if not CHROMIUM.exists():
        pytest.skip(MISSING_CHROMIUM)
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A small phone, in French."""
    return {**browser_context_args, "viewport": SMALL_PHONE, "locale": "fr-FR"}


@pytest.fixture
def live_server(backend, app_config, sqlite_templates, postgres_demos):
    """The app with the demo défi, served on a free local port; yields its base URL.

    The database is the one `tests/conftest.py` gives the test (`app_config`): on SQLite a
    file under `tmp_path`, since an in-memory database cannot be shared with the server's
    threads (a copy of the session's demo database, `SqliteTemplates`); on PostgreSQL the test
    run's own database, emptied afterwards as the `app` fixture does. CSRF stays on: the
    browser sends the forms' tokens as a person's would.
    """
    url = app_config.SQLALCHEMY_DATABASE_URI
    path = sqlite_file(url) if backend == "sqlite" else None
    app = create_app(make_config(url, WTF_CSRF_ENABLED=True))
    try:
        with app.app_context():
            if backend == "postgresql":
                postgres_demos.load_or_make(app, today())
            elif path is not None and not path.exists():
                sqlite_templates.new_demo(path, today())
            else:
                db.create_all()
                with app.test_request_context():
                    load_demo(today())
                    db.session.commit()
            db.session.remove()
        yield from _serve(app)
    finally:
        # Even when the demo failed to load: the next test must find an empty database.
        with app.app_context():
            db.session.remove()
            if backend == "postgresql":
                empty_postgres()
            db.engine.dispose()


def _serve(app):
    """Serve the app from a daemon thread; yields its base URL, then stops it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval, so that `shutdown` returns within 0.1 s rather than 0.5 s.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="live-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _screenshot(page, name):
    """Save a full-page PNG under tests/artifacts/ (git-ignored); returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _axe(page):
    """The serious and critical axe-core violations of the page, in a readable form.

    axe-core's 500 kB script is evaluated once per document (Axe().run evaluates it for
    each check, and the crawl checks each page at two sizes); the run is Axe().run's.
    """
    if page.evaluate("typeof window.axe === 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    results = AxeResults(page.evaluate("axe.run({'resultTypes': ['violations']})"))
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "page": page.url,
            "nodes": [
                {
                    "target": node["target"],
                    "html": node["html"],
                    "summary": node.get("failureSummary"),
                }
                for node in violation["nodes"]
            ],
        }
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


@pytest.fixture
def screenshot():
    """`screenshot(page, name)`: a full-page PNG in tests/artifacts/<name>.png.

    A fixture rather than an import, so that the tests never import this conftest a second
    time under another module name.
    """
    return _screenshot


@pytest.fixture
def axe():
    """`axe(page)`: the serious and critical axe-core violations of the page (a list)."""
    return _axe


@pytest.fixture
def csp_violations(page):
    """The page's Content Security Policy violations (events and console messages), collected
    for the whole test."""
    return watch_csp(page)
