"""The API reference page in a real browser: Swagger UI renders the document, from this server only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

Page = Any


def test_the_api_reference_renders_without_another_origin(
    page: Page, live_server: Any, shot: Callable[[Page, str], Any]
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Loyalty rewards API")
    expect(page.locator(".opblock-summary-path").filter(has_text="/api/v1/partner/codes/validate").first).to_be_visible()
    shot(page, "api-docs")
    foreign = [url for url in requested if not url.startswith(live_server.url) and not url.startswith("data:")]
    assert not foreign, foreign  # a closed network serves every file (CSP violations fail the fixture)
