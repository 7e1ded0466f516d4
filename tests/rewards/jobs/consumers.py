"""Real consumer processes for the fault tests: start ``flask jobs consumer`` on a test's database and
queue file, kill one with -9, and wait for a job's state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from rewards.db import db
from rewards.jobs.models import Job
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[3]
STALE_SECONDS = 3


def queue_settings(tmp_path: Path, **more: Any) -> dict[str, Any]:
    """Settings shared by the test's app and its consumers: a SQLite queue file, a short stale time."""
    return {
        "JOBS_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        "JOBS_DIR": str(tmp_path / "jobs"),
        "JOBS_STALE_SECONDS": STALE_SECONDS,
        **more,
    }


class Consumers:
    """Consumer processes of one test (each logs to a file beside the test's data)."""

    def __init__(self, backend: str, tmp_path: Path, settings: dict[str, Any], workers: int = 1) -> None:
        instance = tmp_path / "consumer-instance"
        instance.mkdir(exist_ok=True)
        cfg = make_config(backend, tmp_path, **settings)
        cfg.pop("TESTING", None)
        (instance / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in cfg.items()), encoding="utf-8")
        self.env = {
            **os.environ,
            "REWARDS_INSTANCE_PATH": str(instance),
            "PYTHONPATH": str(ROOT),
            "FLASK_APP": "rewards",
        }
        self.tmp_path = tmp_path
        self.workers = workers
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        """One more consumer with ``workers`` workers (default one: a job at a time)."""
        log = (self.tmp_path / f"consumer-{len(self.started)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "jobs", "consumer", "-w", str(self.workers)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(proc)
        return proc

    def log(self) -> str:
        """Every consumer's output so far (for failure messages)."""
        return "".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.tmp_path.glob("consumer-*.log")))

    def stop_all(self) -> None:
        """SIGTERM each live consumer (running jobs finish), SIGKILL after 20 s."""
        for proc in self.started:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def kill_nine(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the consumer and reap it."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def job(app: Flask, job_id: int) -> Job:
    """The job as the database has it now (detached)."""
    with app.app_context():
        found = db.session.get(Job, job_id)
        assert found is not None
        db.session.expunge(found)
        return found


def wait_job(app: Flask, job_id: int, until: Callable[[Job], bool], seconds: float = 90) -> Job:
    """Poll the job until ``until(job)``; AssertionError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = job(app, job_id)
        if until(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {job(app, job_id).state}")


def stuck_jobs(app: Flask) -> int:
    """Jobs left queued or running (after the consumers closed what their dead peers left)."""
    from sqlalchemy import func, select

    with app.app_context():
        return int(
            db.session.scalar(select(func.count()).select_from(Job).where(Job.state.in_(("queued", "running")))) or 0
        )
