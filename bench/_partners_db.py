"""The database settings of the partner benchmarks: a SQLite file, or a fresh PostgreSQL schema; Redis if up."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PG_URL = os.environ.get("REWARDS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def database_settings(backend: str, folder: Path, schema: str) -> dict[str, Any]:
    """``DATABASE_URL`` (and engine options) for ``backend``; on PostgreSQL ``schema`` is emptied first."""
    if backend == "sqlite":
        return {"DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}"}
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return {"DATABASE_URL": PG_URL,
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-csearch_path={schema}"}}}


def redis_url(db: int) -> str | None:
    """``redis://127.0.0.1:6379/<db>`` when a Redis server answers PING there, else None."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return f"redis://127.0.0.1:6379/{db}"
    except OSError:
        pass
    return None
