"""events chained apart: an insertion id, the chain's seq assigned by the chainer after commit

Revision ID: e5a1c7d93b42
Revises: c4d2a8e61f30
Create Date: 2026-12-07 02:10:00

Appends no longer take a lock held until commit: an event is inserted with an ``id`` from a sequence
and no ``seq``/``prev_hash``/``hash``; the chainer fills those in (rewards/audit/services.py). Existing
events are all chained: their id is their seq. Downgrading needs every event chained first
(``flask audit chain``), because the old table's key is ``seq``.
"""
from alembic import op
import sqlalchemy as sa

import rewards.db


revision = 'e5a1c7d93b42'
down_revision = 'c4d2a8e61f30'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
COLUMNS = "at, actor, action, object_type, object_id, details, prev_hash, hash"
INDEXES = (('ix_events_action', 'action'), ('ix_events_actor', 'actor'), ('ix_events_at', 'at'))


def _sqlite_table(name, chained_apart):
    """The events table as SQLite is to hold it, before (False) or after (True) this revision."""
    key = [sa.Column('id', BIG, nullable=False)] if chained_apart else []
    return op.create_table(name, *key,
        sa.Column('seq', BIG, nullable=chained_apart, autoincrement=False),
        sa.Column('at', rewards.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('object_type', sa.String(length=32), nullable=False),
        sa.Column('object_id', sa.String(length=128), nullable=False),
        sa.Column('details', sa.Text(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=chained_apart),
        sa.Column('hash', sa.String(length=64), nullable=chained_apart),
        sa.PrimaryKeyConstraint('id' if chained_apart else 'seq', name=op.f('pk_events')),
        *([sa.UniqueConstraint('seq', name=op.f('uq_events_seq'))] if chained_apart else []),
        sa.UniqueConstraint('hash', name=op.f('uq_events_hash')),
        sa.UniqueConstraint('prev_hash', name=op.f('uq_events_prev_hash')),
    )


def _sqlite_rebuild(chained_apart):
    # SQLite cannot change a primary key in place: a new table, the rows copied, the old one dropped
    _sqlite_table('_events_new', chained_apart)
    if chained_apart:
        op.execute(f"INSERT INTO _events_new (id, seq, {COLUMNS}) SELECT seq, seq, {COLUMNS} FROM events")
    else:
        op.execute(f"INSERT INTO _events_new (seq, {COLUMNS}) SELECT seq, {COLUMNS} FROM events")
    op.drop_table('events')
    op.rename_table('_events_new', 'events')
    for name, column in INDEXES:
        op.create_index(op.f(name), 'events', [column], unique=False)


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_rebuild(True)
        return
    op.drop_constraint(op.f('pk_events'), 'events', type_='primary')
    op.add_column('events', sa.Column('id', sa.BigInteger(), nullable=True))
    op.execute("UPDATE events SET id = seq")
    op.execute("CREATE SEQUENCE events_id_seq OWNED BY events.id")
    op.execute("SELECT setval('events_id_seq', COALESCE((SELECT max(id) FROM events), 0) + 1, false)")
    op.alter_column('events', 'id', nullable=False, server_default=sa.text("nextval('events_id_seq')"))
    op.create_primary_key(op.f('pk_events'), 'events', ['id'])
    for column in ('seq', 'prev_hash', 'hash'):
        op.alter_column('events', column, nullable=True)
    op.create_unique_constraint(op.f('uq_events_seq'), 'events', ['seq'])


def downgrade():
    unchained = op.get_bind().execute(sa.text("SELECT count(*) FROM events WHERE seq IS NULL")).scalar()
    if unchained:
        raise RuntimeError(f"{unchained} events are not chained yet: run 'flask audit chain', then downgrade")
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_rebuild(False)
        return
    op.drop_constraint(op.f('uq_events_seq'), 'events', type_='unique')
    op.drop_constraint(op.f('pk_events'), 'events', type_='primary')
    op.drop_column('events', 'id')  # drops the sequence it owns
    for column in ('seq', 'prev_hash', 'hash'):
        op.alter_column('events', column, nullable=False)
    op.create_primary_key(op.f('pk_events'), 'events', ['seq'])
