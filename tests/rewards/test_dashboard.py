"""The dashboard: tier chart, open draws with their next step, offers with issued/redeemed counts."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient


def test_dashboard_panels_after_demo(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    page = logged_in("marketing").get("/").get_data(as_text=True)
    assert "<svg" in page  # the tier distribution chart, rendered on the server
    draws_panel = page[page.index('id="panel-draws"') :]
    assert "Демо: полугодовой розыгрыш (объявлен)" in draws_panel
    assert "зафиксировать участников после времени фиксации" in draws_panel
    offers = page[page.index('id="panel-offers"') :]
    assert "Горсервис" in offers
    # three demo redemptions
    assert '<td class="num">3</td>' in offers
