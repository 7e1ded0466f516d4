"""A benchmark run's own PostgreSQL schema: created before the run, dropped (with all in it) after it."""

from __future__ import annotations


def _execute(url: str, statement: str) -> None:
    import sqlalchemy as sa  # here: a SQLite run never imports it for this

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def create_schema(url: str, schema: str) -> None:
    """Create ``schema`` in the database at ``url``."""
    _execute(url, f"CREATE SCHEMA {schema}")


def drop_schema(url: str, schema: str) -> None:
    """Drop ``schema`` and everything in it, if it exists."""
    _execute(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
