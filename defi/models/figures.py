"""The versions of what is published: bumped with every change that can change a figure.

`FiguresVersion` is one row (id 1), the install's: bumped by a change whose défi is not known
(an import's COPY, a statement over several défis), it makes every défi's figures stale.
`ChallengeFiguresVersion` is one row per défi that has changed since: bumped by a change of
that défi's rows alone, it makes only that défi's figures stale. A défi's figures are of the
pair; `figures/cache.py` bumps them in the transaction of the change and reads them to know
whether the figures a worker computed are still the published ones.
"""

import sqlalchemy as sa
import sqlalchemy.orm as so

from defi.extensions import db


class FiguresVersion(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    version: so.Mapped[int] = so.mapped_column(default=0)

    def __repr__(self):
        return f"<FiguresVersion {self.version}>"


class ChallengeFiguresVersion(db.Model):
    # No foreign key: the version is bumped after the flush that may have deleted the défi, and
    # a défi made later under the same id is bumped when it is made (`figures/cache.py`).
    challenge_id: so.Mapped[int] = so.mapped_column(primary_key=True, autoincrement=False)
    version: so.Mapped[int] = so.mapped_column(default=0)

    def __repr__(self):
        return f"<ChallengeFiguresVersion {self.version} of challenge {self.challenge_id}>"


# A database made from the models (tests, benches) has its row too, as the migration gives it.
sa.event.listen(
    FiguresVersion.__table__,
    "after_create",
    sa.DDL("INSERT INTO figures_version (id, version) VALUES (1, 0)"),
)
