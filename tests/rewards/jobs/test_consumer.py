"""Jobs through real consumer processes (``flask jobs consumer``) on a SQLite queue file, on both
database engines: a job runs once, in the consumer; a consumer killed with -9 in the middle of a
snapshot import leaves nothing of it and its job is closed as interrupted by the next consumer."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from rewards.config import DEFAULTS
from rewards.db import db
from rewards.jobs import store
from rewards.snapshots.models import Snapshot, SnapshotRow
from tests.rewards.jobs.consumers import Consumers
from tests.rewards.jobs.consumers import job as _job
from tests.rewards.jobs.consumers import wait_job as _wait

ROOT = Path(__file__).resolve().parents[3]
FEATURES = [*DEFAULTS["FEATURES"], "tests.rewards.jobs.sample_feature"]
pytestmark = pytest.mark.slow


@pytest.fixture
def queue_settings(tmp_path: Path) -> dict[str, Any]:
    return {
        "JOBS_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        "JOBS_DIR": str(tmp_path / "jobs"),
        "JOBS_STALE_SECONDS": 3,
        "JOBS_NICE": 3,
        "JOBS_YIELD_RATIO": 1.0,
        "JOBS_DATABASE_NICE": 5,
        "FEATURES": FEATURES,
    }


@pytest.fixture
def app(app_factory: Callable[..., Flask], queue_settings: dict[str, Any]) -> Flask:
    return app_factory(**queue_settings)


@pytest.fixture
def consumers(backend: str, tmp_path: Path, queue_settings: dict[str, Any]) -> Iterator[Callable[[], subprocess.Popen]]:
    started = Consumers(backend, tmp_path, queue_settings, workers=2)
    yield started.start
    started.stop_all()


def test_jobs_run_once_in_the_consumer(app: Flask, consumers: Callable[[], Any], logged_in: Any) -> None:
    from rewards.jobs.start import start

    consumers()
    consumers()  # two consumers share the queue: each job still runs exactly once
    with app.test_request_context():
        ids = [start("sample.count", {"n": 3}, title=f"s{i}", actor="tester", total=3).id for i in range(6)]
    for job_id in ids:
        job = _wait(app, job_id, lambda j: j.state in ("done", "failed"))
        assert job.state == "done", job.error_message
        assert '"pid": ' in job.result and f'"pid": {os.getpid()}' not in job.result  # ran in a consumer
    # The consumer that ran a job yields the CPU to web workers: JOBS_NICE (3 here) below the priority it
    # was started with (set before it takes any job).
    ran = int(json.loads(job.result)["pid"])
    assert os.getpriority(os.PRIO_PROCESS, ran) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 3)
    with app.app_context():
        from rewards.audit.models import Event

        assert db.session.scalar(select(func.count()).select_from(Event).where(Event.action == "sample.item")) == 18
    page = logged_in("marketing")
    assert page.get(f"/jobs/{ids[0]}/download").data.startswith(b"3 items")


def _prioritize_installed(app: Flask) -> bool:
    """Install PostgreSQL's ``prioritize`` extension when the server has it (as an operator would)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return False
        with db.engine.begin() as conn:
            if not conn.scalar(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'prioritize'")):
                return False
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS prioritize SCHEMA public"))
        return True


def test_a_job_yields_to_live_traffic_only_while_it_lasts(
    app: Flask, consumers: Callable[[], Any], queue_settings: dict[str, Any]
) -> None:
    from rewards.jobs.start import start
    from rewards.livetraffic import FILE_NAME, Signal

    lowered = _prioritize_installed(app)
    consumers()
    params = {"n": 10, "step_ms": 50}  # 0.5 s of work in chunks of 50 ms: a decision every 0.1 s
    with app.test_request_context():
        quiet = start("sample.paced", params, title="quiet", actor="tester", total=10).id
    result = json.loads(_wait(app, quiet, lambda j: j.state in ("done", "failed")).result)
    assert result["pauses"] == 0 and result["paused"] == 0  # no traffic: full speed

    web = Signal(path=Path(queue_settings["JOBS_DIR"]) / FILE_NAME)  # what a web worker's partner call writes
    web.note()
    with app.test_request_context():
        busy = start("sample.paced", params, title="busy", actor="tester", total=10).id
    deadline = time.monotonic() + 60
    while _job(app, busy).state not in ("done", "failed") and time.monotonic() < deadline:
        web.note()  # traffic goes on (written at most once a second)
        time.sleep(0.1)
    job = _job(app, busy)
    assert job.state == "done", job.error_message
    result = json.loads(job.result)
    assert result["pauses"] >= 2 and result["paused"] > 0.2  # about as long as it worked (JOBS_YIELD_RATIO 1)
    # its database session runs at JOBS_DATABASE_NICE where the server can lower it
    assert result["backend_nice"] == (5 if lowered else None)


def test_kill_minus_nine_during_an_import_leaves_nothing_and_no_stuck_job(
    app: Flask, consumers: Callable[[], Any], logged_in: Any
) -> None:
    rows = 600_000  # long enough on PostgreSQL for the test to see it streaming before it ends
    data = io.BytesIO()
    data.write(b"account;tier;points\n")
    for n in range(rows):
        data.write(f"{(n * 7919) % rows:09d};{'ideal' if n % 3 else 'beginner'};{n % 48}\n".encode())
    data.seek(0)
    page = logged_in("marketing")
    answer = page.post("/snapshots/upload", content_type="multipart/form-data",
                       data={"period": "2026-09", "file": (data, "big.csv")})
    assert answer.status_code == 302 and "/jobs/" in answer.headers["Location"]  # returned at once, queued
    job_id = int(answer.headers["Location"].rstrip("/").split("/")[-1])
    assert _job(app, job_id).state == "queued"
    first = consumers()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it while it streams rows into the database
        with app.app_context():
            live = store.progress(app, job_id)
        if live and live[0] > 0:  # it reads the file and streams rows in
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the import never got half way: {_job(app, job_id).state}")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert _job(app, job_id).state == "running"
    time.sleep(4)  # longer than JOBS_STALE_SECONDS
    consumers()  # the next consumer closes it when it starts
    job = _wait(app, job_id, lambda j: j.state != "running", 30)
    assert (job.state, job.error_code) == ("failed", "interrupted")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0
        assert db.session.scalar(select(func.count()).select_from(SnapshotRow)) == 0
    assert "interrupted" in page.get(f"/jobs/{job_id}").get_data(as_text=True)
