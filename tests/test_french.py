"""French that reads naturally: no lazy plural "(s)" on any page a user reaches.

Each role's pages are crawled from its home (links followed, pages only), and the text a
person reads is checked: plurals come from `ngettext`, never "foyer(s)".
"""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest

LAZY_PLURAL = re.compile(r"\w\((?:e?s|x)\)")
NOT_FOLLOWED = ("/deconnexion", "/static/", "/mes-donnees?format=", "/pilote/export/")


class Page(HTMLParser):
    """The text a person reads (not scripts, styles or attributes) and the links."""

    def __init__(self):
        super().__init__()
        self.text, self.links, self._skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "a":
            self.links += [value for name, value in attrs if name == "href" and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.text.append(data.strip())


def crawl(client, start, limit=80):
    """{url: the text of the page} of the pages reachable from `start`."""
    seen, queue = {}, [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        assert response.status_code < 500, url
        if response.status_code in (302, 303) and "Location" in response.headers:
            queue.append(urlsplit(response.headers["Location"]).path)
        if response.mimetype != "text/html" or response.status_code != 200:
            seen[url] = ""
            continue
        page = Page()
        page.feed(response.get_data(as_text=True))
        seen[url] = " ¶ ".join(page.text)
        for href in page.links:
            target = urlsplit(urljoin(url, href))
            if target.netloc or not target.path:
                continue
            path = target.path + (f"?{target.query}" if target.query else "")
            if not path.startswith(NOT_FOLLOWED):
                queue.append(path)
    return seen


@pytest.mark.parametrize(
    ("username", "home", "floor"),
    [
        ("foyer-est-01", "/collecte/", 12),
        ("foyer-est-05", "/collecte/", 12),
        ("animateur-est", "/groupe/", 12),
        ("referent-mjep", "/accompagnement/", 6),
        ("pilote", "/pilote/", 8),
    ],
)
def test_no_page_writes_a_lazy_plural(demo, client, auth, username, home, floor):
    assert auth.login(username).status_code == 303
    pages = crawl(client, home)
    assert len([text for text in pages.values() if text]) >= floor, sorted(pages)
    lazy = {url: LAZY_PLURAL.findall(text) for url, text in pages.items()}
    assert {url: found for url, found in lazy.items() if found} == {}


def test_the_lazy_plural_check_finds_one():
    page = Page()
    page.feed("<p>15 foyer(s) actif(s)</p><script>var a = 'x(s)';</script>")
    assert LAZY_PLURAL.findall(" ".join(page.text)) == ["r(s)", "f(s)"]
