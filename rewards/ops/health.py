"""Liveness and readiness for the load balancer and the orchestrator.

``GET /healthz``: the process answers (no dependency is asked: a slow database must not get healthy
workers restarted). ``GET /readyz``: this worker can serve — the database answers, Redis answers when
the rate limits use it, a usable signing key is present, and every check a feature added with
:func:`add_check` (e.g. the job queue) passes. 200 when all pass, else 503; the body names each check
``ok`` or ``failed`` and the reason goes to the log only (it may hold host names or paths).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text
from werkzeug.wrappers import Response

from rewards.db import db
from rewards.policy import public
from rewards.signing.keystore import KeyStore

log = logging.getLogger("rewards.health")

Check = Callable[[], None]  # raises when not ready
_EXTENSION = "rewards.readiness"

bp = Blueprint("health", __name__)


def add_check(app: Flask, name: str, check: Check) -> None:
    """Make ``/readyz`` of ``app`` also run ``check`` (it raises any exception when not ready)."""
    checks: dict[str, Check] = app.extensions.setdefault(_EXTENSION, {})
    if name in checks:
        raise ValueError(f"readiness check {name!r} is already registered")
    checks[name] = check


def _database() -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis() -> None:
    import redis

    client = redis.Redis.from_url(current_app.config["RATELIMIT_STORAGE_URI"], socket_timeout=1,
                                  socket_connect_timeout=1)
    try:
        if not client.ping():
            raise RuntimeError("no PONG")
    finally:
        client.close()


def _signing_key() -> None:
    KeyStore(current_app.config["KEYS_DIR"]).current()


def _checks() -> dict[str, Check]:
    checks: dict[str, Check] = {"database": _database}
    if str(current_app.config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://", "unix://")):
        checks["redis"] = _redis
    checks["signing_key"] = _signing_key
    checks.update(current_app.extensions.get(_EXTENSION, {}))
    return checks


@bp.route("/healthz")
@public
def healthz() -> Response:
    """The process is alive."""
    return jsonify(status="ok")


@bp.route("/readyz")
@public
def readyz() -> tuple[Response, int]:
    """Every dependency this worker needs answers (503 naming the failed checks otherwise)."""
    results: dict[str, str] = {}
    for name, check in _checks().items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
            results[name] = "failed"
    ready = all(v == "ok" for v in results.values())
    return jsonify(status="ready" if ready else "not ready", checks=results), 200 if ready else 503


def init_app(app: Flask) -> None:
    """Serve ``/healthz`` and ``/readyz`` on ``app``."""
    app.register_blueprint(bp)
