"""Column helpers shared by the models."""

from datetime import UTC
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so


def utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


class Versioned:
    """An editable row: SQLAlchemy bumps `version` on every UPDATE and refuses a stale one.

    Views compare the version a form was rendered with to the row's, and answer 409 with both
    values when they differ (QUALITY.md, reliability).
    """

    version: so.Mapped[int] = so.mapped_column(sa.Integer, default=1, server_default="1")

    @so.declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}


def scaled(integer_attribute: str, unit: int, places: str, absent=None):
    """A Decimal property over an integer column in a smaller unit: euros over cents (100),
    kilograms over grams (1000). The one place where a model's amounts are converted; a form
    reads and fills the property (`obj=`, `populate_obj`), the column keeps integers.

    `absent` is what None is stored as (0 for the organic and local parts of a receipt).
    """
    exponent = Decimal(places)

    def get(self):
        stored = getattr(self, integer_attribute)
        return None if stored is None else (Decimal(stored) / unit).quantize(exponent)

    def set_(self, value):
        if value is None:
            setattr(self, integer_attribute, absent)
        else:
            setattr(self, integer_attribute, int((Decimal(value) * unit).to_integral_value()))

    return property(get, set_)


def euros(cents_attribute: str, absent=None):
    return scaled(cents_attribute, 100, "0.01", absent)


def kilograms(grams_attribute: str):
    return scaled(grams_attribute, 1000, "0.001")
