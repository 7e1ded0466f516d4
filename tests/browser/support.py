"""Helpers the browser tests import (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

TIERS = ("beginner", "promising", "responsible", "ideal")


def snapshot_rows(count: int = 40, prefix: str = "74000000") -> list[tuple[str, str]]:
    """``count`` accounts spread evenly over the four tiers, lowest first: (account, tier)."""
    per = max(count // 4, 1)
    return [(f"{prefix}{i:02d}", TIERS[min(i // per, 3)]) for i in range(count)]


def snapshot_csv(rows: list[tuple[str, str]]) -> bytes:
    """A snapshot file as billing sends it (header in Russian, ';', UTF-8)."""
    lines = "".join(f"{a};{t};{10 * n}\n" for n, (a, t) in enumerate(rows))
    return ("Лицевой счет;Рейтинг;Баллы\n" + lines).encode()


def submit_unchecked(page: Any, form: Any) -> None:
    """Submit ``form`` with the browser's own checks off (the server's are under test); wait for the answer."""
    form.evaluate("f => f.noValidate = true")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
