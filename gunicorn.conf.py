"""gunicorn's settings, read by `make run`, the server tests, the benchmarks and the systemd
unit of docs/DEPLOY.md (`gunicorn -c gunicorn.conf.py wsgi:app`).

Threaded workers (gthread): a sync worker serves one connection at a time, so four clients
sending their headers a byte at a time left /healthz unanswered for about a minute on `make
run`'s two workers. A gthread worker reads each connection in a thread of its pool: a slow
client holds one of its threads (sixteen clients trickling their requests filled the eight of
each worker), and a connection that stays silent goes back to the worker's poller after a few
seconds. Threads waiting for bytes cost no CPU, and no database connection: a request runs
only once read, in one of MAX_CONCURRENT_REQUESTS slots (defi/workers.py). In production,
nginx reads whole requests before passing them on (docs/DEPLOY.md), so slow clients never
reach gunicorn.
"""

import os

worker_class = "gthread"
workers = int(os.environ.get("DEFI_WORKERS", "2"))
# Connections a worker serves at once: a client that sends its request slowly holds one of
# these threads until its request is complete. The requests themselves run at most
# MAX_CONCURRENT_REQUESTS at once per worker (defi/workers.py): more would only queue for the
# interpreter and for SQLite's write lock.
threads = int(os.environ.get("DEFI_THREADS", "16"))
# A worker whose main loop stays silent this long is restarted. In a threaded worker a slow
# request does not silence it: slow queries are cut by the database (PostgreSQL's
# statement_timeout, SQLite's busy_timeout, defi/database.py).
timeout = 60
graceful_timeout = 10
# How long an idle browser connection is kept for its next request.
keepalive = 5
