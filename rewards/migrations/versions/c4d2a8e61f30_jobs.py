"""jobs: background jobs run by the Huey consumer

Revision ID: c4d2a8e61f30
Revises: 9c1f0e7a4b21
Create Date: 2026-12-08 10:00:00

"""
from alembic import op
import sqlalchemy as sa

import rewards.db


revision = 'c4d2a8e61f30'
down_revision = '9c1f0e7a4b21'
branch_labels = None
depends_on = None


def upgrade():
    count = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', rewards.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', rewards.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', rewards.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('worker', sa.String(length=128), nullable=True),
    sa.Column('progress_done', count, nullable=False),
    sa.Column('progress_total', count, nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_status', sa.Integer(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_details', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_started_by'), ['started_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_state'), ['state'], unique=False)


def downgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_jobs_started_by'))
        batch_op.drop_index(batch_op.f('ix_jobs_kind'))
        batch_op.drop_index(batch_op.f('ix_jobs_created_at'))
    op.drop_table('jobs')
