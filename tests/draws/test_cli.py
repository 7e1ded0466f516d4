"""``flask draws ...``: a draw from the command line, the verifier on its output, simulate."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from draws import services
from draws.engine import entropy_available_at
from draws.verify import main as verify_main
from rewards.db import db
from tests.draws.conftest import BEACON, T0, cosign_package, drand_value, snapshot_tiers, witness_entries
from tests.support import make_snapshot


def test_cli_draw_and_standalone_verifier(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = {"t": T0}
    monkeypatch.setattr(services, "utcnow", lambda: now["t"])
    with app.app_context():
        make_snapshot(db.session, "2026-05", snapshot_tiers(24))
        db.session.commit()
    runner = app.test_cli_runner()
    pid = _create_and_announce(runner, tmp_path)
    _freeze_cosign_draw_publish(app, runner, tmp_path, now, pid)
    _records_verify_offline(runner, tmp_path, pid)
    _credits_round_trip(runner, tmp_path)


def _create_and_announce(runner: Any, tmp_path: Path) -> str:
    """``draws create`` from a draft file, ``exclusions``, ``announce``: the draw's id."""
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps({
        "name": "CLI draw", "kind": "quarterly", "tier_weights": {"ideal": 2, "responsible": 1},
        "prizes": [{"amount_kopecks": 250000, "count": 2}], "reserves": 2,
        "freeze_at": (T0 + timedelta(days=1)).isoformat(),
        "entropy": {"type": "drand", "chain": "test", "delay_seconds": 120},
        "witnesses": witness_entries(), "quorum": 2,
    }))
    result = runner.invoke(args=["draws", "create", str(draft)])
    assert result.exit_code == 0, result.output
    pid: str = result.output.strip()
    excl = tmp_path / "excl.txt"
    excl.write_text("account\n7400000000\n")
    assert runner.invoke(args=["draws", "exclusions", pid, str(excl)]).exit_code == 0
    assert "commitment" in runner.invoke(args=["draws", "announce", pid]).output
    return pid


def _freeze_cosign_draw_publish(app: Flask, runner: Any, tmp_path: Path, now: dict[str, datetime], pid: str) -> None:
    """``freeze`` (refused before its time), the witnesses' cosignatures, ``draw`` (once only), ``publish``."""
    refused = runner.invoke(args=["draws", "freeze", pid])
    assert refused.exit_code == 1 and "not yet the freeze time" in refused.output
    now["t"] = T0 + timedelta(days=1, seconds=5)
    assert "frozen" in runner.invoke(args=["draws", "freeze", pid]).output
    with app.app_context():
        source = json.loads(services.get_draw(db.session, pid).entropy_source)
    package = tmp_path / "freeze.json"
    assert runner.invoke(args=["draws", "freeze-package", pid, "--out", str(package)]).exit_code == 0
    for number, envelope in enumerate(cosign_package(json.loads(package.read_text())), start=1):
        cosignature = tmp_path / f"cosig-{number}.json"
        cosignature.write_text(json.dumps(envelope))
        added = runner.invoke(args=["draws", "cosign", pid, str(cosignature)])
        assert added.exit_code == 0 and f"{number} of 2" in added.output, added.output
    now["t"] = datetime.fromtimestamp(entropy_available_at(source), T0.tzinfo)
    entropy = tmp_path / "round.json"
    entropy.write_text(json.dumps(drand_value(source["round"])))
    drawn = runner.invoke(args=["draws", "draw", pid, "--entropy", str(entropy)])
    assert drawn.exit_code == 0 and "prize 0" in drawn.output and "******" in drawn.output
    assert runner.invoke(args=["draws", "draw", pid, "--entropy", str(entropy)]).exit_code == 1
    assert runner.invoke(args=["draws", "publish", pid]).exit_code == 0


def _records_verify_offline(runner: Any, tmp_path: Path, pid: str) -> None:
    """The public record and the bundle pass the standalone verifier (with what it is told to trust), and so
    do the check codes' file and an inclusion proof."""
    record, bundle, keyset = tmp_path / "record.json", tmp_path / "bundle.json", tmp_path / "keyset.json"
    assert runner.invoke(args=["draws", "record", pid, "--out", str(record)]).exit_code == 0
    assert runner.invoke(args=["draws", "bundle", pid, "--out", str(bundle)]).exit_code == 0
    keyset.write_text(runner.invoke(args=["keys", "list"]).output)
    witnesses, chain = tmp_path / "witnesses.json", tmp_path / "chain.json"
    witnesses.write_text(json.dumps({"witnesses": witness_entries()}))
    chain.write_text(json.dumps(BEACON.chain.as_json()))
    trust = ["--keyset", str(keyset), "--witnesses", str(witnesses), "--drand-chain", str(chain)]
    assert verify_main([str(record), *trust]) == 0
    assert verify_main([str(bundle), *trust]) == 0
    assert verify_main([str(bundle), "--keyset", str(keyset), "--drand-chain", str(chain)]) == 3  # witnesses unchecked
    assert verify_main([str(bundle), "--keyset", str(keyset), "--witnesses", str(witnesses)]) == 1  # unknown chain
    codes = tmp_path / "codes.csv"
    assert runner.invoke(args=["draws", "check-codes", pid, "--out", str(codes)]).exit_code == 0
    lines = codes.read_text().splitlines()
    assert lines[0] == "account;check_code" and len(lines) == 25  # every account of the snapshot, entrant or not
    account = json.loads(bundle.read_text())["entrants"]["accounts"][3]
    proof = tmp_path / "proof.json"
    proof.write_text(runner.invoke(args=["draws", "proof", pid, account]).output)
    assert verify_main([str(record), *trust, "--proof", str(proof)]) == 0


def _credits_round_trip(runner: Any, tmp_path: Path) -> None:
    """``export-credits`` once, the same ``batch`` again, then billing's confirmation."""
    out = tmp_path / "batch.csv"
    exported = runner.invoke(args=["draws", "export-credits", "--out", str(out)])
    assert exported.exit_code == 0 and "2 credits" in exported.output
    batch_id = exported.output.split()[1].rstrip(":")
    assert runner.invoke(args=["draws", "batch", batch_id]).output == out.read_text()
    rows = [line.split(",") for line in out.read_text().strip().splitlines()[1:]]
    confirmation = tmp_path / "confirm.csv"
    confirmation.write_text(
        "credit_id,account,amount_kopecks,status\n" + "".join(f"{r[0]},{r[3]},{r[4]},posted\n" for r in rows)
    )
    assert "posted 2" in runner.invoke(args=["draws", "confirm", str(confirmation)]).output


def test_bad_draft_file_refused(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x"}))
    result = app.test_cli_runner().invoke(args=["draws", "create", str(bad)])
    assert result.exit_code == 2 and "bad draft file" in result.output


def test_simulate(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["draws", "simulate", "--weights", "1,2,3", "--picks", "1", "--runs", "600",
                                 "--dump-stream", "2"])
    assert result.exit_code == 0, result.output
    assert "chi-square" in result.output and len(result.output.strip().splitlines()[-1]) == 64
    as_json = json.loads(runner.invoke(args=["draws", "simulate", "--weights", "1,1", "--runs", "100",
                                             "--json"]).output)
    assert sum(as_json["wins"]) == 100
    assert runner.invoke(args=["draws", "simulate", "--weights", "1,x"]).exit_code == 2
