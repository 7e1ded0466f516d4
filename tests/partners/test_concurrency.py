"""Real concurrency: a gunicorn server with several worker processes on the test's database.

64 clients redeem one code at the same instant: exactly one wins, 63 get ``already_redeemed``, none
gets a server error; the ledger holds one redemption. Two partners racing on each other's codes get
``not_found`` and redeem nothing. With Redis storage, the rate limits hold across the workers.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners import codes as codecore
from partners.models import RedemptionEvent
from rewards.db import db
from tests.support import REDIS_URL, redis_up

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
CLIENTS = 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_factory(app: Flask, tmp_path: Path) -> Iterator[Callable[..., tuple[str, int]]]:
    """Start gunicorn with WORKERS sync workers serving this test's database, with extra settings."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(**settings: Any) -> tuple[str, int]:
        instance = tmp_path / f"server-instance-{len(procs)}"
        instance.mkdir()
        cfg = {
            "SECRET_KEY": "server-secret",
            "DATABASE_URL": app.config["DATABASE_URL"],
            "KEYS_DIR": app.config["KEYS_DIR"],
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            **settings,
        }
        lines = [f"{k} = {v!r}" for k, v in cfg.items()]
        if "SQLALCHEMY_ENGINE_OPTIONS" in app.config and app.config["DATABASE_URL"].startswith("postgresql"):
            lines.append(f"SQLALCHEMY_ENGINE_OPTIONS = {app.config['SQLALCHEMY_ENGINE_OPTIONS']!r}")
        (instance / "config.py").write_text("\n".join(lines) + "\n")
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDS_")}
        env.update(REWARDS_INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT))
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--backlog", "256",
             "-c", str(ROOT / "gunicorn.conf.py"), "--access-logfile", "/dev/null", "rewards:create_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        procs.append(proc)
        deadline = time.monotonic() + 60  # a busy CI machine starts 4 workers slowly
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/api/v1/keys")
                if conn.getresponse().status == 200:
                    return "127.0.0.1", port
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("gunicorn did not start: " + (proc.stderr.read().decode() if proc.stderr else ""))
            if time.monotonic() > deadline:  # still running: reading its stderr would wait for its end
                raise RuntimeError("gunicorn did not answer within 60 s")
            time.sleep(0.2)

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def server(server_factory: Callable[..., tuple[str, int]]) -> tuple[str, int]:
    """gunicorn with WORKERS sync workers, rate limits off."""
    return server_factory()


def _post(addr: tuple[str, int], path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(*addr, timeout=60)
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, data


def _storm(addr: tuple[str, int], jobs: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[tuple[int, Any]]:
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        path, body, headers = jobs[i]
        barrier.wait()
        try:
            results[i] = _post(addr, path, body, headers)
        except Exception as exc:  # noqa: BLE001 - a transport failure is a result too
            results[i] = (0, repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _ledger(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RedemptionEvent)) or 0


@pytest.mark.slow
@pytest.mark.usefixtures("backend")
def test_64_concurrent_redemptions_of_one_code(app, make_partner, make_offer, add_snapshot, issue_codes,
                                               server) -> None:
    gs = make_partner()
    [code] = issue_codes(make_offer(gs["id"]), add_snapshot("2026-10", [("7400000001", "ideal")]))
    jobs = [
        ("/api/v1/partner/redemptions", {"code": code, "order_ref": f"order-{i}"},
         {"Authorization": f"Bearer {gs['token']}", "Idempotency-Key": f"race-{i}"})
        for i in range(CLIENTS)
    ]
    results = _storm(server, jobs)
    statuses = Counter(status for status, _ in results)
    reasons = Counter(body.get("status") for status, body in results if status != 201 and isinstance(body, dict))
    assert statuses == {201: 1, 409: CLIENTS - 1}, (statuses, [r for r in results if r[0] not in (201, 409)][:3])
    assert reasons == {"already_redeemed": CLIENTS - 1}
    assert _ledger(app) == 1


@pytest.mark.slow
@pytest.mark.usefixtures("backend")
def test_partners_racing_on_each_others_codes(app, make_partner, make_offer, add_snapshot, issue_codes, server) -> None:
    gs = make_partner()
    tp = make_partner("Teplo", "TPK")
    sid = add_snapshot("2026-10", [(f"74{i:08d}", "ideal") for i in range(8)])
    gs_codes = issue_codes(make_offer(gs["id"]), sid)
    tp_codes = issue_codes(make_offer(tp["id"]), sid)
    jobs = []
    for i in range(32):
        mine, theirs = (gs, tp_codes) if i % 2 == 0 else (tp, gs_codes)
        path = "/api/v1/partner/redemptions" if i % 4 < 2 else "/api/v1/partner/codes/validate"
        body = {"code": theirs[i % 8], "order_ref": f"o{i}"} if "redemptions" in path else {"code": theirs[i % 8]}
        jobs.append((path, body, {"Authorization": f"Bearer {mine['token']}", "Idempotency-Key": f"x-{i}"}))
    results = _storm(server, jobs)
    for (path, _b, _h), (status, body) in zip(jobs, results, strict=True):
        if "redemptions" in path:
            assert (status, body["status"]) == (404, "not_found")
        else:
            assert (status, body["valid"], body["reason"]) == (200, False, "not_found")
    assert _ledger(app) == 0


@pytest.mark.slow
@pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379 (limits shared by the workers)")
@pytest.mark.usefixtures("backend")
def test_rate_limits_hold_across_workers(app, make_partner, make_offer, add_snapshot, issue_codes,
                                         server_factory) -> None:
    addr = server_factory(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_STORAGE_OPTIONS={"key_prefix": f"t-{uuid.uuid4().hex}"},  # its own counts in a shared Redis
        PARTNER_API_LIMIT="150/minute",
        PARTNER_FAILED_LIMIT="20/minute",
    )
    gs = make_partner()
    tp = make_partner("Teplo", "TPK")
    [code] = issue_codes(make_offer(gs["id"]), add_snapshot("2026-10", [("7400000001", "ideal")]))
    validate = "/api/v1/partner/codes/validate"
    good = [(validate, {"code": code}, {"Authorization": f"Bearer {gs['token']}"})] * 64
    results = _storm(addr, good) + _storm(addr, good) + _storm(addr, good)  # 192 calls, 150 allowed
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {200, 429} and statuses[200] + statuses[429] == 192, statuses
    # never beyond the limit; below it by at most the permits the workers hold (each min(16, 150 // 32))
    assert 150 - WORKERS * 4 <= statuses[200] <= 150, statuses
    assert all(body["valid"] for status, body in results if status == 200)

    missing = codecore.format_code("TPK", 99)  # well-formed, absent: not_found, the guessing signal
    guesses = [(validate, {"code": missing}, {"Authorization": f"Bearer {tp['token']}"})] * 64
    results = _storm(addr, guesses)
    reasons = Counter(body["reason"] if status == 200 else status for status, body in results)
    assert reasons == {"not_found": 20, 429: 44}, reasons  # exactly the failed budget, across 4 workers
