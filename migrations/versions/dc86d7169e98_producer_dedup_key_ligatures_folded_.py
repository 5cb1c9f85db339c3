"""producer dedup_key: ligatures folded, oeufs is œufs

Revision ID: dc86d7169e98
Revises: 3bac0cb01dcb
Create Date: 2026-11-30 00:54:47.344384

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'dc86d7169e98'
down_revision = '3bac0cb01dcb'
branch_labels = None
depends_on = None


LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"}


def fold(text):
    """defi.producers.fold as of this revision: ligatures spelt out, then no accents."""
    for ligature, letters in LIGATURES.items():
        text = (text or "").replace(ligature, letters)
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", " ", plain.lower()).strip()


def upgrade():
    # Keys made before folded "œ" to nothing ("Les Œufs" was "les ufs"): a producer typed
    # "oeufs" by another foyer was another producer in the directory.
    producer = sa.table("producer", sa.column("id"), sa.column("name"), sa.column("commune"),
                        sa.column("dedup_key"))
    connection = op.get_bind()
    rows = connection.execute(sa.select(producer.c.id, producer.c.name, producer.c.commune))
    for row_id, name, commune in rows.all():
        if any(ligature in (name or "") + (commune or "") for ligature in LIGATURES):
            key = f"{fold(name)}|{fold(commune)}"[:330]
            connection.execute(
                producer.update().where(producer.c.id == row_id).values(dedup_key=key)
            )


def downgrade():
    # The new keys are as good as the old ones for the old code: nothing to undo.
    pass
