"""Loading a snapshot gives its priority-tier accounts their flags, in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from tests.support import bearer


def test_imported_snapshot_flags_ideal_accounts(app: Flask, api_token: Callable[..., str], tmp_path: Path) -> None:
    source = tmp_path / "october.csv"
    source.write_text("Лицевой счет;Рейтинг\n000123;идеальный\n000124;ответственный\n", encoding="cp1251")
    result = app.test_cli_runner().invoke(args=["snapshots", "import", str(source), "--period", "2026-10"])
    assert result.exit_code == 0, result.output
    token = api_token("priority:read")
    c = app.test_client()
    ideal = c.get("/api/v1/accounts/000123/priority", headers=bearer(token)).get_json()
    assert ideal["priority"] is True
    reasons = [r["reason"] for r in ideal["reasons"]]
    assert reasons == ["tier:ideal"]
    other = c.get("/api/v1/accounts/000124/priority", headers=bearer(token)).get_json()
    assert other["priority"] is False and other["reasons"] == []


def test_rejected_snapshot_flags_nobody(app: Flask, api_token: Callable[..., str], tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("account,tier\n000123,ideal\n000124,platinum\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["snapshots", "import", str(source), "--period", "2026-10"])
    assert result.exit_code != 0 and "bad.csv:3: unknown_tier" in result.output
    body = app.test_client().get("/api/v1/accounts/000123/priority",
                                 headers=bearer(api_token("priority:read"))).get_json()
    assert body["reasons"] == []
