"""The one bulk loader: rows land on both engines, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from rewards.bulkload import bulk_insert, copy_line, copy_text, copy_value, is_unique_violation
from rewards.db import db

TABLE = "bulkload_probe"


@pytest.fixture
def probe(app: Flask, backend: str) -> Iterator[None]:
    with app.app_context():
        db.session.execute(text(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name VARCHAR(40), note VARCHAR(40))"))
        db.session.commit()
        try:
            yield
        finally:
            db.session.rollback()
            db.session.execute(text(f"DROP TABLE {TABLE}"))
            db.session.commit()


def _count() -> int:
    return db.session.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one()


def test_rows_land_streamed_from_a_generator(probe: None) -> None:
    rows = ((i, f"name {i}", None if i % 2 else "tab\there\\ and\nnewline") for i in range(1, 2_501))
    assert bulk_insert(db.session, TABLE, ("id", "name", "note"), rows, chunk_rows=1_000, analyze=True) == 2_500
    db.session.commit()
    assert _count() == 2_500
    assert db.session.execute(text(f"SELECT note FROM {TABLE} WHERE id = 2")).scalar_one() == "tab\there\\ and\nnewline"
    assert db.session.execute(text(f"SELECT note FROM {TABLE} WHERE id = 3")).scalar_one() is None


def test_batches_may_read_through_the_same_session(probe: None) -> None:
    bulk_insert(db.session, TABLE, ("id", "name"), [(i, "a") for i in range(1, 11)])

    def doubled() -> Iterator[tuple[int, str]]:
        for (i,) in db.session.execute(text(f"SELECT id FROM {TABLE} ORDER BY id")).all():
            yield i + 100, "b"

    assert bulk_insert(db.session, TABLE, ("id", "name"), doubled(), batch_rows=3) == 10
    assert _count() == 20


def test_a_failure_half_way_leaves_nothing_after_rollback(probe: None) -> None:
    rows = [(i, "x") for i in range(1, 1_001)] + [(5, "duplicate key")] + [(2_000, "never")]
    with pytest.raises(Exception) as info:
        bulk_insert(db.session, TABLE, ("id", "name"), rows, chunk_rows=100)
    assert "unique" in str(info.value).lower() or "duplicate" in str(info.value).lower()
    db.session.rollback()
    assert _count() == 0


def test_a_count_that_fills_no_whole_statement_lands_whole(probe: None) -> None:
    """SQLite taking 100 rows per INSERT: the rows after the last full statement land too."""
    for count in (1, 99, 101, 2_501):
        rows = ((i, str(i)) for i in range(1, count + 1))
        assert bulk_insert(db.session, TABLE, ("id", "name"), rows, rows_per_statement=100) == count
        assert _count() == count
        assert db.session.execute(text(f"SELECT max(id), min(name) FROM {TABLE}")).one() == (count, "1")
        db.session.rollback()


def test_a_duplicate_inside_one_statement_is_a_unique_violation(probe: None) -> None:
    rows = [(i, "x") for i in range(1, 51)] + [(7, "again")] + [(i, "x") for i in range(51, 300)]
    with pytest.raises(Exception) as info:
        bulk_insert(db.session, TABLE, ("id", "name"), rows, rows_per_statement=100)
    assert is_unique_violation(info.value)
    db.session.rollback()
    assert _count() == 0


def test_a_row_of_the_wrong_width_is_refused_not_shifted(probe: None) -> None:
    rows = [(i, "x", "y") for i in range(1, 40)] + [(40, "short")] + [(i, "x", "y") for i in range(41, 120)]
    with pytest.raises(Exception, match="3 values|missing data|column"):
        bulk_insert(db.session, TABLE, ("id", "name", "note"), rows, rows_per_statement=100)
    db.session.rollback()
    assert _count() == 0


def test_an_error_of_the_rows_half_way_stops_the_copy(probe: None) -> None:
    """The COPY's sending thread stops with the caller's error; the session is usable after the rollback."""

    def rows() -> Iterator[tuple[int, str]]:
        for i in range(1, 5_001):
            yield i, "x"
        raise RuntimeError("the file broke")

    with pytest.raises(RuntimeError, match="the file broke"):
        bulk_insert(db.session, TABLE, ("id", "name"), rows(), chunk_rows=100)
    db.session.rollback()
    assert _count() == 0
    assert bulk_insert(db.session, TABLE, ("id", "name"), [(1, "y")]) == 1


def test_names_must_be_plain_identifiers(probe: None) -> None:
    with pytest.raises(ValueError, match="identifier"):
        bulk_insert(db.session, "x; DROP TABLE y", ("id",), [])


def test_copy_text() -> None:
    assert copy_value(None) == "\\N" and copy_value(7) == "7" and copy_value("a\\b\tc\r\n") == "a\\\\b\\tc\\r\\n"
    assert copy_line((1, None, "x")) == "1\t\\N\tx\n"
    assert copy_text([(1, None, "x"), (2, "a\tb", 3)]) == "1\t\\N\tx\n2\ta\\tb\t3\n"


def test_a_pause_stops_the_copy_first(probe: None, backend: str) -> None:
    """Inside a job yielding to traffic, a COPY ends before each pause: the server has loaded every row
    sent (none is left queued for it to load during the pause), and pause points of the rows' source
    (a job's progress reports) never pause while a COPY is open."""
    from rewards.pacing import Pacer, pacing, pause_point

    at_pauses: list[int] = []
    now = [0.0]

    def clock() -> float:
        return now[0]

    def sleep(_seconds: float) -> None:
        at_pauses.append(_count())  # the same transaction: no COPY is open, or this statement would fail

    def rows() -> Iterator[tuple[int, str]]:
        for i in range(1, 2_501):
            now[0] += 0.001  # a millisecond of work per row
            pause_point()  # a progress report per row
            yield i, "x"

    pacer = Pacer(1.0, lambda: True, slice_seconds=0.05, clock=clock, sleep=sleep)
    with pacing(pacer):
        assert bulk_insert(db.session, TABLE, ("id", "name"), rows(), chunk_rows=500) == 2_500
    db.session.commit()
    assert _count() == 2_500
    if backend == "postgresql":
        assert len(at_pauses) >= 4 and at_pauses == sorted(at_pauses)
        assert all(n % 500 == 0 and n > 0 for n in at_pauses), at_pauses  # whole chunks only
    else:  # SQLite loads in one statement; its pause points pause wherever they are
        assert at_pauses
