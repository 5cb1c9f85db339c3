"""Hostile input shared by the fuzz suites (QUALITY.md, "Hostile input").

`test_hostile_input.py` sends these lists field by field to a foyer's relevé; `test_fuzz_forms.py`
sends them to every form it finds by crawling the app as each role.
"""

import re

import sqlalchemy as sa
from hypothesis import strategies as st

from defi.extensions import db
from defi.models import Entry
from defi.models import Producer
from defi.models import Purchase
from defi.models import Recipe
from defi.models import Weighing

# Markup payloads, each with the part that must never appear verbatim in a response (escaping
# turns `<`, `>`, `&`, `"` and `'` into entities, so the raw part cannot survive it).
MARKUP = {
    "<script>alert(1)</script>": "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>': "onerror=alert(1)>",
    "'><svg/onload=alert(1)>": "<svg/onload=alert(1)>",
    "</textarea><script>alert(1)</script>": "</textarea><script>",
    "</small><h1>titre</h1>": "<h1>titre</h1>",
    '" autofocus onfocus="alert(1)': '" autofocus onfocus="alert(1)',
    "' onmouseover='alert(1)": "' onmouseover='alert(1)",
    '<a href="javascript:alert(1)">clic</a>': '<a href="javascript:alert(1)">',
    "<iframe src=javascript:alert(1)></iframe>": "<iframe src=javascript",
    "<ScRiPt>alert(1)</sCrIpT>": "<ScRiPt>alert(1)",
    "<style>*{display:none}</style>": "<style>*{display:none}",
    "<!--x--><b>gras</b>": "<!--x--><b>",
    "<%= 7*7 %>": "<%= 7*7 %>",
    "<script>alert(1)</script>" * 400: "<script>alert(1)</script>",  # 10,000 characters
}
ALL_MARKUP = "".join(MARKUP)  # to look for every needle in a page that shows them all

HOSTILE_TEXT = [
    *MARKUP,
    # Template syntax: must come back as typed, never evaluated (49 would show up instead).
    "{{7*7}}",
    "{% raw %}",
    "{{ config }}",
    "{{ self.__init__.__globals__ }}",
    "${7*7}",
    "#{7*7}",
    # Entities: shown as typed, neither decoded nor escaped twice.
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&amp;&#34;&#x27;",
    # SQL and LIKE wildcards.
    "'; DROP TABLE entry; --",
    "' OR '1'='1",
    '"; DELETE FROM purchase; --',
    "%",
    "_",
    "\\",
    "%_\\%",
    # Spreadsheet formula triggers.
    "=1+1",
    "+cmd|' /C calc'!A0",
    "-2",
    "@SUM(A1)",
    '=HYPERLINK("http://example.com","x")',
    # Tab, CR, NUL and other control characters.
    "\t",
    "a\tb",
    "\r",
    "a\r\nb\nc",
    "\x00",
    "a\x00b",
    "\x01\x02\x07\x08\x1b[31mrouge",
    "\x7f\x85",
    "\u2028\u2029",
    # Bidi overrides and zero-width characters.
    "\u202egnp.exe",
    "abc\u202edef\u202c",
    "\u2066x\u2069\u200f",
    "\u200b",
    "a\u200bb\u200c\u200d\ufeff",
    # Emoji, combining marks, unusual code points.
    "🥕🥬👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "Z̴̡̧a̵̢l̷g̶o̸",
    "e\u0301\u0301\u0301",
    "\uffff\U0010ffff𝕏",
    "İß",
    # Long strings.
    "x" * 10000,
    "é" * 10000,
    "🥕" * 10000,
    # Blanks and look-alikes of values.
    "",
    " ",
    "   \t\n ",
    "\u00a0\u202f",
    "null",
    "None",
    "undefined",
    "../../etc/passwd",
    '{"a": 1}',
    'a,b;c\n"d"',
]

# Hostile numbers, for the decimal (`3,50`) and the integer fields alike.
HOSTILE_NUMBERS = [
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "1e-400",
    "5e2",
    "-1",
    "-0,01",
    "0",
    "99999999999999999999",
    "9" * 30,
    "9" * 10000,
    "3,50",
    "3.50",
    "1 234,5",
    "1.234,56",
    "0x10",
    "1_000",
    "١٢٣",
    "３",
    "3,5,5",
    "3,505",
    ",5",
    "+5",
    "½",
    "",
    " ",
    "\u00a0\u202f",
    "\u00a03,50\u202f€",
    "3\x00",
    "\u202e05",
    '"><img src=x onerror=alert(1)>',
    "=1+1",
]

# Unambiguous garbage: whatever the field, these must be refused (or, when blank, stored as
# nothing). Others (`١٢٣`, `1_000`, `+5`...) may be read as a number, provided it is in range.
NOT_NUMBERS = {
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "1e-400",
    "5e2",
    "0x10",
    "3,5,5",
    "½",
    "3\x00",
    "\u202e05",
    '"><img src=x onerror=alert(1)>',
    "=1+1",
    "9" * 10000,
}

# Refusals must be in French: the app's own messages or WTForms' French translations, and none
# of WTForms' English defaults.
FRENCH = ("Indiquez", "Entre ", "Pas ", "ne peut pas", "N'est pas", "C'est beaucoup", "Choisissez")
FRENCH += ("Donnez", "caractères au plus", "Vérifiez", "trop grand")
ENGLISH = re.compile(
    r"\b(Not a valid|Invalid|This field|Field|must|between|characters|required|choice)\b"
)


# Hypothesis strategies

# Any text, or any text around a markup payload (but the 10,000 characters one).
hostile_text = st.one_of(
    st.text(),
    st.tuples(st.text(max_size=20), st.sampled_from(list(MARKUP)[:-1]), st.text(max_size=20)).map(
        "".join
    ),
)
# Any short text, or a number written in many ways (comma, point, sign, exponent, NaN).
numberish = st.one_of(
    st.text(max_size=30),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(str),
    st.integers().map(str),
    st.decimals(places=2, min_value=-(10**6), max_value=10**6).map(
        lambda number: str(number).replace(".", ",")
    ),
)


def assert_nothing_out_of_range():
    """Every stored purchase, weighing and relevé is within the forms' bounds."""
    bad_purchases = db.session.scalars(
        sa.select(Purchase).where(
            sa.or_(
                Purchase.total_cents <= 0,
                Purchase.total_cents > 500000,
                Purchase.organic_cents < 0,
                Purchase.local_cents < 0,
                Purchase.organic_cents > Purchase.total_cents,
                Purchase.local_cents > Purchase.total_cents,
            )
        )
    ).all()
    assert bad_purchases == []
    bad_weighings = db.session.scalars(
        sa.select(Weighing).where(sa.or_(Weighing.grams <= 0, Weighing.grams > 50000))
    ).all()
    assert bad_weighings == []
    bounds = {
        Entry.persons: (1, 40),
        Entry.period_days: (1, 366),
        Entry.meals_per_day: (1, 6),
        Entry.meal_covers: (1, 20000),
        Entry.direct_cost_cents: (1, 5000),
    }
    for column, (low, high) in bounds.items():
        outside = db.session.scalars(
            sa.select(Entry.id).where(column.is_not(None), sa.or_(column < low, column > high))
        ).all()
        assert outside == [], f"{column} out of {low}..{high}"
    limits = {
        Recipe.title: 200,
        Recipe.ingredients: 5000,
        Recipe.steps: 10000,
        Producer.name: 200,
        Producer.products: 500,
        Producer.commune: 120,
        Producer.address: 300,
        Producer.contact: 200,
    }
    for column, limit in limits.items():
        longest = db.session.scalar(sa.select(sa.func.max(sa.func.length(column))))
        assert (longest or 0) <= limit, f"{column} holds {longest} characters"
