"""Column helpers shared by the models."""

from datetime import UTC
from datetime import datetime

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
