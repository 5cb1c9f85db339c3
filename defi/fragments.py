"""Parts of pages rendered once for the values they show: `{% memo ... %}` in templates.

A roster prints one card per foyer; each card is some fifteen macro calls and five URLs, and
renders the same HTML as long as the foyer's values are the same. A memo block is rendered the
first time for its key, then read back:

    {% memo "roster-card", loop.index, household.id, household.display_name, ... %}
      ... the card ...
    {% endmemo %}

The key must hold every value the block reads (what it shows, and what its links and ids are
made of): the block is a function of its key, and a value left out of it would show stale. The
template's name, the block's line and its rank on the line are part of the key, so two
blocks never share one.

One value a block may read without naming it: the request's CSRF token (`csrf(form)` in a
form of the block). It changes with each request, so a block is kept with a placeholder in its
place, and each request's token is written there when the block is read back.

Each app (each Jinja environment) keeps its own blocks, the `MAX_BLOCKS` last used: a card is
2 to 4 kB with its key, 20 to 40 MB at most in each worker. A block is kept in the worker's
memory only, never written anywhere, and a foyer's card stops being read once its values
change or the foyer is erased (its key no longer comes up), until it is dropped as the least
recently used. Where templates are read again when they change (`TEMPLATES_AUTO_RELOAD`, Flask's
debug mode), nothing is kept.
"""

import itertools
import threading
import uuid
from collections import OrderedDict

from flask import g
from flask import has_request_context
from flask_wtf.csrf import generate_csrf
from jinja2 import nodes
from jinja2.ext import Extension
from markupsafe import Markup

MAX_BLOCKS = 10_000
# Where the CSRF token stood in a kept block (a string no page holds).
TOKEN_PLACE = f"csrf-{uuid.uuid4().hex}"


class Blocks:
    """A bounded store of rendered blocks, the least recently used dropped first."""

    def __init__(self, size=MAX_BLOCKS):
        self.size = size
        self.kept = OrderedDict()
        self.lock = threading.Lock()  # gunicorn's gthread workers, the test server's threads
        self.rendered = 0  # how many times a block was rendered (tests count them)

    def get(self, key):
        with self.lock:
            html = self.kept.get(key)
            if html is not None:
                self.kept.move_to_end(key)
            return html

    def put(self, key, html):
        with self.lock:
            self.rendered += 1
            self.kept[key] = html
            self.kept.move_to_end(key)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)


def _request_token():
    """The CSRF token this request has written in a page so far, or None."""
    return g.get("csrf_token") if has_request_context() else None


class Memo(Extension):
    """The `{% memo key, ... %}` ... `{% endmemo %}` tag (see the module's docstring)."""

    tags = {"memo"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.extend(memo_blocks=Blocks())
        self.unnamed = itertools.count()

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        # The block's own first value, so that the same values in two blocks are two keys: its
        # template, line and rank on the line (a template from a string: a number of its own).
        rank = parser.__dict__.setdefault("memo_blocks", {})
        rank[lineno] = rank.get(lineno, -1) + 1
        site = (parser.name, lineno, rank[lineno]) if parser.name else next(self.unnamed)
        values = [nodes.Const(site)]
        values.append(parser.parse_expression())
        while parser.stream.skip_if("comma"):
            values.append(parser.parse_expression())
        body = parser.parse_statements(("name:endmemo",), drop_needle=True)
        key = nodes.Tuple(values, "load")
        return nodes.CallBlock(self.call_method("_block", [key]), [], [], body).set_lineno(lineno)

    def _block(self, key, caller):
        if self.environment.auto_reload:
            # Templates read again when they change (development): a kept block would outlive
            # an edit of its template or of the macros it calls.
            return caller()
        blocks = self.environment.memo_blocks
        html = blocks.get(key)
        if html is None:
            html = str(caller())
            token = _request_token()
            if token:
                html = html.replace(token, TOKEN_PLACE)
            blocks.put(key, html)
        if TOKEN_PLACE in html:
            html = html.replace(TOKEN_PLACE, _request_token() or generate_csrf())
        return Markup(html)  # noqa: S704 — the block's own output, escaped when rendered
