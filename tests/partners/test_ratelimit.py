"""The partner API's rate limits (``partners.ratelimit``), storage by storage.

The guarantees written at the top of that module, shown with real processes and threads sharing one
Redis: no key is admitted beyond its limit, no key gets more ``not_found`` answers than its failed
budget, a used-up failed budget refuses even good codes, refusals name the window and carry
``Retry-After``; Redis permits are counted before they are spent and end with their window; and with
small limits (a batch of one) Redis counts exactly as ``memory://`` does.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from limits import parse_many
from werkzeug.exceptions import HTTPException

from partners import ratelimit
from rewards.throttle import limiter
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
    strategy = limiter()
    assert strategy is not None  # rate limits are on in these tests
    return [strategy.get_window_stats(item, scope, key).remaining for item in parse_many(spec)]


def _in_threads(run: Callable[[], None], count: int) -> None:
    """Run ``run`` in ``count`` threads at once and wait for them all."""
    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _app(app_factory: Callable[..., Flask], storage: str, **limits: object) -> Flask:
    # A key prefix of its own: counts left in the shared Redis by other tests or runs never meet these.
    options = {"key_prefix": f"t-{uuid.uuid4().hex}"} if storage.startswith("redis") else {}
    return app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage, RATELIMIT_STORAGE_OPTIONS=options,
                       **limits)


@pytest.mark.parametrize("storage", STORAGES)
def test_refusals_name_the_window_and_every_storage_counts_alike(app_factory: Callable[..., Flask],
                                                                  storage: str) -> None:
    app = _app(app_factory, storage, PARTNER_API_LIMIT="3/minute;5/hour", PARTNER_FAILED_LIMIT="2/minute;10/hour")
    with app.test_request_context(PATH, method="POST"):
        key = uuid.uuid4().hex
        for _ in range(3):
            assert _refusal(lambda: ratelimit.admit(key)) is None
        refused = _refusal(lambda: ratelimit.admit(key))
        assert refused is not None and refused[0] == 429 and 1 <= refused[2] <= 60
        assert "Too many requests for this key (3 per 1 minute)" in refused[1]
        # three calls counted in both windows, the refused fourth in neither (every window is checked
        # before any is counted); a look-up only reads the failed windows
        assert _remaining("partner-api", key, "3/minute;5/hour") == [0, 2]
        assert _remaining("partner-failed", key, "2/minute;10/hour") == [2, 10]

        other = uuid.uuid4().hex
        for _ in range(2):
            assert _refusal(lambda: ratelimit.admit(other)) is None
            assert _refusal(lambda: ratelimit.charge_failed(other)) is None  # the look-up answers not_found
        refused = _refusal(lambda: ratelimit.admit(other))  # failed budget used up: even a good code waits
        assert refused is not None and refused[0] == 429 and 1 <= refused[2] <= 60
        assert "Too many failed look-ups for this key (2 per 1 minute)" in refused[1]
        assert _remaining("partner-failed", other, "2/minute;10/hour") == [0, 8]
        assert _remaining("partner-api", other, "3/minute;5/hour") == [1, 3]
        # a not_found answer past the budget (its look-up was admitted before the budget ran out) is a 429
        refused = _refusal(lambda: ratelimit.charge_failed(other))
        assert refused is not None and refused[0] == 429 and "failed look-ups" in refused[1]

        calls = uuid.uuid4().hex  # hit_general (the other partner calls) never looks at the failed budget
        for _ in range(2):
            ratelimit.charge_failed(calls)
        assert _refusal(lambda: ratelimit.hit_general(calls)) is None


@pytest.mark.parametrize("storage", STORAGES)
def test_nothing_is_counted_when_rate_limits_are_off(app_factory: Callable[..., Flask], storage: str) -> None:
    app = app_factory(RATELIMIT_ENABLED=False, RATELIMIT_STORAGE_URI=storage, PARTNER_API_LIMIT="1/minute",
                      PARTNER_FAILED_LIMIT="1/minute")
    with app.test_request_context(PATH, method="POST"):
        key = uuid.uuid4().hex
        for _ in range(3):
            assert _refusal(lambda: ratelimit.admit(key)) is None
            assert _refusal(lambda: ratelimit.charge_failed(key)) is None


@needs_redis
@pytest.mark.parametrize(("lease", "counted"), [(16, [16, 16, 32]), (1, [1, 16, 17])])
def test_permits_are_counted_in_redis_before_they_are_spent(app_factory: Callable[..., Flask], lease: int,
                                                             counted: list[int]) -> None:
    app = _app(app_factory, REDIS_URL, PARTNER_API_LIMIT="1000/minute", PARTNER_LIMIT_LEASE=lease)
    with app.test_request_context(PATH, method="POST"):
        key = uuid.uuid4().hex
        used = lambda: 1000 - _remaining("partner-api", key, "1000/minute")[0]  # noqa: E731
        ratelimit.admit(key)
        seen = [used()]  # 1 call: a whole batch counted (min(lease, 1000 // 32))
        for _ in range(15):
            ratelimit.admit(key)
        seen.append(used())  # 16 calls
        ratelimit.admit(key)
        seen.append(used())  # 17 calls
        assert seen == counted


@needs_redis
def test_permits_end_with_their_window(app_factory: Callable[..., Flask]) -> None:
    app = _app(app_factory, REDIS_URL, PARTNER_API_LIMIT="64/second")
    with app.test_request_context(PATH, method="POST"):
        key = uuid.uuid4().hex
        ratelimit.admit(key)  # takes 2 (64 // 32) in this second's window, spends 1
        time.sleep(1.05)  # that window is over: the permit left must not be spent in the next one
        ratelimit.admit(key)
        assert _remaining("partner-api", key, "64/second") == [62]  # a new batch counted in the new window


@needs_redis
def test_a_refused_not_found_drops_the_threads_permits(app_factory: Callable[..., Flask]) -> None:
    app = _app(app_factory, REDIS_URL, PARTNER_API_LIMIT="1000/minute", PARTNER_FAILED_LIMIT="1/minute")
    with app.test_request_context(PATH, method="POST"):
        key = uuid.uuid4().hex
        ratelimit.admit(key)  # a batch of 16 permits held by this thread
        ratelimit.charge_failed(key)  # the budget's one not_found
        ratelimit.admit(key)  # spends a held permit: no Redis call, so not refused yet
        assert _refusal(lambda: ratelimit.charge_failed(key)) is not None  # past the budget: 429
        refused = _refusal(lambda: ratelimit.admit(key))  # permits dropped: Redis refuses even a good code
        assert refused is not None and "failed look-ups" in refused[1]


def _spend(app: Flask, key: str, failures: bool, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One worker: look-ups until refused; with ``failures`` each answers not_found. Puts how many
    calls were admitted (or, with ``failures``, how many not_found answers were given)."""
    given = 0
    with app.test_request_context(PATH, method="POST"):
        while given < 10_000:
            if _refusal(lambda: ratelimit.admit(key)) is not None:
                break
            if failures and _refusal(lambda: ratelimit.charge_failed(key)) is not None:
                break
            given += 1
    out.put(given)


@needs_redis
@pytest.mark.parametrize("failures", [False, True], ids=["general", "failed"])
def test_worker_processes_together_reach_a_limit_exactly(app_factory: Callable[..., Flask], failures: bool) -> None:
    app = _app(app_factory, REDIS_URL, PARTNER_API_LIMIT="500/minute", PARTNER_FAILED_LIMIT="40/minute")
    key = uuid.uuid4().hex
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    workers = [ctx.Process(target=_spend, args=(app, key, failures, out)) for _ in range(4)]
    for w in workers:
        w.start()
    totals = [out.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=10)
    # each call (each not_found answer) is counted in Redis before it is given, so never beyond; a
    # process may stop holding permits it did not spend (batches of at most 500 // 32 = 15)
    if failures:
        assert sum(totals) == 40, totals
    else:
        assert 500 - 4 * 15 <= sum(totals) <= 500, totals


@needs_redis
def test_threads_together_reach_the_general_limit_exactly(app_factory: Callable[..., Flask]) -> None:
    app = _app(app_factory, REDIS_URL, PARTNER_API_LIMIT="300/minute")
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

    _in_threads(run, 8)
    # never beyond; each thread may end holding unspent permits (batches of at most 300 // 32 = 9)
    assert 300 - 8 * 9 <= sum(counts) <= 300


@needs_redis
def test_concurrent_look_ups_never_get_more_not_found_answers_than_the_budget(
    app_factory: Callable[..., Flask],
) -> None:
    app = _app(app_factory, REDIS_URL, PARTNER_API_LIMIT="100000/minute", PARTNER_FAILED_LIMIT="30/minute")
    key = uuid.uuid4().hex
    answered: list[int] = []
    late: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def run() -> None:
        not_found = refused_late = calls = 0
        with app.test_request_context(PATH, method="POST"):
            start.wait()
            while _refusal(lambda: ratelimit.admit(key)) is None:
                calls += 1
                if calls % 2:  # every other look-up answers not_found, if the budget still allows
                    if _refusal(lambda: ratelimit.charge_failed(key)) is None:
                        not_found += 1
                    else:
                        refused_late += 1
        with lock:
            answered.append(not_found)
            late.append(refused_late)

    _in_threads(run, 8)
    assert sum(answered) == 30, answered  # exactly the budget, however the threads interleave
    # a look-up admitted before the budget ran out answers 429 instead; then its thread's permits are
    # dropped, so each thread meets at most one such refusal before Redis refuses its look-ups
    assert all(n <= 1 for n in late), late
