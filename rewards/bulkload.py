"""One bulk loader for every big insert: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Used for snapshot rows (imported and computed), the tier-flag input table and partner codes. Rows
never become ORM objects: they go to the driver connection under the caller's session, inside the
session's transaction (so the caller's rollback removes them, and nothing here commits).

Memory stays flat: on SQLite ``executemany`` pulls the rows from the iterable a statement's worth
(``rows_per_statement`` rows) at a time; on PostgreSQL the COPY text is built and sent ``chunk_rows``
rows at a time, by a thread of its own (``_background_writer``), so that the server loads one chunk
while Python builds the next (a few chunks are queued at most). With ``batch_rows`` the rows are taken
in batches and each batch is written (one statement) before the next is read, so the iterable may itself
read through the same session (a PostgreSQL connection runs nothing else while a COPY is open). Inside a
job that yields to live traffic (``rewards.pacing``), a pause ends the COPY first and a new one goes on
after it, so that the server stops loading during the pause too (rows sent ahead would keep it busy for
a second or more); without traffic the rows go in one COPY.

COPY text: ``None`` is ``\\N``; every other value is ``str(value)`` with backslash, tab, newline and
carriage return escaped. A caller whose values never need escaping (digits, codes) may pass
``format_chunk``, a function that formats a whole chunk of rows (each line with its ``\\n``) in one
``join``, faster than a call per row.
"""

from __future__ import annotations

import functools
import itertools
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from rewards.pacing import held, pause_due, pause_point

NULL = "\\N"
CHUNK_ROWS = 20_000
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

Row = Sequence[Any]
T = TypeVar("T")


def copy_value(value: Any) -> str:
    """One value as PostgreSQL COPY text (``\\N`` for None, special characters escaped)."""
    if value is None:
        return NULL
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_ESCAPES)
    return text


def copy_line(row: Row) -> str:
    """One row as a line of COPY text."""
    return "\t".join([copy_value(v) for v in row]) + "\n"


def copy_text(rows: Sequence[Row]) -> str:
    """Rows as COPY text (any values: each one escaped as needed)."""
    return "".join([copy_line(row) for row in rows])


@functools.cache
def _background_writer() -> type[Any]:
    """The class of :func:`_copy_postgresql`'s writer (psycopg imported on first use: SQLite needs none)."""
    from psycopg.copy import LibpqWriter

    class BackgroundWriter(LibpqWriter):
        """Sends the COPY data from a thread while the caller builds the next chunk.

        psycopg's own writer waits for the server to take each chunk, so the client and the server take
        turns; here Python's parsing and the server's loading overlap (libpq waits without the GIL). At
        most ``depth`` chunks wait in the queue (psycopg's ``QueuedLibpqWriter`` holds up to 1,024), so
        memory stays flat when the server is the slower side.
        """

        def __init__(self, cursor: Any, depth: int = 3) -> None:
            super().__init__(cursor)
            self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
            self._thread: threading.Thread | None = None
            self._error: BaseException | None = None

        def _send(self) -> None:
            try:
                while data := self._queue.get():
                    super().write(data)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = exc
                while self._queue.get():  # keep taking, or the caller blocks on a full queue
                    pass

        def write(self, data: Any) -> None:
            if self._thread is None:
                self._thread = threading.Thread(target=self._send, name="copy-writer", daemon=True)
                self._thread.start()
            if self._error is not None:
                raise self._error
            self._queue.put(data)

        def finish(self, exc: BaseException | None = None) -> None:
            if self._thread is not None:
                self._queue.put(b"")
                self._thread.join()
                self._thread = None
            if self._error is not None and exc is None:
                raise self._error
            super().finish(exc)

    return BackgroundWriter


def _check_names(table: str, columns: Sequence[str]) -> None:
    for name in (table, *columns):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"not a plain SQL identifier: {name!r}")


def batches(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """``rows`` in lists of ``size`` (the last one shorter), taken from the iterable as they are needed."""
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def is_unique_violation(exc: BaseException) -> bool:
    """Whether ``exc``, raised by :func:`bulk_insert`, is a primary-key or unique constraint refusing a row."""
    if getattr(exc, "sqlstate", None) == "23505":  # psycopg: unique_violation
        return True
    name = getattr(exc, "sqlite_errorname", "")  # sqlite3 (Python 3.11+)
    return name in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE")


def _insert_sqlite(driver: Any, table: str, columns: Sequence[str], rows: Iterable[Row], per: int) -> int:
    per = max(1, min(per, 999 // len(columns)))  # at most 999 parameters (SQLite's limit before 3.32)
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    one = f"({', '.join('?' * len(columns))})"
    tail: list[Any] = []

    def full_batches() -> Iterator[list[Any]]:
        for batch in batches(rows, per):
            values = list(itertools.chain.from_iterable(batch))
            if len(values) != len(batch) * len(columns):  # flattened, a short row would shift the rest
                raise ValueError(f"a row for {table} does not have {len(columns)} values")
            if len(batch) < per:
                tail.extend(values)
                return
            yield values

    cursor = driver.cursor()
    try:
        if per == 1:
            cursor.executemany(head + one, rows)
            return max(cursor.rowcount, 0)
        cursor.executemany(head + ", ".join([one] * per), full_batches())
        count = max(cursor.rowcount, 0)
        if tail:
            cursor.execute(head + ", ".join([one] * (len(tail) // len(columns))), tail)
            count += cursor.rowcount
        return count
    finally:
        cursor.close()


def _copy_postgresql(
    driver: Any, table: str, columns: Sequence[str], rows: Iterable[Row], text: Callable[[Sequence[Row]], str],
    chunk: int,
) -> int:
    count = 0
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    parts = batches(rows, chunk)
    with driver.cursor() as cursor:
        with held():  # the pause points of the rows' source only measure while a COPY is open
            part = next(parts, None)
        while part is not None:
            with held(), cursor.copy(statement, writer=_background_writer()(cursor)) as copy:
                while part is not None:
                    copy.write(text(part))
                    count += len(part)
                    part = next(parts, None)
                    if part is not None and pause_due():
                        break  # end this COPY: when it returns, the server has loaded every row sent
            pause_point()  # inside a job, yield to live traffic between chunks, the server's work included
    return count


def bulk_insert(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    batch_rows: int | None = None,
    format_chunk: Callable[[Sequence[Row]], str] = copy_text,
    chunk_rows: int = CHUNK_ROWS,
    analyze: bool = False,
    rows_per_statement: int = 1,
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in the session's transaction.

    Returns the number of rows inserted. ``batch_rows``: take and write the rows in batches of that
    size (for rows read through the same session); ``analyze``: refresh PostgreSQL's statistics of
    ``table`` afterwards (transactional; readers that page by key need them after a big load). On
    PostgreSQL, rows given with a ``format_chunk`` need only be what it writes as lines of ``columns``
    (the snapshot import passes its reader's tuples and writes the snapshot's id itself).
    ``rows_per_statement``: on SQLite, that many rows per ``INSERT ... VALUES (...), (...)``. The
    sqlite3 module's work per statement (reset, bind, step) is half the CPU of a plain ``executemany``
    into a table without a rowid or with no unique index (snapshot rows, 100 per statement: 3.1 ->
    1.5 s for 1.5 M rows); into a rowid table with unique indexes (codes) it was slower (1.6 -> 2.2 s
    for 300 k rows), so measure before raising it.
    A constraint violation raises the driver's error; the caller rolls back (or uses a savepoint).
    """
    _check_names(table, columns)
    connection = session.connection()
    driver: Any = connection.connection.driver_connection  # typed Optional; a live connection has one
    postgresql = connection.dialect.name == "postgresql"
    parts: Iterable[Iterable[Row]] = [rows] if batch_rows is None else batches(rows, batch_rows)
    count = 0
    for batch in parts:
        if postgresql:
            count += _copy_postgresql(driver, table, columns, batch, format_chunk, chunk_rows)
        else:
            count += _insert_sqlite(driver, table, columns, batch, rows_per_statement)
    if postgresql and analyze:
        with driver.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    return count
