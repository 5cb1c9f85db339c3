"""Parts of pages kept for the values they show (`{% memo %}`, defi/fragments.py): a kept
block is the block rendered afresh, and the request's own CSRF token is always the one shown."""

import itertools
import re
import time

import pytest
import sqlalchemy as sa
from flask import g
from flask import render_template_string
from itsdangerous import TimestampSigner

from defi.extensions import db
from defi.formatting import today
from defi.fragments import TOKEN_PLACE
from defi.fragments import Blocks
from defi.groups.services import withdraw
from defi.models import Entry
from defi.models import Group
from defi.models import Household
from tests.conftest import demo_code
from tests.conftest import demo_wave

TOKEN = re.compile(r'(<input [^>]*name="csrf_token"[^>]*value=")[^"]+"')
DATA_CSRF = re.compile(r'data-csrf="[^"]+"')
FLASH = re.compile(r'<p class="flash [^"]*">[^<]*</p>')


def test_a_block_is_rendered_once_per_key(app):
    source = "{% memo name %}<p>{{ name }} {{ calls.append(1) or '' }}</p>{% endmemo %}"
    calls = []
    template = app.jinja_env.from_string(source)
    with app.test_request_context():
        first = template.render(name="Léa", calls=calls)
        again = template.render(name="Léa", calls=calls)
        other = template.render(name="<b>Tom</b>", calls=calls)
    assert first == again == "<p>Léa </p>"
    assert other == "<p>&lt;b&gt;Tom&lt;/b&gt; </p>"  # escaped once, when rendered
    assert len(calls) == 2
    assert app.jinja_env.memo_blocks.rendered == 2


def test_two_blocks_with_the_same_values_are_two_blocks(app):
    source = "{% memo 1 %}a{% endmemo %}{% memo 1 %}b{% endmemo %}"
    with app.test_request_context():
        assert render_template_string(source) == "ab"


def test_each_request_gets_its_own_csrf_token(app):
    """The token is Flask-WTF's of the request (`g.csrf_token`), different in each."""
    source = '{% memo 1 %}<input name="csrf_token" value="{{ g.csrf_token }}">{% endmemo %}'
    template = app.jinja_env.from_string(source)
    for token in ("token-of-the-first-request", "token-of-the-second"):
        with app.test_request_context():
            g.csrf_token = token
            page = template.render()
            assert page == f'<input name="csrf_token" value="{token}">'
    assert app.jinja_env.memo_blocks.rendered == 1
    assert TOKEN_PLACE in app.jinja_env.memo_blocks.kept.popitem()[1]


def test_the_least_recently_used_block_goes_first():
    blocks = Blocks(size=2)
    blocks.put("a", "A")
    blocks.put("b", "B")
    assert blocks.get("a") == "A"  # now the most recent
    blocks.put("c", "C")
    assert (blocks.get("a"), blocks.get("b"), blocks.get("c")) == ("A", None, "C")


def _roster(client, group_id):
    """The roster's HTML, its CSRF tokens blanked (they differ from one request to another)
    and without the flash message of the last action (shown once)."""
    response = client.get(f"/groupe/{group_id}")
    assert response.status_code == 200
    html = DATA_CSRF.sub('data-csrf=""', response.get_data(as_text=True))
    html = TOKEN.sub(r'\1"', html)
    return re.sub(r"\s+", " ", FLASH.sub("", html))


@pytest.fixture
def est(demo, auth):
    assert auth.login("animateur-est").status_code == 303
    return db.session.scalar(sa.select(Group).where(Group.code_prefix == "EST"))


def test_the_roster_read_back_is_the_roster_rendered_afresh(app, est, client, monkeypatch):
    """After each change a facilitator or a foyer makes, the roster made of kept cards is the
    roster rendered with no card kept: no value a card shows is missing from its key."""
    blocks = app.jinja_env.memo_blocks
    # Each token signed a second after the last, as when two renders straddle a second.
    clock = itertools.count(int(time.time()))
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda signer: next(clock))

    def fresh():
        blocks.kept.clear()
        return _roster(client, est.id)

    def household(code):
        return db.session.scalar(sa.select(Household).where(Household.code == demo_code(code)))

    target = household("EST-03")
    accompanied = household("EST-05")
    wave = demo_wave(3)
    changes = [
        lambda: setattr(target, "display_name", "Famille Renommée"),
        lambda: setattr(target, "code", "EST-ZZZZ"),
        lambda: setattr(target, "adults", target.adults + 1),
        lambda: setattr(target, "commune", "Beuvry"),
        lambda: setattr(target, "phone", "06 99 88 77 66"),
        lambda: setattr(target, "email", "nouvelle@example.org"),
        lambda: db.session.add(Entry(household=target, wave=wave, status="submitted")),
        lambda: db.session.add(Entry(household=accompanied, wave=wave, status="draft")),
        lambda: client.post(f"/groupe/{est.id}/foyers/{target.id}/statut"),
        lambda: withdraw(accompanied, today()),
        lambda: client.post(f"/groupe/{est.id}/foyers/{target.id}/code", data={"valid_days": 7}),
    ]
    _roster(client, est.id)
    for change in changes:
        change()
        db.session.commit()
        before = blocks.rendered
        kept = _roster(client, est.id)
        assert blocks.rendered - before <= 2  # only the changed cards rendered again
        assert kept == fresh()
        assert blocks.rendered - before > 0
    assert "Famille Renommée" in kept and "Beuvry" in kept and "EST-ZZZZ" in kept


def test_a_roster_seen_again_renders_no_card(app, est, client):
    _roster(client, est.id)
    before = app.jinja_env.memo_blocks.rendered
    _roster(client, est.id)
    assert app.jinja_env.memo_blocks.rendered == before


def test_nothing_is_kept_where_templates_are_read_again(app):
    """In development (templates read again when they change) a kept block would outlive an
    edit of its template or of its macros: every block is rendered each time."""
    app.jinja_env.auto_reload = True
    template = app.jinja_env.from_string("{% memo 1 %}{{ calls.append(1) or 'x' }}{% endmemo %}")
    calls = []
    with app.test_request_context():
        assert template.render(calls=calls) + template.render(calls=calls) == "xx"
    assert len(calls) == 2
    assert not app.jinja_env.memo_blocks.kept
