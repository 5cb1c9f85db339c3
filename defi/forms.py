"""What every form of the app shares: filters, validators and fields used by several features."""

import re
import unicodedata
from datetime import date
from decimal import Decimal
from decimal import InvalidOperation

from flask_wtf import FlaskForm
from wtforms import Field
from wtforms import SelectMultipleField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput
from wtforms.widgets import ListWidget
from wtforms.widgets import TextInput

from defi.formatting import lazy_gettext as _l

# Control characters (NUL above all: PostgreSQL refuses it in text) but tab and new lines.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# The days a défi can use: far enough for any, and away from year 1 and 9999, where "a year
# later" (next year's défi) or a time zone shift leaves the calendar.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


def strip(value):
    """Typed text without surrounding spaces nor control characters."""
    return _CONTROL.sub("", value).strip() if isinstance(value, str) else value


def one_line(value):
    """A name on one line: no control or invisible character, one space between words."""
    if not isinstance(value, str):
        return value
    visible = "".join(
        " " if ch.isspace() else ch
        for ch in value
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    return " ".join(visible.split())


def within_defi_years(_form, field):
    """A date validator: refuse a day before 2000 or after 2100."""
    if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(_l("Choisissez une date entre 2000 et 2100."))


MAX_DIGITS = 9  # before the decimal point: nothing the défi measures comes near it
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")


class FrenchDecimalField(Field):
    """A decimal number typed the French way (`3,50`) or not (`3.50`, `1 234,5`).

    Shown with a comma; refuses words, NaN, infinity and more than 2 decimals.
    """

    widget = TextInput()

    def __init__(self, label=None, validators=None, places=2, **kwargs):
        render_kw = {"inputmode": "decimal", "autocomplete": "off", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.places = places
        self.raw = None

    def _value(self):
        if self.raw is not None:
            return self.raw
        if self.data is None:
            return ""
        return f"{self.data:.{self.places}f}".replace(".", ",")

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.raw = valuelist[0][:40]
        text = re.sub(r"[\s\u00a0\u202f€]", "", valuelist[0] or "")
        # Spaces alone are no number: InputRequired must see an empty value.
        self.raw_data = [text]
        self.data = None
        if not text:
            return
        if not _NUMBER.match(text):
            raise ValueError(_l("Indiquez un nombre, par exemple 3,50."))
        whole, _sep, decimals = text.lstrip("-").replace(",", ".").partition(".")
        if len(whole.lstrip("0")) > MAX_DIGITS:
            raise ValueError(_l("Ce nombre est beaucoup trop grand."))
        if len(decimals.rstrip("0")) > self.places:
            raise ValueError(_l("Pas plus de %(n)d chiffres après la virgule.", n=self.places))
        try:
            self.data = Decimal(text.replace(",", "."))
        except (InvalidOperation, ArithmeticError) as error:
            raise ValueError(_l("Indiquez un nombre, par exemple 3,50.")) from error


def decimal_range(minimum, maximum, message):
    def check(_form, field):
        if field.data is not None and not minimum <= field.data <= maximum:
            raise ValidationError(message)

    return check


class MultiCheckboxField(SelectMultipleField):
    """Several choices, one checkbox each."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ConfirmForm(FlaskForm):
    """An action button: only the CSRF token."""
