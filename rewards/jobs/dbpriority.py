"""The consumer's database sessions at a lower CPU priority, where the PostgreSQL server lets them ask.

PostgreSQL gives a session no CPU priority of its own, and a consumer cannot renice the server's
processes (they belong to the server's OS user). The ``prioritize`` extension (Debian/PGDG package
``postgresql-<major>-prioritize``; ``CREATE EXTENSION prioritize`` once per database, by a superuser)
adds ``set_backend_priority(pid, nice)``, run by the server process itself; a role may only lower the
priority of its own sessions, never raise it. When the extension is installed, every connection the
consumer opens sets its server process's nice value to ``JOBS_DATABASE_NICE`` right after connecting,
so an import's COPY, index and flag statements take only the CPU the web workers' sessions leave.
Without the extension (or on SQLite, or with 0) nothing changes. The consumer's connections serve
only jobs, so a connection keeps its priority for its life.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

_SCHEMA_OF_EXTENSION = text(
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
    "WHERE e.extname = 'prioritize'"
)


def extension_schema(engine: Engine) -> str | None:
    """The schema holding the ``prioritize`` extension's functions, or None (not installed, not PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        schema = conn.scalar(_SCHEMA_OF_EXTENSION)
    return str(schema) if schema is not None else None


def lower_backend_priority(engine: Engine, niceness: int) -> bool:
    """Make every later connection of ``engine`` lower its server process's priority to ``niceness``.

    Returns whether it will (PostgreSQL with the extension, ``niceness`` > 0). Connections already in the
    pool are closed first, so none runs at the old priority.
    """
    if niceness <= 0:
        return False
    try:
        schema = extension_schema(engine)
    except Exception:  # noqa: BLE001 - the database may be down at start; the jobs then keep its priority
        log.warning("could not ask the database for the 'prioritize' extension", exc_info=True)
        return False
    if schema is None:
        if engine.dialect.name == "postgresql":
            log.info("the database has no 'prioritize' extension: job sessions keep the server's priority")
        return False
    function = f'"{schema.replace(chr(34), chr(34) * 2)}".set_backend_priority'
    engine.dispose()

    def lower(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SELECT {function}(pg_backend_pid(), %s)", (niceness,))
        finally:
            cursor.close()
        dbapi_connection.commit()  # end the implicit transaction the SELECT opened

    event.listen(engine, "connect", lower)
    return True
