"""Single statements run straight on a DBAPI connection, for the hottest API paths.

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

:class:`SessionWrite` is the same compiled statement run the other way: on the driver connection of a
session's own transaction (an INSERT that a redemption adds, say), so it commits or rolls back with the
session's other writes, without the ~100 µs per statement of SQLAlchemy's execution context on
PostgreSQL (measured: 185 µs of CPU for a Core insert through the session, 80 µs on the driver). It
returns nothing (no rows, no primary key); the session knows nothing of the row (no ORM object).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Delete, Insert, Select, Update
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order, for a positional paramstyle
    binders: dict[str, Callable[[Any], Any]]  # parameters whose type converts them (a date on SQLite)
    literals: dict[str, Any]  # values written in the statement (a status, a LIMIT), bound like the rest
    processors: tuple[Callable[[Any], Any] | None, ...]
    autocommit_attr: bool
    row: Any  # a namedtuple class of the selected columns' keys


class _Statement:
    """A Core statement compiled once per dialect, driver and paramstyle, with its parameters' and
    result columns' type processing."""

    def __init__(self, statement: Any, **compile_kw: Any) -> None:
        self._statement = statement
        self._compile_kw = compile_kw
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}  # per dialect, driver and paramstyle

    def _prepared(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        """The compiled statement for ``dialect`` and the driver's arguments for ``params``."""
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        if compiled.literals:
            params = {**compiled.literals, **params}
        if compiled.binders:
            params = {k: (compiled.binders[k](v) if k in compiled.binders else v) for k, v in params.items()}
        return compiled, (params if compiled.positional is None else tuple(params[n] for n in compiled.positional))

    def _check(self, compiled: Any) -> None:
        """Refuse a statement this way of running cannot run as SQLAlchemy would (nothing to refuse here)."""

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect, **self._compile_kw)
        self._check(compiled)
        binders: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            binder = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if binder is not None:
                binders[name] = binder
        required = {name for name, bind in compiled.binds.items() if bind.required}
        literals = {k: v for k, v in compiled.construct_params(dict.fromkeys(required)).items() if k not in required}
        columns = getattr(self._statement, "selected_columns", None)  # a SELECT's; None for a write
        processors = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns or ())
        positional = tuple(compiled.positiontup or ()) if compiled.positional else None
        row = namedtuple("Row", columns.keys(), rename=True) if columns is not None else None  # type: ignore[misc]
        return _Compiled(str(compiled), positional, binders, literals, processors, dialect.name == "postgresql", row)


class DirectRead(_Statement):
    """A Core SELECT compiled once per dialect and run on a DBAPI connection from the engine's pool."""

    def __init__(self, statement: Select[Any]) -> None:
        super().__init__(statement)

    @property
    def statement(self) -> Select[Any]:
        """The Core statement (a session may run it too, to see its own writes)."""
        return cast("Select[Any]", self._statement)

    def all(self, engine: Engine, params: Mapping[str, Any]) -> list[Any]:
        """Every row (a named tuple of the selected columns), with their types' result processing."""
        compiled, args = self._prepared(engine.dialect, params)
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


class SessionWrite(_Statement):
    """A Core INSERT, UPDATE or DELETE compiled once per dialect and run on the driver connection of the
    session's transaction (see the module's docstring). Write its values as bound parameters
    (``.values(name=bindparam("name"))``) or literals, for every column that has a default or an
    ``onupdate`` computed in Python: there is no execution context here to compute them, so such a
    statement is refused (``ValueError``) rather than writing NULL. Errors of the driver are raised as
    SQLAlchemy's (``IntegrityError``, ...); the statement does not pass through SQLAlchemy's echo or
    ``handle_error`` events."""

    def __init__(self, statement: Insert | Update | Delete) -> None:
        # compiled as for executemany: a single-row INSERT would get an implicit RETURNING of its primary
        # key on PostgreSQL, which nobody here reads
        super().__init__(statement, for_executemany=True)

    def _check(self, compiled: Any) -> None:
        missing = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
        if missing:
            raise ValueError(f"SessionWrite cannot compute the Python-side defaults of {', '.join(missing)}: "
                             "give them as parameters")

    def execute(self, session: Session, params: Mapping[str, Any]) -> None:
        """Run the statement with ``params`` in ``session``'s transaction (begun if need be)."""
        connection = session.connection()
        dialect = connection.dialect
        compiled, args = self._prepared(dialect, params)
        dbapi: Any = connection.connection.driver_connection
        cursor = dbapi.cursor()
        try:
            cursor.execute(compiled.sql, args)
        except dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy would raise it (IntegrityError, ...)
            raise DBAPIError.instance(compiled.sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc
        finally:
            cursor.close()
