"""French that reads naturally: no lazy plural "(s)" on any page a user reaches, and no line
that can start with a punctuation mark.

Each role's pages are crawled from its home (links followed, pages only), and the text a
person reads is checked: plurals come from `ngettext`, never "foyer(s)"; before : ; ! ? and »,
after «, and between a number and its unit, the space is a non-breaking one (the `nbsp`
filter of `defi.formatting`), so that the browser never breaks the line there.
"""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from defi.formatting import nbsp

LAZY_PLURAL = re.compile(r"\w\((?:e?s|x)\)")
# A space where a line may break, before a mark that must not start a line, or inside a
# number with its unit ("19,1 %", "3 jours").
BREAKABLE = re.compile(r"\S*[ \t\r\n]+[:;!?»]\S*|«[ \t\r\n]+\S*|\d[ \t\r\n]+(?:%|€|kg\b)")
NOT_FOLLOWED = ("/deconnexion", "/static/", "/mes-donnees?format=", "/pilote/export/")


class Page(HTMLParser):
    """The text a person reads (not scripts, styles or attributes) and the links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.raw, self.links, self._skip = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "textarea"):
            self._skip += 1
        if tag == "a":
            self.links += [value for name, value in attrs if name == "href" and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style", "textarea"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.raw.append(data)
            if data.strip():
                self.text.append(data.strip())


RAW = {}  # the text of each page crawled, as it flows (the browser breaks lines in it)


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
        RAW[url] = "".join(page.raw)
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
    breakable = {url: BREAKABLE.findall(RAW.get(url, "")) for url in pages}
    assert {url: found for url, found in breakable.items() if found} == {}


def test_the_lazy_plural_check_finds_one():
    page = Page()
    page.feed("<p>15 foyer(s) actif(s)</p><script>var a = 'x(s)';</script>")
    assert LAZY_PLURAL.findall(" ".join(page.text)) == ["r(s)", "f(s)"]


def test_the_line_break_check_finds_a_breakable_space():
    page = Page()
    page.feed("<p>Il reste :<b> 3 jours</b> et 19,1 %</p><textarea>a : b</textarea>")
    assert BREAKABLE.findall("".join(page.raw)) == ["reste :", "1 %"]
    page = Page()
    page.feed("<p>Il reste\u00a0: 3\u00a0jours et 19,1\u00a0%</p>")
    assert BREAKABLE.findall("".join(page.raw)) == []


# The nbsp filter typesets every page in one go (issue 14); it must give what typesetting each
# text between the tags alone gives: the definition below, as the filter was first written.
_TAG = re.compile(r"(<(textarea|script|style|pre)\b.*?</\2\s*>|<!--.*?-->|<[^>]*>)", re.S | re.I)
_RULES = (
    (re.compile(r"[ \t\r\n]+(?=[:;!?»])"), "\u00a0"),
    (re.compile(r"«[ \t\r\n]+"), "«\u00a0"),
    (re.compile(r"(?<=\d)[ \t]+(?=[%€A-Za-zÀ-ÖØ-öø-ÿ])"), "\u00a0"),
)


def nbsp_by_definition(html):
    parts = _TAG.split(html)
    out = []
    for index, part in enumerate(parts):
        if index % 3 == 0:
            for rule, replacement in _RULES:
                part = rule.sub(replacement, part)
            out.append(part)
        elif index % 3 == 1:
            out.append(part)
    return "".join(out)


PIECES = st.sampled_from(
    [" ", "  ", "\n    ", "\t", ":", ";", "!", "?", "»", "«", "«  ", "3", "19,1", "%", "€",
     "kg", "jours", "é", "a", "\u00a0", "<p>", "</p>", "<b>", '<a href="x : y">', "<br>",
     "<textarea>", "</textarea>", "<TEXTAREA>a : b</TEXTAREA>", "<script>", "</script>",
     "<!--", "-->", "<!-- 3 kg : -->", "<pre>", "</pre>", '<input value="2 kg">', "<", ">",
     "--", "\x00"]
)  # fmt: skip


@given(st.lists(PIECES, max_size=40).map("".join))
def test_the_page_typesetting_is_each_text_typeset_alone(html):
    assert str(nbsp(html)) == nbsp_by_definition(html)


def test_the_page_typesetting_keeps_values_and_tags():
    html = '<p>Il reste : 3 jours</p><input value="2 kg : a"><textarea>5 kg !</textarea>'
    assert str(nbsp(html)) == (
        '<p>Il reste\u00a0: 3\u00a0jours</p><input value="2 kg : a"><textarea>5 kg !</textarea>'
    )


def test_constant_texts_written_out_render_as_gettext_renders_them(app):
    """formatting.ConstantMessages writes `_("text")` out when a template is compiled: the
    page is the one Jinja's newstyle gettext renders without it, markup kept as markup and
    `%%` as `%`, including where it must not fold (markup joined to constants, an attribute's
    `_`)."""
    from jinja2 import Environment

    from defi.formatting import _template_ngettext
    from defi.formatting import gettext

    plain = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    plain.install_gettext_callables(gettext, _template_ngettext, newstyle=True)
    source = (
        '{{ _("Foyers du groupe") }}|{{ _("100 %%") }}|{{ _("a %(n)s", n=3) }}|'
        '{{ _("x") if flag else _("y") }}|{{ _("l\'été") ~ value }}|{{ _("a <b>") ~ "c" }}|'
        '{{ obj._("k") }}|{{ _("« Bien » !")|upper }}|<a title="{{ _("Dites \\"oui\\"") }}">'
    )
    values = {"flag": False, "value": "<i>", "obj": {"_": lambda text: text.upper()}}
    with app.test_request_context():
        page = app.jinja_env.from_string(source).render(values)
        expected = plain.from_string(source).render(values)
    assert page == expected
    assert page.startswith("Foyers du groupe|100 %|a 3|y|l'été&lt;i&gt;|a <b>c|K|")
