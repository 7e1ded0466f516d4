"""The partner API's rate limits, storage by storage: the one-round-trip Redis path (``admit``) keeps
the step-by-step semantics (which windows are charged, in which order, what is refused)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from werkzeug.exceptions import HTTPException

from partners import ratelimit
from rewards.extensions import limiter

pytestmark = pytest.mark.usefixtures("backend")

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


STORAGES = [
    "memory://",
    pytest.param(REDIS_URL, marks=pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379")),
]


def _refusal(fn: Callable[[], None]) -> tuple[int, str, int] | None:
    try:
        fn()
    except HTTPException as exc:
        data = getattr(exc, "data", {})
        return exc.code or 0, data.get("message", ""), int(data.get("headers", {}).get("Retry-After", 0))
    return None


def _remaining(scope: str, key: str, spec: str) -> list[int]:
    return [limiter.limiter.get_window_stats(item, scope, key).remaining for item in ratelimit._items(spec)]


@pytest.mark.parametrize("storage", STORAGES)
def test_admit_charges_like_the_step_by_step_path(app_factory: Callable[..., Flask], storage: str) -> None:
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage,
                      PARTNER_API_LIMIT="3/minute;5/hour", PARTNER_FAILED_LIMIT="2/minute;10/hour")
    with app.test_request_context("/api/v1/partner/codes/validate", method="POST"):
        if storage.startswith("redis"):
            assert ratelimit._admit_script(limiter.limiter) is not None  # the one-round-trip path is taken
        key = uuid.uuid4().hex  # unique in a shared Redis
        for _ in range(3):
            assert _refusal(lambda: ratelimit.admit(key)) is None
        refused = _refusal(lambda: ratelimit.admit(key))
        assert refused is not None and refused[0] == 429 and refused[2] >= 1
        assert "Too many requests for this key (3 per 1 minute)" in refused[1]
        # the minute window stopped the 4th call before the hour window was charged
        assert _remaining("partner-api", key, "3/minute;5/hour") == [0, 2]
        assert _remaining("partner-failed", key, "2/minute;10/hour") == [2, 10]

        other = uuid.uuid4().hex
        assert _refusal(lambda: ratelimit.admit(other)) is None
        ratelimit.charge_failed(other)
        assert _refusal(lambda: ratelimit.admit(other)) is None
        ratelimit.charge_failed(other)
        refused = _refusal(lambda: ratelimit.admit(other))  # failed budget used up: the test refuses
        assert refused is not None and refused[0] == 429 and "failed look-ups" in refused[1]
        # the general windows were charged for all three calls, the failed ones only by charge_failed
        assert _remaining("partner-api", other, "3/minute;5/hour") == [0, 2]
        assert _remaining("partner-failed", other, "2/minute;10/hour") == [0, 8]


@pytest.mark.parametrize("storage", STORAGES)
def test_admit_is_off_when_rate_limits_are(app_factory: Callable[..., Flask], storage: str) -> None:
    app = app_factory(RATELIMIT_ENABLED=False, RATELIMIT_STORAGE_URI=storage, PARTNER_API_LIMIT="1/minute")
    with app.test_request_context("/api/v1/partner/codes/validate", method="POST"):
        key = uuid.uuid4().hex
        for _ in range(3):
            assert _refusal(lambda: ratelimit.admit(key)) is None
