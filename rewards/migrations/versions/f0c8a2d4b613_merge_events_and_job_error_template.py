"""merge: main's event-log and snapshot-row revisions with russian's job error template

Revision ID: f0c8a2d4b613
Revises: e5b7d1c9a3f2, e7b3c19a5d42
Create Date: 2026-12-07 03:30:00

"""


revision = 'f0c8a2d4b613'
down_revision = ('e5b7d1c9a3f2', 'e7b3c19a5d42')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
