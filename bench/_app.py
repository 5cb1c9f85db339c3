"""A demo app on a throwaway SQLite file, with a logged-in client, for the benchmarks."""

import atexit
import shutil
import tempfile
from pathlib import Path

import sqlalchemy as sa

from config import TestConfig
from defi import create_app
from defi.demo import DEMO_PASSWORD
from defi.demo import load_demo
from defi.extensions import db
from defi.formatting import today


class QueryCounter:
    """Counts the SQL statements the app sends while it is active."""

    def __init__(self, engine):
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.count += 1


def demo_app():
    """(app, directory) with the demo défi loaded in a SQLite file, deleted at exit."""
    directory = tempfile.mkdtemp(prefix="defi-bench-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    url = f"sqlite:///{Path(directory) / 'bench.db'}"
    config = type("BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url})
    app = create_app(config)
    with app.app_context():
        db.create_all()
        with app.test_request_context():
            load_demo(today())
        db.session.commit()
    return app, directory


def demo_challenge():
    """The demo défi of DESIGN.md: the current one of the demo's first territory."""
    from defi.demo import DEMO_TERRITORY
    from defi.models import Challenge
    from defi.models import Territory

    return db.session.scalar(
        sa.select(Challenge)
        .join(Territory, Territory.id == Challenge.territory_id)
        .where(Territory.name == DEMO_TERRITORY, Challenge.is_current)
    )


def logged_in(app, username):
    client = app.test_client()
    response = client.post("/connexion", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 303, response.status_code
    return client
