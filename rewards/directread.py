"""Single-statement reads run straight on a pooled DBAPI connection, for the hottest API paths.

An ORM session costs about 200 µs per request on this stack before its first row (session,
transaction, execution context, teardown); the same indexed SELECT on the driver costs about 20 µs.
The key check of every API call, the partner API's validate and the call centre's priority look-up
read through :class:`DirectRead`: the statement is still written with SQLAlchemy Core (one query language, typed
columns), compiled once per dialect, and its parameters and rows get the types' own processing
(``UTCDateTime`` gives aware UTC instants as it does through a session).

What it is not: part of the request's session. A direct read sees committed data only and takes no
lock, so use it only for a read that needs nothing the current transaction wrote, and that is
consistent on its own (one statement is one snapshot on both engines). On PostgreSQL the connection
is switched to autocommit for the statement, so it costs one round trip (no BEGIN, no ROLLBACK);
on SQLite the driver runs in autocommit already (see ``rewards.db``).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order, for a positional paramstyle
    binders: dict[str, Callable[[Any], Any]]  # parameters whose type converts them (a date on SQLite)
    literals: dict[str, Any]  # values written in the statement (a status, a LIMIT), bound like the rest
    processors: tuple[Callable[[Any], Any] | None, ...]
    autocommit_attr: bool
    row: Any  # a namedtuple class of the selected columns' keys


class DirectRead:
    """A Core SELECT compiled once per dialect and run on a DBAPI connection from the engine's pool."""

    def __init__(self, statement: Select[Any]) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}  # per dialect, driver and paramstyle

    @property
    def statement(self) -> Select[Any]:
        """The Core statement (a session may run it too, to see its own writes)."""
        return self._statement

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect)
        binders: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            binder = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if binder is not None:
                binders[name] = binder
        required = {name for name, bind in compiled.binds.items() if bind.required}
        literals = {k: v for k, v in compiled.construct_params(dict.fromkeys(required)).items() if k not in required}
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self._statement.selected_columns
        )
        positional = tuple(compiled.positiontup or ()) if compiled.positional else None
        row = namedtuple("Row", self._statement.selected_columns.keys(), rename=True)  # type: ignore[misc]
        return _Compiled(str(compiled), positional, binders, literals, processors, dialect.name == "postgresql", row)

    def all(self, engine: Engine, params: Mapping[str, Any]) -> list[Any]:
        """Every row (a named tuple of the selected columns), with their types' result processing."""
        dialect = engine.dialect
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        if compiled.literals:
            params = {**compiled.literals, **params}
        if compiled.binders:
            params = {k: (compiled.binders[k](v) if k in compiled.binders else v) for k, v in params.items()}
        args: Any = params if compiled.positional is None else tuple(params[name] for name in compiled.positional)
        pooled = engine.raw_connection()
        try:
            dbapi: Any = pooled.driver_connection  # typed Optional; a pooled connection has one
            if compiled.autocommit_attr:
                dbapi.autocommit = True
            try:
                cursor = dbapi.cursor()
                try:
                    cursor.execute(compiled.sql, args)
                    rows = cursor.fetchall()  # to the end: SQLite ends the statement's read snapshot there
                finally:
                    cursor.close()
            finally:
                if compiled.autocommit_attr:
                    dbapi.autocommit = False
        except engine.dialect.loaded_dbapi.Error as exc:
            invalidated = engine.dialect.is_disconnect(exc, dbapi, None)
            if invalidated:
                pooled.invalidate(exc)  # a broken connection goes no further; the pool opens a new one
            raise DBAPIError.instance(compiled.sql, args, exc, engine.dialect.loaded_dbapi.Error,
                                      dialect=engine.dialect, connection_invalidated=invalidated) from exc
        finally:
            pooled.close()
        make, procs = compiled.row._make, compiled.processors
        if not any(procs):
            return [make(row) for row in rows]
        return [make(v if p is None else p(v) for p, v in zip(procs, row, strict=True)) for row in rows]

    def first(self, engine: Engine, params: Mapping[str, Any]) -> Any | None:
        """The first row, or None (for look-ups by a unique key)."""
        rows = self.all(engine, params)
        return rows[0] if rows else None
