"""A credit batch is never committed without its file: ``flask draws export-credits --out`` killed with -9.

The export runs in a child process that kills itself with SIGKILL at a chosen point (the test wraps
one call of the real code): just before the commit, and between the commit and the rename of the
file. Either way the next run leaves exactly one committed batch with its file at ``--out``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from draws.models import CreditBatch, DrawCredit
from rewards.db import db
from tests.conftest import make_config
from tests.draws.conftest import DrawKit

# The child: wrap one call so the process dies there, then run the real CLI.
CHILD = """
import os, signal, sys
point, out = sys.argv[1], sys.argv[2]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "before-commit":
    from sqlalchemy.orm import Session
    Session.commit = die
elif point == "before-rename":
    os.replace = die
from flask.cli import main
sys.argv = ["flask", "--app", "rewards:create_app", "draws", "export-credits", "--out", out]
main()
"""


def _child_env(app: Flask, backend: str, tmp_path: Path) -> dict[str, str]:
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    cfg = make_config(backend, tmp_path, DRAND_CHAINS=app.config["DRAND_CHAINS"])
    cfg.pop("TESTING", None)
    (instance / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in cfg.items()), encoding="utf-8")
    return {**os.environ, "REWARDS_INSTANCE_PATH": str(instance)}


def _export(env: dict[str, str], out: Path, point: str = "none") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, point, str(out)], env=env, capture_output=True, text=True,
                          timeout=120)


def _batches() -> list[tuple[int, str]]:
    """The committed batches (id, file), read in a transaction that ends at once (SQLite's writer lock)."""
    db.session.rollback()
    rows = [(b.id, b.content) for b in db.session.scalars(select(CreditBatch).order_by(CreditBatch.id))]
    db.session.rollback()
    return rows


def _credit_states() -> dict[str, int]:
    db.session.rollback()
    states = dict(db.session.execute(select(DrawCredit.state, func.count()).group_by(DrawCredit.state)).all())
    db.session.rollback()
    return {str(k): int(v) for k, v in states.items()}


@pytest.mark.parametrize("point", ["before-commit", "before-rename"])
def test_killed_export_keeps_batch_and_file_together(kit: DrawKit, backend: str, tmp_path: Path, point: str) -> None:
    kit.full()
    db.session.rollback()
    env = _child_env(kit.app, backend, tmp_path)
    out = tmp_path / "credits.csv"

    killed = _export(env, out, point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not out.exists()
    batches = _batches()
    if point == "before-commit":
        assert batches == []
        assert _credit_states() == {"pending": 3}
    else:  # committed: the file is on disk under its temporary name
        assert len(batches) == 1
        assert Path(str(out) + ".partial").read_text(encoding="utf-8") == batches[0][1]

    rerun = _export(env, out)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    batches = _batches()
    assert len(batches) == 1, rerun.stdout
    assert f"batch {batches[0][0]}:" in rerun.stdout
    assert out.read_text(encoding="utf-8") == batches[0][1]
    assert not Path(str(out) + ".partial").exists()
    assert _credit_states() == {"exported": 3}

    again = _export(env, out)
    assert again.returncode == 1 and "no pending credits" in again.stderr
    assert len(_batches()) == 1


def test_batch_file_written_again(kit: DrawKit, runner: Any, tmp_path: Path) -> None:
    kit.full()
    exported = runner.invoke(args=["draws", "export-credits"])
    assert exported.exit_code == 0, exported.output
    batch_id = exported.output.split()[1].rstrip(":")
    assert f"flask draws batch {batch_id} --out FILE" in exported.output
    out = tmp_path / "again.csv"
    assert runner.invoke(args=["draws", "batch", batch_id, "--out", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == _batches()[0][1]
    missing = runner.invoke(args=["draws", "batch", "999999"])
    assert missing.exit_code == 1 and "no credit batch" in missing.output
