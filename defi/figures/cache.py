"""Figures computed once, read many times: a version of what each défi publishes, bumped with it.

Every change that can change a published figure — a sent relevé or one of its rows, a foyer,
its accompaniment, a group, a wave, the questionnaire — bumps, in the
same transaction, the version of the défi it belongs to (`ChallengeFiguresVersion`): the
session's listeners find the défi of each row the ORM flushes (`_challenge_of`). A change whose
défi is not known bumps the install's version (`FiguresVersion`), and with it every défi's: an
INSERT, UPDATE or DELETE statement sent through the session outside `changing`, a row whose
défi cannot be found, `touch` without a défi.

The listeners note what the transaction changes (`changed`); the versions are bumped once,
when the outermost transaction commits, in one statement (`_before_commit`): a version row is
locked only for the commit, after every row the transaction changed, in one order (the install's,
then the défis' by id), so two transactions never wait for each other's version rows. A
savepoint released or rolled back keeps what was noted; a rollback of the transaction forgets it.

A page asks for a défi's publication with the versions it reads, the install's and the défi's:
a worker computes it once per pair and keeps it (`figures.publication`). A request that has
changed what a défi publishes computes its figures afresh and keeps nothing. A relevé sent in
one territory leaves every other défi's figures as they were kept. A draft being typed changes
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
from defi.models import Household
from defi.models import Question
from defi.models import Wave

# Tables whose every change may change what is published.
PUBLISHED = frozenset({"household", "accompaniment", "group", "wave", "question", "choice"})
# A relevé's rows: they change what is published when their relevé is sent.
ENTRY_ROWS = frozenset({"purchase", "weighing", "recipe", "producer", "answer"})
# How a row reaches its défi: the row it belongs to, by (foreign key, model, relationship).
# A row never moves to another défi: its défi is the one it belongs to now.
PARENT = {
    "accompaniment": ("household_id", Household, "household"),
    "choice": ("question_id", Question, "question"),
    "entry": ("wave_id", Wave, "wave"),
} | dict.fromkeys(ENTRY_ROWS, ("entry_id", Entry, "entry"))

EVERY = "every"  # changed: every défi (the install's version)
BUMPED = "figures_version_bumped"  # {défi id} or EVERY, changed in this transaction
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
    """Whether this transaction has itself changed what one of these défis publishes (what the
    session holds and has not flushed yet is not known here: flush it first)."""
    bumped = session.info.get(BUMPED)
    return bumped is not None and (bumped == EVERY or not bumped.isdisjoint(challenge_ids))


def touch(session, challenge_ids=None):
    """Note that these défis' figures change, or every défi's without any: their versions are
    bumped when the transaction commits. For writes the listeners do not see (PostgreSQL's
    COPY)."""
    if challenge_ids is None:
        session.info[BUMPED] = EVERY
        return
    bumped = session.info.setdefault(BUMPED, set())
    if bumped != EVERY:
        bumped.update(challenge_ids)


def _before_commit(session):
    """Bump the versions of what the transaction changed, once, before it commits.

    A défi's row is made at its first change; the install's is made again if it is missing (a
    database emptied by hand), at 1, where its reading was 0.
    """
    if session.in_nested_transaction():
        return  # a savepoint released: its changes are the transaction's, bumped with it
    session.flush()  # the flush's changes are noted before the bump, not after it
    bumped = session.info.pop(BUMPED, None)
    if not bumped:
        return
    connection = session.connection()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    if bumped == EVERY:
        table, rows, key = FiguresVersion.__table__, [{"id": 1, "version": 1}], "id"
    else:
        table, key = ChallengeFiguresVersion.__table__, "challenge_id"
        # One order for every transaction: two never wait for each other's rows.
        rows = [{"challenge_id": id_, "version": 1} for id_ in sorted(bumped)]
    statement = insert(table).values(rows)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c[key]], set_={"version": table.c.version + 1}
        )
    )
    session.info.pop(VERSIONS_READ, None)


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
    touch(session, None if None in found else ids.union(found))  # unknown: every défi


def _on_execute(state):
    statement = state.statement
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    watched = name in PUBLISHED or name in ENTRY_ROWS or name == "entry"
    watched = watched or (name == "challenge" and not state.is_update)
    if watched:
        scope = state.session.info.get(SCOPE)
        touch(state.session, None if scope is None else [scope])


def _transaction_ended(session, transaction):
    if transaction.parent is None:  # the outermost: what comes next may see other commits
        session.info.pop(VERSIONS_READ, None)
        session.info.pop(BUMPED, None)  # bumped by the commit, or rolled back
    session.info.pop(PENDING, None)


def init_listeners():
    """Listen on every session (once per process)."""
    if sa.event.contains(so.Session, "before_flush", _before_flush):
        return
    sa.event.listen(so.Session, "before_flush", _before_flush)
    sa.event.listen(so.Session, "after_flush", _after_flush)
    sa.event.listen(so.Session, "do_orm_execute", _on_execute)
    sa.event.listen(so.Session, "before_commit", _before_commit)
    sa.event.listen(so.Session, "after_transaction_end", _transaction_ended)
