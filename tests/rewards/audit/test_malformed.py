"""``flask audit verify`` and the log page on malformed rows: a broken link, never a traceback.

A row edited behind the service's back may hold details that are not JSON, a float (canonical JSON
refuses floats, so the body cannot be hashed), or on SQLite a time that is no time: each used to crash
the walk.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from rewards.audit import services
from rewards.db import db


def _seed(app: Flask, n: int = 5) -> None:
    with app.app_context():
        for i in range(n):
            services.record_event(db.session, "tester", "thing.done", "thing", str(i), {"i": i})
        db.session.commit()


def _seed_and_spoil(app: Flask, backend: str, column: str, value: str) -> None:
    """Five events, then ``column`` of the third overwritten with ``value`` (skipped where it cannot be stored)."""
    if column == "at" and backend == "postgresql":
        pytest.skip("a timestamptz column cannot hold a malformed time: only SQLite stores one")
    _seed(app)
    with app.app_context():
        db.session.execute(text(f"UPDATE events SET {column} = :v WHERE seq = 3"), {"v": value})
        db.session.commit()


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("details", "not json", "event 3: unreadable row (JSONDecodeError"),
        ("details", '{"i":1.5}', "event 3: content cannot be hashed"),
        ("details", "[" * 5000 + "]" * 5000, "event 3: "),
        ("at", "yesterday at noon", "event 3: unreadable row (ValueError"),
        ("at", "2026-13-45 99:00:00", "event 3: unreadable row (ValueError"),
    ],
)
def test_malformed_rows_are_broken_links(app: Flask, backend: str, column: str, value: str, problem: str) -> None:
    _seed_and_spoil(app, backend, column, value)
    with app.app_context():
        report = services.verify_log(db.session)
        db.session.rollback()
    assert not report.ok and report.count == 2 and report.problem is not None
    assert report.problem.startswith(problem), report.problem
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback: a clean exit 1
    assert f"BROKEN: {problem}" in result.output


MALFORMED = [
    ("details", "not json"),
    ("details", '{"i":1.5}'),
    ("details", "[" * 5000 + "]" * 5000),
    ("at", "yesterday at noon"),
    ("at", "2026-13-45 99:00:00"),
]


@pytest.mark.parametrize(("column", "value"), MALFORMED)
def test_the_log_page_shows_malformed_rows_and_verify_reports_them(
    app: Flask, backend: str, logged_in: Callable[[str], FlaskClient], column: str, value: str
) -> None:
    _seed_and_spoil(app, backend, column, value)
    auditor = logged_in("auditor")
    page = auditor.get("/audit/?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "thing.done" in html and html.count("thing.done") >= 5  # every row listed, the bad one too
    verified = auditor.post("/audit/verify")
    assert verified.status_code == 200
    shown = verified.get_data(as_text=True)
    assert "event 3: " in shown  # the broken link, named
    filtered = auditor.get("/audit/?actor=tester&lang=en")
    assert filtered.status_code == 200
