"""What every form of the app shares."""

import re

# Control characters (NUL above all: PostgreSQL refuses it in text) but tab and new lines.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip(value):
    """Typed text without surrounding spaces nor control characters."""
    return _CONTROL.sub("", value).strip() if isinstance(value, str) else value
