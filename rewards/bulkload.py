"""One bulk loader for every big insert: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Used for snapshot rows (imported and computed), the tier-flag input table and partner codes. Rows
never become ORM objects: they go to the driver connection under the caller's session, inside the
session's transaction (so the caller's rollback removes them, and nothing here commits).

Memory stays flat: on SQLite ``executemany`` pulls the rows from the iterable one by one; on
PostgreSQL the COPY text is built and sent ``chunk_rows`` rows at a time. With ``batch_rows`` the
rows are taken in batches and each batch is written (one statement) before the next is read, so the
iterable may itself read through the same session (a PostgreSQL connection runs nothing else while a
COPY is open). Inside a job, each COPY chunk ends with a ``rewards.pacing.pause_point``.

COPY text: ``None`` is ``\\N``; every other value is ``str(value)`` with backslash, tab, newline and
carriage return escaped. A caller whose values never need escaping (digits, codes) may pass
``format_line``, a function that formats a whole row (with its ``\\n``) faster.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy.orm import Session

from rewards.pacing import pause_point

NULL = "\\N"
CHUNK_ROWS = 20_000
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

Row = Sequence[Any]


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


def _check_names(table: str, columns: Sequence[str]) -> None:
    for name in (table, *columns):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"not a plain SQL identifier: {name!r}")


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def is_unique_violation(exc: BaseException) -> bool:
    """Whether ``exc``, raised by :func:`bulk_insert`, is a primary-key or unique constraint refusing a row."""
    if getattr(exc, "sqlstate", None) == "23505":  # psycopg: unique_violation
        return True
    name = getattr(exc, "sqlite_errorname", "")  # sqlite3 (Python 3.11+)
    return name in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE")


def _insert_sqlite(driver: Any, table: str, columns: Sequence[str], rows: Iterable[Row]) -> int:
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    cursor = driver.cursor()
    try:
        cursor.executemany(sql, rows)
        return max(cursor.rowcount, 0)
    finally:
        cursor.close()


def _copy_postgresql(
    driver: Any, table: str, columns: Sequence[str], rows: Iterable[Row], line: Callable[[Row], str], chunk: int
) -> int:
    count = 0
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for part in _batches(rows, chunk):
                copy.write("".join(map(line, part)))
                count += len(part)
                pause_point()  # inside a job, yield to live traffic between chunks (the backend waits for data)
    return count


def bulk_insert(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    batch_rows: int | None = None,
    format_line: Callable[[Row], str] = copy_line,
    chunk_rows: int = CHUNK_ROWS,
    analyze: bool = False,
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in the session's transaction.

    Returns the number of rows inserted. ``batch_rows``: take and write the rows in batches of that
    size (for rows read through the same session); ``analyze``: refresh PostgreSQL's statistics of
    ``table`` afterwards (transactional; readers that page by key need them after a big load).
    A constraint violation raises the driver's error; the caller rolls back (or uses a savepoint).
    """
    _check_names(table, columns)
    connection = session.connection()
    driver: Any = connection.connection.driver_connection  # typed Optional; a live connection has one
    postgresql = connection.dialect.name == "postgresql"
    batches: Iterable[Iterable[Row]] = [rows] if batch_rows is None else _batches(rows, batch_rows)
    count = 0
    for batch in batches:
        if postgresql:
            count += _copy_postgresql(driver, table, columns, batch, format_line, chunk_rows)
        else:
            count += _insert_sqlite(driver, table, columns, batch)
    if postgresql and analyze:
        with driver.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    return count
