"""Tier snapshots in a real browser: a file with a bad row is refused, the line named; a good one loads."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import snapshot_csv, snapshot_rows

if not (Path(__file__).resolve().parents[2] / "rewards" / "snapshots" / "views.py").exists():
    pytest.skip("the snapshot pages have not landed yet", allow_module_level=True)

pytestmark = pytest.mark.browser

Page = Any
PERIOD = "2026-08"


def test_marketing_uploads_a_bad_then_a_good_snapshot(
    page: Page,
    login: Callable[..., None],
    shot: Callable[[Page, str], Any],
    upload_snapshot: Callable[..., Any],
) -> None:
    login(page, "marketing")
    page.locator("header nav").get_by_role("link", name="Срезы рейтинга").click()
    expect(page.locator("h1")).to_have_text("Срезы рейтинга")
    shot(page, "snapshots")

    rows = snapshot_rows(40)
    bad = bytearray(snapshot_csv(rows))
    text = bad.decode().splitlines()
    text[17] = text[17].split(";")[0] + ";платиновый;170"  # line 18 of the file: no such tier
    upload_snapshot(page, PERIOD, ("\n".join(text) + "\n").encode(), name="bad.csv")
    expect(page.locator("h1")).to_have_text("Ничего не загружено")
    problems = page.locator("#problems tbody tr")
    expect(problems).to_have_count(1)
    expect(problems.first.locator("td").nth(1)).to_have_text("18")
    expect(problems.first).to_contain_text("неизвестный уровень рейтинга")
    shot(page, "refused")

    upload_snapshot(page, PERIOD, snapshot_csv(rows), name="good.csv")
    expect(page).to_have_url(re.compile(r"/snapshots/\d+$"))
    expect(page.locator(".flash.info")).to_contain_text("40")
    expect(page.locator("main")).to_contain_text(PERIOD)
    shot(page, "loaded")

    page.goto("/snapshots/")
    expect(page.locator("#snapshots tbody tr", has_text=PERIOD)).to_have_count(1)
    page.goto("/")
    chart = page.locator("#tier-chart")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() in (4, 8)  # a bar per tier, and per tier for the month before
    expect(chart).to_contain_text("идеальный")
    shot(page, "dashboard-with-snapshot")


def test_auditor_sees_snapshots_but_cannot_upload(page: Page, login: Callable[..., None]) -> None:
    login(page, "auditor")
    page.goto("/snapshots/")
    expect(page.locator("#upload-form")).to_have_count(0)
