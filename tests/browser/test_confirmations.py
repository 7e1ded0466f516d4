"""Irreversible steps ask first (issue 14, item 3): a <dialog> driven by a static script names what cannot
be undone; "no" leaves everything as it was, "yes" does it. No inline script (the page fixture fails a test
on any Content-Security-Policy violation)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

Page = Any


def test_revoking_an_api_key_asks_first_and_no_changes_nothing(
    page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any]
) -> None:
    login(page, "admin")
    page.goto("/admin/clients")
    form = page.locator("form", has=page.locator("input[name=op][value=create]"))
    form.locator("input[name=name]").fill("confirm-test")  # a client of its own: other tests' keys stay
    form.locator("input[name=scopes]").first.check()
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    row = page.locator("tr", has_text="confirm-test")
    revoke = row.get_by_role("button", name="Отозвать ключ")
    expect(revoke).to_be_visible()
    dialog = page.locator("#confirm-dialog")

    revoke.click()
    expect(dialog).to_be_visible()
    expect(dialog.locator(".confirm-text")).to_contain_text("никогда")  # names what cannot be undone
    shot(page, "revoke-key-asks")
    dialog.get_by_role("button", name="Нет, вернуться").click()
    expect(dialog).to_be_hidden()
    expect(row.get_by_role("button", name="Отозвать ключ")).to_be_visible()  # nothing was sent

    row.get_by_role("button", name="Отозвать ключ").click()
    with page.expect_navigation():
        dialog.get_by_role("button", name="Да, выполнить").click()
    expect(page.locator("tr", has_text="confirm-test").get_by_role("button", name="Отозвать ключ")).to_have_count(0)
    shot(page, "revoke-key-done")


def test_replacing_a_snapshot_asks_only_when_replace_is_ticked(page: Page, login: Callable[..., None]) -> None:
    login(page, "marketing")
    page.goto("/snapshots/")
    form = page.locator("#upload-form")
    load = form.locator("button[type=submit]")
    expect(load).to_have_attribute("data-confirm-if", "replace")
    form.locator("input[name=period]").fill("2020-01")
    form.locator("input[name=file]").set_input_files(
        files=[{"name": "t.csv", "mimeType": "text/csv", "buffer": b"account;tier\n7400000001;ideal\n"}]
    )
    form.locator("input[name=replace]").check()
    load.click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".confirm-text")).to_contain_text("Заменить снимок")
    dialog.get_by_role("button", name="Нет, вернуться").click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/snapshots/$"))  # nothing was sent
