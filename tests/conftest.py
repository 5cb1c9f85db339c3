"""Fixtures: the app on each database backend, a client, logins, the demo défi.

With `TEST_DATABASE_URL` unset the suite runs on SQLite alone; with it set (CI does), every
test that uses `app` runs on SQLite and on PostgreSQL.
"""

import contextvars
import html
import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient

from config import TestConfig
from config import database_url
from defi import create_app
from defi.accounts import passwords
from defi.demo import DEMO_CHALLENGE
from defi.demo import DEMO_TERRITORY
from defi.demo import load_demo
from defi.extensions import db
from defi.models import Challenge
from defi.models import Territory

POSTGRES_URL = database_url(os.environ.get("TEST_DATABASE_URL"))
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
DEMO_PASSWORD = "carottes-et-poireaux"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """The stress tests (marked `slow`: 8 processes, or gunicorn with 32 clients) first, and
    all in one pytest-xdist group, one after the other, so that they never load the machine
    together. `make test` runs them alone before the others (-m slow, then -m "not slow");
    this keeps a plain `pytest -n 3` from running them at once. The other tests keep their
    order (the browser tests, the longest after these, come first)."""
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group("stress"))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def demo_key(day):
    """What a copied demo must match: its day, and the password hasher of its one hash (a test
    may make argon2 cheaper, tests/test_fuzz_forms.py: the demo is then hashed with that)."""
    hasher = passwords.HASHER
    return (day, hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.type)


def emptied_tables():
    """Every table the tests empty on PostgreSQL: all but the figures' version, whose one row
    is the migration's and only grows (each test's app keeps its own figures)."""
    return [table for table in db.metadata.sorted_tables if table.name != "figures_version"]


def make_config(url, **settings):
    return type("Config", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, **settings})


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL database of this test run's own, dropped at the end.

    Created beside the database of TEST_DATABASE_URL, so that two runs at once (a developer's
    and a fresh clone's) never drop each other's tables.
    """
    server = sa.make_url(POSTGRES_URL)
    name = f"{server.database}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    app = create_app(make_config(url))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


class SqliteTemplates:
    """SQLite databases built once per test session (per xdist worker), copied for each test.

    `create_all` and, above all, `load_demo` (about 1 s of ORM inserts) cost far more than
    copying the file they give. Each test still gets a fresh file of its own: the copy of a
    database made exactly as the test would have made it (`create_all`, then `load_demo` on the
    same day with the same password hasher), never a database another test has touched.
    """

    def __init__(self, directory):
        self.directory = directory
        self.schema = None
        self.schema_rows = None
        self.demos = {}

    def new_schema(self, path):
        """Copy the database `create_all` makes to `path` (once built, a 1 ms copy)."""
        if self.schema is None:
            self.schema = self.directory / "schema.db"
            app = create_app(make_config(f"sqlite:///{self.schema}"))
            with app.app_context():
                db.create_all()
                # What a fresh database holds: figures_version's one row, no other.
                with db.engine.connect() as connection:
                    self.schema_rows = _table_rows(connection)
                db.engine.dispose()
        shutil.copyfile(self.schema, path)

    def is_fresh(self):
        """Whether the app's database still holds what `create_all` made, nothing more, and
        the session has nothing pending."""
        if db.session.new or db.session.dirty or db.session.deleted:
            return False
        return self.schema_rows is not None and _table_rows(db.session) == self.schema_rows

    def new_demo(self, path, day):
        """Copy a database holding the demo défi loaded on `day` to `path`."""
        key = demo_key(day)
        if key not in self.demos:
            template = self.directory / f"demo-{len(self.demos)}.db"
            self.new_schema(template)
            app = create_app(make_config(f"sqlite:///{template}"))
            with app.app_context():
                with app.test_request_context():
                    load_demo(day)
                    db.session.commit()
                db.session.remove()
                db.engine.dispose()
            self.demos[key] = template
        shutil.copyfile(self.demos[key], path)


class PostgresDemos:
    """The demo défi's rows, read once per test session (per xdist worker) from a database
    where `load_demo` wrote them, and written again by Core's bulk INSERTs for each test.

    `load_demo` is about 1 s of ORM work per test; the rows it leaves, with its sequences'
    positions, are copied back in about 50 ms. Each test gets the rows and the sequences
    exactly as `load_demo` left them on the same day with the same password hasher, in a
    database the `app` fixture has emptied. The figures' version is bumped, as the load bumps it.
    Needs a superuser (or the right to set `session_replication_role`), as CI's `postgres` is.
    """

    def __init__(self):
        self.copies = {}

    def is_empty(self):
        """Whether the app's database holds no row but the figures' version, and the session
        has nothing pending: what the `app` fixture leaves."""
        if db.session.new or db.session.dirty or db.session.deleted:
            return False
        exists = sa.union_all(
            *(sa.select(sa.literal(1)).select_from(table).limit(1) for table in emptied_tables())
        )
        return db.session.execute(sa.select(sa.exists(exists.subquery()))).scalar() is False

    def remember(self, day):
        """Keep the rows and sequences `load_demo` has just committed."""
        connection = db.session.connection()
        rows = {
            table: [row._asdict() for row in connection.execute(sa.select(table))]
            for table in emptied_tables()
        }
        sequences = {}
        for table in emptied_tables():
            for column in table.primary_key.columns:
                name = connection.execute(
                    sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                    {"table": f'"{table.name}"', "column": column.name},
                ).scalar()
                if name:
                    sequences[name] = connection.execute(
                        sa.text(f"SELECT last_value, is_called FROM {name}")
                    ).one()
        self.copies[demo_key(day)] = (rows, sequences)

    def load(self, day) -> bool:
        """Write the demo loaded on `day` into the empty database; False if none is kept."""
        copy = self.copies.get(demo_key(day))
        if copy is None:
            return False
        rows, sequences = copy
        db.session.remove()
        with db.engine.begin() as connection:
            # Foreign keys checked at the end would be enough; the rows are load_demo's own.
            connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
            for table, values in rows.items():
                if values:
                    connection.execute(table.insert(), values)
            for name, (last_value, is_called) in sequences.items():
                connection.execute(
                    sa.text("SELECT setval(:name, :value, :called)"),
                    {"name": name, "value": last_value, "called": is_called},
                )
            # Every défi's figures changed, as `cache.touch` says it without a défi: the row is
            # made again if a browser test's teardown emptied its table too.
            connection.execute(
                sa.text(
                    "INSERT INTO figures_version (id, version) VALUES (1, 1)"
                    " ON CONFLICT (id) DO UPDATE SET version = figures_version.version + 1"
                )
            )
        return True

    def load_or_make(self, app, day):
        """The demo in the empty database: its kept rows, or `load_demo` the first time."""
        if not self.load(day):
            with app.test_request_context():
                load_demo(day)
            db.session.commit()
            self.remember(day)


def _table_rows(connection):
    return {
        table.name: connection.execute(sa.select(table)).all()
        for table in db.metadata.sorted_tables
    }


def sqlite_file(url):
    """The file of a SQLite URL, or None (another database, or SQLite in memory)."""
    url = sa.make_url(url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory):
    return SqliteTemplates(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def postgres_demos():
    return PostgresDemos()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    """The database of this run of the tests: "sqlite", or "postgresql" when configured."""
    return request.param


class RequestClient(FlaskClient):
    """A test client whose requests run as in production, each in a context of its own.

    Flask reuses an app context that is already pushed, so without this every request of a
    test would share the test's `g` (Flask-Login's cached user) and its database session, and
    a stale session or a revoked login could pass unnoticed. What the test wrote is committed
    first, so that the request sees it and SQLite's write lock is free.
    """

    def open(self, *args, **kwargs):
        if has_app_context():  # not when following a redirect, already in the fresh context
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app_config(backend, tmp_path, request):
    """The settings class of the test's app (tests may override it).

    SQLite is a file, not `sqlite://`: an in-memory database is one connection shared by the
    test and the requests, while a file gives each its own connection, as in production.
    """
    if backend == "postgresql":
        return make_config(request.getfixturevalue("postgres_url"))
    return make_config(f"sqlite:///{tmp_path / 'test.db'}")


@pytest.fixture
def app(app_config, backend, sqlite_templates):
    path = sqlite_file(app_config.SQLALCHEMY_DATABASE_URI) if backend == "sqlite" else None
    copied = path is not None and not path.exists()
    if copied:
        sqlite_templates.new_schema(path)
    app = create_app(app_config)
    app.test_client_class = RequestClient
    with app.app_context():
        if backend == "sqlite" and not copied:
            db.create_all()
        yield app
        db.session.remove()
        if backend == "postgresql":
            empty_postgres()
        db.engine.dispose()


def empty_postgres():
    """The `emptied_tables` emptied, and the ids counted from 1 again.

    DELETE rather than TRUNCATE: for tables this small it is 3 times quicker (TRUNCATE makes
    each table's files anew); the foreign keys' triggers are off for the transaction.
    """
    with db.engine.begin() as connection:
        connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table in reversed(emptied_tables()):
            connection.execute(table.delete())
        connection.execute(
            sa.text(
                "SELECT setval(sequence, 1, false) FROM ("
                " SELECT pg_get_serial_sequence(quote_ident(table_name), column_name) AS sequence"
                " FROM information_schema.columns WHERE table_schema = current_schema()"
                ") AS serial WHERE sequence IS NOT NULL"
            )
        )


@pytest.fixture
def client(app):
    return app.test_client()


# The command line's option naming the demo défi's territory (the demo loads two).
IN_DEMO = ("--territory", DEMO_TERRITORY)
# The demo défi of DESIGN.md: its first territory's (the second runs one of the same name).
DEMO_QUERY = (
    sa.select(Challenge)
    .join(Territory, Territory.id == Challenge.territory_id)
    .where(Territory.name == DEMO_TERRITORY, Challenge.name == DEMO_CHALLENGE)
)


@pytest.fixture
def demo(app, backend, sqlite_templates, postgres_demos):
    """The demo défi of DESIGN.md, loaded as `defi demo` loads it.

    Into a database still fresh, it is the copy of one loaded the same day, by `load_demo`
    too, earlier in the session: on SQLite the database's file (`SqliteTemplates`), on
    PostgreSQL its rows (`PostgresDemos`).
    """
    from defi.formatting import today

    day = today()
    if backend == "postgresql" and postgres_demos.is_empty():
        postgres_demos.load_or_make(app, day)
        return db.session.scalar(DEMO_QUERY)
    path = sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"]) if backend == "sqlite" else None
    if path is not None and sqlite_templates.is_fresh():
        db.session.remove()
        db.engine.dispose()
        # The last connection closed has checkpointed and removed the WAL: no other is open.
        if not any(path.with_name(path.name + suffix).exists() for suffix in ("-wal", "-shm")):
            sqlite_templates.new_demo(path, day)
            return db.session.scalar(DEMO_QUERY)
    with app.test_request_context():
        challenge = load_demo(day)
    db.session.commit()
    return challenge


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, username, password=DEMO_PASSWORD):
        return self.client.post("/connexion", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/deconnexion")


@pytest.fixture
def auth(client):
    return Auth(client)


def page_text(response):
    """The response's HTML with entities decoded, to look for French sentences in it; the
    non-breaking spaces of French typography (`formatting.nbsp`) read as spaces; Babel's narrow
    ones inside numbers stay (tests/test_french.py checks where each goes)."""
    return html.unescape(response.get_data(as_text=True)).replace("\u00a0", " ")


def demo_code(name: str) -> str:
    """The demo's code of a foyer named by its group and number: "EST-05" → "EST-CXW7".

    The demo draws its codes at random (from a fixed seed), as the app draws every code.
    """
    from defi.demo import demo_codes

    prefix, number = name.rsplit("-", 1)
    return demo_codes(prefix)[int(number)]


def new_household(prefix: str):
    """The one foyer of the group with this code prefix that the demo did not load, or None."""
    from defi.demo import demo_codes
    from defi.models import Household

    found = db.session.scalars(
        sa.select(Household).where(
            Household.code.like(f"{prefix}-%"),
            Household.code.not_in(list(demo_codes(prefix).values())),
        )
    ).all()
    assert len(found) <= 1, found
    return found[0] if found else None


def enrol_accompanied(client, auth, group, name="Famille Accompagnée"):
    """The MJEP's referent enrols a new accompanied foyer in `group` (the page answers 200)."""
    from defi.models import Structure

    assert auth.login("referent-mjep").status_code == 303
    mjep = db.session.scalar(sa.select(Structure).where(Structure.name.like("MJEP%")))
    response = client.post(
        "/accompagnement/inviter",
        data={
            "display_name": name,
            "adults": "1",
            "children": "0",
            "group_id": str(group.id),
            "structure_id": str(mjep.id),
        },
    )
    assert response.status_code == 200
    return response


def demo_wave(rank: int):
    """The demo défi's collecte of this rank: the second demo territory's défi has its own,
    so a collecte is never looked for by its rank alone."""
    challenge = db.session.scalar(DEMO_QUERY)
    return next(wave for wave in challenge.waves if wave.rank == rank)


def territory_id() -> int:
    """The id of the first territory (the demo's Béthune-Bruay when the demo is loaded), made
    if there is none: for tests that create défis or structures of their own."""
    from defi.models import Territory

    found = db.session.scalar(sa.select(Territory.id).order_by(Territory.id).limit(1))
    if found is None:
        territory = Territory(name="Territoire de test")
        db.session.add(territory)
        db.session.flush()
        found = territory.id
    return found
