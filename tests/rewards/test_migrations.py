"""Migrations build the schema from nothing, and they agree with the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from rewards.db import db


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
            if backend == "postgresql":
                assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        db.engine.dispose()
