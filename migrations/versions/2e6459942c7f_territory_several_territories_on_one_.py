"""territory: several territories on one install, each sealed from the others

Everything that exists becomes one territory, "Territoire principal" (`defi rename-territory`
names it): its défis, structures, invitations, audit trail and every account. A database with
none of these (a new install) gets no territory; `defi demo` or `defi create-territory` make
them. The pilot's role and the membership check now admit the network's coordinator.

Revision ID: 2e6459942c7f
Revises: 858ad2b40ff7
Create Date: 2026-11-30 15:52:15.097805

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2e6459942c7f'
down_revision = '858ad2b40ff7'
branch_labels = None
depends_on = None

FIRST_TERRITORY = "Territoire principal"
SCOPED = ("challenge", "structure", "invitation", "audit_event", "user")
SCOPE_BEFORE = (
    "(role = 'facilitator' AND group_id IS NOT NULL AND structure_id IS NULL)"
    " OR (role = 'referent' AND structure_id IS NOT NULL AND group_id IS NULL)"
    " OR (role = 'pilot' AND group_id IS NULL AND structure_id IS NULL)"
)
SCOPE_AFTER = (
    "(role = 'facilitator' AND group_id IS NOT NULL AND structure_id IS NULL)"
    " OR (role = 'referent' AND structure_id IS NOT NULL AND group_id IS NULL)"
    " OR (role IN ('pilot', 'coordinator') AND group_id IS NULL AND structure_id IS NULL)"
)


def upgrade():
    territory = op.create_table('territory',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_territory')),
    sa.UniqueConstraint('name', name=op.f('uq_territory_name'))
    )
    for table in SCOPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('territory_id', sa.Integer(), nullable=True))

    connection = op.get_bind()
    has_rows = any(
        connection.execute(sa.text(f'SELECT 1 FROM "{table}" LIMIT 1')).first()  # noqa: S608
        for table in SCOPED
    )
    if has_rows:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        connection.execute(sa.insert(territory).values(id=1, name=FIRST_TERRITORY, created_at=now))
        for table in SCOPED:
            connection.execute(sa.text(f'UPDATE "{table}" SET territory_id = 1'))  # noqa: S608
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('territory', 'id'), 1)")
            )

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_territory_id'), ['territory_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audit_event_territory_id_territory'), 'territory', ['territory_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('challenge', schema=None) as batch_op:
        batch_op.alter_column('territory_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_challenge_name'), type_='unique')
        batch_op.drop_index(batch_op.f('uq_challenge_current'), sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))
        batch_op.create_index('uq_challenge_current', ['territory_id'], unique=True, sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))
        batch_op.create_index(batch_op.f('ix_challenge_territory_id'), ['territory_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_challenge_territory_id_name'), ['territory_id', 'name'])
        batch_op.create_foreign_key(batch_op.f('fk_challenge_territory_id_territory'), 'territory', ['territory_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.alter_column('territory_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_invitation_territory_id'), ['territory_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_invitation_territory_id_territory'), 'territory', ['territory_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.alter_column('territory_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_structure_name'), type_='unique')
        batch_op.create_index(batch_op.f('ix_structure_territory_id'), ['territory_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_structure_territory_id_name'), ['territory_id', 'name'])
        batch_op.create_foreign_key(batch_op.f('fk_structure_territory_id_territory'), 'territory', ['territory_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_territory_id'), ['territory_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_user_territory_id_territory'), 'territory', ['territory_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_membership_membership_scope'), type_='check')
        batch_op.create_check_constraint('membership_scope', sa.text(SCOPE_AFTER))


def downgrade():
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT count(*) FROM territory")).scalar() > 1:
        raise RuntimeError(
            "Several territories: their défis and structures cannot be merged into one. "
            "Keep this revision, or delete all territories but one first."
        )
    # A coordinator's account has no role before territories: it goes, with its membership.
    connection.execute(
        sa.text(
            'DELETE FROM "user" WHERE id IN '
            "(SELECT user_id FROM membership WHERE role = 'coordinator')"
        )
    )
    connection.execute(sa.text("DELETE FROM membership WHERE role = 'coordinator'"))
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_membership_membership_scope'), type_='check')
        batch_op.create_check_constraint('membership_scope', sa.text(SCOPE_BEFORE))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_user_territory_id_territory'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_user_territory_id'))
        batch_op.drop_column('territory_id')

    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_structure_territory_id_territory'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_structure_territory_id_name'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_structure_territory_id'))
        batch_op.create_unique_constraint(batch_op.f('uq_structure_name'), ['name'])
        batch_op.drop_column('territory_id')

    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invitation_territory_id_territory'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_invitation_territory_id'))
        batch_op.drop_column('territory_id')

    with op.batch_alter_table('challenge', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_challenge_territory_id_territory'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_challenge_territory_id_name'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_challenge_territory_id'))
        batch_op.drop_index('uq_challenge_current', sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))
        batch_op.create_index('uq_challenge_current', ['is_current'], unique=True, sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))
        batch_op.create_unique_constraint(batch_op.f('uq_challenge_name'), ['name'])
        batch_op.drop_column('territory_id')

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_event_territory_id_territory'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_audit_event_territory_id'))
        batch_op.drop_column('territory_id')

    op.drop_table('territory')
