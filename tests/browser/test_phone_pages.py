"""Public pages on a phone (issue 14, item 9): 390 × 844 px, no sideways scrolling on any page an
anonymous visitor reaches (login, the draw list, each draw, the answer of its "did I take part?"
check, a missing page, the API reference); each is screenshotted into test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from draws.demo import PUBLISHED_NAME

pytestmark = pytest.mark.browser

Page = Any
WIDTH, HEIGHT = 390, 844


def _phone(new_page: Callable[..., Page]) -> Page:
    return new_page(viewport={"width": WIDTH, "height": HEIGHT}, is_mobile=True, has_touch=True,
                    device_scale_factor=2)


def _fits(page: Page) -> tuple[int, list[str]]:
    """The document's width, and the elements that stick out to the right (for the failure message)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        """(w) => [...document.querySelectorAll('body *')]
             .filter(e => e.getBoundingClientRect().right > w + 0.5)
             .filter(e => !e.closest('.scroll-x, table.grid, pre'))
             .slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40))""",
        WIDTH,
    )
    return int(width), wide


def test_every_public_page_fits_a_phone(new_page: Callable[..., Page], shot: Callable[[Page, str], Any]) -> None:
    page = _phone(new_page)
    paths = ["/login", "/public/draws/", "/no-such-page"]
    page.goto("/public/draws/")
    links = page.eval_on_selector_all("main a[href*='/public/draws/']", "els => els.map(e => e.pathname)")
    assert links, "the demo has public draws"
    paths += list(dict.fromkeys(links))
    checked = []
    for path in paths:
        page.goto(path)
        width, wide = _fits(page)
        shot(page, f"phone {path}")
        assert width <= WIDTH, f"{path} is {width} px wide on a {WIDTH} px phone: {wide}"
        checked.append(path)
        form = page.locator("#check form")
        if form.count():  # the "did I take part?" answer page too
            form.locator("input[name=account]").fill("740000000001")
            form.locator("input[name=code]").fill("AAAAA-BBBBB")
            form.locator("button[type=submit]").click()
            page.wait_for_load_state()
            width, wide = _fits(page)
            shot(page, f"phone {path} check")
            assert width <= WIDTH, f"the check answer of {path} is {width} px wide: {wide}"
    assert len(checked) >= 5, checked  # login, list, missing page, the two demo draws
    page.goto("/api/v1/docs")  # the API reference (Swagger UI, for the partners' developers)
    page.wait_for_selector(".opblock-summary-path")
    width, wide = _fits(page)
    shot(page, "phone api docs")
    assert width <= WIDTH, f"the API reference is {width} px wide: {wide}"


def test_the_published_demo_draw_says_which_numbers_it_used(new_page: Callable[..., Page]) -> None:
    page = _phone(new_page)
    page.goto("/public/draws/")
    for path in page.eval_on_selector_all("main a[href*='/public/draws/']", "els => els.map(e => e.pathname)"):
        page.goto(path)
        # The demo's own draw (other browser tests publish draws with other numbers on the same server).
        if page.locator("#randomness-used").count() and PUBLISHED_NAME in page.locator("h1").inner_text():
            text = page.locator("#randomness-used").inner_text()
            assert "государственных лотерей" in text and "17 3 44 29 8 61" in text
            return
    pytest.fail("no published draw on the public list")
