"""Hostile input on every form of a foyer's relevé (QUALITY.md, "Hostile input").

Each text field of the relevé gets a fixed list of hostile strings (markup, template and SQL
syntax, spreadsheet formula triggers, control, bidi and zero-width characters, emoji, 10,000
characters) and each number field a fixed list of hostile numbers (NaN, infinity, exponents,
negative, huge, hexadecimal, Arabic digits, malformed decimals, blanks), as a plain form post
and as an htmx request. The lists are in `tests/hostile.py`, shared with `test_fuzz_forms.py`.
The choice, date and hidden fields, the questionnaire and the recipe book's search get the
hostile strings too, each once, in either mode in turn.
`test_hypothesis_every_field` then sends generated text and numbers to every field (Hypothesis
marks it: `pytest -m hypothesis` runs it alone, `-m "not hypothesis"` leaves it out).

What must hold:
- no server error: every answer is below 500 (the test app propagates exceptions, so an
  exception raised by a request counts as a server error too);
- no raw payload: a markup payload never appears unescaped in a page or fragment;
- a refused value is refused beside its field, in French, and is stored nowhere: afterwards
  every purchase, weighing and relevé in the database is within the forms' bounds;
- a text value is either stored as typed (surrounding blanks trimmed) or refused;
- `3,50` and `3.50` both mean 3.5 (350 cents).

Each list is sent inside one test per form with the same logged-in client, and the broken rules
are gathered and reported together, so that one run lists every defect with its request.
"""

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import current_app
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from defi.extensions import db
from defi.forms import strip
from defi.models import Answer
from defi.models import Choice
from defi.models import Entry
from defi.models import Household
from defi.models import Producer
from defi.models import Purchase
from defi.models import Question
from defi.models import Recipe
from defi.models import Wave
from defi.models import Weighing
from defi.models.challenge import current_challenge
from tests.conftest import demo_code
from tests.conftest import page_text
from tests.conftest import territory_id
from tests.hostile import ALL_MARKUP
from tests.hostile import ENGLISH
from tests.hostile import FRENCH
from tests.hostile import HOSTILE_NUMBERS
from tests.hostile import HOSTILE_TEXT
from tests.hostile import MARKUP
from tests.hostile import NOT_NUMBERS
from tests.hostile import assert_nothing_out_of_range
from tests.hostile import hostile_text
from tests.hostile import numberish

HTMX = {"HX-Request": "true"}
MODES = {"plain": {}, "htmx": HTMX}
RANK = 3  # the open wave of the demo défi
BASE = f"/collecte/{RANK}"


@dataclass
class Probe:
    """Sends requests as the logged-in foyer and notes every broken rule."""

    client: object
    problems: list = dataclass_field(default_factory=list)

    def send(self, method, url, data=None, mode="plain", what="", payload=""):
        """The response, or None after a server error (noted)."""
        label = f"{method} {url} [{mode}] {what}={payload!r:.80}"
        try:
            if method == "GET":
                response = self.client.get(url, query_string=data, headers=MODES[mode])
            else:
                response = self.client.post(url, data=data, headers=MODES[mode])
        except Exception as error:  # TESTING propagates the exception of a failed request
            self.problems.append(f"{label}: server error {type(error).__name__}: {error!s:.300}")
            return None
        if response.status_code >= 500:
            self.problems.append(f"{label}: status {response.status_code}")
            return None
        self.check_escaped(response, label, payload)
        return response

    def check_escaped(self, response, label, payload):
        for needle in MARKUP.values():
            if needle in payload and needle.encode() in response.data:
                self.problems.append(f"{label}: raw markup {needle!r} in the response")

    def refusal(self, response, name, label):
        """The French message shown beside the field `name`, or a noted problem."""
        found = re.search(
            rf'id="[^"]*\b{name}-error"[^>]*>(.*?)</small>', page_text(response), re.DOTALL
        )
        if found is None or not found.group(1).strip():
            self.problems.append(f"{label}: refused without a message beside {name}")
            return None
        message = found.group(1).strip()
        if ENGLISH.search(message) or not any(marker in message for marker in FRENCH):
            self.problems.append(f"{label}: message not in French: {message!r}")
        return message

    def fail(self, message):
        self.problems.append(message)

    def assert_clean(self):
        assert not self.problems, f"{len(self.problems)} problem(s):\n" + "\n".join(
            self.problems[:60]
        )


def entry_id():
    """The foyer's relevé of the open wave (None before its first write)."""
    return db.session.scalar(
        sa.select(Entry.id)
        .join(Household, Household.id == Entry.household_id)
        .join(Wave, Wave.id == Entry.wave_id)
        .where(Household.code == demo_code("EST-01"), Wave.rank == RANK)
    )


def reader(model, *where):
    """Reads columns of one row in one query: {column: value}, or {} when there is no row."""

    def read(columns):
        select = sa.select(*(getattr(model, column) for column in columns))
        row = db.session.execute(select.where(*where).order_by(model.id).limit(1)).first()
        return dict(zip(columns, row, strict=True)) if row else {}

    return read


def newest_row_reader(model):
    """Reads the row that the next request adds ({} when it adds none)."""
    last = db.session.scalar(sa.select(sa.func.max(model.id))) or 0
    return reader(model, model.id > last)


@pytest.fixture
def foyer(demo, auth):
    assert auth.login("foyer-est-01").status_code == 303


@pytest.fixture
def probe(foyer, client):
    return Probe(client)


def start_row(client, kind):
    """A new recipe or producer of the relevé (valid values): the URL of its page."""
    model, values = TEXT_FORMS[kind][0], TEXT_FORMS[kind][1]
    response = client.post(f"{BASE}/{kind}", data=values)
    assert response.status_code == 303
    newest = db.session.scalar(sa.select(sa.func.max(model.id)))
    return f"{BASE}/{kind}/{newest}"


def row_id(url):
    return int(url.rstrip("/").rsplit("/", 1)[1])


def alternate_modes(payloads):
    """Each payload once, as a plain form and through htmx in turn (fields where the mode
    changes nothing but the template block rendered; it keeps the suite fast on PostgreSQL)."""
    return [(payload, list(MODES)[index % 2]) for index, payload in enumerate(payloads)]


# Text fields: recipes and producers

TEXT_FORMS = {
    # list: (model, valid values, {text field: (maximum length, required)}, its choice field)
    "recettes": (
        Recipe,
        {"title": "Soupe de fanes", "purpose": "restes", "ingredients": "fanes", "steps": "Cuire"},
        {"title": (200, True), "ingredients": (5000, False), "steps": (10000, False)},
        "purpose",
    ),
    "producteurs": (
        Producer,
        {
            "name": "Ferme des Saules",
            "products": "œufs, lait",
            "kind": "ferme",
            "commune": "Béthune",
            "address": "1 rue des Saules",
            "contact": "03 21 00 00 00",
        },
        {
            "name": (200, True),
            "products": (500, False),
            "commune": (120, False),
            "address": (300, False),
            "contact": (200, False),
        },
        "kind",
    ),
}


def check_text_row(probe, url, kind, values, mode):
    """Post `values` into a recipe or a producer: each text is stored as typed, or refused
    beside its field in French with the stored value kept; a hostile choice is refused."""
    model, valid, limits, _choice = TEXT_FORMS[kind]
    read = reader(model, model.id == row_id(url))
    before = read(list(values))
    payload = "\n".join(values.values())
    data = {**valid, **values}
    response = probe.send("POST", url, data, mode, "+".join(values), payload)
    if response is None:
        return
    after = read(list(values))
    if len(urlencode(data).encode()) > current_app.config["MAX_CONTENT_LENGTH"]:
        # Thousands of characters in every field at once: more than any form takes. The whole
        # post is refused (a French 413), and nothing of it is stored.
        label = f"POST {url} [{mode}] {'+'.join(values)}={payload!r:.60}"
        if response.status_code != 413 or "Envoi trop gros" not in page_text(response):
            probe.fail(f"{label}: {response.status_code}, not the French 413 of a too large post")
        if after != before:
            probe.fail(f"{label}: refused, yet a value was replaced")
        return
    for name, raw in values.items():
        label = f"POST {url} [{mode}] {name}={raw!r:.60}"
        # The app keeps the text without surrounding spaces and control characters.
        typed = strip(raw)
        maximum, required = limits.get(name, (0, True))  # no text fits a choice field
        if len(typed) <= maximum and (typed or not required):
            if after[name] != typed:
                probe.fail(f"{label}: stored {after[name]!r:.60} instead of what was typed")
        else:
            if after[name] != before[name]:
                probe.fail(f"{label}: refused, yet {before[name]!r:.40} was replaced")
            probe.refusal(response, name, label)


@pytest.mark.parametrize("kind", list(TEXT_FORMS))
def test_text_fields_keep_hostile_strings_as_typed_or_refuse_them(probe, client, kind):
    _model, _valid, limits, choice = TEXT_FORMS[kind]
    url = start_row(client, kind)
    for index, payload in enumerate(HOSTILE_TEXT):
        values = dict.fromkeys(limits, payload)
        if index % 2:  # every other request also sends it as the choice (then refused)
            values[choice] = payload
        for mode in MODES:
            check_text_row(probe, url, kind, values, mode)
            if mode == "plain" and payload in MARKUP:
                # Saved (or kept as typed in the form): shown again on its page and the list.
                probe.send("GET", url, what="page", payload=payload)
                probe.send("GET", f"{BASE}/{kind}", what="list", payload=payload)
    # The relevé's history keeps 200 characters of each change: shown on the envoi page.
    for page in (f"{BASE}/envoi", "/collecte/recettes", "/collecte/producteurs", "/collecte/"):
        probe.send("GET", page, what="(every payload)", payload=ALL_MARKUP)
    probe.assert_clean()
    assert_nothing_out_of_range()


def test_stored_markup_is_escaped_wherever_it_is_shown(probe, client):
    """A recipe and a producer per markup payload, then every page and fragment showing them;
    and the recipe book searched with hostile queries."""
    for raw in MARKUP:
        for kind, (_model, valid, limits, _choice) in TEXT_FORMS.items():
            values = {name: raw[:maximum] for name, (maximum, _required) in limits.items()}
            probe.send("POST", start_row(client, kind), {**valid, **values}, payload=raw)
    # The directory is in French order, punctuation set aside: the payloads are among the A's
    # and S's ("alert", "script"), found by a search.
    pages = ["/collecte/recettes", "/collecte/producteurs?q=alert", f"{BASE}/recettes"]
    pages += [f"{BASE}/producteurs", f"{BASE}/envoi", "/collecte/"]
    shown = b"&lt;script&gt;alert(1)&lt;/script&gt;"
    for page in pages:
        for mode in MODES:
            response = probe.send("GET", page, mode=mode, what="page", payload=ALL_MARKUP)
            # Not a vacuous check: the payloads are on the page, escaped.
            if response is not None and page != "/collecte/" and shown not in response.data:
                probe.fail(f"GET {page} [{mode}]: the stored payloads are not shown")
    # The search: markup payloads find the recipes above, the rest must not break it.
    for payload, mode in alternate_modes(HOSTILE_TEXT):
        probe.send("GET", "/collecte/recettes", {"q": payload}, mode, "q", payload)
    probe.assert_clean()


# Choice, date and hidden fields: a hostile value is refused, never stored, never shown raw

MEALS = {
    "persons": "4",
    "period_days": "14",
    "meals_per_day": "2",
    "meal_covers": "20",
    "cost_mode": "purchases",
}
PURCHASE = {"total": "10", "organic": "", "local": "", "place_type": "marche", "bought_on": ""}
CHOICE_REQUESTS = [
    # (URL, valid data, the fields that get the hostile string)
    (f"{BASE}/achats", PURCHASE, ("place_type", "bought_on")),
    (f"{BASE}/pesees", {"kg": "0,5", "category": "evitable"}, ("category", "weighed_on")),
    (f"{BASE}/repas", MEALS, ("cost_mode",)),
]


def test_choice_date_and_hidden_fields_refuse_hostile_strings(probe, client):
    for url, valid, names in CHOICE_REQUESTS:
        # Blank means "not chosen" or "no date".
        for payload, mode in alternate_modes(p for p in HOSTILE_TEXT if p.strip()):
            purchases = newest_row_reader(Purchase)
            weighings = newest_row_reader(Weighing)
            data = {**valid, **dict.fromkeys(names, payload)}
            response = probe.send("POST", url, data, mode, "+".join(names), payload)
            if response is None:
                continue
            label = f"POST {url} [{mode}] {'+'.join(names)}={payload!r:.60}"
            if purchases(["id"]) or weighings(["id"]):
                probe.fail(f"{label}: a row was added")
            for name in names:
                probe.refusal(response, name, label)
    assert set(db.session.scalars(sa.select(Entry.cost_mode))) <= {"purchases", "totals", "direct"}

    # The questionnaire keeps the défi's own choices only.
    for payload, mode in alternate_modes(HOSTILE_TEXT):
        data = {
            "q_manger_mieux": [payload, "manger_mieux", payload],
            "q_j_agis_sur": payload,
            "q_maintien": ["mieux", payload],  # a radio keeps the first value
        }
        probe.send("POST", f"{BASE}/questionnaire", data, mode, "q_*", payload)
    answers = db.session.execute(
        sa.select(Question.key, Choice.key)
        .select_from(Answer)
        .join(Choice, Choice.id == Answer.choice_id)
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.entry_id == entry_id())
    ).all()
    assert sorted(answers) == sorted([("manger_mieux", "manger_mieux"), ("maintien", "mieux")])

    # The hidden version: any value but the row's is a form shown before a change (409).
    targets = [
        (start_row(client, "recettes"), TEXT_FORMS["recettes"][1]),
        (start_row(client, "producteurs"), TEXT_FORMS["producteurs"][1]),
        (f"{BASE}/repas", MEALS),
    ]
    for index, (payload, mode) in enumerate(alternate_modes(HOSTILE_TEXT)):
        url, valid = targets[index % len(targets)]
        response = probe.send("POST", url, {**valid, "version": payload}, mode, "version")
        if response is not None and payload and response.status_code != 409:
            probe.fail(f"POST {url} [{mode}] version={payload!r:.40}: not 409")
    probe.assert_clean()


# Number fields


@dataclass
class Number:
    """A number field: the column it is stored in and the bounds of the stored value."""

    name: str
    column: str
    low: int
    high: int
    optional: bool = True


def check_numbers(probe, url, data, fields, mode, read):
    """Post `data`; each of `fields` is refused beside it in French with nothing stored, or
    stored within its bounds. `read(columns)` reads what is stored."""
    columns = [number.column for number in fields]
    before = read(columns)
    payload = "\n".join(data[number.name] for number in fields)
    what = "+".join(number.name for number in fields)
    response = probe.send("POST", url, data, mode, what, payload)
    if response is None:
        return
    html = response.get_data(as_text=True)
    after = read(columns)
    for number in fields:
        typed, stored = data[number.name], after.get(number.column)
        label = f"POST {url} [{mode}] {number.name}={typed!r:.40}"
        if re.search(rf'id="[^"]*\b{number.name}-error"', html):
            probe.refusal(response, number.name, label)
            if stored != before.get(number.column):
                probe.fail(f"{label}: refused, yet stored {stored!r}")
        elif number.optional and not re.sub(r"[\s\u00a0\u202f€]", "", typed):
            pass  # an optional field left blank
        elif not after and "field-error" in html:
            pass  # the row was refused for another field of the request
        elif typed in NOT_NUMBERS:
            probe.fail(f"{label}: accepted, stored {stored!r}")
        elif stored is None or not number.low <= stored <= number.high:
            probe.fail(f"{label}: accepted, stored {stored!r} outside {number.low}..{number.high}")


TOTAL = Number("total", "total_cents", 1, 500000, optional=False)
# At most the total sent with them (10 €).
PARTS = [Number("organic", "organic_cents", 0, 1000), Number("local", "local_cents", 0, 1000)]
KG = Number("kg", "grams", 1, 50000, optional=False)
COUNTS = [
    Number("persons", "persons", 1, 40),
    Number("period_days", "period_days", 1, 366),
    Number("meals_per_day", "meals_per_day", 1, 6),
    Number("meal_covers", "meal_covers", 1, 20000),
]
DIRECT_COST = Number("direct_cost", "direct_cost_cents", 1, 5000)


def number_requests(client, value, edit=True):
    """Every number field of the relevé, with `value` in it: (URL, data, fields, reader).

    Fields whose refusal blocks the others (the total of a purchase) get a request of their
    own. With `edit`, the purchase correction page too (the quick add's fields again).
    """
    if entry_id() is None:
        assert client.post(f"{BASE}/repas", data=MEALS).status_code == 303
    entry = reader(Entry, Entry.id == entry_id())
    parts = {**PURCHASE, "organic": value, "local": value}
    direct = {**MEALS, "cost_mode": "direct", "direct_cost": value}
    counts = {**MEALS, **{number.name: value for number in COUNTS}}
    # The direct cost first: in "direct" mode the page hides the purchase form and its errors,
    # and the meals request that follows goes back to "purchases".
    yield f"{BASE}/repas", direct, [DIRECT_COST], entry
    yield f"{BASE}/repas", counts, COUNTS, entry
    yield f"{BASE}/achats", {**PURCHASE, "total": value}, [TOTAL], newest_row_reader(Purchase)
    yield f"{BASE}/achats", parts, PARTS, newest_row_reader(Purchase)
    # No date: the 50 kg a day check stays out of the way.
    yield f"{BASE}/pesees", {"kg": value, "category": "evitable"}, [KG], newest_row_reader(Weighing)
    if edit:
        first = sa.select(sa.func.min(Purchase.id)).where(Purchase.entry_id == entry_id())
        if db.session.scalar(first) is None:
            assert client.post(f"{BASE}/achats", data=PURCHASE).status_code == 303
        purchase_id = db.session.scalar(first)
        edited = reader(Purchase, Purchase.id == purchase_id)
        yield f"{BASE}/achats/{purchase_id}", {**PURCHASE, "total": value}, [TOTAL], edited
        yield f"{BASE}/achats/{purchase_id}", parts, PARTS, edited


def test_number_fields_refuse_hostile_numbers_in_french(probe, client):
    for index, payload in enumerate(HOSTILE_NUMBERS):
        for mode in MODES:
            # The correction page once per payload, in either mode.
            edit = mode == list(MODES)[index % 2]
            for url, data, fields, read in number_requests(client, payload, edit):
                check_numbers(probe, url, data, fields, mode, read)
    probe.assert_clean()
    assert_nothing_out_of_range()


def test_comma_and_point_both_mean_three_and_a_half(probe, client):
    direct = {**MEALS, "cost_mode": "direct"}
    requests = [
        # (URL, the other fields, field, model, column, what 3.5 is stored as)
        (f"{BASE}/achats", PURCHASE, "total", Purchase, "total_cents", 350),
        (f"{BASE}/achats", PURCHASE, "organic", Purchase, "organic_cents", 350),
        (f"{BASE}/achats", PURCHASE, "local", Purchase, "local_cents", 350),
        (f"{BASE}/pesees", {"category": "evitable"}, "kg", Weighing, "grams", 3500),
        (f"{BASE}/repas", direct, "direct_cost", Entry, "direct_cost_cents", 350),
    ]
    for url, valid, name, model, column, expected in requests:
        for typed in ("3,50", "3.50", " 3,50 ", "3,5", "3.5", "3,50 €"):
            for mode in MODES:
                if model is Entry:  # start from no value, to see this one stored
                    assert client.post(url, data={**valid, name: ""}).status_code == 303
                newest = newest_row_reader(model)
                response = probe.send("POST", url, {**valid, name: typed}, mode, name, typed)
                if response is None:
                    continue
                read = reader(Entry, Entry.id == entry_id()) if model is Entry else newest
                stored = read([column]).get(column)
                label = f"POST {url} [{mode}] {name}={typed!r}"
                if stored != expected:
                    probe.fail(f"{label}: stored {stored!r}, not {expected}")
                if response.status_code != (303, 200)[mode == "htmx"]:
                    probe.fail(f"{label}: status {response.status_code}")
    probe.assert_clean()


# Hypothesis: generated text and numbers in every field (`test_hypothesis_every_field`)

HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,  # leave no .hypothesis folder behind
    # No shrinking: through the app it took minutes. A failure names its exact request.
    phases=[Phase.explicit, Phase.generate],
)
# Each example is sent once, as a plain form or through htmx.
modes = st.sampled_from(list(MODES))


@HYPOTHESIS
@given(
    recipe=st.fixed_dictionaries(dict.fromkeys(TEXT_FORMS["recettes"][2], hostile_text)),
    producer=st.fixed_dictionaries(dict.fromkeys(TEXT_FORMS["producteurs"][2], hostile_text)),
    text=hostile_text,
    number=numberish,
    mode=modes,
)
def test_hypothesis_every_field(probe, client, recipe, producer, text, number, mode):
    """Generated text in the text, choice, date and search fields, generated numbers in the
    number fields: the same rules as the fixed lists above."""
    probe.problems.clear()  # one example at a time
    check_text_row(probe, start_row(client, "recettes"), "recettes", recipe, mode)
    check_text_row(probe, start_row(client, "producteurs"), "producteurs", producer, mode)
    probe.send("GET", "/collecte/recettes", {"q": text}, mode, "q", text)
    data = {"q_manger_mieux": [text, "manger_mieux"], "q_j_agis_sur": text, "q_maintien": text}
    probe.send("POST", f"{BASE}/questionnaire", data, mode, "q_*", text)
    # No text is both a place (or a category) and a date: nothing may be added.
    purchases, weighings = newest_row_reader(Purchase), newest_row_reader(Weighing)
    purchase = {**PURCHASE, "place_type": text, "bought_on": text}
    probe.send("POST", f"{BASE}/achats", purchase, mode, "place_type+bought_on", text)
    weighing = {"kg": "1", "category": text, "weighed_on": text}
    probe.send("POST", f"{BASE}/pesees", weighing, mode, "category+weighed_on", text)
    if purchases(["id"]) or weighings(["id"]):
        probe.fail(f"[{mode}] place_type/category and date={text!r:.60}: a row was added")
    for url, data, fields, read in number_requests(client, number, edit=False):
        check_numbers(probe, url, data, fields, mode, read)
    probe.assert_clean()
    assert_nothing_out_of_range()


# Found by test_fuzz_forms.py

OUTSIDE_DEFI_YEARS = ["0001-01-01", "1899-12-31", "2101-01-01", "9999-12-31"]
DAY_REFUSED = "Choisissez une date entre 2000 et 2100."


@pytest.mark.parametrize("day", OUTSIDE_DEFI_YEARS)
def test_a_day_outside_the_defi_years_is_refused_in_french(probe, client, day):
    """Purchases and weighings took any day a browser sends, year 1 or 9999 included."""
    purchases, weighings = newest_row_reader(Purchase), newest_row_reader(Weighing)
    weighing = {"kg": "1", "category": "evitable", "weighed_on": day}
    for url, data in (
        (f"{BASE}/achats", {**PURCHASE, "bought_on": day}),
        (f"{BASE}/pesees", weighing),
    ):
        response = client.post(url, data=data)
        assert response.status_code == 200
        assert DAY_REFUSED in page_text(response)
    assert purchases(["id"]) == {}
    assert weighings(["id"]) == {}


@pytest.mark.parametrize("day", OUTSIDE_DEFI_YEARS)
def test_a_collecte_outside_the_defi_years_is_refused_in_french(demo, auth, client, day):
    """A collecte closing on 9999-12-31 was saved, then "next year's défi" failed (a 500:
    year 10000 does not exist)."""
    assert auth.login("pilote").status_code == 303
    wave = current_challenge(territory_id()).waves[-1]
    dates = {"opens_on": wave.opens_on.isoformat(), "closes_on": day, "manual_state": ""}
    response = client.post(f"/pilote/collectes/{wave.id}", data=dates)
    assert response.status_code == 200
    assert DAY_REFUSED in page_text(response)
    db.session.refresh(wave)
    assert wave.closes_on.isoformat() != day
    dates = {"opens_1": day, "closes_1": day, "opens_2": "2090-03-01", "closes_2": "2090-03-15"}
    response = client.post("/pilote/defis", data={"name": "Défi lointain", **dates})
    assert response.status_code == 200
    assert DAY_REFUSED in page_text(response)
    assert current_challenge(territory_id()).name != "Défi lointain"
    assert client.post("/pilote/defis/suivant", data={"name": "Défi suivant"}).status_code == 303


def test_question_and_choice_keys_fit_their_column(demo, auth, client):
    """Two choices alike in their first 40 characters got a 42-character key: PostgreSQL
    refused it (a 500), SQLite stored it past the column's 40."""
    assert auth.login("pilote").status_code == 303
    dates = {"opens_1": "2090-01-01", "closes_1": "2090-01-15", "opens_2": "2090-03-01"}
    response = client.post(
        "/pilote/defis", data={"name": "Défi 2090", "closes_2": "2090-03-15", **dates}
    )
    assert response.status_code == 303
    line = "Une réponse assez longue pour remplir toute la clé"
    question = {"text": line, "kind": "multiple", "from_rank": "1"}
    for _twice in range(2):
        data = {**question, "choice_lines": f"{line}\n{line} !\n{line} ?"}
        assert client.post("/pilote/questions/nouvelle", data=data).status_code == 303
    challenge = current_challenge(territory_id())
    questions = db.session.scalars(sa.select(Question).where(Question.challenge_id == challenge.id))
    keys = {question.key: [choice.key for choice in question.choices] for question in questions}
    long = "une_reponse_assez_longue_pour_remplir_to"
    assert keys[long] == [long, f"{long[:38]}_2", f"{long[:38]}_3"]
    assert keys[f"{long[:38]}_2"] == keys[long]
