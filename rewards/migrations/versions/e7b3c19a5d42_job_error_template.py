"""jobs: a failed job's refusal as its message template and parameters (shown in the page's language)

Revision ID: e7b3c19a5d42
Revises: e5b7d1c9a3f2
Create Date: 2026-12-07 02:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e7b3c19a5d42'
down_revision = 'e5b7d1c9a3f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_template', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('error_params', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('error_params')
        batch_op.drop_column('error_template')
