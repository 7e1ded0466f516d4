"""``flask flags set/revoke/history/import/export/apply-tiers``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from rewards.db import db
from tests.rewards.flags.helpers import store_snapshot


def _snapshot(app: Flask, period: str, rows: dict[str, str]) -> None:
    with app.app_context():
        store_snapshot(db.session, period, rows)
        db.session.commit()


def test_set_revoke_history(app: Flask, runner: Any) -> None:
    r = runner.invoke(args=["flags", "set", "0042", "--reason", "pensioner", "--actor", "anna"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("created: flag 1 0042 pensioner")
    r = runner.invoke(args=["flags", "set", "0042", "--reason", "pensioner", "--to", "31.12.2099"])
    assert "replaced: flag 2" in r.output and "replaces flag 1" in r.output
    r = runner.invoke(args=["flags", "revoke", "--account", "0042", "--reason", "pensioner", "--why", "moved"])
    assert r.exit_code == 0 and "revoked: flag 2" in r.output
    r = runner.invoke(args=["flags", "revoke", "2", "--why", "again"])
    assert r.exit_code == 1 and "already closed" in r.output
    r = runner.invoke(args=["flags", "history", "0042"])
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert "priority no" in lines[0]
    assert lines[2].startswith("2\tclosed\tpensioner") and "revoked" in lines[2] and "moved" in lines[2]
    assert lines[3].startswith("1\tclosed\tpensioner") and "replaced" in lines[3]


def test_bad_input(runner: Any) -> None:
    r = runner.invoke(args=["flags", "set", "1", "--reason", "other"])
    assert r.exit_code == 1 and "needs a note" in r.output
    r = runner.invoke(args=["flags", "set", "1", "--reason", "hardship", "--from", "2030-02-01", "--to", "2030-01-01"])
    assert r.exit_code == 1 and "before valid_from" in r.output
    r = runner.invoke(args=["flags", "set", "1", "--reason", "vip"])
    assert r.exit_code == 2
    r = runner.invoke(args=["flags", "history", "1"])
    assert "never" not in r.output and len(r.output.splitlines()) == 2  # header lines only: nothing was set


def test_import_and_export(app: Flask, runner: Any, tmp_path: Path) -> None:
    _snapshot(app, "2026-01", {"1": "ideal", "2": "beginner"})
    bad = tmp_path / "bad.csv"
    bad.write_bytes("Лицевой счет;Причина\n1;pensioner\n2;vip\n9;pensioner\n".encode("cp1251"))
    r = runner.invoke(args=["flags", "import", str(bad)])
    assert r.exit_code == 1
    assert "line 3: unknown reason 'vip'" in r.output and "line 4: account 9 is not in the latest snapshot" in r.output
    good = tmp_path / "good.csv"
    good.write_bytes("\ufeffaccount,reason,valid_to\n1,pensioner,\n2,hardship,2099-12-31\n".encode())
    r = runner.invoke(args=["flags", "import", str(good)])
    assert r.exit_code == 0 and "2 created" in r.output, r.output
    r = runner.invoke(args=["flags", "export"])
    assert r.output.splitlines() == ["account;reasons;valid_to", "1;pensioner;", "2;hardship;2099-12-31"]
    out = tmp_path / "out.csv"
    assert runner.invoke(args=["flags", "export", "--out", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("account;reasons;valid_to")


def test_apply_tiers(app: Flask, runner: Any) -> None:
    assert runner.invoke(args=["flags", "apply-tiers"]).exit_code == 1
    _snapshot(app, "2026-01", {"1": "ideal", "2": "beginner"})
    r = runner.invoke(args=["flags", "apply-tiers"])
    assert r.exit_code == 0 and "1 account(s) in the tiers, 1 flag(s) added" in r.output and "2026-03-31" in r.output
    assert "0 flag(s) added" in runner.invoke(args=["flags", "apply-tiers"]).output
