"""Figures computed once, read many times: a version of what each défi publishes, bumped with it.

Every change that can change a published figure — a sent relevé or one of its rows, a foyer,
its accompaniment, a group, a wave, the questionnaire — bumps, in the
same transaction, the version of the défi it belongs to (`ChallengeFiguresVersion`): the
session's listeners find the défi of each row the ORM flushes (`_challenge_of`). A change whose
défi is not known bumps the install's version (`FiguresVersion`), and with it every défi's: an
INSERT, UPDATE or DELETE statement sent through the session outside `changing`, a row whose
défi cannot be found, `touch` without a défi.

A page asks for a défi's publication with the versions it reads, the install's and the défi's:
a worker computes it once per pair and keeps it (`figures.publication`). A relevé sent in one
territory leaves every other défi's figures as they were kept. A draft being typed changes
nothing published and bumps nothing. Figures are never stale: the versions are read in the
request, before the figures and after the commit that changed them.
"""

import contextlib
import itertools

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from defi.models import ChallengeFiguresVersion
from defi.models import Entry
from defi.models import FiguresVersion
from defi.models import Group
from defi.models import Question
from defi.models import Wave

# Tables whose every change may change what is published.
PUBLISHED = frozenset({"household", "accompaniment", "group", "wave", "question", "choice"})
# A relevé's rows: they change what is published when their relevé is sent.
ENTRY_ROWS = frozenset({"purchase", "weighing", "recipe", "producer", "answer"})
# How a row reaches its défi: the row it belongs to, by (foreign key, model, relationship).
PARENT = {
    "accompaniment": ("group_id", Group, "group"),
    "choice": ("question_id", Question, "question"),
    "entry": ("wave_id", Wave, "wave"),
} | dict.fromkeys(ENTRY_ROWS, ("entry_id", Entry, "entry"))

EVERY = "every"  # bumped: every défi (the install's version)
BUMPED = "figures_version_bumped"  # {défi id} or EVERY, bumped in this transaction
VERSIONS_READ = "figures_versions_read"  # {défi id: (install's, défi's)} read in it
PENDING = "figures_pending"  # what the flush under way changes
SCOPE = "figures_scope"  # the défi of the statements sent in `changing`


def current_version(session, challenge_id: int) -> tuple[int, int]:
    """The version of what the défi publishes, (the install's, the défi's), read once per
    transaction of the session (a commit or a rollback forgets it: the next read sees what was
    committed since)."""
    return read_versions(session, [challenge_id])[challenge_id]


def read_versions(session, challenge_ids) -> dict:
    """{défi id: version} of these défis (`current_version`), those not read yet in one
    statement: a page that reads several défis' figures reads their versions at once.

    A missing row is at 0: a défi that has not changed since the versions were made, or an
    install's row deleted by hand (the next change of every défi makes it again, at 1).
    """
    read = session.info.setdefault(VERSIONS_READ, {})
    missing = sorted(set(challenge_ids) - read.keys())
    if missing:
        install, challenge = FiguresVersion, ChallengeFiguresVersion
        statement = sa.union_all(
            sa.select(sa.null().label("challenge_id"), install.version).where(install.id == 1),
            sa.select(challenge.challenge_id, challenge.version).where(
                challenge.challenge_id.in_(missing)
            ),
        )
        found = dict(session.execute(statement).all())
        for challenge_id in missing:
            read[challenge_id] = (found.get(None, 0), found.get(challenge_id, 0))
    return {challenge_id: read[challenge_id] for challenge_id in challenge_ids}


def changed(session, challenge_ids) -> bool:
    """Whether this transaction has itself changed what one of these défis publishes."""
    bumped = session.info.get(BUMPED)
    return bumped is not None and (bumped == EVERY or not bumped.isdisjoint(challenge_ids))


def touch(session, challenge_ids=None):
    """Bump the versions of these défis, or the install's (every défi's) without any, in the
    session's transaction: for writes the listeners do not see (PostgreSQL's COPY).

    A défi's row is made at its first change; the install's is made again if it is missing (a
    database emptied by hand), at 1, where its reading was 0.
    """
    session.info.pop(VERSIONS_READ, None)
    connection = session.connection()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    if challenge_ids is None:
        table = FiguresVersion.__table__
        bumped = connection.execute(
            sa.update(table).where(table.c.id == 1).values(version=table.c.version + 1)
        )
        if bumped.rowcount == 0:
            connection.execute(insert(table).values(id=1, version=1).on_conflict_do_nothing())
        session.info[BUMPED] = EVERY
        return
    ids = sorted(set(challenge_ids))  # one order for every transaction: no deadlock
    if not ids:
        return
    table = ChallengeFiguresVersion.__table__
    statement = insert(table).values([{"challenge_id": id_, "version": 1} for id_ in ids])
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.challenge_id], set_={"version": table.c.version + 1}
        )
    )
    bumped = session.info.setdefault(BUMPED, set())
    if bumped != EVERY:
        bumped.update(ids)


@contextlib.contextmanager
def changing(session, challenge_id: int):
    """Statements sent through the session meanwhile change this défi alone: they bump its
    version, not the install's (an import's statements, a foyer's erasure)."""
    session.info[SCOPE] = challenge_id
    try:
        yield
    finally:
        session.info.pop(SCOPE, None)


def _changes_published(session, obj) -> bool:
    table = getattr(obj, "__tablename__", None)
    if table in PUBLISHED:
        return True
    if table == "entry":
        return obj.status == "submitted" or bool(sa.inspect(obj).attrs.status.history.deleted)
    if table in ENTRY_ROWS:
        entry = _parent(session, obj)
        return entry is None or entry.status == "submitted"
    return False


def _parent(session, obj):
    """The row `obj` belongs to (`PARENT`), as given to it or from the session; None if unknown."""
    key, model, relationship = PARENT[obj.__tablename__]
    found = obj.__dict__.get(relationship)
    if found is None and (parent_id := getattr(obj, key)) is not None:
        found = session.get(model, parent_id)
    return found


def _challenge_of(session, obj) -> int | None:
    """The id of the défi `obj` belongs to; None until it is known (a row still to be flushed
    whose défi is new too)."""
    while obj is not None and obj.__tablename__ in PARENT:
        obj = _parent(session, obj)
    if obj is None:
        return None
    challenge_id = obj.challenge_id
    if challenge_id is None and (challenge := obj.__dict__.get("challenge")) is not None:
        challenge_id = challenge.id
    return challenge_id


def _before_flush(session, _context, _instances):
    if session.info.get(BUMPED) == EVERY:
        return
    ids, later = set(), []
    with session.no_autoflush:
        for obj in itertools.chain(session.new, session.dirty, session.deleted):
            if _changes_published(session, obj):
                challenge_id = _challenge_of(session, obj)
                if challenge_id is None:
                    later.append(obj)  # its défi's id is given by this flush
                else:
                    ids.add(challenge_id)
    if ids or later:
        session.info[PENDING] = (ids, later)


def _after_flush(session, _context):
    pending = session.info.pop(PENDING, None)
    if pending is None:
        return
    ids, later = pending
    with session.no_autoflush:
        found = [_challenge_of(session, obj) for obj in later]
    if None in found:
        touch(session)  # a row whose défi cannot be found: every défi
        return
    bumped = session.info.get(BUMPED, set())
    if bumped != EVERY:
        touch(session, ids.union(found) - bumped)


def _on_execute(state):
    statement = state.statement
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    watched = name in PUBLISHED or name in ENTRY_ROWS or name == "entry"
    watched = watched or (name == "challenge" and not state.is_update)
    if not watched or state.session.info.get(BUMPED) == EVERY:
        return
    scope = state.session.info.get(SCOPE)
    if scope is None:
        touch(state.session)
    elif scope not in state.session.info.get(BUMPED, ()):
        touch(state.session, [scope])


def _forget(session, *_args):
    session.info.pop(BUMPED, None)


def _transaction_ended(session, transaction):
    if transaction.parent is None:  # the outermost: what comes next may see other commits
        session.info.pop(VERSIONS_READ, None)
    session.info.pop(PENDING, None)


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
