"""/healthz answers while the process lives; /readyz only when every dependency answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from rewards.ops.health import add_check
from tests.support import REDIS_URL, redis_up


def test_healthz(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_ready_with_database_and_signing_key(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/readyz")
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"status": "ready", "checks": {"database": "ok", "signing_key": "ok"}}


def test_not_ready_without_a_signing_key(app_factory: Callable[..., Flask], tmp_path: Path) -> None:
    app_factory()  # the first app makes the schema and the usual key
    r = app_factory(KEYS_DIR=str(tmp_path / "no-keys")).test_client().get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["checks"] == {"database": "ok", "signing_key": "failed"}


def test_not_ready_when_the_database_is_down(app_factory: Callable[..., Flask], backend: str, tmp_path: Path) -> None:
    app_factory()
    url = ("postgresql+psycopg://postgres@127.0.0.1:1/test" if backend == "postgresql"
           else f"sqlite:///{tmp_path / 'missing-folder' / 'x.sqlite3'}")
    r = app_factory(DATABASE_URL=url).test_client().get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["checks"]["database"] == "failed"
    assert r.headers["Content-Type"].startswith("application/json")


@pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_redis_is_checked_when_the_limits_use_it(app_factory: Callable[..., Flask]) -> None:
    ok = app_factory(RATELIMIT_STORAGE_URI=REDIS_URL).test_client().get("/readyz")
    assert ok.status_code == 200 and ok.get_json()["checks"]["redis"] == "ok"
    down = app_factory(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0").test_client().get("/readyz")
    assert down.status_code == 503 and down.get_json()["checks"]["redis"] == "failed"


def test_a_feature_adds_its_own_check(app_factory: Callable[..., Flask]) -> None:
    app = app_factory()
    state = {"queue": False}

    def queue() -> None:
        if not state["queue"]:
            raise RuntimeError("the job queue has no worker")

    add_check(app, "job_queue", queue)
    with pytest.raises(ValueError, match="already"):
        add_check(app, "job_queue", queue)
    assert app.test_client().get("/readyz").get_json()["checks"]["job_queue"] == "failed"
    state["queue"] = True
    assert app.test_client().get("/readyz").status_code == 200
