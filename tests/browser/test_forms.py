"""Forms that help (issue 14, item 2), in a real browser: a form with five bad fields shows five errors,
each beside its field, with what was typed kept; money is typed and shown in rubles; a draft draw is
edited on its own page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.support import submit_unchecked

pytestmark = pytest.mark.browser

Page = Any
TZ = ZoneInfo("Asia/Yekaterinburg")  # the test instance keeps the default TIMEZONE


def _beside(page: Page, name: str) -> Any:
    """The errors shown in the field block of input ``name`` (its label, the input, its errors)."""
    return page.locator(f".field:has([name='{name}']) .field-errors li")


def test_five_bad_fields_show_five_errors_beside_them_with_the_values_kept(
    page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any], load_snapshot: Callable[..., None],
) -> None:
    login(page, "marketing")
    load_snapshot(page, "2023-11", [("7400000001", "ideal"), ("7400000002", "responsible")])
    page.goto("/draws/new")
    form = page.locator("#draft-form")
    typed = {
        "name": "",
        "prizes": "4 000,001 × 2",
        "reserves": "-3",
        "snapshot_period": "2024-13",
    }
    form.locator("input[name=name]").fill(typed["name"])
    form.locator("textarea[name=prizes]").fill(typed["prizes"])
    form.locator("input[name=reserves]").fill(typed["reserves"])
    form.locator("input[name=snapshot_period]").fill(typed["snapshot_period"])
    form.locator("input[name=quorum]").fill("0")
    form.locator("input[name=unwitnessed]").check()
    # The deadline is left empty: the fifth mistake.
    submit_unchecked(page, form)
    expect(page.locator(".field-errors li")).to_have_count(5)
    for name in ("name", "prizes", "reserves", "snapshot_period", "freeze_at"):
        expect(_beside(page, name)).to_have_count(1)
        expect(page.locator(f"[name='{name}']")).to_have_attribute("aria-invalid", "true")
    expect(_beside(page, "prizes")).to_have_text("Строка 1: После запятой не больше двух цифр: копейки.")
    expect(page.locator(".form-summary")).to_contain_text("5")
    expect(page.locator("textarea[name=prizes]")).to_have_value(typed["prizes"])
    expect(page.locator("input[name=reserves]")).to_have_value(typed["reserves"])
    expect(page.locator("input[name=snapshot_period]")).to_have_value(typed["snapshot_period"])
    expect(page.locator("input[name=unwitnessed]")).to_be_checked()
    shot(page, "draft-five-errors")

    # Corrected, the draft is created; the prizes are shown in rubles and it can be edited.
    freeze_at = datetime.now(TZ).replace(microsecond=0) + timedelta(days=3)
    page.locator("input[name=name]").fill("Розыгрыш для проверки форм")
    page.locator("textarea[name=prizes]").fill("4 000 × 2\n1 500,50 × 1")
    page.locator("input[name=reserves]").fill("1")
    page.locator("input[name=snapshot_period]").fill("2023-11")
    page.locator("input[name=freeze_at]").fill(freeze_at.strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#draft-form button[type=submit]").click()
    expect(page.locator(".flash.info")).to_be_visible()
    expect(page.locator("main")).to_contain_text("4\u00a0000,00\u00a0₽")
    expect(page.locator("main")).to_contain_text("1\u00a0500,50\u00a0₽")
    expect(page.locator("main")).to_contain_text(freeze_at.strftime("%d.%m.%Y %H:%M") + " (Asia/Yekaterinburg)")
    page.get_by_role("link", name="Изменить черновик").click()
    expect(page.locator("h1")).to_have_text("Изменить черновик")
    expect(page.locator("textarea[name=prizes]")).to_have_value("4\u00a0000,00 × 2\n1\u00a0500,50 × 1")
    page.locator("input[name=name]").fill("Розыгрыш после правки")
    page.locator("#draft-form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("Розыгрыш после правки")
    expect(page.locator(".flash.info")).to_have_text("Черновик сохранён.")
    shot(page, "draft-edited")


def test_the_offer_form_in_rubles(page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any]) -> None:
    login(page, "marketing")
    page.goto("/partners/")
    page.locator("#partner-form input[name=name]").fill("Проверка форм")
    page.locator("#partner-form input[name=prefix]").fill("PF")
    page.locator("#partner-form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("Проверка форм")
    offer = page.locator("#offer-form")
    offer.locator("input[name=title]").fill("Скидка на счётчик")
    offer.locator("select[name=kind]").select_option("fixed")
    offer.locator("input[name=amount]").fill("-500")
    offer.locator("input[name=first]").fill("2026-03-01")
    offer.locator("input[name=last]").fill("2026-02-01")
    offer.locator("button[type=submit]").click()
    expect(page.locator(".field-errors li")).to_have_count(2)
    expect(_beside(page, "amount")).to_have_text("Сумма не может быть отрицательной.")
    expect(page.locator("#offer-form input[name=amount]")).to_have_value("-500")
    shot(page, "offer-errors")
    page.locator("#offer-form input[name=amount]").fill("1 500,50")
    page.locator("#offer-form input[name=last]").fill("2026-12-31")
    page.locator("#offer-form button[type=submit]").click()
    expect(page.locator(".flash.info")).to_be_visible()
    expect(page.locator("table.grid")).to_contain_text(re.compile("1\u00a0500,50\u00a0₽"))
