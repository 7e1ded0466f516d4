"""Tier snapshots in a real browser: a refused file listed by line, a good upload, compare, explain.

The server has the demo data (periods 2026-09 and 2026-10), so these tests use 2024 and 2025 periods.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import snapshot_csv, snapshot_rows

pytestmark = pytest.mark.browser

Page = Any
MY_PERIOD = "2024-05"


def test_marketing_uploads_a_snapshot_and_explains_an_account(
    page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes("Лицевой счет;Рейтинг\n0001;идеальный\n0002;золотой\n0001;начинающий\n".encode("cp1251"))
    good = tmp_path / "sept.csv"
    good.write_bytes("Лицевой счет;Рейтинг;Баллы\n0001;идеальный;44\n0002;начинающий;3\n".encode("cp1251"))
    later = tmp_path / "oct.csv"
    later.write_bytes(b"account,tier,points\n0001,responsible,30\n0002,promising,14\n")

    login(page, "marketing")
    page.locator("header nav").get_by_role("link", name="Рейтинги").click()
    form = page.locator("#upload-form")
    form.locator("input[name=period]").fill("2025-01")
    form.locator("input[name=file]").set_input_files(str(bad))
    form.get_by_role("button", name="Загрузить").click()
    expect(page.locator("#refused")).to_be_visible()
    problems = page.locator("#problems tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("unknown_tier")
    expect(problems.nth(1)).to_contain_text("duplicate_account")
    shot(page, "refused")

    page.goto(page.url.replace("/upload", "/"))
    for period, path in (("2025-01", good), ("2025-02", later)):
        form = page.locator("#upload-form")
        form.locator("input[name=period]").fill(period)
        form.locator("input[name=file]").set_input_files(str(path))
        form.get_by_role("button", name="Загрузить").click()
        expect(page.locator("#digest")).to_be_visible()
        page.locator("header nav").get_by_role("link", name="Рейтинги").click()
    expect(page.locator("#snapshots tbody tr", has_text="2025-0")).to_have_count(2)
    shot(page, "list")

    page.get_by_role("link", name="Сравнить периоды").click()
    page.locator("select[name=from]").select_option("2025-01")
    page.locator("select[name=to]").select_option("2025-02")
    page.get_by_role("button", name="Сравнить").click()
    expect(page.locator("#matrix")).to_be_visible()
    shot(page, "compare")

    page.goto(page.url.split("/snapshots")[0] + "/snapshots/account?account=0001&period=2025-02")
    expect(page.locator("#tier")).to_contain_text("ответственный")
    expect(page.locator("#history tbody tr")).to_have_count(2)
    shot(page, "account")


def test_marketing_uploads_a_bad_then_a_good_snapshot(
    page: Page,
    login: Callable[..., None],
    shot: Callable[[Page, str], Any],
    upload_snapshot: Callable[..., Any],
) -> None:
    login(page, "marketing")
    page.locator("header nav").get_by_role("link", name="Рейтинги").click()
    expect(page.locator("h1")).to_have_text("Рейтинги по месяцам")
    shot(page, "snapshots")

    rows = snapshot_rows(40)
    bad = bytearray(snapshot_csv(rows))
    text = bad.decode().splitlines()
    text[17] = text[17].split(";")[0] + ";платиновый;170"  # line 18 of the file: no such tier
    upload_snapshot(page, MY_PERIOD, ("\n".join(text) + "\n").encode(), name="bad.csv")
    expect(page.locator("h1")).to_have_text("Ничего не загружено")
    problems = page.locator("#problems tbody tr")
    expect(problems).to_have_count(1)
    expect(problems.first.locator("td").nth(1)).to_have_text("18")
    expect(problems.first).to_contain_text("неизвестный уровень рейтинга")
    shot(page, "refused")

    upload_snapshot(page, MY_PERIOD, snapshot_csv(rows), name="good.csv")
    expect(page).to_have_url(re.compile(r"/snapshots/\d+$"))
    expect(page.locator(".flash.info")).to_contain_text("40")
    expect(page.locator("main")).to_contain_text(MY_PERIOD)
    shot(page, "loaded")

    page.goto("/snapshots/")
    expect(page.locator("#snapshots tbody tr", has_text=MY_PERIOD)).to_have_count(1)
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
