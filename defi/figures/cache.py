"""Figures computed once, read many times: a version of what is published, bumped with it.

Every change that can change a published figure — a sent relevé or one of its rows, a foyer,
its accompaniment, a group, a wave, the questionnaire — bumps the single row of
`FiguresVersion` in the same transaction (`before_flush` for the ORM, `do_orm_execute` for
INSERT, UPDATE and DELETE statements sent through the session, `touch` for the rest: the
import's COPY). A page asks for the défi's publication with the version it reads: a worker
computes it once per version and keeps it (`figures.publication`). A draft being typed changes
nothing published and bumps nothing. Figures are never stale: the version is read in the
request, after the commit that changed them.
"""

import itertools

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from defi.models import Entry
from defi.models import FiguresVersion

# Tables whose every change may change what is published.
PUBLISHED = frozenset({"household", "accompaniment", "group", "wave", "question", "choice"})
# A relevé's rows: they change what is published when their relevé is sent.
ENTRY_ROWS = frozenset({"purchase", "weighing", "recipe", "producer", "answer"})
BUMPED = "figures_version_bumped"
VERSION_READ = "figures_version_read"


_VERSION = sa.select(FiguresVersion.version).where(FiguresVersion.id == 1)  # every page reads it


def current_version(session) -> int | None:
    """The version of what is published, read once per transaction of the session (a commit
    or a rollback forgets it: the next read sees what was committed since)."""
    if VERSION_READ not in session.info:
        session.info[VERSION_READ] = session.scalar(_VERSION)
    return session.info[VERSION_READ]


def touch(session):
    """Bump the version in the session's transaction (for writes the listeners do not see).

    The row is made again if it is missing (a database emptied by hand): a missing row would
    leave every page computing the figures afresh, and a cache never told of a change.
    """
    session.info.pop(VERSION_READ, None)
    table = FiguresVersion.__table__
    connection = session.connection()
    bumped = connection.execute(
        sa.update(table).where(table.c.id == 1).values(version=table.c.version + 1)
    )
    if bumped.rowcount == 0:
        dialect = connection.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        connection.execute(insert(table).values(id=1, version=1).on_conflict_do_nothing())
    session.info[BUMPED] = True


def _changes_published(session) -> bool:
    with session.no_autoflush:
        for obj in itertools.chain(session.new, session.dirty, session.deleted):
            table = getattr(obj, "__tablename__", None)
            if table in PUBLISHED:
                return True
            if table == "entry":
                status = sa.inspect(obj).attrs.status.history
                if obj.status == "submitted" or status.deleted:
                    return True
            elif table in ENTRY_ROWS:
                entry = obj.__dict__.get("entry")
                if entry is None and obj.entry_id is not None:
                    entry = session.get(Entry, obj.entry_id)
                if entry is None or entry.status == "submitted":
                    return True
    return False


def _before_flush(session, _context, _instances):
    if not session.info.get(BUMPED) and _changes_published(session):
        session.info["figures_pending"] = True


def _after_flush(session, _context):
    if session.info.pop("figures_pending", False):
        touch(session)


def _on_execute(state):
    statement = state.statement
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    watched = name in PUBLISHED or name in ENTRY_ROWS or name == "entry"
    if watched and not state.session.info.get(BUMPED):
        touch(state.session)


def _forget(session, *_args):
    session.info.pop(BUMPED, None)


def _transaction_ended(session, transaction):
    if transaction.parent is None:  # the outermost: what comes next may see other commits
        session.info.pop(VERSION_READ, None)
    session.info.pop("figures_pending", None)


def init_listeners():
    """Listen on every session (once per process)."""
    if sa.event.contains(so.Session, "before_flush", _before_flush):
        return
    sa.event.listen(so.Session, "before_flush", _before_flush)
    sa.event.listen(so.Session, "after_flush", _after_flush)
    sa.event.listen(so.Session, "do_orm_execute", _on_execute)
    sa.event.listen(so.Session, "after_commit", _forget)
    sa.event.listen(so.Session, "after_soft_rollback", _forget)
    sa.event.listen(so.Session, "after_transaction_end", _transaction_ended)
