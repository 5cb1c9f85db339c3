"""The version of what a défi publishes: bumped with every change that can change a figure.

One row (id 1). `figures/cache.py` bumps it in the transaction of the change and reads it to
know whether the figures a worker computed are still the published ones.
"""

import sqlalchemy as sa
import sqlalchemy.orm as so

from defi.extensions import db


class FiguresVersion(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    version: so.Mapped[int] = so.mapped_column(default=0)

    def __repr__(self):
        return f"<FiguresVersion {self.version}>"


# A database made from the models (tests, benches) has its row too, as the migration gives it.
sa.event.listen(
    FiguresVersion.__table__,
    "after_create",
    sa.DDL("INSERT INTO figures_version (id, version) VALUES (1, 0)"),
)
