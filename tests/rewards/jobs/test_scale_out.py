"""Scale out: two web servers and two consumers, separate processes sharing PostgreSQL, a Redis queue
and the jobs folder (as NFS would be shared between machines), run every job exactly once.

Snapshot imports are submitted through the API of both web servers in turn and followed through the
other one; each job ran once, in a consumer (its record names the consumer), both consumers took a
share, each import's side effects are there exactly once (one snapshot per period with all its rows,
one ``snapshot.imported`` event per job), and the event log the four processes wrote verifies.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from rewards.db import db
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = os.environ.get("REWARDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
JOBS, ROWS = 10, 20_000
pytestmark = pytest.mark.slow


def _redis_reason() -> str | None:
    host, port = REDIS_URL.split("//", 1)[1].split("/", 1)[0].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return None if s.recv(16).startswith(b"+PONG") else "Redis did not answer PING"
    except OSError as exc:
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> dict[str, Any]:
    if backend != "postgresql":
        pytest.skip("scale-out needs a database every machine reaches: PostgreSQL (SQLite's WAL is one host)")
    reason = _redis_reason()
    if reason:
        pytest.skip(reason + "; the shared queue needs Redis")
    # a queue of its own: other test runs and installations on the same Redis database never see these jobs
    return {
        "JOBS_URL": REDIS_URL,
        "JOBS_QUEUE": f"test-scale-{uuid.uuid4().hex[:12]}",
        "JOBS_DIR": str(tmp_path / "shared-jobs"),
    }


@pytest.fixture
def app(app_factory: Callable[..., Flask], settings: dict[str, Any]) -> Flask:
    return app_factory(**settings)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def processes(app: Flask, backend: str, tmp_path: Path, settings: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Two gunicorn web servers and two consumers, each its own process (as on its own machine)."""
    instance = tmp_path / "instance"
    instance.mkdir()
    cfg = make_config(backend, tmp_path, **settings)
    cfg.pop("TESTING", None)
    (instance / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in cfg.items()), encoding="utf-8")
    env = {**os.environ, "REWARDS_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT), "FLASK_APP": "rewards"}
    started: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        return proc

    ports = [_free_port(), _free_port()]
    for i, port in enumerate(ports):
        spawn(
            f"web-{i}",
            ["gunicorn", "-c", "gunicorn.conf.py", "-w", "2", "-b", f"127.0.0.1:{port}", "rewards:create_app()"],
        )
    consumers = [
        spawn("consumer-0", ["flask", "jobs", "consumer", "-w", "1"]),
        spawn("consumer-1", ["flask", "jobs", "consumer", "-w", "1", "--no-periodic"]),
    ]
    try:
        for port in ports:
            _wait_for_port(port, started)
        yield {"ports": ports, "consumers": [p.pid for p in consumers], "logs": tmp_path}
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_for_port(port: int, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), "a process of the test stopped"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"no server on port {port}")


def _call(port: int, path: str, token: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        method="POST" if body else "GET",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _csv(seed: int) -> bytes:
    lines = ["account;tier;points"]
    lines += [f"{n:09d};{('ideal', 'beginner', 'responsible')[(n + seed) % 3]};{(n * seed) % 48}" for n in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def test_two_web_servers_and_two_consumers_run_each_job_exactly_once(app: Flask, processes: dict[str, Any]) -> None:
    from rewards.apikeys.services import create_client

    with app.app_context():
        _client, token = create_client(db.session, "billing", ["snapshots:write", "jobs:read"], actor="test")
        db.session.commit()
    web = processes["ports"]
    periods = [f"2025-{m:02d}" for m in range(1, JOBS + 1)]
    submitted = _submit(web, token, periods)
    states = _follow(web, token, submitted)
    assert all(s["state"] == "done" for s in states.values()), [s["error"] for s in states.values()]
    _check_stored(app, processes, submitted, periods)


def _submit(web: list[int], token: str, periods: list[str]) -> dict[int, str]:
    """One import per period, to the two web servers in turn: {job id: period}."""
    submitted: dict[int, str] = {}
    for i, period in enumerate(periods):
        status, body = _call(web[i % 2], f"/api/v1/snapshots?period={period}&filename=p{i}.csv", token, _csv(i + 1))
        assert status == 202, body  # stored and queued, answered at once by the web server
        submitted[body["job"]["id"]] = period
    assert len(submitted) == JOBS
    return submitted


def _follow(web: list[int], token: str, submitted: dict[int, str]) -> dict[int, dict[str, Any]]:
    """Each job as the other web server reports it, until all have finished: {job id: job}."""
    deadline = time.monotonic() + 240
    states: dict[int, dict[str, Any]] = {}
    while len(states) < JOBS and time.monotonic() < deadline:
        for job_id in set(submitted) - set(states):
            status, body = _call(web[(job_id + 1) % 2], f"/api/v1/jobs/{job_id}", token)  # the other server
            assert status == 200, body
            if body["finished"]:
                states[job_id] = body
        time.sleep(0.3)
    assert len(states) == JOBS, f"unfinished jobs after 240 s: {set(submitted) - set(states)}"
    return states


def _check_stored(app: Flask, processes: dict[str, Any], submitted: dict[int, str], periods: list[str]) -> None:
    """One job record per submission, run by the consumers (both), each import stored once, the log whole."""
    from rewards.audit.models import Event
    from rewards.audit.services import verify_log
    from rewards.jobs.models import Job
    from rewards.snapshots.models import Snapshot, SnapshotRow

    with app.app_context():
        jobs = db.session.scalars(select(Job).order_by(Job.id)).all()
        assert sorted(j.id for j in jobs) == sorted(submitted)  # one record per submission, nothing extra
        ran_in = {int(j.worker.rsplit(":", 1)[1]) for j in jobs}
        assert ran_in <= set(processes["consumers"]), (ran_in, processes["consumers"])  # in a consumer
        assert ran_in == set(processes["consumers"]), "both consumers share the work"
        snapshots = db.session.execute(select(Snapshot.period, Snapshot.row_count, Snapshot.id)).all()
        assert sorted(s.period for s in snapshots) == periods  # each import landed once
        assert all(s.row_count == ROWS for s in snapshots)
        rows = dict(
            db.session.execute(select(SnapshotRow.snapshot_id, func.count()).group_by(SnapshotRow.snapshot_id)).all()
        )
        assert rows == {s.id: ROWS for s in snapshots}
        imported = db.session.scalars(select(Event.object_id).where(Event.action == "snapshot.imported")).all()
        assert sorted(imported) == sorted(str(s.id) for s in snapshots)  # one event per job
        report = verify_log(db.session)
        assert report.ok and report.pending == 0, report
