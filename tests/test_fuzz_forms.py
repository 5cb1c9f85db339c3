"""Every form of the app, found by crawling it as each role, fed hostile input (QUALITY.md,
"Hostile input").

No list of forms is kept by hand: each role logs in (the demo users of `test_access.ACTORS`),
follows the same-site links from its home (GET only, a few URLs per page kind, files such as
exports fetched once), and reads every `<form method="post">` of the pages it reaches with the
standard library's HTML parser: its action, its inputs, textareas and selects, and the elements
inside it that post elsewhere through htmx (`hx-post`, with their `hx-vals` and `hx-params`).
A field is a number when it is `type="number"` or has `inputmode="decimal"` or `"numeric"`.
Then each form gets, in turn as a plain post and as the request htmx makes with it:

- every hostile string (`tests/hostile.py`, a few more, and Hypothesis's, derandomized) in all
  its text fields at once, the other fields keeping the form's own values;
- every hostile number in all its number fields at once, the same way;
- a quarter of the strings in its choice, date and time fields (with every other number when
  it has number fields), dates out of the défi's years in its date and time fields, and some
  strings in its hidden fields (the version of a row, a submission id).

Fields left empty by the page but marked `required` get a plain valid value (a word, 1, days
and hours to come), so that each field is also tried on a form that would otherwise pass.
Selects and radios take each of their options in turn. Pages found after a round of posts (the
questionnaire of a new défi) are crawled again and their new forms fuzzed.

What must hold:
- no response is a server error (the test app propagates exceptions: one counts as an error);
- no payload holding markup or quotes comes back unescaped: in the response to the post, the
  page its redirect leads to, and, after all posts, every page and htmx fragment crawled by the
  role and by the roles shown its data (a foyer's to its facilitator and the pilot...);
- a number that no field accepts (NaN, infinity, negative, huge, words), a text longer than
  the field's `maxlength` and a day out of the défi's years are refused, in French, beside the
  field (or, for an htmx-only action, with the French error page);
- afterwards the database holds nothing out of range: the relevé's bounds, every `String(n)`
  within n characters (SQLite does not check it), no control character (the forms strip them),
  integers as integers, dates within the défi's years, the calendar's rules.

Not posted: logout (it ends the session) and buttons without a field (delete, withdraw, new
code, new calendar address...): nothing typed reaches them. The password change and account
deletion forms are fuzzed: both need the current password, which no payload is, so neither
changes anything (the role logs in again at the end).
"""

import json
import math
import re
from collections import Counter
from collections import deque
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from datetime import datetime
from datetime import timedelta
from functools import cache
from html import escape
from html.parser import HTMLParser
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import current_app
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from defi.accounts import passwords
from defi.collecte.services import questions_for
from defi.errors import TITLES
from defi.extensions import db
from defi.formatting import today
from defi.forms import FIRST_DAY
from defi.forms import LAST_DAY
from defi.forms import strip
from defi.models import Answer
from defi.models import Entry
from defi.models import Event
from defi.models import Household
from defi.models import Wave
from defi.models import event_groups
from tests.conftest import DEMO_PASSWORD
from tests.conftest import demo_code
from tests.conftest import page_text
from tests.hostile import ENGLISH
from tests.hostile import FRENCH
from tests.hostile import HOSTILE_NUMBERS
from tests.hostile import HOSTILE_TEXT
from tests.hostile import MARKUP
from tests.hostile import NOT_NUMBERS
from tests.hostile import assert_nothing_out_of_range
from tests.hostile import hostile_text
from tests.hostile import numberish
from tests.test_access import ACTORS
from tests.test_access import relevé_with_rows

FRAGMENT = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}

# The roles of QUALITY.md that have forms, each played by a demo user of test_access.ACTORS.
ROLES = {
    "household": "household A",
    "accompanied household": "accompanied household",
    "facilitator": "facilitator of the group",
    "referent": "referent",
    "pilot": "pilot",
    "coordinator": "coordinator",
    "anonymous": "anonymous",
}
# Who else is shown what each role writes (the role's own pages are crawled again after its
# posts).
VIEWERS = {
    "household": ["facilitator", "pilot"],
    "accompanied household": ["referent", "facilitator", "pilot"],
    "facilitator": ["household", "pilot"],  # the accompanied foyer sees the same calendar
    "referent": ["facilitator", "pilot"],
    "pilot": ["facilitator", "household", "referent"],
    # A territory's name, which the coordinator writes, is shown to itself alone.
    "coordinator": [],
    "anonymous": [],
}
# The post forms (and buttons) each role's crawl must find, by endpoint: a check on the crawler,
# which finds the forms by itself. With UNREACHED, they are every POST route of the app
# (test_every_post_route_is_expected).
RELEVE = {
    "collecte.meals",
    "collecte.purchase_add",
    "collecte.purchase_update",
    "collecte.purchase_delete",
    "collecte.weighings",
    "collecte.weighing_delete",
    "collecte.recipes",
    "collecte.recipe_update",
    "collecte.recipe_delete",
    "collecte.producers",
    "collecte.producer_update",
    "collecte.producer_delete",
    "collecte.questionnaire",
    "collecte.submit",
}
SIGNED_IN = {"accounts.password", "accounts.logout"}
STAFF = SIGNED_IN | {"accounts.details"}  # a staff member's contact (issue 13)
EXPECTED = {
    "household": RELEVE | SIGNED_IN | {"accounts.delete_account", "calendar.feed"},
    "facilitator": STAFF
    | {
        "groups.household",
        "groups.invite",
        "groups.reset",
        "groups.status",
        "calendar.create",
        "calendar.update",
        "calendar.cancel",
        "calendar.attendance",
        "calendar.mark",
        "calendar.feed",
    },
    "referent": RELEVE | STAFF | {"referents.invite", "referents.reset"},
    "pilot": STAFF
    | {
        "pilot.invite_staff",
        "pilot.reset",
        "pilot.staff_status",
        "pilot.wave_update",
        "pilot.group_create",
        "pilot.next_challenge",
        "pilot.challenge_create",
        # Shown once there are two défis (the fuzz of the form above makes some).
        "pilot.challenge_choose",
        "pilot.import_entries",
        # Shown once a défi that has not started exists (made by the fuzz of the forms above).
        "pilot.question_edit",
        "pilot.question_delete",
    },
    "coordinator": STAFF | {"network.territory_create"},
    "anonymous": {"accounts.login", "accounts.redeem"},
}
EXPECTED["accompanied household"] = EXPECTED["household"]
# POST routes no crawl reaches from the demo, and why.
UNREACHED = {
    "calendar.feed_revoke": "shown once the user asked for a calendar address (a button)",
    "referents.revoke": "shown once a referent joined the structure after this one (a button)",
    "referents.cancel_invitation": "shown while the pilot's invitation waits (a button)",
    # Its fields are hidden and signed (tests/test_import_preview.py alters them).
    "pilot.confirm_import": "shown once a file is previewed: the crawl posts no file",
}

# Posting these would end the actor's session.
SESSION_ENDING = {"accounts.logout"}

MAX_PAGES = 120  # per crawl
PER_PAGE_KIND = 3  # URLs per endpoint and non-id arguments (3 foyers of a roster, not 20)
ROUNDS = 3  # crawls again after posts, for the forms they reveal
# The accompanied foyer and the referent post to the same relevé views as household A (under
# another URL for the referent): every other payload, still above QUALITY.md's floor.
SHARE = {"accompanied household": 2, "referent": 2}

# Numbers that no field of the app accepts: each must be refused beside its field.
HUGE_OR_NEGATIVE = ["1e308", "-1e308", "-99999999999", "-1", "-0,01", "9" * 30]
REFUSED_NUMBERS = NOT_NUMBERS | set(HUGE_OR_NEGATIVE) | {"99999999999999999999"}
EXTRA_NUMBERS = [*HUGE_OR_NEGATIVE, "1e3", "0.0", "-0", "3,50 €"]
# Dates and times that no date or time field accepts: outside the years a défi can use
# (defi.forms.FIRST_DAY to LAST_DAY), or no date at all. They get a pass of their own in the
# date and time fields, and go in the text fields too.
BAD_TIMES = ["0001-01-01", "9999-12-31", "1899-12-31", "2021-02-29", "24:00", "23:59:60"]
# Two long lines that differ only after 40 characters (the length of a question's key).
LONG_LINES = (
    "Une réponse assez longue pour remplir la clé\nUne réponse assez longue pour remplir la clé !"
)
EXTRA_TEXT = [*BAD_TIMES, LONG_LINES]
GENERATED = 10  # Hypothesis examples per list

# A markup payload as a page shows it once stored: escaped.
SHOWN_ESCAPED = escape("<script>alert(1)</script>").encode()

# What `defi.forms.strip` removes: no stored text may hold one.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def generated(strategy, count):
    """`count` values drawn by Hypothesis, the same on every run (derandomized)."""
    drawn = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(value):
        drawn.append(value)

    draw()
    return drawn


@cache
def text_payloads():
    return [*HOSTILE_TEXT, *EXTRA_TEXT, *generated(hostile_text, GENERATED)]


@cache
def number_payloads():
    return [*HOSTILE_NUMBERS, *EXTRA_NUMBERS, *generated(numberish, GENERATED)]


def hidden_payloads():
    return HOSTILE_TEXT[::5]


# Reading pages


@dataclass
class Field:
    """A named input of a form, with the values the page gives it."""

    name: str
    tag: str  # input type, "select" or "textarea"
    id: str | None = None
    values: list = dataclass_field(default_factory=list)  # typed, selected or ticked
    options: list = dataclass_field(default_factory=list)  # of a select, radios or boxes
    required: bool = False
    maxlength: int | None = None
    number: bool = False
    disabled: bool = False

    @property
    def kind(self):
        """What it gets: hostile "text", "number" or "choice" values, or "hidden" ones."""
        if self.tag == "hidden":
            return "hidden"
        if self.number:
            return "number"
        if self.tag in ("select", "radio", "checkbox", "date", "time", "datetime-local"):
            return "choice"
        return "text"


@dataclass
class Form:
    """A form of a page, or an element that posts elsewhere through htmx (`htmx_only`)."""

    page: str
    action: str
    endpoint: str
    fields: dict
    # The headers of the request htmx makes with it: a fragment for a form that posts itself
    # (hx-post), a boosted page for the others (hx-boost on <body>), none with hx-boost="false".
    htmx: dict | None = None
    htmx_only: bool = False
    # The fields whose value the action reads; None: all. An htmx element sends its whole form
    # but may read only the values it names (hx-params) or adds (hx-vals).
    read: frozenset | None = None
    read_only: bool = False  # every field but the hidden ones disabled (a closed collecte)

    @property
    def key(self):
        """What makes two forms the same to fuzz: the endpoint and the typed fields."""
        typed = sorted(f.name for f in self.fields.values() if f.kind != "hidden")
        return (self.endpoint, tuple(typed))

    def of_kind(self, kind):
        return [f for f in self.fields.values() if f.kind == kind]

    def mode(self, index):
        """The index-th request: plain and htmx in turn, two requests each."""
        if self.htmx_only:
            return "htmx"
        return "htmx" if self.htmx is not None and (index // 2) % 2 else "plain"


IGNORED_TYPES = {"submit", "button", "reset", "image", "file"}


class PageParser(HTMLParser):
    """The links and the post forms of a page (fields as the browser would send them)."""

    def __init__(self):
        super().__init__()
        self.links = []
        # (action, {name: Field}, [htmx posts: (url, hx-vals, hx-params)], htmx headers)
        self.forms = []
        self._form = None
        self._select = None
        self._option = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        # htmx's attributes are written `data-hx-*` (valid HTML); read them as `hx-*`.
        attrs = {name.removeprefix("data-") if name.startswith("data-hx-") else name: value
                 for name, value in attrs}  # fmt: skip
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "form":
            if (attrs.get("method") or "get").lower() == "post":
                if attrs.get("hx-post"):
                    htmx = FRAGMENT
                elif attrs.get("hx-boost") == "false":
                    htmx = None
                else:
                    htmx = BOOSTED
                self._form = (attrs.get("action") or "", {}, [], htmx)
            return
        if self._form is None:
            return
        action, fields, posts, _htmx = self._form
        if attrs.get("hx-post") and attrs["hx-post"] != action:
            posts.append((attrs["hx-post"], attrs.get("hx-vals"), attrs.get("hx-params")))
        if tag == "input":
            self._input(fields, attrs)
        elif tag == "select" and attrs.get("name"):
            self._select = self._add(fields, attrs, "select")
        elif tag == "option" and self._select is not None:
            self._option = [attrs.get("value"), "", "selected" in attrs]
        elif tag == "textarea" and attrs.get("name"):
            self._textarea = self._add(fields, attrs, "textarea")
            self._textarea.values = [""]

    def _add(self, fields, attrs, tag):
        field = fields.setdefault(attrs["name"], Field(attrs["name"], tag, attrs.get("id")))
        field.required |= "required" in attrs
        field.disabled |= "disabled" in attrs
        if attrs.get("maxlength"):
            field.maxlength = int(attrs["maxlength"])
        field.number |= tag == "number" or attrs.get("inputmode") in ("decimal", "numeric")
        return field

    def _input(self, fields, attrs):
        kind = (attrs.get("type") or "text").lower()
        if kind in IGNORED_TYPES or not attrs.get("name"):
            return
        field = self._add(fields, attrs, kind)
        value = attrs.get("value") or ""
        if kind in ("radio", "checkbox"):
            field.options.append(value or "on")
            if "checked" in attrs:
                field.values.append(value or "on")
        else:
            field.values = [value]

    def handle_data(self, data):
        if self._option is not None:
            self._option[1] += data
        elif self._textarea is not None:
            self._textarea.values[0] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            value, text, selected = self._option
            value = text.strip() if value is None else value
            self._select.options.append(value)
            if selected:
                self._select.values = [value]
            self._option = None
        elif tag == "select":
            if self._select is not None and not self._select.values and self._select.options:
                self._select.values = [self._select.options[0]]
            self._select = None
        elif tag == "textarea":
            if self._textarea is not None:
                # Browsers drop the newline that follows <textarea>.
                self._textarea.values[0] = self._textarea.values[0].removeprefix("\n")
            self._textarea = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


def endpoint_of(path, method="GET"):
    """(endpoint, view arguments) of a path of the app, or (None, {})."""
    adapter = current_app.url_map.bind("localhost")
    try:
        return adapter.match(path, method=method)
    except RequestRedirect as redirect:
        return endpoint_of(urlsplit(redirect.new_url).path, method)
    except HTTPException:
        return None, {}


def same_site_path(base, href):
    """The path (and query) of a link of this site, or None for another site or an anchor."""
    parts = urlsplit(urljoin(base, href))
    if parts.scheme not in ("http", "https", "") or parts.netloc not in ("localhost", ""):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def forms_of(url, html):
    """The forms of a page: its post forms and its htmx posts to other actions."""
    parser = PageParser()
    parser.feed(html)
    found = []
    for action, fields, posts, htmx in parser.forms:
        target = same_site_path(url, action or url)
        endpoint, _args = endpoint_of(urlsplit(target).path, "POST")
        if endpoint is None:
            continue
        shown = [f for f in fields.values() if f.kind != "hidden"]
        read_only = bool(shown) and all(f.disabled for f in shown)
        fields = {name: f for name, f in fields.items() if not f.disabled}
        found.append(Form(url, target, endpoint, fields, htmx, read_only=read_only))
        for post, vals, params in posts:
            target = same_site_path(url, post)
            endpoint, _args = endpoint_of(urlsplit(target).path, "POST")
            if endpoint is None:
                continue
            # htmx sends the enclosing form (or the fields hx-params names) and hx-vals.
            names = params.split(",") if params else list(fields)
            sent = {name: fields[name] for name in names if name in fields}
            added = json.loads(vals or "{}")
            for name, value in added.items():
                sent[name] = Field(name, "hidden", values=[str(value)])
            read = frozenset(names if params else added)
            found.append(Form(url, target, endpoint, sent, FRAGMENT, htmx_only=True, read=read))
    return parser.links, found


# Sending hostile input


@dataclass
class Probe:
    """A logged-in client that notes every broken rule instead of stopping at the first."""

    client: object
    problems: list = dataclass_field(default_factory=list)
    sent: set = dataclass_field(default_factory=set)  # every hostile string posted
    # How many payloads each field got: {(form key, field name, kind): count}.
    payloads: Counter = dataclass_field(default_factory=Counter)
    shown: int = 0  # pages showing a stored markup payload, escaped
    refused: int = 0  # refusals checked

    def fail(self, message):
        self.problems.append(message)

    def get(self, url, headers=None):
        mode = "htmx" if headers else "plain"
        try:
            response = self.client.get(url, headers=headers or {}, follow_redirects=True)
        except Exception as error:  # TESTING propagates the exception of a failed request
            self.fail(f"GET {url} [{mode}]: server error {type(error).__name__}: {error!s:.300}")
            return None
        if response.status_code >= 500:
            self.fail(f"GET {url} [{mode}]: status {response.status_code}")
        self.check_escaped(response, f"GET {url} [{mode}]", self.sent)
        self.shown += SHOWN_ESCAPED in response.data
        return response

    def post(self, form, data, mode, label, payloads):
        label = f"POST {form.action} [{mode}] {label}"
        headers = form.htmx if mode == "htmx" else {}
        try:
            response = self.client.post(form.action, data=data, headers=headers)
        except Exception as error:
            self.fail(f"{label}: server error {type(error).__name__}: {error!s:.300}")
            return None, label
        if response.status_code >= 500:
            self.fail(f"{label}: status {response.status_code}")
            return None, label
        self.check_escaped(response, label, payloads)
        return response, label

    def check_escaped(self, response, label, payloads):
        """No markup payload, nor any payload with markup or quotes, comes back unescaped."""
        if not is_html(response):
            return
        body = response.get_data(as_text=True)
        for payload in payloads:
            for needle in raw_forms(payload):
                if needle in body:
                    self.fail(f"{label}: raw {needle!r:.80} in the response")

    def refusal(self, response, field, label):
        """The value of `field` was refused, with a French message beside the field."""
        self.refused += 1
        if response.status_code in (301, 302, 303):
            self.fail(f"{label}: accepted ({response.status_code}), not refused")
            return
        text = page_text(response)
        if response.status_code >= 400:
            # A French error page (its title; a 413's sentence names the size limit).
            if not any(f"<h1>{title}</h1>" in text for title in TITLES.values()):
                self.fail(f"{label}: {response.status_code} without a French error page")
            return
        found = re.search(rf'id="{re.escape(field.id or "")}-error"[^>]*>(.*?)</small>', text, re.S)
        # A field whose error has no id (the attendance count) shows it right below.
        found = found or re.search(r'class="field-error"[^>]*>(.*?)</small>', text, re.S)
        message = found.group(1).strip() if found else ""
        if not message:
            self.fail(f"{label}: no message beside {field.name} (accepted?)")
        elif not is_french(message):
            self.fail(f"{label}: message not in French: {message!r}")

    def assert_clean(self, what):
        assert not self.problems, f"{what}: {len(self.problems)} problem(s):\n" + "\n".join(
            self.problems[:60]
        )


@cache
def _raw_forms(payload):
    needles = {needle for raw, needle in MARKUP.items() if raw in payload}
    for text in (payload, strip(payload)):
        # Escaping turns these into entities: the text cannot survive it verbatim. Short texts
        # could be a piece of the page's own markup.
        if len(text) >= 6 and re.search(r"[<>\"']", text):
            needles.add(text)
    return frozenset(needles)


def raw_forms(payload):
    """The strings that must never appear in a page when `payload` was sent."""
    return _raw_forms(payload) if isinstance(payload, str) else frozenset()


def is_french(message):
    """No WTForms English default, and French words or letters."""
    lowered = message.lower()
    french = any(marker.lower() in lowered for marker in FRENCH) or re.search(
        "[àâçéèêëîôùû]", lowered
    )
    return not ENGLISH.search(message) and bool(french)


class Filler:
    """The values a form sends when nothing hostile is in a field: the page's own values, and
    plain valid ones where a required field is empty."""

    def __init__(self, form):
        self.form = form
        self.made = {}
        # Days to come: a new défi made this way has not started, so its questionnaire can
        # still change (and the crawl finds the question form).
        day, hour = today() + timedelta(days=30), 10
        for field in form.fields.values():
            if field.values and any(field.values) or not field.required:
                continue
            if field.tag == "date":
                self.made[field.name] = day.isoformat()
                day += timedelta(days=1)  # successive dates: opening, then closing...
            elif field.tag == "time":
                self.made[field.name] = f"{hour:02d}:00"
                hour += 1
            elif field.number:
                self.made[field.name] = "1"
            elif field.tag == "email":
                self.made[field.name] = "essai@example.org"
            elif field.tag == "tel":
                self.made[field.name] = "03 21 00 00 00"
            elif field.tag != "password":  # never a made-up password
                self.made[field.name] = "Essai"

    def data(self, index):
        """Valid values; the index turns the selects and radios through their options."""
        data = {}
        for field in self.form.fields.values():
            if field.name in self.made:
                data[field.name] = self.made[field.name]
            elif field.tag in ("select", "radio") and field.options:
                start = field.options.index(field.values[0]) if field.values else 0
                data[field.name] = field.options[(start + index) % len(field.options)]
            else:
                data[field.name] = list(field.values)
        return data


def fuzz_form(probe, form, share=1):
    """The hostile strings and numbers in the fields of one form (every `share`-th of them)."""
    filler = Filler(form)
    texts, numbers, choices = form.of_kind("text"), form.of_kind("number"), form.of_kind("choice")
    hidden = [f for f in form.of_kind("hidden") if f.name != "csrf_token"]
    temporal = [f for f in choices if f.tag in ("date", "time")]
    strings = text_payloads()[::share]
    # A quarter of the strings for the choice, date and time fields: a request of their own, or
    # with every other number when the form has numbers.
    picks = strings[1::4]
    requests = [("text", payload, texts) for payload in strings if texts]
    requests += [("number", payload, numbers) for payload in number_payloads()[::share] if numbers]
    requests += [("choice", payload, choices) for payload in picks if choices and not numbers]
    requests += [("time", payload, temporal) for payload in BAD_TIMES if temporal]
    requests += [("hidden", payload, hidden) for payload in hidden_payloads() if hidden]
    spare = iter(picks if choices else [])
    for index, (kind, payload, targets) in enumerate(requests):
        data = filler.data(index)
        choice = next(spare, None) if kind == "number" and index % 2 else None
        sent = [(field, payload) for field in targets]
        sent += [(field, choice) for field in choices if choice is not None]
        for field, value in sent:
            data[field.name] = value
            probe.payloads[form.key, field.name, field.kind] += 1
            if field.kind != "number":
                probe.sent.add(value)
        mode = form.mode(index)
        what = "+".join(field.name for field, _value in sent)
        shown = payload if choice is None else f"{payload} / {choice}"
        response, label = probe.post(form, data, mode, f"{what}={shown!r:.80}", {payload, choice})
        if response is None:
            continue
        read = [field for field in targets if form.read is None or field.name in form.read]
        expect_refusals(probe, response, label, kind, payload, read)
        # The page a redirect leads to may show what was saved (a flash): worth a look when a
        # string that would show raw was sent.
        follow = bool(raw_forms(payload) or raw_forms(choice))
        refresh(probe, form, response, mode, hidden, follow)


def expect_refusals(probe, response, label, kind, payload, targets):
    """Numbers that no field takes, texts longer than the field and dates out of the défi's
    years are refused in French."""
    for field in targets:
        too_long = field.maxlength is not None and len(strip(payload)) > field.maxlength
        refused = {"number": payload in REFUSED_NUMBERS, "text": too_long, "time": True}
        if refused.get(kind):
            probe.refusal(response, field, label)


def refresh(probe, form, response, mode, hidden, follow):
    """Check the page a plain post's redirect leads to (with `follow`), and keep the form's
    hidden values (a row's version) current after a save."""
    fresh = None
    if response.status_code in (301, 302, 303):
        location = response.headers["Location"]
        back = urlsplit(location).path == urlsplit(form.page).path
        if (mode == "plain" and follow) or (hidden and back):
            page = probe.get(location)
            if hidden and back and page is not None and page.status_code == 200:
                fresh = same_form(form, form.page, page.get_data(as_text=True))
    if not hidden:
        return
    if fresh is None and response.status_code == 200 and is_html(response):
        fresh = same_form(form, form.page, response.get_data(as_text=True))
    if fresh is None:
        page = probe.get(form.page)
        if page is not None and page.status_code == 200:
            fresh = same_form(form, form.page, page.get_data(as_text=True))
    for field in hidden:
        if fresh is not None and field.name in fresh.fields:
            field.values = list(fresh.fields[field.name].values)


def is_html(response):
    return (response.content_type or "").startswith("text/html")


def same_form(form, url, html):
    _links, forms = forms_of(url, html)
    same = (f for f in forms if f.action == form.action and f.htmx_only == form.htmx_only)
    return next(same, None)


# Crawling


def page_kind(endpoint, args):
    """URLs of one kind: the same endpoint with the same arguments but for object ids."""
    kept = {k: v for k, v in args.items() if not k.endswith("_id") and k != "token"}
    return endpoint, tuple(sorted(kept.items()))


def crawl(probe, start, fragments=False):
    """The pages reachable from `start` by same-site links (GET), each checked; their forms."""
    queue, seen, kinds, forms = deque([start]), set(), Counter(), []
    downloads = set()
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        endpoint, args = endpoint_of(urlsplit(url).path)
        kind = page_kind(endpoint, args)
        if url in seen or endpoint in (None, "static") or endpoint in downloads:
            continue
        if kinds[kind] >= PER_PAGE_KIND:
            continue
        seen.add(url)
        kinds[kind] += 1
        response = probe.get(url)
        if response is None or response.status_code != 200:
            continue
        if not is_html(response):
            downloads.add(endpoint)  # a file (export, my data, calendar feed)
            continue
        if fragments:  # the page's htmx fragment (the whole page where there is none)
            probe.get(url, FRAGMENT)
        links, found = forms_of(url, response.get_data(as_text=True))
        forms += found
        for link in links:
            path = same_site_path(url, link)
            if path is not None and path not in seen:
                queue.append(path)
    return seen, forms


def log_in(client, role):
    """Log the role's demo user in: its home URL."""
    username = ACTORS[ROLES[role]]
    if username is None:
        return "/connexion"
    response = client.post("/connexion", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 303, f"{username} cannot log in"
    return response.headers["Location"]


def fuzz_role(probe, home, share=1):
    """Crawl, fuzz the forms not fuzzed yet, crawl again for new ones: what was fuzzed and what
    was left out, with the reason. The last crawl, after every post, also checks the pages'
    htmx fragments."""
    fuzzed, left = {}, {}
    for number in range(ROUNDS + 1):
        _pages, forms = crawl(probe, home, fragments=number > 0)
        new = [form for form in forms if form.key not in fuzzed and form.key not in left]
        for form in new:
            if form.key in fuzzed or form.key in left:
                continue  # the same form on another page or for another row
            if number == ROUNDS:
                left[form.key] = f"found after {ROUNDS} rounds"
            elif form.endpoint in SESSION_ENDING:
                left[form.key] = "ends the session"
            elif form.read_only:
                left[form.key] = "read-only (a closed collecte)"
            elif not set(form.fields) - {"csrf_token"}:
                left[form.key] = "a button: nothing typed"
            else:
                fuzz_form(probe, form, share)
                fuzzed[form.key] = form
        if not new:
            break
    return fuzzed, left


# The stored values


def assert_stored_values_in_range():
    """Nothing out of the forms' and the columns' bounds is stored."""
    assert_nothing_out_of_range()
    problems = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)).mappings():
            for column in table.columns:
                problem = column_problem(column, row[column.name])
                if problem:
                    problems.append(f"{table.name}.{column.name} (id {row.get('id')}): {problem}")
    assert problems == []
    # An event ends after it starts (the calendar form's rule).
    events = db.session.execute(sa.select(Event.starts_at, Event.ends_at)).all()
    for starts, ends in events:
        assert ends is None or ends > starts, (starts, ends)
    # An event's count of accompanied foyers: at most the group's accompanied foyers.
    counts = db.session.execute(
        sa.select(event_groups.c.group_id, event_groups.c.accompanied_present)
    ).all()
    for group_id, present in counts:
        accompanied = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Household)
            .where(Household.group_id == group_id, Household.accompaniment.has())
        )
        assert 0 <= present <= accompanied, (group_id, present, accompanied)


def column_problem(column, value):
    if value is None:
        return None
    if isinstance(column.type, sa.String):
        if not isinstance(value, str):
            return f"{value!r:.40} is not text"
        if column.type.length is not None and len(value) > column.type.length:
            return f"{len(value)} characters, more than {column.type.length}"
        if CONTROL.search(value):
            return f"control character in {value!r:.60}"
    elif isinstance(column.type, sa.Boolean):
        return None if isinstance(value, bool) else f"{value!r} is not a boolean"
    elif isinstance(column.type, sa.Integer):
        if not isinstance(value, int):
            return f"{value!r:.40} is not an integer"
    elif isinstance(column.type, sa.Float) and not math.isfinite(value):
        return f"{value!r} is not finite"
    elif isinstance(column.type, sa.Date | sa.DateTime):
        day = value.date() if isinstance(value, datetime) else value
        if not isinstance(day, date) or not FIRST_DAY <= day <= LAST_DAY:
            return f"{value!r:.40} is not a date from {FIRST_DAY} to {LAST_DAY}"
    return None


# The tests


@pytest.fixture
def app_config(app_config):
    # Throttling has its own tests (test_accounts.py); here it would answer 429 to the 11th
    # hostile password instead of checking it.
    return type("Config", (app_config,), {"RATELIMIT_ENABLED": False})


@pytest.fixture
def quick_hashes(monkeypatch):
    """argon2 at its lowest cost: its OWASP parameters have their test (test_accounts.py), and
    here they would spend seconds checking hostile passwords against the demo's."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "HASHER", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("not-a-real-password-but-as-long"))


@pytest.fixture
def releves(quick_hashes, demo):
    """The open relevé of household A and of the accompanied foyer, complete and with a row of
    each kind, so that the crawl finds the forms that edit a row and the one that sends it."""
    for code in (demo_code("EST-01"), demo_code("EST-05")):
        relevé_with_rows(code)
        entry = db.session.scalar(
            sa.select(Entry)
            .join(Entry.household)
            .join(Entry.wave)
            .where(Household.code == code, Wave.rank == 3)
        )
        entry.meal_covers = 56
        for question in questions_for(entry.wave):
            entry.answers.append(Answer(question_id=question.id, choice_id=question.choices[0].id))
    db.session.commit()


@pytest.mark.parametrize("role", list(ROLES))
def test_every_form_refuses_hostile_input(app, releves, client, role):
    probe = Probe(client)
    home = log_in(client, role)
    fuzzed, left = fuzz_role(probe, home, SHARE.get(role, 1))
    found = {endpoint for endpoint, _fields in [*fuzzed, *left]}
    probe.assert_clean(f"{role}, posting")
    assert EXPECTED[role] <= found, f"the crawl missed {sorted(EXPECTED[role] - found)}"
    assert not [key for key, reason in left.items() if reason.startswith("found after")]
    # QUALITY.md's floor: 40 hostile strings per text field, 20 numbers per number field.
    for (key, name, kind), count in probe.payloads.items():
        assert count >= {"text": 40, "number": 20}.get(kind, 1), (key, name, count)
    assert probe.refused, "no refusal was checked"

    # What was stored is shown escaped to the role and to those who see its data, in pages
    # and htmx fragments.
    shown = probe.shown
    for viewer in VIEWERS[role]:
        viewer_probe = Probe(app.test_client(), sent=probe.sent)
        pages, _forms = crawl(viewer_probe, log_in(viewer_probe.client, viewer), fragments=True)
        assert len(pages) >= 2, f"{viewer} reached {pages}"
        viewer_probe.assert_clean(f"{role}'s input seen by {viewer}")
        shown += viewer_probe.shown
    assert_stored_values_in_range()
    if role != "anonymous":
        assert shown, "no stored markup payload was shown (escaped) on any page"
        # The password change and account deletion forms changed nothing.
        assert log_in(app.test_client(), role) == home


def test_every_post_route_is_expected(app):
    """A new POST route must be added to EXPECTED (its role's crawl then has to find it) or to
    UNREACHED with the reason."""
    posts = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert set().union(*EXPECTED.values()) | set(UNREACHED) == posts
