"""How many requests a worker process runs at once.

gunicorn's threaded workers (gunicorn.conf.py) give each connection a thread, so that a few
clients sending their request slowly cannot hold every thread. But a process runs one Python
thread at a time, and SQLite lets one writer at a time: more requests at once only queue
behind each other for the interpreter and for the write lock, and a write that waited 5 s for
the lock gives up (503). So each worker runs at most MAX_CONCURRENT_REQUESTS requests at once;
the others wait for a slot here, where no deadline cuts them.
"""

import threading


class ConcurrencyLimit:
    """WSGI middleware: at most `limit` requests inside the app at once, in this process."""

    def __init__(self, wsgi_app, limit: int):
        self.wsgi_app = wsgi_app
        self.slots = threading.BoundedSemaphore(limit)

    def __call__(self, environ, start_response):
        with self.slots:
            return self.wsgi_app(environ, start_response)


def init_app(app):
    limit = app.config.get("MAX_CONCURRENT_REQUESTS")
    if limit:
        app.wsgi_app = ConcurrencyLimit(app.wsgi_app, limit)
