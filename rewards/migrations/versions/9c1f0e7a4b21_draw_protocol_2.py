"""draw protocol 2: witness sets, cosignatures, signed heads, chunk keys

Revision ID: 9c1f0e7a4b21
Revises: 507229609be3
Create Date: 2026-12-06 23:40:00

"""
from alembic import op
import sqlalchemy as sa

import rewards.db


revision = '9c1f0e7a4b21'
down_revision = '507229609be3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.add_column(sa.Column('witnesses', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('head_record', sa.Text(), nullable=True))

    with op.batch_alter_table('draw_entrant_chunks', schema=None) as batch_op:
        batch_op.drop_index('ix_draw_entrant_chunks_lookup')
        batch_op.alter_column('first_account', new_column_name='first_key', existing_type=sa.LargeBinary(),
                              existing_nullable=False)
    with op.batch_alter_table('draw_entrant_chunks', schema=None) as batch_op:  # after the rename (SQLite)
        batch_op.create_index('ix_draw_entrant_chunks_lookup', ['draw_id', 'first_key'], unique=False)

    op.create_table('draw_cosignatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('witness_kid', sa.String(length=16), nullable=False),
    sa.Column('witness_name', sa.String(length=200), nullable=False),
    sa.Column('cosigned_at', rewards.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('received_at', rewards.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['draw_id'], ['draws.id'], name=op.f('fk_draw_cosignatures_draw_id_draws')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draw_cosignatures')),
    sa.UniqueConstraint('draw_id', 'witness_kid', name='witness')
    )
    with op.batch_alter_table('draw_cosignatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draw_cosignatures_draw_id'), ['draw_id'], unique=False)


def downgrade():
    with op.batch_alter_table('draw_cosignatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draw_cosignatures_draw_id'))
    op.drop_table('draw_cosignatures')
    with op.batch_alter_table('draw_entrant_chunks', schema=None) as batch_op:
        batch_op.drop_index('ix_draw_entrant_chunks_lookup')
        batch_op.alter_column('first_key', new_column_name='first_account', existing_type=sa.LargeBinary(),
                              existing_nullable=False)
    with op.batch_alter_table('draw_entrant_chunks', schema=None) as batch_op:
        batch_op.create_index('ix_draw_entrant_chunks_lookup', ['draw_id', 'first_account'], unique=False)
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.drop_column('head_record')
        batch_op.drop_column('witnesses')
