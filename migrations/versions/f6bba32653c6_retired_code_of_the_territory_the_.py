"""retired_code: of the territory the erased foyer was in

Revision ID: f6bba32653c6
Revises: 81c26402c977
Create Date: 2026-11-30 18:58:19.784933

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f6bba32653c6'
down_revision = '81c26402c977'
branch_labels = None
depends_on = None


# Read with their types: SQLite gives dates back as text to a textual statement.
RETIRED = sa.table('retired_code')
CODE = sa.column('code', sa.String())
RETIRED_AT = sa.column('retired_at', sa.DateTime())


def _retired_code_table(with_territory):
    """The table as the models have it after this revision, or before it."""
    if not with_territory:
        return op.create_table('retired_code',
        sa.Column('code', sa.String(length=20), nullable=False),
        sa.Column('retired_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_retired_code'))
        )
    table = op.create_table('retired_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_retired_code_territory_id_territory'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retired_code')),
    sa.UniqueConstraint('territory_id', 'code', name=op.f('uq_retired_code_territory_id_code'))
    )
    op.create_index(op.f('ix_retired_code_code'), 'retired_code', ['code'], unique=False)
    return table


def upgrade():
    # The primary key changes (the code, then an id): the rows are read, the table made anew.
    connection = op.get_bind()
    rows = connection.execute(sa.select(CODE, RETIRED_AT).select_from(RETIRED)).all()
    territories = connection.execute(sa.text("SELECT id FROM territory")).scalars().all()
    # One territory: every erased foyer was of it. Several: which one is not known any more,
    # so the code stays retired in every territory (None).
    territory_id = territories[0] if len(territories) == 1 else None
    op.drop_table('retired_code')
    table = _retired_code_table(with_territory=True)
    if rows:
        op.bulk_insert(table, [
            {"territory_id": territory_id, "code": code, "retired_at": retired_at}
            for code, retired_at in rows
        ])


def downgrade():
    # A code retired in several territories is one row again.
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(CODE, sa.func.min(RETIRED_AT, type_=sa.DateTime()))
        .select_from(RETIRED)
        .group_by(CODE)
    ).all()
    op.drop_index(op.f('ix_retired_code_code'), table_name='retired_code')
    op.drop_table('retired_code')
    table = _retired_code_table(with_territory=False)
    if rows:
        op.bulk_insert(table, [{"code": code, "retired_at": at} for code, at in rows])
