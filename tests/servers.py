"""gunicorn serving the app in a subprocess, as a production install does (docs/DEPLOY.md).

Used by `tests/test_servers.py` (concurrency, faults, two servers) and `bench/latency.py`.
"""

import contextlib
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's `defi` and `gunicorn`
WORKERS = 2
# The last line of a traceback: "sqlite3.OperationalError: database is locked"
FAILURE = re.compile(r"^[\w.]+(Error|Exception): ")
# Flask's log line: "[date] ERROR in errors: The database does not answer (503): ..."
LOGGED = re.compile(r"\] ERROR in \w+: (.*)")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(database_url, **settings):
    """The environment of a production install (docs/DEPLOY.md), on the given database."""
    env = dict(
        os.environ,
        DEFI_ENV="production",
        SECRET_KEY="test-" + secrets.token_hex(16),
        DATABASE_URL=database_url,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_KEY_PREFIX="",
        DEFI_TRUSTED_PROXIES="0",
    )
    env.update(settings)
    return env


class Gunicorn:
    """The venv's gunicorn serving `wsgi:app`, as the systemd unit does; a context manager."""

    def __init__(self, database_url, log_path, workers=WORKERS, **settings):
        self.port = free_port()
        self.log_path = Path(log_path)
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = [str(BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py")]
        command += ["--workers", str(workers), "--graceful-timeout", "5"]
        command += ["--bind", f"127.0.0.1:{self.port}", "wsgi:app"]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=ROOT,
            env=server_env(database_url, **settings),
            stdout=self.log,
            stderr=self.log,
        )

    def wait_until_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                try:
                    connection.request("GET", "/healthz")
                    if connection.getresponse().status == 200:
                        return self
                finally:
                    connection.close()
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer /healthz within 60 s: {self.tail()}")

    def tail(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self):
        if self.process.poll() is None:
            # SIGINT: gunicorn's quick shutdown (SIGTERM waits for idle workers to notice).
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    __enter__ = wait_until_ready

    def __exit__(self, *exc):
        self.stop()

    def failures(self):
        """{message: count} of the exceptions and worker timeouts in gunicorn's log (read it
        once gunicorn has stopped, so that its workers have written everything)."""
        found = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            logged = LOGGED.search(line)
            if logged and not logged[1].startswith("Exception on "):  # its traceback ends below
                found[logged[1][:100]] += 1
            elif FAILURE.match(line) or "WORKER TIMEOUT" in line:
                found[line.split("] ")[-1][:100]] += 1
        return found
