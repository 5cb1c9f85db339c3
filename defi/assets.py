"""Static files at addresses that change with their content, kept by browsers for a year.

`url_for("static", filename="app.css")` writes `/static/app.css?v=<digest>`, the digest being
the first hex digits of the file's SHA-256: a new version of a file is a new address. Asked at
the address of its current content, a file is sent with `Cache-Control: public, max-age` of a
year and `immutable`, so that a foyer's phone asks for it again only when it changed; asked
without a version, or with another one (a page written before a deployment), it is sent with
`no-cache`, so that the browser checks it again (its ETag spares the bytes). gzip is
compression.py's: each file is compressed once and kept in memory.
"""

import hashlib
import os
from functools import lru_cache

from flask import request
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600
DIGITS = 12


@lru_cache(maxsize=128)
def _digest(path: str, mtime: float) -> str:
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()[:DIGITS]


def version_of(app, filename: str) -> str | None:
    """The version of a static file (the digest of its content), None when there is none."""
    path = safe_join(app.static_folder, filename)
    try:
        return _digest(path, os.path.getmtime(path)) if path else None
    except OSError:
        return None


def add_version(app, endpoint, values):
    if endpoint == "static" and "v" not in values:
        version = version_of(app, values.get("filename", ""))
        if version:
            values["v"] = version


def cache_headers(app, response):
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    if response.status_code == 304:
        # Werkzeug sends a 304 without its body and never closes the file send_file opened.
        response.close()
    version = request.args.get("v")
    if version and version == version_of(app, request.view_args["filename"]):
        response.cache_control.no_cache = None  # send_file's default
        response.cache_control.public = True
        response.cache_control.max_age = YEAR
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
        response.cache_control.max_age = None
    return response


def init_app(app):
    app.url_defaults(lambda endpoint, values: add_version(app, endpoint, values))
    app.after_request(lambda response: cache_headers(app, response))
