"""French display of numbers, money and dates, as template filters."""

import functools
import re
import uuid
from datetime import date
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from flask import request
from flask import url_for
from flask_babel import format_currency
from flask_babel import format_date
from flask_babel import format_datetime
from flask_babel import format_decimal
from flask_babel import format_percent
from flask_babel.speaklater import LazyString
from flask_login import current_user
from jinja2 import Undefined
from jinja2.ext import Extension
from jinja2.lexer import Token
from markupsafe import Markup

from defi.fragments import Memo


def _missing(value) -> bool:
    """No value: None, or a key that a template read from an empty dict."""
    return value is None or isinstance(value, Undefined)


# The interface speaks French only: a number or a date always reads the same, so each
# formatted value is kept (Babel's formatting costs tens of microseconds, and a roster or a
# relevé writes the same few dates and amounts many times over).
_formatted = functools.lru_cache(maxsize=4096)


def money(cents):
    """123456 cents → "1 234,56 €"."""
    if _missing(cents):
        return ""
    return _money(cents)


@_formatted
def _money(cents):
    return format_currency(cents / 100, "EUR")


def euros(value):
    """A float amount of euros → "3,50 €"."""
    if _missing(value):
        return ""
    return _euros(value)


@_formatted
def _euros(value):
    return format_currency(value, "EUR")


def decimal(value, digits=1):
    if _missing(value):
        return ""
    return _decimal(value, digits)


@_formatted
def _decimal(value, digits):
    return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0")


def percent(ratio):
    """0.425 → "42,5 %"."""
    if _missing(ratio):
        return ""
    return _percent(ratio)


@_formatted
def _percent(ratio):
    return format_percent(ratio, format="#,##0.0 %")


def day(value):
    """date(2021, 9, 12) → "12 sept. 2021"; the first of a month is "1er sept. 2021"."""
    if _missing(value):
        return ""
    return _day(value)


@_formatted
def _day(value):
    text = format_date(value, "medium")
    return "1er" + text[1:] if value.day == 1 and text.startswith("1 ") else text


def moment(value):
    if _missing(value):
        return ""
    return format_datetime(value, "d MMM y 'à' HH:mm")


def today() -> date:
    """Today in the territory's time zone (a wave closes at midnight in France)."""
    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


NAV = (
    ("household", "collecte.index", "Ma collecte"),
    ("household", "calendar.index", "Calendrier"),
    ("facilitator", "groups.index", "Mon groupe"),
    ("facilitator", "calendar.index", "Calendrier"),
    ("referent", "referents.index", "Mes foyers"),
    ("pilot", "pilot.index", "Le défi"),
    ("coordinator", "network.index", "Le réseau"),
)


# French typography: a non-breaking space where a line must not break. Before : ; ! ? and »,
# after «, and between a number and the word or unit that follows it ("19,1 %", "14 jours").
NBSP = "\u00a0"
_TAG_OR_RAW = re.compile(
    r"(<(?:(textarea|script|style|pre)\b.*?</\2\s*|!--.*?--|[^>]*)>)", re.DOTALL | re.IGNORECASE
)
# Possessive runs (`++`), and a run of spaces tried from its first one only: a page's
# indentation is long runs of spaces that a backtracking rule would try again at each space.
_BEFORE_PUNCTUATION = re.compile(r"(?<![ \t\r\n])[ \t\r\n]++(?=[:;!?»])")
_AFTER_QUOTE = re.compile(r"«[ \t\r\n]+")
_NUMBER_UNIT = re.compile(r"(?<=\d)[ \t]++(?=[%€A-Za-zÀ-ÖØ-öø-ÿ])")


# A page seen again has the same texts between its tags (its tokens and ids are in the tags):
# their typesetting is kept, for the last pages seen.
@functools.lru_cache(maxsize=64)
def _typeset_joined(text: str) -> str:
    return _typeset(text)


def _typeset(text: str) -> str:
    text = _BEFORE_PUNCTUATION.sub(NBSP, text)
    text = _AFTER_QUOTE.sub("«" + NBSP, text)
    return _NUMBER_UNIT.sub(NBSP, text)


def nbsp(html):
    """The text of an HTML page or fragment with French non-breaking spaces (a Jinja filter).

    Only the text a person reads changes: tags and their attributes, comments, and what a
    <textarea>, <script>, <style> or <pre> holds (what is typed is sent back as it was) are
    left as they are, so a value is never altered by being shown.

    Every page goes through here: the texts between the tags are typeset in one go, joined by
    a character that none of the rules reads as a space, a sign or a letter, so that no rule
    reaches across a tag, as if each text were typeset alone.
    """
    if _missing(html):
        return ""
    html = str(html)
    # split() gives: text, whole match, raw tag name (or None), text, ...
    parts = _TAG_OR_RAW.split(html)
    texts, tags = parts[0::3], parts[1::3]
    if _JOIN in html:
        typeset = [_typeset(text) for text in texts]
    else:
        typeset = _typeset_joined(_JOIN.join(texts)).split(_JOIN)
    out = [""] * (len(texts) + len(tags))
    out[0::2], out[1::2] = typeset, tags
    # The input is HTML the templates escaped already; only spaces of its text changed.
    return Markup("".join(out))  # noqa: S704


_JOIN = "\x00"  # never in a page: typed text loses its control characters


def new_outbox_key() -> str:
    """A fresh key for an add form: the server adds once what is sent twice with it."""
    return uuid.uuid4().hex


def navigation():
    """The links of the menu: one home per role the user holds."""
    if not current_user.is_authenticated:
        return {"nav_links": [], "today": today()}
    blueprint = request.blueprints[0] if request.blueprints else None
    links = [
        {
            "url": url_for(endpoint),
            "label": _(label),
            "current": blueprint == endpoint.split(".")[0],
        }
        for role, endpoint, label in NAV
        if current_user.has_role(role)
    ]
    return {"nav_links": links, "today": today()}


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """The singular or the plural by French rules (0 and 1 are singular), `%(num)d` filled.

    The interface is French and its strings are their own message ids: no catalogue holds
    them, and gettext's fallback would take English rules ("0 foyers").
    """
    variables.setdefault("num", num)
    return _(singular if abs(num) <= 1 else plural, **variables)


def _template_ngettext(singular: str, plural: str, num: int) -> str:
    """The same for templates, unformatted: Jinja's newstyle gettext fills `%(num)d` itself."""
    return gettext(singular if abs(num) <= 1 else plural)


def change_field(field: str) -> str:
    """A line of a relevé's history in words: "repas-convives", "recette : titre (import)"."""
    from defi.models.collecte import FIELD_LABELS

    name, imported = field.removesuffix(" (import)"), field.endswith(" (import)")
    label, _sep, column = name.rpartition(" : ")
    words = str(FIELD_LABELS.get(column, column))
    words = f"{label} : {words}" if label else words
    return f"{words} {_('(import)')}" if imported else words


def change_value(value: str) -> str:
    """A value of a relevé's history in words: "envoyé", "2,45", "avec les tickets"."""
    from defi.models.collecte import VALUE_LABELS

    if value in VALUE_LABELS:
        return str(VALUE_LABELS[value])
    if value.replace(".", "", 1).isdigit() and "." in value:
        return value.replace(".", ",")
    return value


def hidden_reason(reason):
    """Why a figure is not shown, in French (figures.REASONS)."""
    from defi.figures import REASONS

    return REASONS.get(reason, reason)


_catalogue = []


def gettext(string, **variables):
    """flask_babel's gettext, for the interface's one locale: its catalogue looked up once.

    The interface speaks French only (no locale selector): every request has the same
    catalogue, which Flask-Babel would find again through its contexts at each of the hundreds
    of strings of a page. Templates call it too (`_()`, Jinja's newstyle gettext).
    """
    if _catalogue:
        translations = _catalogue[0]
    else:
        from babel import support
        from flask_babel import get_translations

        translations = get_translations()
        if type(translations) is not support.NullTranslations:  # outside a request: not it
            _catalogue.append(translations)
    text = translations.ugettext(string)
    return text % variables if variables else text


_ = gettext


def lazy_gettext(string, **variables) -> LazyString:
    """flask_babel's lazy_gettext through `gettext` above: a form's labels and messages,
    made at import and read at each render, skip Flask-Babel's contexts too."""
    return LazyString(gettext, string, **variables)


class ConstantMessages(Extension):
    """`_("a constant text")` in a template written out when the template is compiled.

    The interface's strings are their own message ids, and no catalogue holds them (`ngettext`
    above): Jinja's newstyle `_()` then returns the text, as markup, formatted with no value
    (`"%%"` becomes `"%"`). Called at each render, that is five calls through Jinja's context
    per text, hundreds per page (a roster prints some 300); written out, it is a constant that
    Jinja's optimiser joins to the template's output. Only a call with one literal text and
    nothing else, not an attribute's (`x._(...)`), without markup, is written out, in a
    template that escapes (all of ours), as `("the text as _() returns it"|safe)`; any other
    call is left to gettext at each render.
    `init_app` installs this only when the app has no catalogue of translations.
    """

    def filter_stream(self, stream):
        autoescape = self.environment.autoescape
        if callable(autoescape):
            autoescape = autoescape(stream.name)
        if not autoescape:
            yield from stream
            return
        window, previous = [], None
        for token in stream:
            window.append(token)
            if len(window) < 4:
                continue
            name, opening, text, closing = window
            if (
                name.test("name:_")
                and not (previous and previous.test("dot"))  # not `something._(...)`
                and opening.test("lparen")
                and text.test("string")
                and closing.test("rparen")
            ):
                folded = self._fold(text.value)
                if folded is not None:
                    lineno = name.lineno
                    yield Token(lineno, "lparen", "(")
                    yield Token(lineno, "string", folded)
                    yield Token(lineno, "pipe", "|")
                    yield Token(lineno, "name", "safe")
                    yield Token(lineno, "rparen", ")")
                    window, previous = [], closing
                    continue
            previous = window.pop(0)
            yield previous
        yield from window

    @staticmethod
    def _fold(message):
        """What `_(message)` renders with no catalogue, or None to leave it to each render.

        A text holding markup or an entity is left to each render: written out, it would be
        escaped where Jinja joins it with other constants (`_("a <b>") ~ "c"`), while _()
        returns markup. Quotes, once escaped, read the same.
        """
        if any(character in message for character in "<>&"):
            return None
        try:
            return message % {}  # as Jinja's Markup(message) % {}: no value to escape
        except (KeyError, TypeError, ValueError):  # a placeholder without its value
            return None


def _has_catalogue(app) -> bool:
    directories = app.config.get("BABEL_TRANSLATION_DIRECTORIES", "translations").split(";")
    return any(any(Path(app.root_path, directory).rglob("*.mo")) for directory in directories)


def init_app(app):
    app.jinja_env.install_gettext_callables(gettext, _template_ngettext, newstyle=True)
    if not _has_catalogue(app):
        app.jinja_env.add_extension(ConstantMessages)
    app.jinja_env.add_extension(Memo)
    app.context_processor(navigation)
    app.add_template_filter(money)
    app.add_template_global(new_outbox_key)
    app.add_template_filter(nbsp)
    app.add_template_filter(hidden_reason)
    app.add_template_filter(change_field)
    app.add_template_filter(change_value)
    app.add_template_filter(euros)
    app.add_template_filter(decimal)
    app.add_template_filter(percent)
    app.add_template_filter(day)
    app.add_template_filter(moment)


# What makes a spreadsheet read a text cell as a formula (DESIGN.md, exports).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(text: str) -> str:
    """A text cell that a spreadsheet would read as a formula gets a leading quote."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
