"""Per-key rate limits of the partner API, with a tighter budget for failed look-ups.

Built on the storage and strategy of the service's Flask-Limiter instance (``rewards.extensions``),
so the limits share its storage: ``memory://`` counts per process, ``redis://`` across every worker
and every server (set ``RATELIMIT_STORAGE_URI`` whenever more than one worker runs).

- ``PARTNER_API_LIMIT`` counts every partner API call of a key.
- ``PARTNER_FAILED_LIMIT`` counts ``not_found`` answers of a key (validate or redeem): a well-formed
  code that does not exist is what guessing produces (typos are caught by the check symbol and
  answer ``malformed``, which costs nothing but the general limit). The failed budget is tested
  before the look-up and charged after it, so a key that used it up is refused until the window
  rolls over, even for good codes.

Refusals are 429 with ``Retry-After`` (whole seconds) in the API error shape.

With Redis storage, :func:`admit` (the general hit plus the failed-budget test that validate and
redeem do first) is one Lua script, i.e. one round trip instead of one per window: the same keys,
the same fixed-window counters and expiries as ``limits``' own ``incr``/``get``, the same order
(general windows hit one after the other, stopping at the first one exceeded, then the failed
windows tested), and atomic. Other storages take the step-by-step path.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from flask import current_app
from flask_smorest import abort
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from rewards.extensions import limiter

# KEYS: the general windows' keys, then the failed windows' keys. ARGV[1]: how many general keys;
# then (expiry, amount) per general key; then amount per failed key. Returns {0, 0} when admitted,
# {1, i} when general window i (1-based) is exceeded, {2, j} when failed window j is used up.
# The general part is limits' incr_expire.lua per window; the failed part is FixedWindowRateLimiter.test.
_ADMIT_LUA = """
local ng = tonumber(ARGV[1])
local pos = 2
for i = 1, ng do
  local current = redis.call("incrby", KEYS[i], 1)
  if current == 1 then
    redis.call("expire", KEYS[i], ARGV[pos])
  end
  if current > tonumber(ARGV[pos + 1]) then
    return {1, i}
  end
  pos = pos + 2
end
for j = ng + 1, #KEYS do
  local current = tonumber(redis.call("get", KEYS[j]) or "0")
  if current >= tonumber(ARGV[pos]) then
    return {2, j - ng}
  end
  pos = pos + 1
end
return {0, 0}
"""
_scripts: dict[int, tuple[RedisStorage, object]] = {}


@lru_cache(maxsize=32)
def _items(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec))


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True)) and limiter.enabled


def _refuse(item: RateLimitItem, scope: str, key: str, message: str) -> None:
    stats = limiter.limiter.get_window_stats(item, scope, key)
    retry = max(1, math.ceil(stats.reset_time - time.time()))
    abort(429, message=message, headers={"Retry-After": str(retry)})


def hit_general(key: str) -> None:
    """Count one call of ``key``; 429 when over ``PARTNER_API_LIMIT``."""
    if not _enabled():
        return
    for item in _items(current_app.config["PARTNER_API_LIMIT"]):
        if not limiter.limiter.hit(item, "partner-api", key):
            _refuse(item, "partner-api", key, f"Too many requests for this key ({item}).")


def check_failed(key: str) -> None:
    """429 when ``key`` has used up its budget of failed look-ups."""
    if not _enabled():
        return
    for item in _items(current_app.config["PARTNER_FAILED_LIMIT"]):
        if not limiter.limiter.test(item, "partner-failed", key):
            _refuse(item, "partner-failed", key, f"Too many failed look-ups for this key ({item}).")


def charge_failed(key: str) -> None:
    """Count one failed look-up of ``key``."""
    if not _enabled():
        return
    for item in _items(current_app.config["PARTNER_FAILED_LIMIT"]):
        limiter.limiter.hit(item, "partner-failed", key)


def _admit_script(strategy: object) -> object | None:
    """The registered admit script for this limiter's storage, when it is plain Redis and fixed-window."""
    if type(strategy) is not FixedWindowRateLimiter:
        return None
    storage = strategy.storage  # type: ignore[attr-defined]
    if type(storage) is not RedisStorage:  # cluster and sentinel storages take the step-by-step path
        return None
    cached = _scripts.get(id(storage))
    if cached is None or cached[0] is not storage:
        cached = (storage, storage.get_connection().register_script(_ADMIT_LUA))
        _scripts[id(storage)] = cached
    return cached[1]


def admit(key: str) -> None:
    """``hit_general(key)`` then ``check_failed(key)``: one Redis round trip when the storage is Redis."""
    if not _enabled():
        return
    strategy = limiter.limiter
    script = _admit_script(strategy)
    if script is None:
        hit_general(key)
        check_failed(key)
        return
    general = _items(current_app.config["PARTNER_API_LIMIT"])
    failed = _items(current_app.config["PARTNER_FAILED_LIMIT"])
    storage = strategy.storage
    keys = [storage.prefixed_key(item.key_for("partner-api", key)) for item in general]
    keys += [storage.prefixed_key(item.key_for("partner-failed", key)) for item in failed]
    args: list[int] = [len(general)]
    for item in general:
        args += [item.get_expiry(), item.amount]
    args += [item.amount for item in failed]
    kind, index = (int(x) for x in script(keys=keys, args=args))  # type: ignore[operator]
    if kind == 1:
        item = general[index - 1]
        _refuse(item, "partner-api", key, f"Too many requests for this key ({item}).")
    elif kind == 2:
        item = failed[index - 1]
        _refuse(item, "partner-failed", key, f"Too many failed look-ups for this key ({item}).")
