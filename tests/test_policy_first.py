"""The access policy decides first, on every path (QUALITY.md, security).

1. **A refused user never reaches a view.** Every rule of `url_map` is sent with every method it
   takes, as a page and as an htmx fragment, by every actor that the policy (or the owner of the
   rule's sample objects, `test_access.owners_of`) refuses there: anonymous, each wrong role of
   `test_access.ACTORS`, a staff session idle past its timeout, and a staff member deactivated
   while its browser still holds the session cookie. Each unsafe request goes with a valid, a
   wrong and a missing CSRF token. No answer is ≥ 500 or 2xx, a refusal is a redirect to the
   login page or a 403/404, and nothing is rendered but an error page: the templates are
   observed through Flask's `template_rendered` signal, which `htmx.render` sends for fragments
   too. The CSRF check once ran before the policy and its handler called the view itself: an
   anonymous visitor got the pilot's home with `-d csrf_token=x`.
2. **An admitted user with a failed token loses nothing and is told.** Every form found by
   crawling the app as each role (the crawler of `test_fuzz_forms`) is posted with a wrong and
   with no token, as a page and as htmx sends it: the answer says in French that nothing was
   saved and what to do, shows every typed value again, and no row of the database changed.
"""

import re
import time
from collections import Counter
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import template_rendered
from werkzeug.routing import Rule

from defi.access import POLICY
from defi.extensions import db
from defi.models import User
from tests.conftest import DEMO_PASSWORD
from tests.conftest import demo_code
from tests.conftest import page_text
from tests.conftest import territory_id
from tests.test_access import ACTORS
from tests.test_access import ROLE_OF_ACTOR
from tests.test_access import database_fingerprint
from tests.test_access import owners_of
from tests.test_access import relevé_with_rows
from tests.test_access import sample_args
from tests.test_access import url_of
from tests.test_fuzz_forms import ROLES
from tests.test_fuzz_forms import Filler
from tests.test_fuzz_forms import Probe
from tests.test_fuzz_forms import crawl
from tests.test_fuzz_forms import log_in

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
HTMX = {"HX-Request": "true"}
ERROR_TEMPLATES = {"errors/page.html", "errors/fragment.html"}
# What a user is told when a form came without a valid token (`_forms.html`, `errors.py`).
NOTHING_SAVED = "Rien n'a été enregistré"

# Staff who are no longer let in: (username, how). A timed-out session is sent as it was, its
# last request 31 minutes ago; a deactivated account keeps the cookie of a session opened before.
GONE = {
    "timed-out pilot": ("pilote", "timed out"),
    "timed-out facilitator": ("animateur-est", "timed out"),
    "timed-out referent": ("referent-mjep", "timed out"),
    "deactivated facilitator": ("animateur-est", "deactivated"),
    "deactivated referent": ("referent-mjep", "deactivated"),
    "deactivated pilot": ("pilote", "deactivated"),
}


@pytest.fixture
def app_config(app_config):
    # The sweep logs in and posts thousands of times: the throttles have their own tests.
    return type("Config", (app_config,), {"RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": True})


@contextmanager
def rendered(app):
    """The names of the templates rendered while the block runs."""
    names = []

    def record(_sender, template, **_extra):
        names.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


class Visitor:
    """One actor's browser: its session cookie and the CSRF token of its pages."""

    def __init__(self, app, actor):
        self.actor = actor
        self.client = app.test_client()
        self.saved_session = None
        username, how = ACTORS.get(actor), None
        if actor in GONE:
            username, how = GONE[actor]
        if username is not None:
            response = self.client.post(
                "/connexion",
                data={"username": username, "password": DEMO_PASSWORD, "csrf_token": self.token()},
            )
            assert response.status_code == 303, (actor, response.status_code)
        self.valid_token = self.token()
        if how == "timed out":
            with self.client.session_transaction() as session:
                self.saved_session = dict(session)
        elif how == "deactivated":
            # Deactivated in the database, without the pilot's page: the cookie stays as it
            # was, as on a browser that a staff member who left still has.
            db.session.execute(
                sa.update(User).where(User.username == username).values(active=False)
            )
            db.session.commit()

    def token(self):
        page = self.client.get("/mot-de-passe" if self.logged_in() else "/connexion")
        return TOKEN.search(page.get_data(as_text=True)).group(1)

    def logged_in(self):
        with self.client.session_transaction() as session:
            return "_user_id" in session

    @property
    def role(self):
        return "anonymous" if self.actor in GONE else ROLE_OF_ACTOR[self.actor]

    def send(self, url, method, headers, token):
        """One request, with the session as it was when the actor was last let in."""
        if self.saved_session is not None:
            with self.client.session_transaction() as session:
                session.clear()
                session.update(self.saved_session)
                session["seen_at"] = int(time.time()) - 31 * 60
        data = None
        if method == "POST":
            data = {"csrf_token": {"valid": self.valid_token, "wrong": "x"}.get(token)}
            data = {key: value for key, value in data.items() if value is not None}
        response = self.client.open(url, method=method, headers=headers, data=data)
        response.close()  # static files are streamed
        return response


def is_refused(visitor, rule: Rule):
    allowed = visitor.role in POLICY[rule.endpoint]
    owners = owners_of(rule)
    if owners is not None and visitor.actor not in GONE:
        allowed = allowed and visitor.actor in owners
    return not allowed


def requests_of(rule):
    """(method, headers, token) of every request a rule is sent."""
    for method in sorted(rule.methods - {"OPTIONS"}):
        for headers in ({}, HTMX):
            if method == "POST":
                for token in ("valid", "wrong", "missing"):
                    yield method, headers, token
            else:
                yield method, headers, None


@pytest.mark.parametrize("actor", [*ACTORS, *GONE])
def test_a_refused_user_never_reaches_a_view(app, demo, actor):
    entries = {code: relevé_with_rows(code) for code in (demo_code("EST-01"), demo_code("EST-05"))}
    visitor = Visitor(app, actor)
    sent, refusals, problems = Counter(), Counter(), []
    for rule in app.url_map.iter_rules():
        if not is_refused(visitor, rule):
            continue
        url = url_of(rule, sample_args(rule, entries))
        for method, headers, token in requests_of(rule):
            with rendered(app) as templates:
                response = visitor.send(url, method, headers, token)
            sent[method, token] += 1
            seen = f"{actor}: {method} {url} {headers or ''} token={token}"
            status = response.status_code
            refusals[status] += 1
            if status >= 500 or 200 <= status < 300:
                problems.append(f"{seen}: {status}")
            elif status in (301, 302, 303) and "/connexion" not in response.headers["Location"]:
                problems.append(f"{seen}: redirected to {response.headers['Location']}")
            elif status not in (302, 303, 403, 404) and not (status == 400 and token != "valid"):
                # 400: a failed token on a button, refused before its view looks for the object
                problems.append(f"{seen}: {status}, not a refusal")
            if set(templates) - ERROR_TEMPLATES:
                problems.append(f"{seen}: rendered {templates}")
            if visitor.role == "anonymous" and status not in (302, 303):
                problems.append(f"{seen}: {status}, not sent to the login page")
    assert not problems, f"{len(problems)} leaks:\n" + "\n".join(problems[:40])
    # Every actor is refused somewhere, with every token, as page and fragment.
    assert sum(sent.values()) >= 60, sent
    assert {token for _method, token in sent if token} == {"valid", "wrong", "missing"}
    print(f"\n{actor}: {sum(sent.values())} refused requests, statuses {dict(refusals)}")


def test_a_timed_out_pilot_posting_a_form_sees_no_pilot_page(app, demo):
    # The request that once rendered "Connecté·e en tant que pilote" to a session idle 31 min.
    visitor = Visitor(app, "timed-out pilot")
    for path in ("/pilote/equipe/inviter", "/pilote/defis", "/pilote/import", "/pilote/groupes"):
        for token in ("valid", "wrong", "missing"):
            response = visitor.send(path, "POST", {}, token)
            assert response.status_code == 302, (path, token)
            assert response.headers["Location"] == "/connexion"
            assert b"pilote" not in response.data


def test_an_anonymous_post_with_a_forged_token_gets_the_login_page(app, demo, client):
    for path in ("/pilote/equipe/inviter", "/groupe/1/inviter", "/collecte/3/repas"):
        response = client.post(path, data={"csrf_token": "x"})
        assert response.status_code == 302
        assert response.headers["Location"] == "/connexion"
    login = client.get("/connexion")
    assert login.status_code == 200
    assert "Connecté·e en tant que" not in page_text(login)


# 2. Admitted users whose token failed


def typed_values(form):
    """Values that show on a page only if they were typed: {field name: value}."""
    typed = {}
    for index, field in enumerate(form.fields.values()):
        if field.kind == "text" and field.tag not in ("password", "email", "tel"):
            typed[field.name] = f"saisie-{index}-gardée"
        elif field.tag == "email":
            typed[field.name] = f"saisie{index}@exemple.fr"
        elif field.tag == "tel":
            typed[field.name] = f"06 00 00 00 {index:02d}"
        elif field.kind == "number":
            typed[field.name] = f"{4300 + index}"
        elif field.tag == "date":
            typed[field.name] = f"2031-05-{10 + index:02d}"
    return typed


def rerenders(app, endpoint):
    view = app.view_functions[endpoint]
    return getattr(view, "rerender_on_csrf_error", False)


@pytest.fixture
def with_rows(demo):
    for code in (demo_code("EST-01"), demo_code("EST-05")):
        relevé_with_rows(code)


@pytest.mark.parametrize("role", list(ROLES))
def test_an_admitted_user_with_a_failed_token_keeps_the_typing(app, with_rows, client, role):
    home = log_in_with_token(client, role)
    probe = Probe(client)
    _pages, forms = crawl(probe, home)
    probe.assert_clean(f"{role}, crawling")
    before = database_fingerprint()
    problems, tried = [], Counter()
    done = set()
    for form in forms:
        if form.key in done or form.read_only:
            continue
        done.add(form.key)
        filler = Filler(form)
        typed = typed_values(form)
        modes = [("plain", {})] + ([("htmx", form.htmx)] if form.htmx else [])
        for token in ("wrong", "missing"):
            for mode, headers in modes:
                data = {**filler.data(0), **typed}
                data.pop("csrf_token", None)
                if token == "wrong":
                    data["csrf_token"] = "x"
                response = client.post(form.action, data=data, headers=headers)
                tried[form.endpoint] += 1
                seen = f"{role}: POST {form.action} [{mode}] token={token}"
                text = page_text(response)
                if NOTHING_SAVED not in text:
                    problems.append(f"{seen}: {response.status_code} without the French message")
                if rerenders(app, form.endpoint):
                    if response.status_code != 200:
                        problems.append(f"{seen}: {response.status_code}, not the form again")
                    lost = [name for name, value in typed.items() if value not in text]
                    if lost:
                        problems.append(f"{seen}: typed values lost: {lost}")
                elif response.status_code != 400:
                    problems.append(f"{seen}: {response.status_code}, not 400")
    db.session.expire_all()
    assert database_fingerprint() == before, f"{role}: a post without a valid token wrote"
    assert not problems, "\n".join(problems[:40])
    assert len(tried) >= {"anonymous": 2, "pilot": 8, "facilitator": 8, "coordinator": 4}.get(
        role, 5
    ), tried
    print(f"\n{role}: {sum(tried.values())} posts with a failed token to {len(tried)} routes")


def log_in_with_token(client, role):
    """`test_fuzz_forms.log_in`, with the CSRF token the login form needs here."""
    if ACTORS[ROLES[role]] is None:
        return log_in(client, role)
    token = TOKEN.search(client.get("/connexion").get_data(as_text=True)).group(1)
    response = client.post(
        "/connexion",
        data={"username": ACTORS[ROLES[role]], "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303
    return response.headers["Location"]


# 3. The database's guard behind it


@pytest.fixture
def writer_routes(app, monkeypatch):
    """Two views that write whatever the request: what a careless new view could do."""
    from defi.access import EVERYONE
    from defi.access import rerender_on_csrf_error
    from defi.models import Structure

    def write():
        db.session.add(Structure(name="Écrite par erreur", territory_id=territory_id()))
        db.session.commit()
        return "written"

    app.add_url_rule("/ecrit", "writes_on_post", rerender_on_csrf_error(write), methods=["POST"])
    app.add_url_rule("/ecrit-en-lisant", "writes_on_get", write)
    monkeypatch.setitem(POLICY, "writes_on_post", EVERYONE)
    monkeypatch.setitem(POLICY, "writes_on_get", EVERYONE)
    return Structure


def test_a_view_that_writes_despite_a_failed_token_is_stopped(app, client, writer_routes):
    for data in ({"csrf_token": "x"}, {}):
        response = client.post("/ecrit", data=data)
        assert response.status_code == 400
        assert NOTHING_SAVED in page_text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(writer_routes)) == 0
    # With a valid token the same view writes: the guard stops failed tokens only.
    token = TOKEN.search(client.get("/connexion").get_data(as_text=True)).group(1)
    assert client.post("/ecrit", data={"csrf_token": token}).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(writer_routes)) == 1


def test_a_get_that_writes_is_a_bug_and_writes_nothing(app, client, writer_routes):
    from defi.database import WriteInReadOnlyRequest

    for method in ("GET", "HEAD"):
        with pytest.raises(WriteInReadOnlyRequest):
            client.open("/ecrit-en-lisant", method=method)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(writer_routes)) == 0


def test_a_request_that_writes_after_its_commit_is_a_bug(app, client, monkeypatch):
    # On SQLite what follows a commit runs deferred (the page after a save holds no lock),
    # where a second write could fail at once: each request commits once (STYLE.md).
    from defi.access import EVERYONE
    from defi.database import WriteInReadOnlyRequest
    from defi.models import Structure

    def twice():
        db.session.add(Structure(name="Première", territory_id=territory_id()))
        db.session.commit()
        db.session.add(Structure(name="Seconde", territory_id=territory_id()))
        db.session.commit()
        return "written"

    app.add_url_rule("/deux-fois", "writes_twice", twice, methods=["POST"])
    monkeypatch.setitem(POLICY, "writes_twice", EVERYONE)
    token = TOKEN.search(client.get("/connexion").get_data(as_text=True)).group(1)
    with pytest.raises(WriteInReadOnlyRequest):
        client.post("/deux-fois", data={"csrf_token": token})
    names = db.session.scalars(sa.select(Structure.name)).all()
    assert names == ["Première"]
