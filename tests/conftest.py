"""Fixtures: the app on each database backend, a client, logins, the demo défi.

With `TEST_DATABASE_URL` unset the suite runs on SQLite alone; with it set (CI does), every
test that uses `app` runs on SQLite and on PostgreSQL.
"""

import contextvars
import html
import os
import uuid

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient

from config import TestConfig
from config import database_url
from defi import create_app
from defi.extensions import db

POSTGRES_URL = database_url(os.environ.get("TEST_DATABASE_URL"))
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
DEMO_PASSWORD = "carottes-et-poireaux"


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
def app(app_config, backend):
    app = create_app(app_config)
    app.test_client_class = RequestClient
    with app.app_context():
        if backend == "sqlite":
            db.create_all()
        yield app
        db.session.remove()
        if backend == "postgresql":
            # Every table emptied but the figures' version: its one row is the migration's,
            # and only grows (each test's app keeps its own figures).
            tables = ", ".join(
                f'"{table.name}"'
                for table in db.metadata.sorted_tables
                if table.name != "figures_version"
            )
            with db.engine.begin() as connection:
                connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def demo(app):
    """The demo défi of DESIGN.md, loaded as `defi demo` loads it."""
    from defi.demo import load_demo
    from defi.formatting import today

    with app.test_request_context():
        challenge = load_demo(today())
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
