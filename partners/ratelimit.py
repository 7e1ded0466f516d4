"""Per-key rate limits of the partner API: every call, and a tighter budget for failed look-ups.

Two budgets per API key, kept by ``limits``' fixed-window strategy in the storage of the service's
Flask-Limiter (``rewards.extensions.limiter``): ``memory://`` counts per process, ``redis://`` across
every worker and every server (set ``RATELIMIT_STORAGE_URI`` whenever more than one worker runs).

- ``PARTNER_API_LIMIT`` (scope ``partner-api``): every partner API call of a key.
- ``PARTNER_FAILED_LIMIT`` (scope ``partner-failed``): the key's ``not_found`` answers (validate,
  redeem). A well-formed code that does not exist is what guessing produces; a typo is caught by the
  check symbol and answers ``malformed``, which costs only the general limit.

Guarantees, across every worker and server that share the storage:

1. Every call is counted in every general window (a refused call too, as ``limits`` counts a refused
   hit), and a call is admitted only when no general window is past its limit. So a key is **never
   admitted beyond its limit**; a key that keeps calling while refused stays refused until the
   window rolls over.
2. A look-up (:func:`admit`) also needs room in every failed window before it runs: a key that used
   up its failed budget is refused until the window rolls over, even for a good code.
3. A ``not_found`` answer is counted in the failed windows before it is given (:func:`charge_failed`);
   when that count goes past the budget the answer is a 429 instead. So a key **never gets more
   ``not_found`` answers in a window than its budget**, however many of its look-ups run at once.
4. Refusals are 429 in the API error shape, naming the window, with ``Retry-After`` in whole seconds
   (until that window rolls over).

Cost: a look-up asks the storage once. On Redis the failed windows' reads and the general windows'
increments run as one script (the same keys and the same counting as ``limits``' own
``incr_expire`` script, so ``limiter.limiter.get_window_stats`` reads them); elsewhere they go
through ``limits``' ``test`` and ``hit``. A ``not_found`` answer costs one more call per failed window.
"""

from __future__ import annotations

import math
import time
import weakref
from functools import lru_cache

from flask import current_app
from flask_smorest import abort
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from rewards.extensions import limiter

GENERAL, FAILED = "partner-api", "partner-failed"

# KEYS: windows to read (ARGV[i] == "0") or to count one call in (ARGV[i] = the window's expiry in
# seconds). Returns every window's count. Counting is limits' incr_expire: the first call of a
# window sets its expiry.
_COUNT_LUA = """
local counts = {}
for i = 1, #KEYS do
  if ARGV[i] == "0" then
    counts[i] = tonumber(redis.call("get", KEYS[i]) or "0")
  else
    counts[i] = redis.call("incrby", KEYS[i], 1)
    if counts[i] == 1 then redis.call("expire", KEYS[i], ARGV[i]) end
  end
end
return counts
"""
_scripts: weakref.WeakKeyDictionary[RedisStorage, object] = weakref.WeakKeyDictionary()  # per storage (a test builds many apps)


@lru_cache(maxsize=32)
def _items(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec))


def _strategy() -> FixedWindowRateLimiter | None:
    """The limiter's strategy, or None when rate limits are off."""
    if not (current_app.config.get("RATELIMIT_ENABLED", True) and limiter.enabled):
        return None
    return limiter.limiter  # type: ignore[return-value]


def _refuse(strategy: FixedWindowRateLimiter, item: RateLimitItem, scope: str, key: str) -> None:
    reset = strategy.get_window_stats(item, scope, key).reset_time
    what = "requests" if scope == GENERAL else "failed look-ups"
    abort(429, message=f"Too many {what} for this key ({item}).",
          headers={"Retry-After": str(max(1, math.ceil(reset - time.time())))})


def _counts(strategy: FixedWindowRateLimiter, key: str, failed: tuple[RateLimitItem, ...],
            general: tuple[RateLimitItem, ...]) -> tuple[list[int], list[int]]:
    """The failed windows' counts (read) and the general windows' counts after this call (counted)."""
    storage = strategy.storage
    if isinstance(storage, RedisStorage):
        script = _scripts.get(storage)
        if script is None:
            script = _scripts[storage] = storage.get_connection().register_script(_COUNT_LUA)
        keys = [storage.prefixed_key(i.key_for(FAILED, key)) for i in failed]
        keys += [storage.prefixed_key(i.key_for(GENERAL, key)) for i in general]
        counts = script(keys=keys, args=["0"] * len(failed) + [i.get_expiry() for i in general])  # type: ignore[operator]
        return [int(c) for c in counts[:len(failed)]], [int(c) for c in counts[len(failed):]]
    read = [storage.get(i.key_for(FAILED, key)) for i in failed]
    return read, [storage.incr(i.key_for(GENERAL, key), i.get_expiry()) for i in general]


def _admit(key: str, *, lookup: bool) -> None:
    strategy = _strategy()
    if strategy is None:
        return
    config = current_app.config
    general = _items(config["PARTNER_API_LIMIT"])
    failed = _items(config["PARTNER_FAILED_LIMIT"]) if lookup else ()
    failed_counts, general_counts = _counts(strategy, key, failed, general)
    for item, count in zip(general, general_counts, strict=True):
        if count > item.amount:
            _refuse(strategy, item, GENERAL, key)
    for item, count in zip(failed, failed_counts, strict=True):
        if count >= item.amount:
            _refuse(strategy, item, FAILED, key)


def hit_general(key: str) -> None:
    """Count one partner API call of ``key``; 429 when a ``PARTNER_API_LIMIT`` window is past its limit."""
    _admit(key, lookup=False)


def admit(key: str) -> None:
    """A look-up by ``key``: counted as a call (:func:`hit_general`), and 429 when its failed budget
    is used up."""
    _admit(key, lookup=True)


def charge_failed(key: str) -> None:
    """Count a ``not_found`` answer of ``key`` before it is given; 429 instead when that goes past the
    failed budget."""
    strategy = _strategy()
    if strategy is None:
        return
    for item in _items(current_app.config["PARTNER_FAILED_LIMIT"]):
        if not strategy.hit(item, FAILED, key):
            _refuse(strategy, item, FAILED, key)
