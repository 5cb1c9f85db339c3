"""Gzip for text responses: gunicorn sends bytes as they are (NOTES.md, measured).

Pages are compressed per response; static files once, then kept in memory by path and
modification time (they are the bulk of a foyer's page: htmx and Pico).
"""

import gzip
import os
from functools import lru_cache

from flask import request
from werkzeug.security import safe_join

COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/javascript",
                "application/json", "text/csv", "text/calendar", "image/svg+xml"}  # fmt: skip
MIN_SIZE = 500


@lru_cache(maxsize=64)
def _compressed_file(path: str, mtime: float) -> bytes:
    with open(path, "rb") as file:
        return gzip.compress(file.read(), compresslevel=9, mtime=0)


def compress(app, response):
    """Gzip the response when the browser accepts it and it is worth it."""
    if (
        "gzip" not in request.headers.get("Accept-Encoding", "")
        or response.mimetype not in COMPRESSIBLE
        or response.status_code < 200
        or response.status_code in (204, 206, 304)
        or "Content-Encoding" in response.headers
    ):
        return response
    response.vary.add("Accept-Encoding")
    if response.direct_passthrough:
        # A static file: compress it once.
        path = _static_path(app)
        if path is None:
            return response
        data = _compressed_file(path, os.path.getmtime(path))
        response.close()  # the file send_file opened
        response.direct_passthrough = False
        response.set_data(data)
    else:
        if response.is_streamed or response.content_length is None:
            return response
        if response.content_length < MIN_SIZE:
            return response
        response.set_data(gzip.compress(response.get_data(), compresslevel=6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    return response


def _static_path(app):
    if request.endpoint != "static":
        return None
    return safe_join(app.static_folder, request.view_args["filename"])


def init_app(app):
    app.after_request(lambda response: compress(app, response))
