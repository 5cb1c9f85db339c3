"""household: an index in the roster's order (group, name, code, id)

A page of a large group's roster is read from the index, not sorted from every foyer of the
group (defi.groups.services.roster_page).

Revision ID: 5e1a7c0d2b93
Revises: 858ad2b40ff7
Create Date: 2026-11-30 14:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5e1a7c0d2b93'
down_revision = '858ad2b40ff7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.create_index(
            'ix_household_roster', ['group_id', 'display_name', 'code', 'id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index('ix_household_roster')
