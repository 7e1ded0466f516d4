"""rating rules: drafts (what-if before going live) and versions published from a month

Revision ID: b3d8f2a61c07
Revises: a17c5e0b9d64
Create Date: 2026-12-07 05:20:00

"""
from alembic import op
import sqlalchemy as sa

import rewards.db


revision = 'b3d8f2a61c07'
down_revision = 'a17c5e0b9d64'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rating_rules_drafts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.Column('created_at', rewards.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=128), nullable=False),
        sa.Column('updated_at', rewards.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_rules_drafts')),
    )
    op.create_table(
        'rating_rules_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('effective_from', sa.String(length=7), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('published_by', sa.String(length=128), nullable=False),
        sa.Column('published_at', rewards.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['sha256'], ['rating_rules_files.sha256'],
                                name=op.f('fk_rating_rules_versions_sha256_rating_rules_files')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_rules_versions')),
        sa.UniqueConstraint('effective_from', name=op.f('uq_rating_rules_versions_effective_from')),
    )


def downgrade():
    op.drop_table('rating_rules_versions')
    op.drop_table('rating_rules_drafts')
