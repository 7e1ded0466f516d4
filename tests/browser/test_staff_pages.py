"""Staff pages in a real browser: login, dashboard, refusals, API clients, the audit log, language, logout."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

Page = Any


def test_marketing_logs_in_to_a_russian_dashboard(
    page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any]
) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$|/login\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("h1")).to_have_text("Вход для сотрудников")
    expect(page.get_by_label("Имя пользователя")).to_be_visible()
    expect(page.get_by_label("Пароль")).to_be_visible()
    shot(page, "login")

    login(page, "marketing")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("h1")).to_have_text("Сводка")
    expect(page.locator("header .who")).to_contain_text("marketing · маркетолог")
    nav = page.locator("header nav")
    expect(nav.get_by_role("link", name="Сводка")).to_be_visible()
    # Marketing is not an administrator: the admin entries are not offered.
    expect(nav.get_by_role("link", name="Пользователи")).to_have_count(0)
    expect(nav.get_by_role("link", name="API-клиенты")).to_have_count(0)
    shot(page, "dashboard")


def test_wrong_password_is_refused_in_the_page(page: Page, shot: Callable[[Page, str], Any]) -> None:
    page.goto("/login")
    page.get_by_label("Имя пользователя").fill("marketing")
    page.get_by_label("Пароль").fill("not the password")
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_have_text("Неверное имя пользователя или пароль.")
    expect(page).to_have_url(re.compile(r"/login"))
    shot(page, "login-refused")


@pytest.mark.parametrize("path", ["/admin/users", "/admin/clients"])
def test_marketing_is_refused_the_admin_pages(
    page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any], path: str
) -> None:
    login(page, "marketing")
    response = page.goto(path)
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_contain_text("403")
    expect(page.locator("h1")).to_contain_text("Доступ запрещён")
    expect(page.locator(".error-message")).to_contain_text("прав")
    expect(page.locator(".error-message")).not_to_contain_text("permission")
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "File \"" not in body
    # Still inside the service: the header and the way back are there.
    expect(page.locator("header nav").get_by_role("link", name="Сводка")).to_be_visible()
    expect(page.locator("main code")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))  # the request id
    shot(page, "refused")


def test_admin_creates_an_api_client_and_sees_the_key_once(
    page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any]
) -> None:
    login(page, "admin")
    page.locator("header nav").get_by_role("link", name="API-клиенты").click()
    expect(page.locator("h1")).to_have_text("API-клиенты")
    expect(page.locator("header nav a.active")).to_have_text(["API-клиенты"])
    shot(page, "clients")

    form = page.locator("section.card form")
    form.get_by_label("Название").fill("remont-site")
    form.locator("input[name=scopes][value='codes:validate']").check()
    form.locator("input[name=scopes][value='codes:redeem']").check()
    form.get_by_role("button", name="Создать").click()

    token_box = page.locator("#new-token")
    expect(token_box).to_be_visible()
    token = token_box.inner_text().strip()
    assert len(token) >= 32 and " " not in token
    expect(page.get_by_text("показывается только один раз")).to_be_visible()
    row = page.locator("table.grid tbody tr", has_text="remont-site")
    expect(row).to_contain_text("codes:redeem")
    expect(row).to_contain_text("действует")
    shot(page, "key-shown-once")

    # The key works on the API ...
    answer = page.request.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200, answer.text()
    assert answer.json() == {"client": "remont-site", "scopes": ["codes:redeem", "codes:validate"]}
    # ... and is never shown again.
    page.goto("/admin/clients")
    expect(page.locator("#new-token")).to_have_count(0)
    assert token not in page.content()
    expect(page.locator("table.grid tbody tr", has_text="remont-site")).to_be_visible()


def test_auditor_verifies_the_event_log(
    page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any]
) -> None:
    login(page, "auditor")
    page.locator("header nav").get_by_role("link", name="Аудит").click()
    expect(page.locator("h1")).to_have_text("Журнал событий")
    # The demo load and the logins so far are in the log.
    expect(page.locator("table.grid tbody tr").first).to_be_visible()
    shot(page, "event-log")

    page.get_by_role("button", name="Проверить журнал").click()
    result = page.locator("#verify-result")
    expect(result).to_contain_text("Журнал не изменён")
    expect(result).not_to_contain_text("нарушен")
    shot(page, "log-verified")

    # An auditor reads the keys but administers nothing.
    page.locator("header nav").get_by_role("link", name="Ключи подписи").click()
    expect(page.locator("h1")).to_have_text("Ключи подписи")
    expect(page.locator("table.grid tbody tr code").first).to_be_visible()
    shot(page, "signing-keys")
    response = page.goto("/admin/users")
    assert response is not None and response.status == 403


def test_language_switch_to_english_and_back(
    page: Page, login: Callable[..., None], shot: Callable[[Page, str], Any]
) -> None:
    page.goto("/login")
    page.locator("header .lang").get_by_role("link", name="EN").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Staff login")
    expect(page.get_by_label("User name")).to_be_visible()
    shot(page, "login-en")

    # The choice is kept across the login.
    login(page, "marketing")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("header .who")).to_contain_text("marketing · marketing")
    expect(page.locator("header .who").get_by_role("button", name="Log out")).to_be_visible()
    shot(page, "dashboard-en")

    page.locator("header .lang").get_by_role("link", name="RU").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("h1")).to_have_text("Сводка")
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Сводка")


def test_logout_ends_the_session(
    page: Page,
    new_page: Callable[..., Page],
    login: Callable[..., None],
    shot: Callable[[Page, str], Any],
) -> None:
    login(page, "marketing")
    cookies = page.context.cookies()
    assert any(c["name"] == "session" for c in cookies)

    page.locator("header .who").get_by_role("button", name="Выйти").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_have_text("Вы вышли из системы.")
    expect(page.locator("header nav")).to_have_count(0)
    shot(page, "logged-out")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next="))

    # A copy of the old cookie (another tab, a stolen cookie) no longer opens anything.
    other = new_page()
    other.context.add_cookies(cookies)
    other.goto("/")
    expect(other).to_have_url(re.compile(r"/login\?next="))
    expect(other.locator("h1")).to_have_text("Вход для сотрудников")
