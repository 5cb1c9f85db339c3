"""Database engine settings: SQLite's pragmas and `BEGIN IMMEDIATE`; PostgreSQL's timeout.

With pysqlite's defaults, concurrent read-modify-write transactions silently lose updates, and a
deferred `BEGIN` makes them fail with "database is locked" (NOTES.md, measured). Taking the write
lock when the transaction starts, and waiting up to 5 s for it, loses and fails none.

A PostgreSQL server that does not answer must give a 503 page in seconds (`errors.py`), not a
request that hangs until gunicorn kills its worker: libpq waits forever by default.
"""

import sqlalchemy as sa

from defi.extensions import db

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


def configure_sqlite(engine):
    """Attach the pragmas and `BEGIN IMMEDIATE` to every connection of a SQLite engine."""

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Turn off pysqlite's own transaction handling so that `begin` below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# Seconds to wait for a PostgreSQL connection (a `connect_timeout` in the URL wins).
POSTGRESQL_CONNECT_TIMEOUT = 5


def configure_postgresql(engine):
    """Give up connecting to an unreachable PostgreSQL server after a few seconds."""

    @sa.event.listens_for(engine, "do_connect")
    def on_connect(_dialect, _record, _args, parameters):
        parameters.setdefault("connect_timeout", POSTGRESQL_CONNECT_TIMEOUT)


def init_app(app):
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                configure_sqlite(engine)
            elif engine.dialect.name == "postgresql":
                configure_postgresql(engine)
