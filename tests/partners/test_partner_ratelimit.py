"""The partner API's rate limits, storage by storage.

``memory://`` counts call by call in one process. Redis storage hands out leases (see
``partners.ratelimit``): these tests show what that must never break, with real processes and
threads sharing one Redis: no key is admitted beyond its limit, no key gets more ``not_found``
answers than its failed budget, refusals name the window and carry ``Retry-After``, and a lease
ends with its window.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from werkzeug.exceptions import HTTPException

from partners import ratelimit
from rewards.extensions import limiter
from tests.support import REDIS_URL, redis_up

pytestmark = pytest.mark.usefixtures("backend")

PATH = "/api/v1/partner/codes/validate"


needs_redis = pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379 (the shared-storage tests)")
STORAGES = ["memory://", pytest.param(REDIS_URL, marks=needs_redis)]


def _refusal(fn: Callable[[], None]) -> tuple[int, str, int] | None:
    try:
        fn()
    except HTTPException as exc:
        data = getattr(exc, "data", {})
        return exc.code or 0, data.get("message", ""), int(data.get("headers", {}).get("Retry-After", 0))
    return None


def _remaining(scope: str, key: str, spec: str) -> list[int]:
    return [limiter.limiter.get_window_stats(item, scope, key).remaining for item in ratelimit._items(spec)]


def _redis_app(app_factory: Callable[..., Flask], **limits: object) -> Flask:
    # A key prefix of its own: counts left in the shared Redis by other tests or runs never meet these.
    options = {"key_prefix": f"t-{uuid.uuid4().hex}"}
    return app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_STORAGE_OPTIONS=options,
                       **limits)


@pytest.mark.parametrize("storage", STORAGES)
def test_refusals_name_the_window(app_factory: Callable[..., Flask], storage: str) -> None:
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage,
                      PARTNER_API_LIMIT="3/minute;5/hour", PARTNER_FAILED_LIMIT="2/minute;10/hour")
    leased = storage.startswith("redis")
    with app.test_request_context(PATH, method="POST"):
        assert (ratelimit._lease_storage() is not None) is leased
        key = uuid.uuid4().hex  # unique in a shared Redis
        for _ in range(3):
            assert _refusal(lambda: ratelimit.admit(key)) is None
        refused = _refusal(lambda: ratelimit.admit(key))
        assert refused is not None and refused[0] == 429 and 1 <= refused[2] <= 60
        assert "Too many requests for this key (3 per 1 minute)" in refused[1]
        # three calls counted in both windows; the refused fourth counted in neither with leases (every
        # window is checked before any is charged), in the minute window only step by step
        assert _remaining("partner-api", key, "3/minute;5/hour") == [0, 2]
        # leased: one failed look-up reserved for this worker's next look-up
        assert _remaining("partner-failed", key, "2/minute;10/hour") == ([1, 9] if leased else [2, 10])

        other = uuid.uuid4().hex
        for _ in range(2):
            assert _refusal(lambda: ratelimit.admit(other)) is None
            ratelimit.charge_failed(other)  # the look-up answered not_found
        refused = _refusal(lambda: ratelimit.admit(other))  # failed budget used up: even a good code waits
        assert refused is not None and refused[0] == 429 and 1 <= refused[2] <= 60
        assert "Too many failed look-ups for this key (2 per 1 minute)" in refused[1]
        assert _remaining("partner-failed", other, "2/minute;10/hour") == [0, 8]
        assert _remaining("partner-api", other, "3/minute;5/hour") == ([1, 3] if leased else [0, 2])


@pytest.mark.parametrize("storage", STORAGES)
def test_admit_is_off_when_rate_limits_are(app_factory: Callable[..., Flask], storage: str) -> None:
    app = app_factory(RATELIMIT_ENABLED=False, RATELIMIT_STORAGE_URI=storage, PARTNER_API_LIMIT="1/minute")
    with app.test_request_context(PATH, method="POST"):
        key = uuid.uuid4().hex
        for _ in range(3):
            assert _refusal(lambda: ratelimit.admit(key)) is None


@needs_redis
@pytest.mark.parametrize(("lease", "counted"), [(16, [16, 16, 32]), (1, [1, 16, 17])])
def test_a_lease_is_counted_in_redis_before_it_is_spent(app_factory: Callable[..., Flask], lease: int,
                                                         counted: list[int]) -> None:
    app = _redis_app(app_factory, PARTNER_API_LIMIT="1000/minute", PARTNER_LIMIT_LEASE=lease)
    with app.test_request_context(PATH, method="POST"):
        key = uuid.uuid4().hex
        used = lambda: 1000 - _remaining("partner-api", key, "1000/minute")[0]  # noqa: E731
        ratelimit.admit(key)
        seen = [used()]  # 1 call: a whole lease counted (min(lease, 1000 // 32))
        for _ in range(15):
            ratelimit.admit(key)
        seen.append(used())  # 16 calls
        ratelimit.admit(key)
        seen.append(used())  # 17 calls
        assert seen == counted


def _spend(app: Flask, key: str, failures: bool, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One worker: calls until refused; with ``failures``, every look-up answers not_found."""
    admitted = 0
    with app.test_request_context(PATH, method="POST"):
        while admitted < 10_000:
            if _refusal(lambda: ratelimit.admit(key)) is not None:
                break
            admitted += 1
            if failures:
                ratelimit.charge_failed(key)
    out.put(admitted)


@needs_redis
@pytest.mark.parametrize("failures", [False, True], ids=["general", "failed"])
def test_worker_processes_together_never_exceed_a_limit(app_factory: Callable[..., Flask], failures: bool) -> None:
    app = _redis_app(app_factory, PARTNER_API_LIMIT="500/minute", PARTNER_FAILED_LIMIT="40/minute")
    key = uuid.uuid4().hex
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    workers = [ctx.Process(target=_spend, args=(app, key, failures, out)) for _ in range(4)]
    for w in workers:
        w.start()
    totals = [out.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=10)
    # each process spends what it was granted before asking again, and stops only when Redis has no
    # room: so together they reach the limit exactly
    assert sum(totals) == (40 if failures else 500), totals


@needs_redis
def test_threads_of_one_worker_never_spend_a_permit_twice(app_factory: Callable[..., Flask]) -> None:
    app = _redis_app(app_factory, PARTNER_API_LIMIT="300/minute")
    key = uuid.uuid4().hex
    counts: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        admitted = 0
        with app.test_request_context(PATH, method="POST"):
            while _refusal(lambda: ratelimit.admit(key)) is None:
                admitted += 1
        with lock:
            counts.append(admitted)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) <= 300
    assert sum(counts) >= 300 - 8 * 16  # a thread race drops at most one lease per thread, never adds


@needs_redis
def test_a_lease_ends_with_its_window(app_factory: Callable[..., Flask]) -> None:
    app = _redis_app(app_factory, PARTNER_API_LIMIT="64/second")
    with app.test_request_context(PATH, method="POST"):
        key = uuid.uuid4().hex
        ratelimit.admit(key)  # leases 2 (64 // 32) in this second's window, spends 1
        time.sleep(1.05)  # that window is over: the permit left must not be spent in the next one
        ratelimit.admit(key)
        conn = redis.Redis.from_url(REDIS_URL)
        [window] = conn.keys(f"*partner-api/{key}/*")
        assert int(conn.get(window) or 0) == 2  # a new lease counted in the new window


@needs_redis
def test_threads_together_never_exceed_the_failed_budget(app_factory: Callable[..., Flask]) -> None:
    app = _redis_app(app_factory, PARTNER_API_LIMIT="100000/minute", PARTNER_FAILED_LIMIT="30/minute")
    key = uuid.uuid4().hex
    failures: list[int] = []
    overdrawn: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        failed = calls = 0
        with app.test_request_context(PATH, method="POST"):
            while _refusal(lambda: ratelimit.admit(key)) is None:
                calls += 1
                if calls % 2:  # every other look-up answers not_found
                    ratelimit.charge_failed(key)
                    failed += 1
                ratelimit.settle()  # the request ends
                lease = ratelimit._thread_leases(ratelimit._lease_storage())[key]  # type: ignore[arg-type]
                if lease.permits < 0:
                    overdrawn.append(lease.permits)
        with lock:
            failures.append(failed)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # each thread stops only when it needs a permit and Redis has none left: every reserved permit was
    # spent by a not_found answer or given back, so together they answered exactly the budget
    assert sum(failures) == 30, failures
    assert overdrawn == []


@needs_redis
def test_kept_failed_permits_never_refuse_a_key_that_is_not_failing(app_factory: Callable[..., Flask]) -> None:
    app = _redis_app(app_factory, PARTNER_FAILED_LIMIT="10/minute")
    key = uuid.uuid4().hex
    refusals: list[object] = []

    def worker() -> None:  # a thread stands for a worker process: its own leases
        with app.test_request_context(PATH, method="POST"):
            for _ in range(5):
                refusals.append(_refusal(lambda: ratelimit.admit(key)))
                ratelimit.settle()  # good codes only: nothing charged

    threads = [threading.Thread(target=worker) for _ in range(6)]  # more workers than half the budget
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert refusals == [None] * 30
    with app.test_request_context(PATH, method="POST"):
        # permits are kept only while the budget is at most half used; the others were given back
        assert 5 <= _remaining("partner-failed", key, "10/minute")[0] <= 9
