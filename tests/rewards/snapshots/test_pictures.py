"""The charts on the dashboard (tiers month by month) and on the compare page (movement), with the
same values as text."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from rewards.db import db
from tests.support import make_snapshot


def _three_months(app: Flask) -> None:
    with app.app_context():
        make_snapshot(db.session, "2026-08", {"1": "beginner", "2": "beginner", "3": "ideal"})
        make_snapshot(db.session, "2026-09", {"1": "promising", "2": "beginner", "3": "ideal", "4": "responsible"})
        make_snapshot(db.session, "2026-10", {"1": "responsible", "3": "promising", "4": "responsible"})
        db.session.commit()


def _svg(page: str, ident: str) -> str:
    start = page.rindex("<svg", 0, page.index(f'id="{ident}"') + 1)
    return page[start : page.index("</svg>", start) + 6]


def test_dashboard_shows_the_tier_trend_as_stacked_bars_and_text(
    app: Flask, logged_in: Callable[[str], FlaskClient]
) -> None:
    _three_months(app)
    page = logged_in("auditor").get("/").get_data(as_text=True)
    svg = _svg(page, "tier-trend-chart")
    assert 'role="img"' in svg and "<title" in svg
    assert "2026-08 · начинающий: 2" in svg and "2026-10 · ответственный: 2" in svg
    assert "2026-09 · идеальный: 1" in svg
    table = page[page.index('id="tier-trend-table"') :]
    rows = re.findall(r"<tr><td>(\d{4}-\d\d)</td>((?:<td class=\"num\">\d+</td>)+)</tr>", table)
    values = {p: [int(n) for n in re.findall(r">(\d+)<", cells)] for p, cells in rows}
    assert values == {"2026-08": [2, 0, 0, 1, 3], "2026-09": [1, 1, 1, 1, 4], "2026-10": [0, 1, 2, 0, 3]}


def test_dashboard_without_two_months_has_no_trend(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    with app.app_context():
        make_snapshot(db.session, "2026-10", {"1": "ideal"})
        db.session.commit()
    page = logged_in("marketing").get("/").get_data(as_text=True)
    assert "tier-trend-chart" not in page


def test_compare_page_draws_the_movement_as_a_heat_map(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    _three_months(app)
    page = logged_in("marketing").get("/snapshots/compare?from=2026-09&to=2026-10").get_data(as_text=True)
    svg = _svg(page, "movement-chart")
    assert 'role="img"' in svg
    assert "How accounts moved" not in svg  # Russian page
    assert "перспективный → ответственный: 1" in svg  # account 1
    assert "идеальный → перспективный: 1" in svg  # account 3
    assert "ответственный → ответственный: 1" in svg  # account 4
    assert "начинающий → выбыли: 1" in svg  # account 2 left
    assert 'id="matrix"' in page  # the same numbers as a table
