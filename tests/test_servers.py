"""The app as it runs in production: gunicorn, many foyers at once, a database that goes away,
two servers sharing PostgreSQL and Redis (QUALITY.md, reliability; docs/DEPLOY.md).

- 32 foyers log in together from one address, as at a workshop (a fifth of them mistype their
  password first), then fill their relevé with the requests the pages make: htmx's autosave as
  they type, receipts, the questionnaire, or plain forms without JavaScript for half of them;
  then they send it, some twice at once (a double tap, two tabs). Asserted: 0 answers ≥ 500,
  0 connection errors, every answer's status, and in the database exactly what was typed: the
  last value of every field, every receipt, every answer, one relevé sent per foyer.
  On SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.
- The database stops answering: in-process on each backend, and under gunicorn on PostgreSQL
  both during a request (its connection is terminated while it waits for a lock) and between
  requests (the database refuses connections). The answer is a French 503 page with
  `Retry-After` whose form sends the typed values again (a fragment for htmx); `/healthz`
  answers 503. Once the database is back, the same session resends that form and it is saved.
- Two gunicorn instances on one PostgreSQL database and one Redis: a session opened on one
  works on the other, a logout on one ends it on both, and the login throttling counts the
  failures of both. Skipped, saying why, without TEST_DATABASE_URL or without a Redis server
  (TEST_REDIS_URL, by default redis://127.0.0.1:6379/0); CI has both.
- In-process: behind a proxy (`DEFI_TRUSTED_PROXIES`) the limiter sees the address the proxy
  wrote, never one the client forged; with Redis out of reach, logins still work and failures
  are still throttled (in each worker's memory).

Each server is the venv's gunicorn serving `wsgi:app` in production settings on a database of
the test's own holding the demo défi (`defi db upgrade`, `defi demo`), stopped by a fixture.
The figures of each run are printed (`pytest -s` shows them), never asserted on.
"""

import contextlib
import html
import http.client
import os
import secrets
import sqlite3
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import request
from flask_limiter.util import get_remote_address
from werkzeug.datastructures import MultiDict

from defi import create_app
from defi.access import EVERYONE
from defi.access import POLICY
from defi.collecte.forms import PLACE_LABELS
from defi.collecte.services import answers_of
from defi.demo import DEMO_PASSWORD
from defi.errors import RETRY_AFTER_SECONDS
from defi.extensions import db
from defi.models import Entry
from defi.models import EntryChange
from defi.models import Group
from defi.models import Household
from defi.models import Purchase
from defi.models import User
from defi.models import Wave
from tests.conftest import BACKENDS
from tests.conftest import POSTGRES_URL
from tests.conftest import demo_code
from tests.conftest import make_config
from tests.conftest import page_text
from tests.servers import BIN
from tests.servers import ROOT
from tests.servers import WORKERS
from tests.servers import Gunicorn
from tests.servers import server_env

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# A PostgreSQL server that is not there: nothing listens on port 1.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1"
TIMEOUT = 60  # seconds: a request that takes longer counts as a connection error
# 32 of the demo's 40 foyers: the 20 of Les LokoMotiv' and 12 of Graines d'idées.
FOYERS = [f"foyer-est-{n:02d}" for n in range(1, 21)] + [
    f"foyer-ouest-{n:02d}" for n in range(1, 13)
]
RELEVE = "/collecte/3/"  # the demo's open collecte (it opens on the day the demo is loaded)
MEALS = RELEVE + "repas"
PURCHASES = RELEVE + "achats"
QUESTIONNAIRE = RELEVE + "questionnaire"
SUBMIT = RELEVE + "envoi"
WRONG_PASSWORD = "Identifiant ou mot de passe incorrect."


# HTML forms, read as a browser reads them


class Form:
    """A form of a page: its action and the controls a browser would send."""

    def __init__(self, attrs):
        self.attrs = attrs
        self.action = attrs.get("action", "")
        self.controls = []  # dicts: name, type, value, checked

    def value(self, name):
        return next(c["value"] for c in self.controls if c["name"] == name)

    def options(self, name):
        """The values a select offers, or those of a group of radio buttons or checkboxes."""
        controls = [c for c in self.controls if c["name"] == name]
        if controls and controls[0]["type"] == "select":
            return controls[0]["options"]
        return [c["value"] for c in controls]

    def names(self):
        return list(dict.fromkeys(c["name"] for c in self.controls))

    def data(self, **changes):
        """What the browser sends: the form's own values, with `changes` typed over them.

        A change is a string, or a list of the ticked values of a checkbox or radio group.
        """
        pairs = []
        for control in self.controls:
            name = control["name"]
            if name in changes:
                continue
            if control["type"] in ("radio", "checkbox") and not control["checked"]:
                continue
            if control["type"] in ("submit", "button") or control.get("disabled"):
                continue
            pairs.append((name, control["value"]))
        for name, value in changes.items():
            values = value if isinstance(value, list) else [value]
            pairs.extend((name, str(item)) for item in values)
        return pairs


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.current = None
        self.select = None
        self.textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.current = Form(attrs)
            self.forms.append(self.current)
        if self.current is None or "name" not in attrs and tag != "option":
            return
        base = {"name": attrs.get("name"), "disabled": "disabled" in attrs}
        if tag == "input":
            self.current.controls.append(
                {
                    **base,
                    "type": attrs.get("type", "text"),
                    "value": attrs.get("value") or "",
                    "checked": "checked" in attrs,
                }
            )
        elif tag == "select":
            self.select = {**base, "type": "select", "value": None, "checked": True, "options": []}
            self.current.controls.append(self.select)
        elif tag == "option" and self.select is not None:
            self.select["options"].append(attrs.get("value", ""))
            if self.select["value"] is None or "selected" in attrs:
                self.select["value"] = attrs.get("value", "")
        elif tag == "textarea":
            self.textarea = {**base, "type": "textarea", "value": "", "checked": True}
            self.current.controls.append(self.textarea)

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea["value"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def forms_of(text):
    parser = FormParser()
    parser.feed(text)
    return parser.forms


# A browser over HTTP: its own cookies, the headers htmx adds, every answer recorded


class Recorder:
    """Every request of a run: statuses, server errors, connection errors, durations."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.server_errors = []
        self.connection_errors = []
        self.problems = []
        self.durations = []

    def answered(self, method, path, status, duration):
        with self.lock:
            self.statuses[status] += 1
            self.durations.append(duration)
            if status >= 500:
                self.server_errors.append(f"{method} {path} → {status}")

    def failed(self, method, path, error):
        with self.lock:
            self.connection_errors.append(f"{method} {path}: {error!r}")

    def problem(self, text):
        with self.lock:
            self.problems.append(text)

    @property
    def requests(self):
        return sum(self.statuses.values()) + len(self.connection_errors)


class Response:
    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers
        self.text = text

    def form(self, action):
        """The form of this page that posts to `action` (its query string aside)."""
        for form in forms_of(self.text):
            if form.action.split("?")[0] == action:
                return form
        raise AssertionError(f"no form to {action} in the answer ({self.status})")


class Browser:
    """One phone: its own session cookie; with `js`, the requests htmx makes, else plain forms."""

    def __init__(self, port, recorder=None, js=True):
        self.port = port
        self.recorder = recorder or Recorder()
        self.js = js
        self.cookies = {}
        self.url = "/"

    def request(self, method, path, data=None, headers=None):
        headers = dict(headers or {})
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            text = answer.read().decode()
        except (OSError, http.client.HTTPException) as error:
            self.recorder.failed(method, path, error)
            raise
        finally:
            connection.close()
        self.recorder.answered(method, path, answer.status, time.monotonic() - started)
        for header in answer.headers.get_all("Set-Cookie") or ():
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(answer.status, answer.headers, text)

    def htmx_headers(self, boosted=False, target=None):
        if not self.js:
            return {}
        headers = {
            "HX-Request": "true",
            "HX-Current-URL": f"http://127.0.0.1:{self.port}{self.url}",
        }
        if boosted:
            headers["HX-Boosted"] = "true"
        if target:
            headers["HX-Target"] = target
        return headers

    def open(self, path):
        """Follow a link (boosted by htmx with JavaScript)."""
        response = self.request("GET", path, headers=self.htmx_headers(boosted=True))
        if response.status == 200:
            self.url = path
        return response

    def send(self, form, data, target=None, autosave=False):
        """Send a form: an htmx autosave or quick add, or the page's own submission.

        A 303 is followed, as the browser (or htmx's request) does.
        """
        headers = self.htmx_headers(boosted=not (autosave or target), target=target)
        response = self.request("POST", form.action, data, headers)
        if response.status == 303:
            return self.open(response.headers["Location"])
        return response


def place(number):
    return list(PLACE_LABELS)[number % len(PLACE_LABELS)]


def page_text_of(response):
    """The answer's HTML with entities decoded, to look for French sentences in it."""
    return html.unescape(response.text)


def expect(recorder, response, status, what):
    if response.status != status:
        recorder.problem(f"{what}: {response.status}, not {status}")
        raise AssertionError(what)
    return response


# Databases holding the demo défi, and gunicorn serving them


def defi_command(database_url, *args):
    """Run the venv's `defi` command on a database, as an operator does."""
    result = subprocess.run(
        [str(BIN / "defi"), *args],
        cwd=ROOT,
        env=server_env(database_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


class Databases:
    """Fresh databases with the demo défi, each a copy of one prepared by `defi`; all removed.

    The demo is migrated and loaded once per backend (`defi db upgrade`, `defi demo`), then
    copied: SQLite through its backup API, PostgreSQL as a TEMPLATE of CREATE DATABASE.
    """

    def __init__(self, directory):
        self.directory = directory
        self.sqlite_demo = None
        self.postgres_demo = None
        self.server = sa.make_url(POSTGRES_URL) if POSTGRES_URL else None
        self.admin = None
        self.created = []

    def new(self, backend):
        return self.sqlite() if backend == "sqlite" else self.postgresql()

    def sqlite(self):
        if self.sqlite_demo is None:
            self.sqlite_demo = self.directory / "demo.db"
            url = f"sqlite:///{self.sqlite_demo}"
            defi_command(url, "db", "upgrade")
            defi_command(url, "demo")
        copy = self.directory / f"server-{uuid.uuid4().hex[:8]}.db"
        with sqlite3.connect(self.sqlite_demo) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        source.close()
        target.close()
        return f"sqlite:///{copy}"

    def url(self, name):
        return self.server.set(database=name).render_as_string(hide_password=False)

    def postgresql(self):
        if self.admin is None:
            self.admin = sa.create_engine(self.server, isolation_level="AUTOCOMMIT")
        if self.postgres_demo is None:
            name = self.create(f"{self.server.database}_srv_{uuid.uuid4().hex[:8]}")
            defi_command(self.url(name), "db", "upgrade")
            defi_command(self.url(name), "demo")
            self.postgres_demo = name
        return self.url(
            self.create(f"{self.postgres_demo}_{len(self.created)}", self.postgres_demo)
        )

    def create(self, name, template=None):
        self.created.append(name)
        with self.admin.connect() as connection:
            suffix = f' TEMPLATE "{template}"' if template else ""
            connection.execute(sa.text(f'CREATE DATABASE "{name}"{suffix}'))
        return name

    def execute(self, statement, **parameters):
        with self.admin.connect() as connection:
            result = connection.execute(sa.text(statement), parameters)
            return result.all() if result.returns_rows else []

    def close(self):
        if self.admin is None:
            return
        with self.admin.connect() as connection:
            for name in reversed(self.created):
                connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    databases = Databases(tmp_path_factory.mktemp("servers"))
    yield databases
    databases.close()


@pytest.fixture
def start_server(tmp_path):
    """Start gunicorn on a database; every server started is stopped at the end of the test."""
    servers = []

    def start(database_url, **settings):
        server = Gunicorn(database_url, tmp_path / f"gunicorn-{len(servers)}.log", **settings)
        servers.append(server)
        return server.wait_until_ready()

    yield start
    for server in servers:
        server.stop()


def read_back(database_url):
    """An app on the server's database, to read what the requests stored."""
    return create_app(make_config(database_url))


def login(browser, username, password=DEMO_PASSWORD, status=303):
    page = expect(browser.recorder, browser.open("/connexion"), 200, f"{username}: login page")
    form = page.form("/connexion")
    answer = browser.request(
        "POST",
        form.action,
        form.data(username=username, password=password),
        browser.htmx_headers(boosted=True),
    )
    return expect(browser.recorder, answer, status, f"{username}: login")


# A. 32 foyers at once on gunicorn


def expected_releve(index):
    """What foyer number `index` types: the last value of each field, its receipts."""
    persons = 1 + index % 6
    return {
        "persons": persons,
        "period_days": 14,
        "meals_per_day": 2,
        "meal_covers": 14 * 2 * persons - index % 5,
        "purchases": [
            (f"{10 + index + k},{index % 100:02d}", f"{index % 7},50", "2,00", place(index + k))
            for k in range(2)
        ],
    }


def fill_releve(browser, index, username, sent_ids):
    """One foyer's evening: log in, type the relevé, add receipts, answer, send it."""
    recorder, want = browser.recorder, expected_releve(index)
    if index % 5 == 0:  # a typo first: a refused login from the workshop's address
        answer = login(browser, username, "carottes-et-navets", status=200)
        if WRONG_PASSWORD not in page_text_of(answer):
            recorder.problem(f"{username}: the refused login does not say why")
    answer = browser.open(login(browser, username).headers["Location"])
    expect(recorder, answer, 200, f"{username}: home")

    # Repas et achats: typed field after field, autosaved (or saved with the button).
    page = expect(recorder, browser.open(MEALS), 200, f"{username}: meals page")
    form = page.form(MEALS)
    covers = str(want["meal_covers"])
    typing = [
        ("period_days", "14"),
        ("persons", str(want["persons"])),
        ("meals_per_day", "2"),
        ("meal_covers", covers[0]),
        ("meal_covers", covers),
    ]
    typed = {}
    version = form.value("version")
    for step, (name, value) in enumerate(typing):
        typed[name] = value
        if not browser.js and step not in (1, len(typing) - 1):
            continue  # without JavaScript the foyer presses "Enregistrer" twice
        data = form.data(**typed, version=version)
        answer = browser.send(form, data, autosave=True)
        expect(recorder, answer, 200, f"{username}: meals save {step}")
        page = answer
        version = answer.form(MEALS).value("version")

    # Two receipts, each through the quick-add form of the last answer.
    for total, organic, local, place_type in want["purchases"]:
        add = page.form(PURCHASES)
        if place_type not in add.options("place_type"):
            recorder.problem(f"{username}: no place {place_type} in the receipt form")
        data = add.data(total=total, organic=organic, local=local, place_type=place_type)
        page = browser.send(add, data, target="releve-section" if browser.js else None)
        expect(recorder, page, 200, f"{username}: receipt {total}")

    # Questionnaire: one tick per question, each saved at once with htmx.
    page = expect(recorder, browser.open(QUESTIONNAIRE), 200, f"{username}: questionnaire")
    form = page.form(QUESTIONNAIRE)
    ticks = {}
    for name in (n for n in form.names() if n.startswith("q_")):
        options = form.options(name)
        ticks[name] = [options[index % len(options)]]
        if browser.js:
            answer = browser.send(form, form.data(**ticks), autosave=True)
            expect(recorder, answer, 200, f"{username}: answer {name}")
    if not browser.js:
        answer = browser.send(form, form.data(**ticks))
        expect(recorder, answer, 200, f"{username}: answers")

    # Envoi: once, twice at once from one page (a double tap), or from two tabs at once.
    page = expect(recorder, browser.open(SUBMIT), 200, f"{username}: submit page")
    forms = [page.form(SUBMIT)]
    if index % 3 == 1:
        forms.append(forms[0])
    elif index % 3 == 2:
        forms.append(expect(recorder, browser.open(SUBMIT), 200, "tab").form(SUBMIT))
    sent_ids.update(form.value("submission_id") for form in forms)
    answers = [None] * len(forms)
    together = threading.Barrier(len(forms))

    def send(slot):
        together.wait(timeout=TIMEOUT)
        answers[slot] = browser.send(forms[slot], forms[slot].data())

    tabs = [threading.Thread(target=send, args=(slot,)) for slot in range(len(forms))]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()
    for answer in answers:
        expect(recorder, answer, 200, f"{username}: sent")
        if "Relevé envoyé le" not in page_text_of(answer):
            recorder.problem(f"{username}: the page after sending does not say it is sent")
    return {"ticks": {name[2:]: values for name, values in ticks.items()}}


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_32_foyers_fill_and_send_their_releve_at_once(databases, start_server, backend):
    url = databases.new(backend)
    # Among the 32, some withdrew in the demo, and a withdrawn foyer writes nothing: all of
    # them take part again for this evening.
    app = read_back(url)
    with app.app_context():
        db.session.execute(sa.update(Household).values(status="active", withdrawn_on=None))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    server = start_server(url)
    recorder = Recorder()
    results, sent_ids = {}, {username: set() for username in FOYERS}
    start = threading.Barrier(len(FOYERS))

    def foyer(index, username):
        browser = Browser(server.port, recorder, js=index % 2 == 0)
        try:
            start.wait(timeout=TIMEOUT)
            results[username] = fill_releve(browser, index, username, sent_ids[username])
        except Exception as error:  # recorded: the test asserts there is none
            recorder.problem(f"{username} stopped: {error!r}")

    threads = [
        threading.Thread(target=foyer, args=(index, username))
        for index, username in enumerate(FOYERS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.monotonic() - started

    assert recorder.connection_errors == []
    assert recorder.server_errors == []
    assert recorder.problems == []
    assert not any(thread.is_alive() for thread in threads)

    app = read_back(url)
    with app.app_context():
        wave_id = db.session.scalar(sa.select(Wave.id).where(Wave.rank == 3))
        entries = db.session.scalars(sa.select(Entry).where(Entry.wave_id == wave_id)).all()
        by_username = {
            username: household_id
            for username, household_id in db.session.execute(
                sa.select(User.username, User.household_id).where(User.username.in_(FOYERS))
            )
        }
        assert len(entries) == len(FOYERS)  # one relevé per foyer, no other
        purchases = answers = 0
        for index, username in enumerate(FOYERS):
            want = expected_releve(index)
            (entry,) = [e for e in entries if e.household_id == by_username[username]]
            fields = ("persons", "period_days", "meals_per_day", "meal_covers")
            stored = {name: getattr(entry, name) for name in fields}
            assert stored == {name: want[name] for name in fields}, username
            assert entry.status == "submitted"
            assert entry.submission_id in sent_ids[username]
            rows = db.session.execute(
                sa.select(
                    Purchase.total_cents,
                    Purchase.organic_cents,
                    Purchase.local_cents,
                    Purchase.place_type,
                )
                .where(Purchase.entry_id == entry.id)
                .order_by(Purchase.id)
            ).all()
            assert [tuple(row) for row in rows] == [
                (cents(total), cents(organic), cents(local), place_type)
                for total, organic, local, place_type in want["purchases"]
            ], username
            sent = db.session.scalar(
                sa.select(sa.func.count(EntryChange.id)).where(
                    EntryChange.entry_id == entry.id, EntryChange.field == "relevé envoyé"
                )
            )
            assert sent == 1, username
            assert answers_of(entry) == results[username]["ticks"], username
            purchases += len(rows)
            answers += sum(len(values) for values in results[username]["ticks"].values())
        db.session.remove()
        db.engine.dispose()

    durations = sorted(recorder.durations)
    print(
        f"\ngunicorn ({WORKERS} workers) on {backend}: {len(FOYERS)} foyers at once, "
        f"{recorder.requests} requests in {elapsed:.1f} s "
        f"({dict(sorted(recorder.statuses.items()))}), "
        f"{len(recorder.server_errors)} answers ≥ 500, "
        f"{len(recorder.connection_errors)} connection errors; "
        f"median {statistics.median(durations) * 1000:.0f} ms, "
        f"max {durations[-1] * 1000:.0f} ms; stored: {len(entries)} relevés sent, "
        f"{purchases} receipts, {answers} answers"
    )


def cents(text):
    euros, _sep, decimals = text.partition(",")
    return int(euros) * 100 + int(decimals or 0)


# B. The database stops answering: a French 503 that keeps what was typed


TYPED = {
    "version": "",
    "period_days": "21",
    "persons": "4",
    "cost_mode": "purchases",
    "meals_per_day": "3",
    "meal_covers": "123",
}
UNAVAILABLE = "Le service est momentanément indisponible. Réessayez dans un instant."
RETRY_MESSAGE = "Le service ne répond pas pour le moment : vos saisies sont gardées"


@contextlib.contextmanager
def database_down():
    """The app's database stops answering: its engine is swapped for one on a closed port."""
    unreachable = sa.create_engine(UNREACHABLE)
    engines = db.engines  # the session looks its engine up here for every statement
    real = engines[None]
    engines[None] = unreachable
    try:
        yield
    finally:
        engines[None] = real
        unreachable.dispose()


def assert_unavailable_page(status, headers, body, typed, action=MEALS):
    """A 503 with Retry-After, in French, whose form sends `typed` again to `action`."""
    assert status == 503
    assert headers["Retry-After"] == str(RETRY_AFTER_SECONDS) == "30"
    assert headers["Cache-Control"] == "no-store"
    assert "<html" in body
    text = html.unescape(body)
    assert "Service indisponible" in text
    assert UNAVAILABLE in text
    assert "Ce que vous avez saisi est gardé sur cette page." in text
    retry = Response(status, headers, body).form(action)
    assert retry.attrs["method"] == "post"
    assert retry.data()[0][0] == "csrf_token" and retry.data()[0][1]
    assert retry.data()[1:] == list(typed.items())
    return retry


def entry_values(code, rank=3):
    entry = db.session.scalar(
        sa.select(Entry)
        .join(Household, Household.id == Entry.household_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Household.code == code, Wave.rank == rank)
    )
    if entry is None:
        return None
    names = ("period_days", "persons", "meals_per_day", "meal_covers")
    return {name: str(getattr(entry, name)) for name in names}


def test_database_down_answers_503_and_keeps_what_was_typed(app, client, demo, auth):
    assert auth.login("foyer-est-01").status_code == 303
    with database_down():
        response = client.post(MEALS, data=TYPED)
        retry = assert_unavailable_page(
            response.status_code, response.headers, response.get_data(as_text=True), TYPED
        )

        # htmx's autosave: a fragment, never swapped (5xx), that app.js reads its message from.
        fragment = client.post(MEALS, data=TYPED, headers={"HX-Request": "true"})
        assert fragment.status_code == 503
        assert fragment.headers["Retry-After"] == "30"
        assert "<html" not in fragment.get_data(as_text=True)
        assert RETRY_MESSAGE in page_text(fragment)

        # What is written back is escaped.
        hostile = client.post(MEALS, data={**TYPED, "meal_covers": '12"><script>x()</script>'})
        assert hostile.status_code == 503
        assert "<script>x()" not in hostile.get_data(as_text=True)
        assert 'value="12&#34;&gt;&lt;script&gt;x()&lt;/script&gt;"' in hostile.get_data(
            as_text=True
        )

        # A page: 503 and a link to load it again, no form.
        page = client.get("/collecte/")
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "30"
        assert UNAVAILABLE in page_text(page)
        assert '<a href="/collecte/" role="button">Réessayer</a>' in page_text(page)
        assert '<form method="post" action="/collecte/"' not in page_text(page)

        # The health check, as the proxy or the monitoring asks it (without a session).
        visitor = app.test_client()
        health = visitor.get("/healthz")
        assert health.status_code == 503
        assert health.headers["Retry-After"] == "30"
        assert health.json == {"status": "database unavailable"}

        # A password is never written back into a page.
        refused = visitor.post(
            "/connexion", data={"username": "foyer-est-02", "password": DEMO_PASSWORD}
        )
        assert refused.status_code == 503
        assert 'name="username" value="foyer-est-02"' in refused.get_data(as_text=True)
        assert DEMO_PASSWORD not in refused.get_data(as_text=True)

    # The database is back: the session survived, and the page's form saves what was typed.
    assert client.get("/collecte/").status_code == 200
    assert entry_values(demo_code("EST-01")) is None
    again = client.post(MEALS, data=MultiDict(retry.data()))
    assert again.status_code == 303
    assert entry_values(demo_code("EST-01")) == {
        name: TYPED[name] for name in entry_values(demo_code("EST-01"))
    }


def test_database_lost_during_the_view_answers_503(app, client, demo, auth, monkeypatch):
    """The account was read, then the connection broke: no 500, the user's page not used."""
    from defi.collecte import services

    def broken(*_args):
        raise sa.exc.OperationalError(
            "SELECT entry", {}, Exception("server closed the connection unexpectedly")
        )

    assert auth.login("foyer-est-01").status_code == 303
    monkeypatch.setattr(services, "get_or_create_entry", broken)
    response = client.post(MEALS, data=TYPED)
    assert_unavailable_page(
        response.status_code, response.headers, response.get_data(as_text=True), TYPED
    )
    monkeypatch.undo()
    assert client.get(MEALS).status_code == 200


@pytest.mark.parametrize(("proxies", "seen"), [(0, "127.0.0.1 http"), (1, "203.0.113.7 https")])
def test_client_address_comes_from_the_trusted_proxy_only(proxies, seen, monkeypatch):
    """Behind nginx the limiter sees the client; never an address the client wrote itself."""
    app = create_app(make_config("sqlite://", TRUSTED_PROXIES=proxies))
    app.add_url_rule("/adresse", "adresse", lambda: f"{get_remote_address()} {request.scheme}")
    monkeypatch.setitem(POLICY, "adresse", EVERYONE)
    response = app.test_client().get(
        "/adresse",
        headers={
            # The client forged the first address; nginx appended the one it saw.
            "X-Forwarded-For": "198.51.100.1, 203.0.113.7",
            "X-Forwarded-Proto": "https",
        },
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True) == seen


def test_login_throttling_goes_on_without_redis(tmp_path):
    """Redis out of reach: logins still work, and failures are still counted (in memory)."""
    url = f"sqlite:///{tmp_path / 'test.db'}"
    app = create_app(make_config(url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0"))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    client = app.test_client()
    data = {"username": "personne", "password": "pas-le-bon-mot"}
    statuses = [client.post("/connexion", data=data).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]


@pytest.mark.slow
@pytest.mark.skipif(
    not POSTGRES_URL, reason="TEST_DATABASE_URL is not set: PostgreSQL lost under gunicorn"
)
def test_postgresql_lost_under_gunicorn_answers_503_and_keeps_the_typing(databases, start_server):
    url = databases.new("postgresql")
    name = sa.make_url(url).database
    server = start_server(url)
    browser = Browser(server.port, js=False)
    login(browser, "foyer-est-01")
    form = expect(browser.recorder, browser.open(MEALS), 200, "meals").form(MEALS)
    answer = browser.send(form, form.data(period_days="14"))  # the relevé now exists
    form = expect(browser.recorder, answer, 200, "first save").form(MEALS)
    typed = {**TYPED, "version": form.value("version")}
    database = sa.create_engine(url)
    app = read_back(url)
    started = time.monotonic()
    try:
        # 1. During a request: it waits for the relevé, locked by another transaction, and
        # its connection is terminated meanwhile.
        with database.connect() as holder:
            holder.execute(sa.text("SELECT id FROM entry FOR UPDATE"))
            answers = []
            post = threading.Thread(
                target=lambda: answers.append(browser.request("POST", MEALS, form.data(**typed)))
            )
            post.start()
            waiting = []
            deadline = time.monotonic() + 20
            while not waiting and time.monotonic() < deadline:
                time.sleep(0.05)
                waiting = databases.execute(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = :name AND wait_event_type = 'Lock'",
                    name=name,
                )
            assert len(waiting) == 1
            databases.execute("SELECT pg_terminate_backend(:pid)", pid=waiting[0][0])
            post.join(timeout=TIMEOUT)
            holder.rollback()
        (during,) = answers
        retry = assert_unavailable_page(during.status, during.headers, during.text, typed)
        # Sent again from that page, with the page's fresh token: saved.
        saved = expect(browser.recorder, browser.send(retry, retry.data()), 200, "resent")
        with app.app_context():
            assert entry_values(demo_code("EST-01")) == {
                n: typed[n] for n in entry_values(demo_code("EST-01"))
            }
            db.session.remove()

        # 2. Between requests: the database refuses every connection and drops the open ones.
        databases.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        databases.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name",
            name=name,
        )
        form = saved.form(MEALS)
        again = {**TYPED, "version": form.value("version"), "persons": "5"}
        plain = browser.request("POST", MEALS, form.data(**again))
        retry = assert_unavailable_page(plain.status, plain.headers, plain.text, again)
        autosave = browser.request("POST", MEALS, form.data(**again), {"HX-Request": "true"})
        assert autosave.status == 503
        assert autosave.headers["Retry-After"] == "30"
        assert "<html" not in autosave.text
        assert RETRY_MESSAGE in html.unescape(autosave.text)
        page = browser.request("GET", "/collecte/")
        assert page.status == 503
        assert UNAVAILABLE in html.unescape(page.text)
        health = browser.request("GET", "/healthz")
        assert health.status == 503
        assert health.headers["Retry-After"] == "30"
        down = time.monotonic() - started
    finally:
        databases.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        database.dispose()

    # 3. Back: the same session sends the 503 page's form, and it is saved.
    assert browser.request("GET", "/healthz").status == 200
    expect(browser.recorder, browser.send(retry, retry.data()), 200, "resent after")
    with app.app_context():
        assert entry_values(demo_code("EST-01")) == {
            n: again[n] for n in entry_values(demo_code("EST-01"))
        }
        db.session.remove()
        db.engine.dispose()
    print(
        f"\nPostgreSQL lost under gunicorn: {browser.recorder.requests} requests, "
        f"{dict(sorted(browser.recorder.statuses.items()))}, "
        f"{len(browser.recorder.connection_errors)} connection errors, "
        f"{down:.1f} s from the lock to the last 503"
    )


# C. Two servers sharing PostgreSQL and Redis


@pytest.fixture
def redis_prefix():
    """A key prefix of the test's own in the Redis server, its keys deleted at the end."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        pytest.skip(f"no Redis at {REDIS_URL} ({error}): two servers sharing Redis not tested")
    prefix = f"defi-test-{uuid.uuid4().hex[:8]}"
    yield client, prefix
    keys = list(client.scan_iter(match=f"*{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.slow
@pytest.mark.skipif(
    not POSTGRES_URL, reason="TEST_DATABASE_URL is not set: two servers on one PostgreSQL"
)
def test_two_servers_share_sessions_and_login_throttling(databases, start_server, redis_prefix):
    redis_client, prefix = redis_prefix
    url = databases.new("postgresql")
    settings = {
        "SECRET_KEY": "test-" + secrets.token_hex(16),
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
    }
    one, two = start_server(url, **settings), start_server(url, **settings)

    # A session opened on one server works on the other: pages, and a save with its token.
    foyer = Browser(one.port, js=False)
    login(foyer, "foyer-est-03")
    foyer.port = two.port
    home = expect(foyer.recorder, foyer.open("/collecte/"), 200, "home on two")
    assert "foyer-est-03" in page_text_of(home)
    form = expect(foyer.recorder, foyer.open(MEALS), 200, "meals on two").form(MEALS)
    foyer.port = one.port
    saved = foyer.send(form, form.data(period_days="10"))
    expect(foyer.recorder, saved, 200, "saved on one with two's token")
    app = read_back(url)
    with app.app_context():
        assert entry_values(demo_code("EST-03"))["period_days"] == "10"
        db.session.remove()
        db.engine.dispose()

    # Logging out on two ends the session on one: the copied cookie opens nothing.
    copied = dict(foyer.cookies)
    foyer.port = two.port
    out = foyer.request("POST", "/deconnexion", saved.form("/deconnexion").data())
    assert out.status == 303
    assert out.headers["Location"] == "/connexion"
    replay = Browser(one.port, js=False)
    replay.cookies = copied
    refused = replay.request("GET", "/collecte/")
    assert refused.status == 302
    assert refused.headers["Location"].startswith("/connexion?next=")

    # Login throttling over both servers: 10 failures on one account, then 429 everywhere.
    attacker = {one.port: Browser(one.port, js=False), two.port: Browser(two.port, js=False)}
    ports = [one.port, two.port]
    for attempt in range(10):
        answer = login(attacker[ports[attempt % 2]], "animateur-est", "pas-le-bon-mot", 200)
        assert WRONG_PASSWORD in page_text_of(answer)
    eleventh = login(attacker[two.port], "animateur-est", "pas-le-bon-mot", status=429)
    assert "Trop de tentatives" in page_text_of(eleventh)
    retry_after = int(eleventh.headers["Retry-After"])
    assert 0 < retry_after <= 15 * 60
    # Even the right password waits: the account is throttled, on either server.
    assert login(attacker[one.port], "animateur-est", status=429).headers["Retry-After"]
    # Another account, from the same address, is not: 10 failures are far from its 60.
    login(Browser(one.port, js=False), "animatrice-ouest")
    keys = list(redis_client.scan_iter(match=f"*{prefix}*"))
    assert keys  # the counters are in Redis, shared by both servers

    # Two territories on the same servers and database: each pilot reads its own alone, on
    # either server, and the other's group is a 404 to it.
    with app.app_context():
        groups = dict(db.session.execute(sa.select(Group.name, Group.id)).all())
        db.session.remove()
        db.engine.dispose()
    territories = (
        (one.port, "pilote", "Les LokoMotiv", "Les Pousses"),
        (two.port, "pilote-2", "Les Pousses", "Les LokoMotiv"),
    )
    for port, username, ours, theirs in territories:
        pilot = Browser(port, js=False)
        login(pilot, username)
        home = page_text_of(expect(pilot.recorder, pilot.open("/pilote/"), 200, username))
        assert ours in home and theirs not in home, username
        other = next(group_id for name, group_id in groups.items() if name.startswith(theirs))
        expect(pilot.recorder, pilot.open(f"/groupe/{other}/progres"), 404, f"{username}: theirs")
    print(
        f"\nTwo servers on one PostgreSQL and one Redis: 11th failure → 429, "
        f"Retry-After {retry_after} s; {len(keys)} keys under {prefix}"
    )
