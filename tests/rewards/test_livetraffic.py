"""The live-traffic signal (``rewards.livetraffic``): one shared write per second per process, read by
the jobs, never in a request's way (the partner API writing it: tests/partners/test_live_traffic.py)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from rewards import livetraffic
from rewards.livetraffic import TTL, Signal
from tests.support import REDIS_URL, redis_up


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_file_store_one_write_a_second_and_seen_for_the_ttl(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "jobs" / "live-traffic"
    signal = Signal(path=path, clock=clock)
    assert not signal.seen()  # nothing noted yet (no file)
    signal.note()
    assert path.exists() and signal.seen()
    _age(path, TTL + 1)
    assert not signal.seen()  # older than the TTL: no live traffic
    clock.now += 0.5
    signal.note()  # within a second of the last write: not written again
    assert not signal.seen()
    clock.now += 0.6
    signal.note()
    assert signal.seen()
    _age(path, TTL - 1.2)
    assert signal.seen()


def test_a_failing_store_never_reaches_the_caller_and_is_left_alone_for_a_while(tmp_path: Path) -> None:
    clock = Clock()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    signal = Signal(path=blocker / "live-traffic", clock=clock)
    signal.note()  # cannot write under a file: skipped, logged
    assert not signal.seen()
    blocker.unlink()
    blocker.mkdir()  # the store is back
    clock.now += 5
    signal.note()  # still backing off: no try
    assert not (blocker / "live-traffic").exists()
    clock.now += livetraffic.BACKOFF
    signal.note()
    assert signal.seen()
    dead = Signal(redis_url="redis://127.0.0.1:1/0", key="x")
    dead.note()
    assert not dead.seen()


@pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_redis_store_a_key_with_a_ttl() -> None:
    import redis

    key = f"test-{uuid.uuid4().hex}:live-traffic"
    clock = Clock()
    signal = Signal(redis_url=REDIS_URL, key=key, clock=clock)
    direct = redis.Redis.from_url(REDIS_URL)
    try:
        assert not signal.seen()
        signal.note()
        assert signal.seen()
        assert 0 < direct.pttl(key) <= TTL * 1000
        direct.delete(key)
        clock.now += 0.9
        signal.note()  # within the second: no write
        assert not signal.seen()
        clock.now += 0.2
        signal.note()
        assert signal.seen()
    finally:
        direct.delete(key)
        direct.close()


def test_the_app_picks_its_store(app_factory: Callable[..., Flask], tmp_path: Path) -> None:
    app = app_factory(JOBS_URL="memory://", JOBS_DIR=str(tmp_path / "shared-jobs"))
    signal = livetraffic.signal(app)
    assert signal.path == tmp_path / "shared-jobs" / "live-traffic" and livetraffic.signal(app) is signal
    other = app_factory(JOBS_URL="redis://127.0.0.1:6379/3", JOBS_QUEUE="staging")
    assert livetraffic.signal(other).key == "staging:live-traffic"
