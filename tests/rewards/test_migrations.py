"""Migrations build the schema from nothing, and they agree with the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError

from rewards.db import PARTIAL_INDEX_DIALECTS, complete_partial_indexes, db
from tests.support import make_snapshot

PARTIAL_INDEXES = {("snapshots", "uq_snapshots_active_period"), ("webhook_messages", "ix_webhook_messages_fanout")}


def _partial_indexes_have_their_where(conn: Connection) -> None:
    """alembic's comparison ignores an index's WHERE: check that each partial index of the models has one."""
    partial = {(table.name, index.name) for table in db.metadata.tables.values() for index in table.indexes
               if "where" in index.info}
    assert partial == PARTIAL_INDEXES
    inspector = inspect(conn)
    for table, name in sorted(partial):
        (reflected,) = (index for index in inspector.get_indexes(table) if index["name"] == name)
        assert reflected["dialect_options"].get(f"{conn.dialect.name}_where") is not None, name


def test_upgrade_builds_a_schema_matching_the_models(backend: str, tmp_path: Path) -> None:
    from rewards import create_app
    from tests.conftest import _pg_schema_ready, _reset_pg_schema, make_config

    app: Flask = create_app(make_config(backend, tmp_path))
    with app.app_context():
        if backend == "postgresql":
            _reset_pg_schema()
            _pg_schema_ready["done"] = False  # the next test rebuilds its schema
        upgrade()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, db.metadata)
            assert diff == [], f"models and migrations disagree: {diff}"
            _partial_indexes_have_their_where(conn)
            if backend == "postgresql":
                assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        db.engine.dispose()


def test_the_models_build_each_partial_index_with_its_where(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        _partial_indexes_have_their_where(conn)


def test_one_active_snapshot_per_period_is_held_by_the_database(app: Flask) -> None:
    with app.app_context():
        first = make_snapshot(db.session, "2026-10", {"0001": "ideal"})
        first.status = "superseded"  # outside the partial index: another active one may come
        make_snapshot(db.session, "2026-10", {"0001": "beginner"})
        db.session.commit()
        with pytest.raises(IntegrityError):
            make_snapshot(db.session, "2026-10", {"0001": "promising"})
        db.session.rollback()


def test_autogenerate_writes_both_wheres_of_a_partial_index(tmp_path: Path) -> None:
    # a database without the index, and alembic's autogenerate through rewards/migrations/env.py (a copy)
    import shutil

    from flask_migrate import migrate

    from rewards import create_app
    from tests.conftest import make_config

    migrations = tmp_path / "migrations"
    shutil.copytree(Path(__file__).resolve().parents[2] / "rewards" / "migrations", migrations,
                    ignore=shutil.ignore_patterns("__pycache__"))
    app: Flask = create_app(make_config("sqlite", tmp_path))
    with app.app_context():
        upgrade(directory=str(migrations))
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX uq_snapshots_active_period"))
        # as in a fresh process: an earlier create_all in this one gave the model's index both options
        (index,) = (i for i in db.metadata.tables["snapshots"].indexes if i.name == "uq_snapshots_active_period")
        for dialect in PARTIAL_INDEX_DIALECTS:
            index.dialect_kwargs.pop(f"{dialect}_where", None)
        try:
            migrate(directory=str(migrations), message="put back", rev_id="put_back")
        finally:
            complete_partial_indexes(db.metadata)
            db.engine.dispose()
    (written,) = (migrations / "versions").glob("put_back_*.py")
    code = written.read_text()
    assert "create_index('uq_snapshots_active_period'" in code, code
    assert "sqlite_where=sa.text(\"status = 'active'\")" in code, code
    assert "postgresql_where=sa.text(\"status = 'active'\")" in code, code
