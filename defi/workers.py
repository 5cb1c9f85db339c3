"""What a worker process does with a request before running it: read its body, then wait for
one of the few slots in which requests run.

gunicorn's threaded workers (gunicorn.conf.py) give each connection a thread. A request runs
only once its whole body is here: a client sending it slowly then holds a thread, never one of
the slots, nor the database's write lock, which a request may take at its first query (on
SQLite every writer waits for it, and gives up after 5 s). A body over its route's limit is
not read here: the app refuses it unread (`security.limit_body`).

Then at most MAX_CONCURRENT_REQUESTS requests run at once in a process: it runs one Python
thread at a time, and SQLite lets one writer at a time, so more would only queue for the
interpreter and for the write lock, where a deadline cuts them; here none does.
"""

import contextlib
import tempfile
import threading

from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

# A body larger than this waits on disk rather than in memory (an import's file).
IN_MEMORY = 1024 * 1024
CHUNK = 64 * 1024


class RequestGate:
    """WSGI middleware: read the body, then run the request in one of `limit` slots."""

    def __init__(self, app, limit: int):
        self.app = app
        self.wsgi_app = app.wsgi_app
        self.slots = threading.BoundedSemaphore(limit) if limit else contextlib.nullcontext()

    def __call__(self, environ, start_response):
        with contextlib.closing(read_body(self.app, environ)), self.slots:
            return self.wsgi_app(environ, start_response)


def read_body(app, environ):
    """Read the declared body into a buffer that becomes the request's input; the buffer."""
    from defi.security import route_body_limit

    buffer = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 - closed by caller
    declared = environ.get("CONTENT_LENGTH") or ""
    if not declared.isdigit() or int(declared) > route_body_limit(app, endpoint_of(app, environ)):
        return buffer  # no body, or one the app refuses without reading it
    stream, left = environ["wsgi.input"], int(declared)
    while left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            break  # the client stopped short: the app sees a body shorter than declared
        buffer.write(chunk)
        left -= len(chunk)
    buffer.seek(0)
    environ["wsgi.input"] = buffer
    return buffer


def endpoint_of(app, environ):
    try:
        endpoint, _args = app.url_map.bind_to_environ(environ).match()
    except (HTTPException, RequestRedirect):
        return None
    return endpoint


def init_app(app):
    app.wsgi_app = RequestGate(app, app.config.get("MAX_CONCURRENT_REQUESTS", 0))
