"""Static files: versioned addresses, kept a year by browsers, sent compressed (issue 14)."""

import gzip
import hashlib
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "static"
LINKED = re.compile(r'(?:href|src)="/static/([^"?]+)\?v=([0-9a-f]+)"')


def digest(name):
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


@pytest.mark.parametrize("username", [None, "foyer-est-01", "pilote"])
def test_pages_link_each_static_file_at_the_digest_of_its_content(demo, client, auth, username):
    if username:
        auth.login(username)
    page = {None: "/connexion", "foyer-est-01": "/collecte/", "pilote": "/pilote/"}[username]
    html = client.get(page).get_data(as_text=True)
    linked = dict(LINKED.findall(html))
    assert set(linked) == {"pico-2.1.1.jade.min.css", "app.css", "htmx-2.0.11.min.js", "app.js"}
    for name, version in linked.items():
        assert version == digest(name), name


@pytest.mark.parametrize("username", [None, "foyer-est-01"])
def test_a_versioned_file_is_kept_a_year_and_sent_compressed(demo, client, auth, username):
    if username:
        auth.login(username)
    for name in ("app.css", "htmx-2.0.11.min.js"):
        response = client.get(
            f"/static/{name}?v={digest(name)}", headers={"Accept-Encoding": "gzip"}
        )
        assert response.status_code == 200
        control = response.headers["Cache-Control"]
        assert "public" in control and "max-age=31536000" in control
        assert "immutable" in control and "no-store" not in control
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.data) == (STATIC / name).read_bytes()
        assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("query", ["", "?v=0123456789ab", "?v=", "?v=../../config.py"])
def test_a_file_at_another_version_is_checked_again_by_the_browser(client, query):
    response = client.get(f"/static/app.css{query}", buffered=True)
    body = response.get_data()
    assert response.status_code == 200
    assert body == (STATIC / "app.css").read_bytes()
    control = response.headers["Cache-Control"]
    assert "no-cache" in control and "max-age=31536000" not in control
    again = client.get(
        f"/static/app.css{query}", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_a_missing_static_file_is_a_404_at_any_version(client):
    for url in ("/static/nulle-part.css?v=0123456789ab", "/static/../config.py"):
        response = client.get(url)
        response.close()
        assert response.status_code == 404
