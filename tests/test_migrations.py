"""The migrations build exactly the models, on SQLite and on PostgreSQL.

What is proven, on an empty database of each backend (PostgreSQL when `TEST_DATABASE_URL` is
set; a database of its own, never the suite's):

- `flask db upgrade` succeeds and leaves the database at the single head revision;
- Alembic's autogenerate then finds nothing to do: no table, column, index, unique or foreign
  key, type or server default differs between the migrated schema and `db.metadata`;
- the named CHECK constraints, which autogenerate does not compare, are the models' ones;
- on SQLite, `downgrade` to base removes every table, and upgrading again gives the same schema.

The rest of the suite builds its tables with `db.create_all()`, so without this test a model
change that was never migrated would pass every other test and break production.
"""

import logging.config
import uuid

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from defi import MIGRATIONS_DIR
from defi import create_app
from defi.extensions import db
from tests.conftest import POSTGRES_URL
from tests.conftest import make_config


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch):
    """Keep the test session's logging as it is.

    migrations/env.py calls `logging.config.fileConfig`, right for the command line, but in the
    test session it would disable every logger that already exists and replace the root
    handlers (pytest's among them). It has no effect on the schema, so it is stubbed out here.
    """
    monkeypatch.setattr(logging.config, "fileConfig", lambda *args, **kwargs: None)


@pytest.fixture
def postgres_migrations_url():
    """An empty PostgreSQL database of this test's own, dropped at the end.

    Not the suite's database: that one holds `create_all`'s tables. Its name is unique, as in
    conftest's `postgres_url`, so that two runs at once never drop each other's database.
    """
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set: no PostgreSQL server to migrate")
    server = sa.make_url(POSTGRES_URL)
    name = f"{server.database}_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _head():
    heads = ScriptDirectory(MIGRATIONS_DIR).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def _current_revisions(connection):
    return MigrationContext.configure(connection).get_current_heads()


def _schema_diff(connection):
    """What `flask db migrate` would generate: [] when the database matches the models."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, db.metadata)


def _check_constraints_from_models():
    return {
        (table.name, constraint.name)
        for table in db.metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, sa.CheckConstraint)
    }


def _check_constraints_in_database(connection):
    inspector = sa.inspect(connection)
    return {
        (table, constraint["name"])
        for table in inspector.get_table_names()
        if table != "alembic_version"
        for constraint in inspector.get_check_constraints(table)
    }


def _assert_schema_is_the_models():
    with db.engine.connect() as connection:
        assert _current_revisions(connection) == (_head(),)
        assert _schema_diff(connection) == []
        assert _check_constraints_in_database(connection) == _check_constraints_from_models()


def _upgrade_with_the_cli(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exception is None, result.output
    assert result.exit_code == 0, result.output


def test_upgrade_of_an_empty_sqlite_database_gives_the_models(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'migrated.db'}"))
    with app.app_context():
        try:
            assert sa.inspect(db.engine).get_table_names() == []
            _upgrade_with_the_cli(app)
            _assert_schema_is_the_models()
        finally:
            db.engine.dispose()


def test_upgrade_of_an_empty_postgresql_database_gives_the_models(postgres_migrations_url):
    app = create_app(make_config(postgres_migrations_url))
    with app.app_context():
        try:
            assert sa.inspect(db.engine).get_table_names() == []
            _upgrade_with_the_cli(app)
            _assert_schema_is_the_models()
        finally:
            db.engine.dispose()


def test_downgrade_to_base_then_upgrade_again_on_sqlite(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'round_trip.db'}"))
    with app.app_context():
        try:
            flask_migrate.upgrade()
            _assert_schema_is_the_models()

            flask_migrate.downgrade(revision="base")
            with db.engine.connect() as connection:
                assert _current_revisions(connection) == ()
                # Only Alembic's own bookkeeping table is left.
                assert sa.inspect(connection).get_table_names() == ["alembic_version"]

            flask_migrate.upgrade()
            _assert_schema_is_the_models()
        finally:
            db.engine.dispose()


# Migrations on a database that holds data: every row stays.

# The revision before the accompaniment's audit and the current défi (a migration of each
# kind since: a new table, columns added to a parent table whose rebuild on SQLite would
# drop every row that refers to it).
BEFORE_ISSUE_10 = "61bea0638b88"


def _row_counts():
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def _demo_territory():
    from defi.demo import DEMO_TERRITORY
    from defi.models import Territory

    return db.session.scalar(sa.select(Territory.id).where(Territory.name == DEMO_TERRITORY))


def _migrate_down_and_up_with_the_demo(app):
    from defi.demo import load_demo
    from defi.formatting import today
    from defi.models import AuditEvent
    from defi.models import Challenge
    from defi.models import Invitation
    from defi.models import Membership
    from defi.models import Structure
    from defi.models import Territory
    from defi.models import User

    flask_migrate.upgrade()
    with app.test_request_context():
        load_demo(today())
    db.session.commit()
    # A revision before the territories takes one territory's rows back, never two.
    db.session.remove()
    with pytest.raises(SystemExit):  # Flask-Migrate logs the RuntimeError, then exits
        flask_migrate.downgrade(revision=BEFORE_ISSUE_10)
    _assert_schema_is_the_models()
    assert db.session.scalar(sa.select(sa.func.count(Territory.id))) == 2
    ours = _demo_territory()
    for model in (User, Challenge, Structure):  # the foyers' accompaniment keeps structures
        db.session.execute(sa.delete(model).where(model.territory_id != ours))
    # The coordinator, of no territory, has no role before territories (the downgrade takes
    # its account away).
    db.session.execute(sa.delete(User).where(User.territory_id.is_(None)))
    db.session.execute(sa.delete(Territory).where(Territory.id != ours))
    db.session.commit()
    before = _row_counts()
    assert before["household"] == 40 and before["entry"] > 60
    db.session.remove()

    flask_migrate.downgrade(revision=BEFORE_ISSUE_10)
    flask_migrate.upgrade()
    _assert_schema_is_the_models()
    # The défis' versions of their figures go with their table (made again at each défi's next
    # change); the install's version, bumped, says every défi's figures are to be made anew.
    after = _row_counts()
    assert after.pop("challenge_figures_version") == 0
    assert before.pop("challenge_figures_version") > 0
    assert after == before
    # Everything that existed is one territory's, "Territoire principal".
    (territory,) = db.session.scalars(sa.select(Territory)).all()
    assert territory.name == "Territoire principal"
    for model in (Challenge, Structure, User, Invitation, AuditEvent):
        territories = db.session.scalars(sa.select(model.territory_id).distinct()).all()
        assert territories in ([territory.id], []), (model, territories)
    # The défi that was current is still, and each role has the date its account was made.
    assert db.session.scalar(sa.select(Challenge.name).where(Challenge.is_current))
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Membership.id)).where(Membership.created_at.is_(None))
        )
        == 0
    )


def _migrated(url, migrate):
    """`migrate(app)` on an app of the database at `url`, its connections closed after."""
    app = create_app(make_config(url))
    with app.app_context():
        try:
            migrate(app)
        finally:
            db.session.remove()
            db.engine.dispose()


def test_migrations_keep_every_row_on_sqlite(tmp_path):
    # A rebuilt table (Alembic's batch mode) once cascaded: the demo lost every wave, group,
    # foyer and relevé on `make run` after an upgrade.
    _migrated(f"sqlite:///{tmp_path / 'data.db'}", _migrate_down_and_up_with_the_demo)


def test_migrations_keep_every_row_on_postgresql(postgres_migrations_url):
    _migrated(postgres_migrations_url, _migrate_down_and_up_with_the_demo)


# The revision before the retired codes had a territory.
BEFORE_RETIRED_CODE_TERRITORY = "81c26402c977"


def _retired_codes_through_their_territory_revision(app):
    """Codes retired before they had a territory: of the territory where there is one, of
    every territory (None) where there are several; one row per code again below it."""
    flask_migrate.upgrade(revision=BEFORE_RETIRED_CODE_TERRITORY)
    with db.engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO territory (name, created_at) VALUES ('A', :at)"),
            {"at": "2026-01-01 00:00:00"},
        )
        connection.execute(
            sa.text("INSERT INTO retired_code (code, retired_at) VALUES ('EST-ZZZZ', :at)"),
            {"at": "2026-01-02 00:00:00"},
        )
    flask_migrate.upgrade()
    _assert_schema_is_the_models()
    read = sa.text("SELECT territory_id, code FROM retired_code ORDER BY territory_id")
    with db.engine.begin() as connection:
        (one,) = connection.execute(sa.text("SELECT id FROM territory")).scalars().all()
        assert connection.execute(read).all() == [(one, "EST-ZZZZ")]
        connection.execute(
            sa.text("INSERT INTO territory (name, created_at) VALUES ('B', :at)"),
            {"at": "2026-01-01 00:00:00"},
        )
        two = connection.execute(sa.text("SELECT id FROM territory WHERE name = 'B'")).scalar()
        connection.execute(
            sa.text(
                "INSERT INTO retired_code (territory_id, code, retired_at)"
                " VALUES (:t, 'EST-ZZZZ', :at)"
            ),
            {"t": two, "at": "2026-01-03 00:00:00"},
        )
    flask_migrate.downgrade(revision=BEFORE_RETIRED_CODE_TERRITORY)
    with db.engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT code FROM retired_code")).scalars().all()
        assert rows == ["EST-ZZZZ"]
    flask_migrate.upgrade()
    with db.engine.begin() as connection:
        assert connection.execute(read).all() == [(None, "EST-ZZZZ")]  # two territories


def test_retired_codes_get_their_territory_on_sqlite(tmp_path):
    _migrated(
        f"sqlite:///{tmp_path / 'retired.db'}", _retired_codes_through_their_territory_revision
    )


def test_retired_codes_get_their_territory_on_postgresql(postgres_migrations_url):
    _migrated(postgres_migrations_url, _retired_codes_through_their_territory_revision)
