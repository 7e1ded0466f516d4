"""Partners and offers in a real browser: a partner, an offer, codes issued with progress, the report."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import snapshot_rows

pytestmark = pytest.mark.browser

Page = Any
PERIOD = "2024-04"


def test_marketing_creates_an_offer_and_issues_codes(
    page: Page,
    login: Callable[..., None],
    shot: Callable[[Page, str], Any],
    load_snapshot: Callable[..., None],
) -> None:
    login(page, "marketing")
    load_snapshot(page, PERIOD, snapshot_rows(40, prefix="74100000"))

    page.locator("header nav").get_by_role("link", name="Партнёры").click()
    expect(page.locator("h1")).to_have_text("Партнёры")
    form = page.locator("section.card form")
    form.get_by_label("Название").fill("Уютный дом")
    form.get_by_label("Префикс кодов").fill("DM")
    form.get_by_role("button", name="Создать").click()
    expect(page.locator("h1")).to_contain_text("Уютный дом")
    shot(page, "partner")

    offer = page.locator("form:has(input[name=op][value=offer])")
    offer.get_by_label("Название").fill("Скидка 10% на ремонт электропроводки")
    offer.locator("input[name=percent]").fill("10")
    today = date.today()
    offer.locator("input[name=first]").fill(today.isoformat())
    offer.locator("input[name=last]").fill((today + timedelta(days=90)).isoformat())
    offer.get_by_role("button", name="Создать предложение").click()
    expect(page.locator(".flash.info")).to_be_visible()
    page.get_by_role("link", name="Скидка 10% на ремонт электропроводки").click()
    expect(page.locator("#totals tbody td").first).to_have_text("0")

    issue = page.locator("form:has(input[name=op][value=issue])")
    issue.locator("select[name=period]").select_option(PERIOD)
    issue.get_by_role("button", name="Выдать").click()
    expect(page).to_have_url(re.compile(r"/partners/runs/\d+$"))
    expect(page.locator("progress#progress")).to_be_visible()
    # The page refreshes itself while the run goes on; 20 accounts (responsible + ideal) get a code.
    expect(page.locator("#state")).to_have_attribute("data-state", "done", timeout=20_000)
    expect(page.locator("#counts")).to_have_text("20 / 20")
    expect(page.locator("#state")).to_have_text("завершено")  # one word for a run and a job: the catalogues are merged
    shot(page, "issue-run")

    page.get_by_role("link", name=re.compile("Предложение")).click()
    expect(page.locator("#totals tbody td").first).to_have_text("20")
    shot(page, "offer-report")
