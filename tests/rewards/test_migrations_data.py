"""Migrations that can be deployed: a database at the frozen baseline, with a row in every table, upgrades
to head with its data intact; head downgrades one step and upgrades again, still intact and matching the models.

Rows are written through the baseline's own tables (reflected from the database, not the models of
today), one per table with every column filled, foreign keys pointing at the parents' rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade

from rewards.db import db

BASELINE = "507229609be3"
# Columns a later revision renamed: (table, old name) -> new name.
RENAMED = {("draw_entrant_chunks", "first_account"): "first_key"}
# Values the baseline's CHECK constraints accept (every other column gets a value of its type).
CHECKED: dict[tuple[str, str], Any] = {
    ("priority_flags", "source"): "staff",
    ("snapshot_rows", "tier"): "ideal",
    ("snapshots", "source"): "import",
    ("snapshots", "status"): "active",
    ("users", "role"): "auditor",
    ("draws", "kind"): "quarterly",
    ("draws", "state"): "draft",
    ("priority_flag_closures", "kind"): "revoked",
    ("draw_credits", "state"): "pending",
    ("draw_winners", "role"): "winner",
    ("draw_winners", "status"): "holder",
}
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _value(table: sa.Table, column: sa.Column[Any]) -> Any:
    """A value for ``column`` of the only row of ``table``."""
    if (table.name, column.name) in CHECKED:
        return CHECKED[(table.name, column.name)]
    if column.foreign_keys or column.primary_key:
        # every table's one row has key 1; a foreign key points at its parent's
        return 1 if isinstance(column.type, sa.Integer) else "1"
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return True
    if isinstance(kind, sa.Integer):
        return 7
    if isinstance(kind, sa.DateTime):
        return WHEN if kind.timezone else WHEN.replace(tzinfo=None)
    if isinstance(kind, sa.Date):
        return date(2026, 3, 4)
    if isinstance(kind, sa.LargeBinary):
        return b"\x00\x01bin"
    if isinstance(kind, (sa.Numeric, sa.Float)):
        return 7
    if isinstance(kind, sa.String):  # Text and VARCHAR: short enough for any length, JSON-shaped for JSON texts
        length = getattr(kind, "length", None) or 40
        return f'{{"{table.name[:length - 8]}":1}}'[:length] if length >= 12 else "x" * min(length, 4)
    raise AssertionError(f"no test value for {table.name}.{column.name} of type {kind!r}")


def _fill(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    """A row in every table of the baseline; returns the rows by table."""
    meta = sa.MetaData()
    meta.reflect(conn)
    rows: dict[str, dict[str, Any]] = {}
    for table in meta.sorted_tables:
        if table.name == "alembic_version":
            continue
        row = {c.name: _value(table, c) for c in table.columns}
        conn.execute(table.insert().values(row))
        rows[table.name] = row
    return rows


def _read(conn: sa.Connection) -> dict[str, list[dict[str, Any]]]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t))] for t in meta.sorted_tables
            if t.name != "alembic_version"}


def _same(before: dict[str, dict[str, Any]], after: dict[str, list[dict[str, Any]]]) -> None:
    """Each table's one row of ``before`` is in ``after`` unchanged (renamed columns under their new name)."""
    for name, row in before.items():
        assert len(after[name]) == 1, f"{name}: {len(after[name])} rows after the migration"
        kept = after[name][0]
        for column, value in row.items():
            column_now = RENAMED.get((name, column), column)
            assert _norm(kept[column_now]) == _norm(value), f"{name}.{column}: {value!r} became {kept[column_now]!r}"


def _norm(value: Any) -> Any:
    # SQLite hands naive datetimes back for a timezone-aware column: compare the instant
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _head_matches_models(conn: sa.Connection) -> None:
    diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


@pytest.fixture
def empty_app(backend: str, tmp_path: Path) -> Any:
    """An app on an empty database (no table at all)."""
    from rewards import create_app
    from tests.conftest import _pg_schema_ready, _reset_pg_schema, make_config

    app: Flask = create_app(make_config(backend, tmp_path))
    if backend == "postgresql":
        _reset_pg_schema()
        _pg_schema_ready["done"] = False  # the next test rebuilds its schema from the models
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_baseline_with_data_upgrades_to_head_intact(empty_app: Flask) -> None:
    upgrade(revision=BASELINE)
    with db.engine.begin() as conn:
        rows = _fill(conn)
    assert len(rows) == 26  # every table of the baseline
    upgrade()
    with db.engine.connect() as conn:
        after = _read(conn)
        _head_matches_models(conn)
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() != BASELINE
    _same(rows, after)
    # the added columns are empty, the added table too; the models read the upgraded rows
    assert after["draws"][0]["witnesses"] is None and after["draws"][0]["head_record"] is None
    assert after["draw_cosignatures"] == []
    from draws.models import Draw

    assert db.session.scalars(sa.select(Draw)).one().kind == "quarterly"
    # events got an insertion id equal to their seq, and the id sequence continues after them: a new
    # event is stored and chained after the old head (PostgreSQL would refuse a reused id)
    assert after["events"][0]["id"] == after["events"][0]["seq"] == 1
    from rewards.audit.models import Event
    from rewards.audit.services import record_event

    db.session.execute(sa.update(Event).values(hash="a" * 64))  # the filler gave prev_hash and hash one value
    record_event(db.session, "test", "thing.done", "thing", "1", {})
    db.session.commit()
    new = db.session.scalars(sa.select(Event).where(Event.action == "thing.done")).one()
    assert (new.id, new.seq, new.prev_hash) == (2, 2, "a" * 64)


def test_head_downgrades_one_step_and_upgrades_again(empty_app: Flask) -> None:
    """Whatever the newest revision is: one step down keeps every row of the tables and columns that
    existed before it (under their names then), and back up gives the same rows and the models' schema."""
    upgrade()
    with db.engine.begin() as conn:
        rows = _fill(conn)
        head = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert len(rows) == len(db.metadata.tables)
    downgrade(revision="-1")
    with db.engine.connect() as conn:
        down = _read(conn)
        below = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert below not in (None, head)
    down_columns = {(t, c) for t, r in _rename_back(down).items() for c in (r[0] if r else {})}
    kept = {t: {c: v for c, v in r.items() if (t, RENAMED.get((t, c), c)) in down_columns or (t, c) in down_columns}
            for t, r in rows.items() if t in down}
    _same(kept, _rename_back(down) if below == BASELINE else down)
    upgrade()
    with db.engine.connect() as conn:
        again = _read(conn)
        _head_matches_models(conn)
    _same(kept, again)
    if db.engine.dialect.name == "sqlite":  # the migrations turn foreign keys off for themselves only
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _rename_back(tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """At the baseline the renamed columns have their old names: give them today's, as _same expects."""
    out = {}
    for name, rows in tables.items():
        out[name] = [{next((new for (t, old), new in RENAMED.items() if t == name and old == c), c): v
                      for c, v in row.items()} for row in rows]
    return out



def test_snapshot_rows_are_clustered_by_key_on_sqlite(empty_app: Flask) -> None:
    """On SQLite the snapshot rows live in the primary key's B-tree (no rowid look-up per row read in
    account order); PostgreSQL's table is left as it was. Down and up again keeps every row and rule."""
    sqlite = db.engine.dialect.name == "sqlite"

    def clustered() -> bool:
        if not sqlite:
            return False
        with db.engine.connect() as conn:
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'snapshot_rows'").scalar()
            return "WITHOUT ROWID" in sql

    def rows() -> list[tuple[str, str]]:
        with db.engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql("SELECT account, tier FROM snapshot_rows ORDER BY account")]

    upgrade(revision="e5a1c7d93b42")
    assert not clustered()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO snapshot_rows (snapshot_id, account, tier) "
                             "VALUES (1, '002', 'ideal'), (1, '001', 'beginner')")
    upgrade(revision="e5b7d1c9a3f2")
    assert clustered() is sqlite
    assert rows() == [("001", "beginner"), ("002", "ideal")]
    if sqlite:
        with db.engine.connect() as conn:
            plan = " ".join(str(r) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT account, tier FROM snapshot_rows WHERE snapshot_id = 1 ORDER BY account"))
        assert "PRIMARY KEY" in plan and "TEMP B-TREE" not in plan
    downgrade(revision="e5a1c7d93b42")
    assert not clustered()
    assert rows() == [("001", "beginner"), ("002", "ideal")]
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:  # the tier rule survived the rebuild
        conn.exec_driver_sql("INSERT INTO snapshot_rows (snapshot_id, account, tier) VALUES (1, '003', 'gold')")
