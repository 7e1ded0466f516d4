"""webhook messages carry the endpoints still to fan out: a change's transaction writes the message
row only, and the sender makes the delivery rows

Revision ID: c8e4f1a2b6d9
Revises: b3d8f2a61c07
Create Date: 2026-12-07 08:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c8e4f1a2b6d9'
down_revision = 'b3d8f2a61c07'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fanout', sa.String(length=120), nullable=True))
        batch_op.create_index('ix_webhook_messages_fanout', ['id'], unique=False,
                              sqlite_where=sa.text('fanout IS NOT NULL'),
                              postgresql_where=sa.text('fanout IS NOT NULL'))


def downgrade():
    # messages not yet fanned out would lose their endpoints: make their deliveries first (run the sender)
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_messages_fanout', sqlite_where=sa.text('fanout IS NOT NULL'),
                            postgresql_where=sa.text('fanout IS NOT NULL'))
        batch_op.drop_column('fanout')
