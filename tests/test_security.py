"""Headers, error pages, health check and French formats on every kind of response."""

from datetime import date
from html.parser import HTMLParser
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
from flask import abort

from defi.formatting import day
from defi.formatting import euros
from defi.formatting import money
from defi.formatting import percent
from defi.security import CONTENT_SECURITY_POLICY
from tests.conftest import page_text


def test_csp_and_security_headers_on_pages_errors_and_static(demo, client, auth):
    auth.login("foyer-est-01")
    for url in ("/collecte/", "/pilote/", "/nulle-part", "/static/app.css", "/healthz"):
        response = client.get(url)
        response.close()
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "HX-Request" in response.headers["Vary"]
        # Pages are personal; a static file is everyone's, checked again when unversioned
        # (tests/test_assets.py: kept a year at its version).
        expected = "no-cache" if url.startswith("/static/") else "no-store"
        assert response.headers["Cache-Control"] == expected, url
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_anonymous_pages_are_not_marked_no_store(client):
    response = client.get("/connexion")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"


def test_hsts_in_production_only(app, client):
    assert "Strict-Transport-Security" not in client.get("/connexion").headers
    app.config["HSTS"] = True
    assert client.get("/connexion").headers["Strict-Transport-Security"].startswith("max-age=")


def test_pages_have_no_inline_script_style_or_handler(demo, client, auth):
    import re

    auth.login("pilote")
    html = client.get("/pilote/").get_data(as_text=True)
    assert not re.search(r"<script>|<script [^>]*>[^<]|<style| style=\"| on[a-z]+=\"", html)


def test_htmx_and_pico_are_vendored_with_their_version(client):
    html = client.get("/connexion").get_data(as_text=True)
    assert "/static/htmx-2.0.11.min.js" in html
    assert "/static/pico-2.1.1.jade.min.css" in html
    assert "http" not in html.split("<body")[0].replace("http-equiv", "")
    for path in ("/static/htmx-2.0.11.min.js", "/static/pico-2.1.1.jade.min.css"):
        response = client.get(path)
        response.close()
        assert response.status_code == 200


def test_htmx_config_is_locked_down(client):
    html = page_text(client.get("/connexion"))
    for setting in (
        '"allowEval": false',
        '"includeIndicatorStyles": false',
        '"historyCacheSize": 0',
        '"timeout": 15000',
        '"code": "422", "swap": true',
    ):
        assert setting in html


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (403, "Accès refusé"),
        (404, "Page introuvable"),
        (429, "Trop de tentatives"),
        (500, "Erreur"),
    ],
)
def test_french_error_pages(app, client, status, title):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def fail():
        if status == 500:
            raise RuntimeError("boom")
        abort(status)

    app.add_url_rule("/boom", "boom", fail)
    from defi.access import EVERYONE
    from defi.access import POLICY

    POLICY["boom"] = EVERYONE
    try:
        response = client.get("/boom")
    finally:
        del POLICY["boom"]
    assert response.status_code == status
    html = page_text(response)
    assert f"<h1>{title}</h1>" in html
    assert '<html lang="fr">' in html
    assert "boom" not in html


def test_htmx_error_is_a_fragment(client):
    response = client.get("/nulle-part", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert "<html" not in response.get_data(as_text=True)
    assert "Page introuvable" in page_text(response)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_without_database_is_503(client, monkeypatch):
    import sqlalchemy as sa

    from defi.extensions import db

    def unreachable(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "database unavailable"}


def test_french_formats(app):
    with app.test_request_context():
        assert money(350).replace("\u202f", " ").replace("\xa0", " ") == "3,50 €"
        assert money(123456).replace("\u202f", " ").replace("\xa0", " ") == "1 234,56 €"
        assert euros(2.41).replace("\xa0", " ") == "2,41 €"
        assert day(date(2021, 9, 12)) == "12 sept. 2021"
        assert percent(0.425).replace("\xa0", " ").replace("\u202f", " ") == "42,5 %"
        assert money(None) == ""


def test_logout_is_visible_on_every_signed_in_page(demo, client, auth):
    for username, home in (("foyer-est-01", "/collecte/"), ("pilote", "/pilote/")):
        auth.login(username)
        html = page_text(client.get(home))
        assert "Se déconnecter" in html
        auth.logout()


class Links(HTMLParser):
    """Every same-page reference a crawler can follow: links, htmx GETs, assets, GET forms."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src", "data-hx-get"):
            if attrs.get(name):
                self.urls.append(attrs[name])
        if tag == "form" and (attrs.get("method") or "get").lower() == "get":
            self.urls.append(attrs.get("action") or "")
        if tag == "script" and not attrs.get("src"):
            self.inline.append("<script> without src")
        if tag == "style" or "style" in attrs:
            self.inline.append(f"<{tag} style>")
        self.inline += [f"<{tag} {name}>" for name in attrs if name.startswith("on")]


# A GET changes nothing, but the logout's address is left out all the same.
NOT_FOLLOWED = ("/deconnexion",)


def crawl_headers(client, start, signed_in, limit=150):
    """Visit every page reachable from `start`, as a page and as an htmx fragment; return the
    URLs visited and the defects of their headers and markup."""
    seen, queue, problems = set(), [start, "/healthz", "/nulle-part", "/static/nulle-part.css"], []
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            body = response.get_data()
            response.close()
            expected = {
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "strict-origin-when-cross-origin",
            }
            if signed_in and not (url.startswith("/static/") and response.status_code == 200):
                expected["Cache-Control"] = "no-store"
            elif url.startswith("/static/") and response.status_code == 200:
                # A static file is everyone's: kept a year at the version a page links to.
                expected["Cache-Control"] = "public, max-age=31536000, immutable"
            for name, value in expected.items():
                if response.headers.get(name) != value:
                    problems.append((url, headers, name, response.headers.get(name)))
            if "HX-Request" not in response.headers.get("Vary", ""):
                problems.append((url, headers, "Vary", response.headers.get("Vary")))
            if response.status_code >= 500:
                problems.append((url, headers, "status", response.status_code))
            if response.mimetype != "text/html" or headers:
                continue
            links = Links()
            links.feed(body.decode())
            problems += [(url, "inline", what) for what in links.inline]
            for href in links.urls:
                target = urlsplit(urljoin(url, href))
                if target.netloc or target.scheme not in ("", "http") or not target.path:
                    continue
                path = target.path + (f"?{target.query}" if target.query else "")
                if not path.startswith(NOT_FOLLOWED):
                    queue.append(path)
    return seen, problems


@pytest.mark.parametrize(
    ("username", "home", "floor"),
    [
        (None, "/connexion", 3),
        ("foyer-est-01", "/collecte/", 15),
        ("foyer-est-05", "/collecte/", 15),
        ("animateur-est", "/groupe/", 15),
        ("referent-mjep", "/accompagnement/", 10),
        ("pilote", "/pilote/", 15),
    ],
)
def test_every_response_of_a_crawl_carries_the_security_headers(
    demo, client, auth, username, home, floor
):
    if username:
        auth.login(username)
    visited, problems = crawl_headers(client, home, signed_in=username is not None)
    assert not problems
    assert len(visited) >= floor, sorted(visited)
    assert any(url.startswith("/static/app.css?v=") for url in visited)
    if username and username.startswith("foyer"):
        assert "/mes-donnees?format=csv" in visited  # a download
