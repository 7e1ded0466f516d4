"""flags: the register of needs (need codes per staff entry; consent, nominee, call-centre password)

Revision ID: f3a9d2c47e18
Revises: e7b3c19a5d42
Create Date: 2026-12-07 05:20:00

Two new tables only: existing flags keep their rows and stay valid (they simply have no needs).
"""
from alembic import op
import sqlalchemy as sa


revision = 'f3a9d2c47e18'
down_revision = 'e7b3c19a5d42'
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'priority_flag_needs',
        sa.Column('flag_id', _BIGINT, autoincrement=False, nullable=False),
        sa.Column('need', sa.String(length=40), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=True),
        sa.Column('verify_by', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['flag_id'], ['priority_flags.id'],
                                name=op.f('fk_priority_flag_needs_flag_id_priority_flags')),
        sa.PrimaryKeyConstraint('flag_id', 'need', name=op.f('pk_priority_flag_needs')),
    )
    op.create_index('ix_priority_flag_needs_ends_on', 'priority_flag_needs', ['ends_on'], unique=False)
    op.create_index('ix_priority_flag_needs_verify_by', 'priority_flag_needs', ['verify_by'], unique=False)
    op.create_table(
        'priority_flag_consents',
        sa.Column('flag_id', _BIGINT, autoincrement=False, nullable=False),
        sa.Column('list_version', sa.Integer(), nullable=False),
        sa.Column('consent_on', sa.Date(), nullable=False),
        sa.Column('consent_channel', sa.String(length=16), nullable=False),
        sa.Column('consent_by', sa.String(length=128), nullable=False),
        sa.Column('share', sa.Boolean(), nullable=False),
        sa.Column('nominee_name', sa.String(length=200), nullable=True),
        sa.Column('nominee_phone', sa.String(length=32), nullable=True),
        sa.Column('password_hash', sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(['flag_id'], ['priority_flags.id'],
                                name=op.f('fk_priority_flag_consents_flag_id_priority_flags')),
        sa.PrimaryKeyConstraint('flag_id', name=op.f('pk_priority_flag_consents')),
    )


def downgrade():
    op.drop_table('priority_flag_consents')
    op.drop_index('ix_priority_flag_needs_verify_by', table_name='priority_flag_needs')
    op.drop_index('ix_priority_flag_needs_ends_on', table_name='priority_flag_needs')
    op.drop_table('priority_flag_needs')
