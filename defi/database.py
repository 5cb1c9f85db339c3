"""Database engine settings: SQLite's pragmas and transactions; PostgreSQL's timeout; requests
that read only.

With pysqlite's defaults, concurrent read-modify-write transactions silently lose updates, and a
deferred `BEGIN` makes them fail with "database is locked" (NOTES.md, measured). Taking the write
lock when the transaction starts, and waiting up to 5 s for it, loses and fails none. A request
that only reads (GET, HEAD) opens a deferred transaction instead, which takes no lock in WAL
mode: a long write (an import) never makes a page wait. Such a request must then write nothing,
and `refuse_writes` makes sure of it, as it does for a form whose CSRF check failed. So does a
request once it has committed: what it reads after (the page it shows) does not hold the lock
that every other writer waits for.

A PostgreSQL server that does not answer must give a 503 page in seconds (`errors.py`), not a
request that hangs until gunicorn kills its worker: libpq waits forever by default.
"""

import re

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import g
from flask import has_request_context
from flask import request
from flask_wtf.csrf import CSRFError
from werkzeug.routing import IntegerConverter

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
        deferred = reads_only() or (has_request_context() and g.get("committed", False))
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


# Seconds to wait for a PostgreSQL connection (a `connect_timeout` in the URL wins).
POSTGRESQL_CONNECT_TIMEOUT = 5
# The longest a statement may run, in ms (`options` in the URL win): gunicorn's threaded workers
# never kill a slow request, and the largest import or export takes a few seconds.
POSTGRESQL_STATEMENT_TIMEOUT = 60_000


def configure_postgresql(engine):
    """Give up connecting to an unreachable PostgreSQL server after a few seconds, and cut a
    statement that runs for a minute."""

    @sa.event.listens_for(engine, "do_connect")
    def on_connect(_dialect, _record, _args, parameters):
        parameters.setdefault("connect_timeout", POSTGRESQL_CONNECT_TIMEOUT)
        parameters.setdefault("options", f"-c statement_timeout={POSTGRESQL_STATEMENT_TIMEOUT}")


# The largest id a URL can name: PostgreSQL's integer (SQLite could not even take 2**63).
LARGEST_ID = 2**31 - 1


class DatabaseId(IntegerConverter):
    """`<int:…>` in a route: a larger number matches no route (404), instead of a query that
    fails (an integer out of range: a 500)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(url_map, *args, **kwargs)


def database_id(text: str) -> int:
    """An id from a query string (`request.args.get(name, type=database_id)`): None if not."""
    value = int(text)
    if not 0 <= value <= LARGEST_ID:
        raise ValueError(text)
    return value


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The start of a statement that changes rows.
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE)\b", re.IGNORECASE)


class WriteInReadOnlyRequest(RuntimeError):
    """A GET or HEAD request tried to change a row, or a request wrote again after its
    commit: a bug, answered 500."""


def mark_request():
    """Decide, before anything reads the database, whether this request may write."""
    g.reads_only = request.method in SAFE_METHODS


def reads_only() -> bool:
    return has_request_context() and g.get("reads_only", False)


@sa.event.listens_for(so.Session, "after_commit")
def note_commit(session):
    """The request has written what it came for; what follows is most often its page."""
    # A savepoint released (begin_nested) is a commit too, inside the request's transaction.
    if has_request_context() and not session.in_nested_transaction():
        g.committed = True


def refuse_writes(engine):
    """Stop any write of a request that must write nothing, before it reaches the database."""

    @sa.event.listens_for(engine, "before_cursor_execute")
    def refuse(_connection, _cursor, statement, _parameters, _context, _executemany):
        if not has_request_context() or not WRITE.match(statement):
            return
        if g.get("csrf_failed", False):
            raise CSRFError("a form without a valid CSRF token tried to write")
        if g.get("reads_only", False):
            raise WriteInReadOnlyRequest(f"{request.method} {request.path}: {statement[:80]}")
        if g.get("committed", False):
            # Each request commits once (STYLE.md); on SQLite what follows its commit runs in
            # a deferred transaction, where a write would fail at once when another waits.
            raise WriteInReadOnlyRequest(
                f"{request.method} {request.path} wrote after its commit: {statement[:80]}"
            )


def init_app(app):
    app.url_map.converters["int"] = DatabaseId
    app.before_request(mark_request)
    with app.app_context():
        for engine in db.engines.values():
            refuse_writes(engine)
            if engine.dialect.name == "sqlite":
                configure_sqlite(engine)
            elif engine.dialect.name == "postgresql":
                configure_postgresql(engine)
