"""The snapshot list (search, filters, pages) and the compare page's CSV matrix, on both databases."""

from __future__ import annotations

from typing import Any

from flask import Flask

from rewards.db import db
from tests.lists import check_list, get, rows
from tests.support import make_snapshot


def test_the_snapshot_list_searches_filters_and_pages(app: Flask, logged_in: Any) -> None:
    with app.app_context():
        for n in range(60):
            snap = make_snapshot(db.session, f"{2020 + n // 12}-{n % 12 + 1:02d}", {"1": "ideal"})
            if n % 9 == 0:
                snap.status = "superseded"
        db.session.commit()
    page = logged_in("marketing")
    check_list(page, "/snapshots/", "snapshots", total=60, search=("q=2021-03", "2021-03"),
               filters=("status=superseded", 7), bad="status=gone")
    refused = get(page, "/snapshots/?source=fax&lang=ru", 400)
    assert "Источник" in refused and "fax" in refused  # the filter named in the page's language
    assert len(rows(get(page, "/snapshots/?source=computed"), "snapshots")) == 0


def test_the_compare_matrix_downloads_as_csv_for_excel(app: Flask, logged_in: Any) -> None:
    with app.app_context():
        make_snapshot(db.session, "2026-09", {"1": "ideal", "2": "beginner", "3": "promising"})
        make_snapshot(db.session, "2026-10", {"1": "ideal", "2": "promising", "4": "ideal"})
        db.session.commit()
    page = logged_in("auditor")
    compared = get(page, "/snapshots/compare?from=2026-09&to=2026-10")
    assert "/snapshots/compare.csv?from=2026-09&amp;to=2026-10" in compared
    response = page.get("/snapshots/compare.csv?from=2026-09&to=2026-10&lang=ru")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment; filename=tiers-2026-09-2026-10.csv" == response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    lines = body.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "2026-09 \\ 2026-10;начинающий;перспективный;ответственный;идеальный;выбыли;всего"
    assert lines[1] == "начинающий;0;1;0;0;0;1"
    assert lines[2] == "перспективный;0;0;0;0;1;1"
    assert lines[4] == "идеальный;0;0;0;1;0;1"
    assert lines[5] == "новые;0;0;0;1;;"
    assert lines[6] == "всего;0;1;0;2;;"
    bad = page.get("/snapshots/compare.csv?from=2026-13&to=2026-10")
    assert bad.status_code == 302  # back to the page, which says why
