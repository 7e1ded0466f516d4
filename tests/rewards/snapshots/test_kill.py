"""A process killed with -9 half way through an import leaves no partial snapshot; the next import works.

The import runs as ``flask snapshots import`` in a child process. The test watches the child's read
position in the file (``/proc/PID/fdinfo``) and kills it while it is streaming rows into the database,
then checks that nothing of that period is stored and that importing the same file again succeeds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from rewards.db import db
from rewards.snapshots.models import Snapshot, SnapshotRow
from tests.conftest import make_config

ROWS = 400_000
PERIODS = ("2026-10", "2026-09", "2026-08")

pytestmark = pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="needs Linux /proc")


def _position(pid: int, path: Path) -> int | None:
    """The child's read offset in ``path``, or None while it has not opened it."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
                        if line.startswith("pos:"):
                            return int(line.split()[1])
            except OSError:
                continue
    except OSError:
        return None
    return None


def test_kill_minus_nine_leaves_nothing(app: Flask, backend: str, tmp_path: Path, runner: Any) -> None:
    data = tmp_path / "big.csv"
    with data.open("w", encoding="utf-8") as f:
        f.write("account;tier;points\n")
        for n in range(ROWS):
            f.write(f"{(n * 7919) % ROWS:09d};{'ideal' if n % 3 else 'beginner'};{n % 48}\n")
    size = data.stat().st_size
    instance = tmp_path / "instance"
    instance.mkdir()
    cfg = make_config(backend, tmp_path)
    cfg.pop("TESTING", None)
    (instance / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in cfg.items()), encoding="utf-8")
    env = {**os.environ, "REWARDS_INSTANCE_PATH": str(instance)}
    # The kill must land while rows stream (the file read past its sniffed first MiB, not to its end). A
    # fast import on a busy machine can pass that window between two looks: then that period's import
    # finished, and the next try imports into another period, at most three tries in all.
    killed_at = None
    for period in PERIODS:
        command = [sys.executable, "-m", "flask", "--app", "rewards:create_app", "snapshots", "import", str(data),
                   "--period", period]
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            pos = _position(child.pid, data)
            if pos is not None and 2 * 1024 * 1024 < pos < size:  # past the sniffed first MiB: rows are flowing
                os.kill(child.pid, signal.SIGKILL)
                killed_at = pos
                break
            time.sleep(0.005)
        child.wait(timeout=30)
        if killed_at is not None:
            break
        assert child.returncode == 0, child.stderr.read().decode()[-500:]
    if killed_at is None:
        pytest.skip("three imports in a row finished before a look saw one streaming rows (a very busy machine)")
    assert child.returncode == -signal.SIGKILL
    finished = PERIODS[: PERIODS.index(period)]  # the tries before, each a whole snapshot

    with app.app_context():
        db.session.remove()
        stored = db.session.scalars(select(Snapshot.period)).all()
        assert sorted(stored) == sorted(finished), "the killed import stored part of a snapshot"
        assert db.session.scalar(select(func.count()).select_from(SnapshotRow)) == ROWS * len(finished)

    result = runner.invoke(args=["snapshots", "import", str(data), "--period", period])
    assert result.exit_code == 0, result.output
    with app.app_context():
        snap = db.session.scalar(select(Snapshot).where(Snapshot.period == period))
        assert snap is not None and snap.row_count == ROWS
        assert db.session.scalar(select(func.count()).where(SnapshotRow.snapshot_id == snap.id)) == ROWS
