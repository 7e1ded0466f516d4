"""Priority flags in a real browser: find an account, set a flag, see the history, revoke it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

Page = Any
ACCOUNT = "7400123456"


def test_marketing_sets_and_revokes_a_priority_flag(
    page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any]
) -> None:
    login(page, "marketing")
    page.locator("header nav").get_by_role("link", name="Приоритетное обслуживание").click()
    expect(page.locator("h1")).to_have_text("Приоритетное обслуживание")

    # A malformed account number is refused in the page.
    page.locator("#account-search").fill("74-ab")
    page.get_by_role("button", name="Найти").click()
    expect(page.locator(".flash.error")).to_be_visible()

    # Spaces and dashes are ignored: the account as a bill prints it.
    page.locator("#account-search").fill(f"{ACCOUNT[:4]} {ACCOUNT[4:7]}-{ACCOUNT[7:]}")
    page.get_by_role("button", name="Найти").click()
    now = page.locator("#priority-now")
    expect(now).to_contain_text(ACCOUNT)
    expect(now.locator(".fail")).to_be_visible()  # no priority yet
    expect(page.locator("#flag-history")).to_contain_text("не было признаков")
    shot(page, "no-flag")

    form = page.locator("#set-flag")
    form.locator("select[name=reason]").select_option("pensioner")
    form.get_by_role("button", name="Сохранить").click()
    expect(page.locator(".flash.info")).to_be_visible()
    expect(now.locator(".pass")).to_be_visible()
    history = page.locator("#flag-history tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("пенсионер")
    shot(page, "flag-set")

    row = history.first
    row.locator("input[name=why]").fill("ошибка оператора")
    row.get_by_role("button", name="Снять").click()
    expect(page.locator(".flash.info")).to_be_visible()
    expect(now.locator(".fail")).to_be_visible()
    expect(page.locator("#flag-history tbody tr").first).to_contain_text("ошибка оператора")
    shot(page, "flag-revoked")


def test_auditor_sees_flags_but_cannot_change_them(page: Page, login: Callable[..., None]) -> None:
    login(page, "auditor")
    page.goto(f"/flags/?account={ACCOUNT}")
    expect(page.locator("h1")).to_have_text("Приоритетное обслуживание")
    expect(page.locator("#set-flag")).to_have_count(0)
    response = page.goto("/flags/bulk")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text(re.compile("403"))
