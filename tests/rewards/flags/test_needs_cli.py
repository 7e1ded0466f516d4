"""``flask flags set-needs/needs/due/end-lapsed/import-needs/export-needs``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from rewards.flags.shell import local_today
from rewards.jobs import registry


def test_needs_commands(app: Flask, runner: Any, tmp_path: Path) -> None:
    with app.app_context():
        day = local_today()
    r = runner.invoke(args=["flags", "needs"])
    assert r.exit_code == 0 and "hardship.income_loss\ttemporary" in r.output
    r = runner.invoke(args=["flags", "set-needs", "0042", "--need", "pensioner"])
    assert r.exit_code == 1 and "consent" in r.output
    end = (day + timedelta(days=3)).isoformat()
    r = runner.invoke(args=["flags", "set-needs", "0042", "--need", "pensioner", "--need", "young_children",
                            "--ends-on", end, "--consent-on", day.isoformat(), "--consent-channel", "written",
                            "--share", "--password"], input="abcd\nabcd\n")
    assert r.exit_code == 0, r.output
    assert r.output.strip().endswith("created: register entry 1 0042")
    r = runner.invoke(args=["flags", "due"])
    assert f"0042\tyoung_children\t{end}\t\tends" in r.output
    r = runner.invoke(args=["flags", "end-lapsed"])
    assert r.exit_code == 0 and r.output.startswith("0 need(s) ended")
    out = tmp_path / "needs.csv"
    r = runner.invoke(args=["flags", "export-needs", "--out", str(out)])
    assert r.exit_code == 0
    assert out.read_text().splitlines()[1].startswith("0042;pensioner,young_children;young_children=")
    assert "abcd" not in out.read_text()
    assert any(p.name == "flags.end_lapsed_needs" for p in registry.periodic(app))


def test_revoke_a_register_entry_by_account(app: Flask, runner: Any) -> None:
    with app.app_context():
        day = local_today().isoformat()
    r = runner.invoke(args=["flags", "set-needs", "0043", "--need", "language", "--consent-on", day,
                            "--consent-channel", "office"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["flags", "revoke", "--account", "0043", "--reason", "needs", "--why", "moved out"])
    assert r.exit_code == 0 and r.output.startswith("revoked: flag 1 0043 needs")
    r = runner.invoke(args=["flags", "history", "0043"])
    assert "priority no" in r.output and "moved out" in r.output
