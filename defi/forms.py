"""What every form of the app shares."""

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

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
