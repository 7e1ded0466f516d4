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


def test_public_draw_page_shows_local_times(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    path = next(line.split(": ", 1)[1] for line in result.output.splitlines() if line.startswith("Published demo draw"))
    page = app.test_client().get(path).get_data(as_text=True)
    import re

    # "02.11.2026 16:00 (Asia/Yekaterinburg) · 2026-11-02T11:00:00Z": UTC+5, the zone named, the signed UTC text after
    stamp = re.search(r"(\d\d\.\d\d\.\d{4}) (\d\d):(\d\d) \(Asia/Yekaterinburg\) · "
                      r"(\d{4}-\d\d-\d\d)T(\d\d):(\d\d):\d\dZ", page)
    assert stamp is not None
    local_hour, utc_hour = int(stamp.group(2)), int(stamp.group(5))
    assert (local_hour - utc_hour) % 24 == 5
