"""The database: one SQLAlchemy instance, a naming convention, SQLite connection settings.

SQLite needs care to be safe under concurrency (see docs/operations.md):
- every connection gets WAL, ``foreign_keys=ON`` and a busy timeout;
- Python's sqlite3 opens a transaction only at the first write, so a read-then-write is not
  isolated; we take transaction control from the driver and begin every transaction ourselves with
  ``BEGIN IMMEDIATE`` (a write lock from the first statement), except for requests that only read.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

from flask import stream_with_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, DateTime, Index, Integer, MetaData, event, text
from sqlalchemy.engine import Connection, CursorResult, Engine, Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model of the service."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


if TYPE_CHECKING:

    class ScopedSession(Session):
        """``db.session`` as used: every ``Session`` method (``scoped_session`` proxies them) and ``remove``."""

        def remove(self) -> None: ...

    class _Database(SQLAlchemy):
        # Services take a ``Session`` and shells pass ``db.session``; typed as Flask-SQLAlchemy declares it
        # (``scoped_session[Session]``, no subclass of ``Session``) every such call would be an error.
        session: ScopedSession  # type: ignore[assignment]


db = cast("_Database", SQLAlchemy(model_class=Base))  # the cast only narrows the type checker's view

# A request that only reads may run in a deferred transaction, so readers never queue behind writers.
_sqlite_read_only: contextvars.ContextVar[bool] = contextvars.ContextVar("sqlite_read_only", default=False)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on both engines (SQLite stores naive text; we re-attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE, DELETE or INSERT ... SELECT matched (``Session.execute`` is typed as a plain ``Result``)."""
    return cast("CursorResult[Any]", result).rowcount


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


# Reusable column types (warehouse style).
intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
bigintpk = Annotated[int, mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)]
timestamp = Annotated[datetime, mapped_column(UTCDateTime(), default=utcnow)]


PARTIAL_INDEX_DIALECTS = ("sqlite", "postgresql")


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of the rows matching ``where`` (SQL over the table's columns), on SQLite and PostgreSQL alike.

    Spelt ``Index(..., sqlite_where=..., postgresql_where=...)``, it would make every process that imports the
    model import the PostgreSQL dialect, even on SQLite (SQLAlchemy loads a dialect to check an option named
    for it: some 30 ms of a command's start). So the index keeps ``where`` in its ``info`` and gets both
    options only when something needs them: just before it is created (``create_all``, ``Table.create``), and
    when the migration environment loads the models (:func:`complete_partial_indexes`, so that Alembic's
    autogenerate writes both options). Alembic's comparison never sees a WHERE:
    ``tests/rewards/test_migrations.py`` checks each partial index on both engines. A statement compiled by
    hand (``CreateIndex(index).compile(...)``) before either has no WHERE.
    """
    index = Index(name, *columns, unique=unique, info={"where": where})
    event.listen(index, "before_create", _before_create)
    return index


def _give_where(index: Index) -> None:
    for dialect in PARTIAL_INDEX_DIALECTS:  # both, whichever engine asks: the Index object is shared
        index.dialect_kwargs[f"{dialect}_where"] = text(index.info["where"])


def _before_create(index: Index, _connection: Connection, **_kw: Any) -> None:
    _give_where(index)


def complete_partial_indexes(metadata: MetaData) -> None:
    """Give every :func:`partial_index` of ``metadata`` its WHERE for each engine (imports their dialects)."""
    for table in metadata.tables.values():
        for index in table.indexes:
            if "where" in index.info:
                _give_where(index)


@contextmanager
def read_only() -> Iterator[None]:
    """Within this block, SQLite transactions begin deferred (readers do not take the write lock)."""
    token = _sqlite_read_only.set(True)
    try:
        yield
    finally:
        _sqlite_read_only.reset(token)


@contextmanager
def writing() -> Iterator[None]:
    """In a request that otherwise only reads (a GET that records an export): end its deferred transaction
    and run the block in one that begins IMMEDIATE on SQLite, so another writer makes it wait (the busy
    timeout) instead of failing at its first write, which a deferred transaction cannot upgrade to once
    another commit came between. The block commits; what follows reads deferred again."""
    db.session.commit()
    token = _sqlite_read_only.set(False)
    try:
        yield
    finally:
        _sqlite_read_only.reset(token)


def stream_reading(rows: Iterable[Any]) -> Iterator[Any]:
    """``stream_with_context`` for a download that only reads. Flask runs a streamed body after the
    request's teardown, which has reset the read-only flag: without setting it again, on SQLite the
    rows would be read in a transaction that begins IMMEDIATE, holding (or failing to get) the write
    lock for the whole download."""

    def run() -> Iterator[Any]:
        token = _sqlite_read_only.set(True)
        try:
            yield from rows
        finally:
            _sqlite_read_only.reset(token)

    return stream_with_context(run())


def read_only_view(fn: Any) -> Any:
    """Mark a view that only reads although its method is POST (e.g. a look-up with a body): on
    SQLite its transaction begins deferred, so such requests do not queue for the write lock."""
    fn._read_only = True
    return fn


def is_read_only_view(view: Any, method: str) -> bool:
    """True when ``view`` (or, for a MethodView, its handler for ``method``) is marked read-only."""
    handler = getattr(getattr(view, "view_class", None), method.lower(), None) or view
    return bool(getattr(handler, "_read_only", False))


def set_read_only(flag: bool) -> contextvars.Token[bool]:
    """Set the read-only flag for the current context (a request); returns the reset token."""
    return _sqlite_read_only.set(flag)


def reset_read_only(token: contextvars.Token[bool]) -> None:
    """Undo ``set_read_only``."""
    _sqlite_read_only.reset(token)


def _owner_only(path: str | None) -> None:
    """Create the SQLite file readable and writable by its owner only, and tighten an existing one.

    SQLite gives the ``-wal`` and ``-shm`` files it creates the mode of the database file, so they
    are 0600 too. A path SQLite will refuse anyway (no folder) is left to SQLite's own error.
    """
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError:
        return
    for name in (path, path + "-wal", path + "-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            continue
        except PermissionError:
            logging.getLogger("rewards.db").warning("%s is readable by others and not ours to chmod", name)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Attach the connection settings and the BEGIN IMMEDIATE policy to a SQLite engine; the
    database file is the owner's only (0600)."""
    _owner_only(engine.url.database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver (it would BEGIN late, at the first write).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys = ON")
        # SQLite's lower() folds ASCII only: the lists' search (rewards.listing) folds Cyrillic with this.
        dbapi_conn.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight on the driver connection (every request begins a transaction: this spares it a pass
        # through SQLAlchemy's statement execution); a driver error is wrapped as SQLAlchemy would.
        statement = "BEGIN" if _sqlite_read_only.get() else "BEGIN IMMEDIATE"
        try:
            conn.connection.driver_connection.execute(statement)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(statement, None, exc, sqlite3.Error, dialect=engine.dialect) from exc


def is_postgresql() -> bool:
    """True when the service runs on PostgreSQL."""
    return db.engine.dialect.name == "postgresql"
