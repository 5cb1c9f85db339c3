"""Throttling counts that every worker of a server shares, and that a restart keeps.

Flask-Limiter's `memory://` storage counts in each process: `make run`'s two gunicorn workers
let 20 failed logins through instead of 10, and a restart forgot them all. Several servers share
their counts through Redis (`RATELIMIT_STORAGE_URI=redis://...`, docs/DEPLOY.md). Without it,
the counts live in a SQLite file of their own, `instance/ratelimit.sqlite` (`sqlite:///<path>`):
never in the app's database, where a count written while a request holds the write lock would
wait for that lock.

The storage implements the `limits` interface (fixed and moving windows). Each operation opens
its own connection: a few tens of microseconds, safe across gunicorn's forks and threads.
"""

import contextlib
import sqlite3
import time
from pathlib import Path

from limits.storage import MovingWindowSupport
from limits.storage import Storage

SCHEMA = """
CREATE TABLE IF NOT EXISTS hit (key TEXT NOT NULL, at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hit_key_at ON hit (key, at);
CREATE INDEX IF NOT EXISTS hit_expires_at ON hit (expires_at);
CREATE TABLE IF NOT EXISTS counter (
    key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires_at REAL NOT NULL
);
"""


class SQLiteStorage(Storage, MovingWindowSupport):
    """`limits` storage in a SQLite file: `sqlite:////absolute/path/ratelimit.sqlite`."""

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        self.path = uri.removeprefix("sqlite:///")
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(self.path, timeout=5)) as connection:
            # WAL lets the workers read the counts while one of them writes.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(SCHEMA)

    @property
    def base_exceptions(self):
        return sqlite3.Error

    def _connect(self):
        connection = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        # Counts are not worth a flush to disk at every hit: WAL keeps them whole after a crash
        # of the app, and only the last ones may go with a crash of the machine.
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    @contextlib.contextmanager
    def _write(self):
        """A transaction that holds the file's write lock from its start (no lost update)."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            connection.close()

    def _read(self, sql, parameters):
        with contextlib.closing(self._connect()) as connection:
            return connection.execute(sql, parameters).fetchone()

    # The moving window (RATELIMIT_STRATEGY = "moving-window"): one row per hit.

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Count `amount` hits unless the last `expiry` seconds already hold `limit`."""
        if amount > limit:
            return False
        now = time.time()
        with self._write() as connection:
            connection.execute("DELETE FROM hit WHERE expires_at <= ?", (now,))
            (count,) = connection.execute(
                "SELECT COUNT(*) FROM hit WHERE key = ? AND at > ?", (key, now - expiry)
            ).fetchone()
            if count + amount > limit:
                return False
            connection.executemany(
                "INSERT INTO hit (key, at, expires_at) VALUES (?, ?, ?)",
                [(key, now, now + expiry)] * amount,
            )
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(the oldest hit of the window, the number of hits in it)."""
        now = time.time()
        oldest, count = self._read(
            "SELECT MIN(at), COUNT(*) FROM hit WHERE key = ? AND at > ?", (key, now - expiry)
        )
        return (oldest, count) if count else (now, 0)

    # The fixed window: a counter that expires.

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._write() as connection:
            connection.execute("DELETE FROM counter WHERE key = ? AND expires_at <= ?", (key, now))
            connection.execute(
                "INSERT INTO counter (key, value, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
                (key, amount, now + expiry),
            )
            (value,) = connection.execute(
                "SELECT value FROM counter WHERE key = ?", (key,)
            ).fetchone()
        return value

    def get(self, key: str) -> int:
        row = self._read(
            "SELECT value FROM counter WHERE key = ? AND expires_at > ?", (key, time.time())
        )
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._read("SELECT expires_at FROM counter WHERE key = ?", (key,))
        return row[0] if row else time.time()

    def check(self) -> bool:
        try:
            self._read("SELECT 1", ())
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        with self._write() as connection:
            removed = connection.execute("DELETE FROM hit").rowcount
            removed += connection.execute("DELETE FROM counter").rowcount
        return removed

    def clear(self, key: str) -> None:
        with self._write() as connection:
            connection.execute("DELETE FROM hit WHERE key = ?", (key,))
            connection.execute("DELETE FROM counter WHERE key = ?", (key,))


def init_app(app):
    """Without a storage set, count in `instance/ratelimit.sqlite` (before `limiter.init_app`)."""
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        path = Path(app.instance_path) / "ratelimit.sqlite"
        app.config["RATELIMIT_STORAGE_URI"] = f"sqlite:///{path}"
