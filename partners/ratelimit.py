"""Per-key rate limits of the partner API, with a tighter budget for failed look-ups.

Built on the storage and strategy of the service's Flask-Limiter instance (``rewards.extensions``),
so the limits share its storage: ``memory://`` counts per process, ``redis://`` across every worker
and every server (set ``RATELIMIT_STORAGE_URI`` whenever more than one worker runs).

- ``PARTNER_API_LIMIT`` counts every partner API call of a key.
- ``PARTNER_FAILED_LIMIT`` counts ``not_found`` answers of a key (validate or redeem): a well-formed
  code that does not exist is what guessing produces (typos are caught by the check symbol and
  answer ``malformed``, which costs nothing but the general limit). A look-up needs room in the
  failed budget before it runs, so a key that used it up is refused until the window rolls over,
  even for good codes.

Refusals are 429 with ``Retry-After`` (whole seconds) in the API error shape.

**Leases (Redis storage).** A Redis round trip on every call costs a partner validate more than its
database look-up (the worker blocks, the scheduler switches). So each worker thread (a sync worker
has one) takes permits from the shared fixed-window counters in small leases, one Lua script call
that checks every window and charges them together, and spends them until they run out or the
shortest window ends:

- general permits: a lease is ``min(PARTNER_LIMIT_LEASE, room // 32)`` permits, at least 1, where
  ``room`` is what the fullest window has left. Far from the limit a worker asks Redis once per
  several calls; near it, once per call. Every permit is counted in Redis before it is used, so a
  key is **never admitted beyond its limit**, across all workers and servers. Permits a worker holds
  unused when the window ends are lost: a key may be refused up to one lease per worker early.
- failed permits: a look-up runs only with one failed permit reserved in Redis (counted as if it
  failed). A ``not_found`` answer spends it. While every failed window is at most half used, the
  worker keeps an unspent permit for its next look-ups (no Redis call); past half, a permit is
  reserved for each look-up and given back at the end of the request when the look-up did not fail
  (``settle``, a teardown of the partner API). So the ``not_found`` answers of a key in a window never
  exceed its failed budget. Kept permits (at most one per worker) never fill more than half of it,
  so a key that is not failing is refused only when more look-ups of it are in flight at once than
  half its failed budget.

``PARTNER_LIMIT_LEASE = 1`` makes every call ask Redis (exact general counts). Leases expire a few
milliseconds before the window does, so a permit is never spent in a window that did not count it.
Other storages (``memory://``) take the step-by-step path through the limiter, per call.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from flask_smorest import abort
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from rewards.extensions import limiter

# KEYS: the general windows' keys, then the failed windows' keys. ARGV: [1] how many general keys,
# [2] 1 to lease general permits, [3] 1 to reserve a failed permit, [4] the lease size cap, [5] the
# room divisor; then (expiry seconds, limit) for each key in KEYS order. Every window asked about is
# checked before any is charged. Returns {0, permits granted, general ms left, failed ms left, 1 when
# the failed permit may be kept for later look-ups}, or {1, i, ms left} when general window i
# (1-based) is full, {2, j, ms left} when failed window j is.
_LEASE_LUA = """
local ng = tonumber(ARGV[1])
local want_general, want_failed = ARGV[2] == "1", ARGV[3] == "1"
local grant = tonumber(ARGV[4])
local divisor = tonumber(ARGV[5])
local function count(k) return tonumber(redis.call("get", KEYS[k]) or "0") end
local function limit(k) return tonumber(ARGV[5 + 2 * k]) end
if want_general then
  for i = 1, ng do
    local room = limit(i) - count(i)
    if room <= 0 then return {1, i, redis.call("pttl", KEYS[i])} end
    grant = math.min(grant, math.max(1, math.floor(room / divisor)))
  end
end
if want_failed then
  for j = ng + 1, #KEYS do
    if count(j) >= limit(j) then return {2, j - ng, redis.call("pttl", KEYS[j])} end
  end
end
local function charge(first, last, amount)
  local left = -1
  for k = first, last do
    if redis.call("incrby", KEYS[k], amount) == amount then
      redis.call("expire", KEYS[k], ARGV[4 + 2 * k])
    end
    local ms = redis.call("pttl", KEYS[k])
    if left < 0 or ms < left then left = ms end
  end
  return left
end
local general_ms, failed_ms, hold = 0, 0, 0
if want_general then general_ms = charge(1, ng, grant) else grant = 0 end
if want_failed then
  failed_ms = charge(ng + 1, #KEYS, 1)
  hold = 1  -- keep the failed permit for later look-ups only while every failed window is at most half used
  for j = ng + 1, #KEYS do
    if 2 * (limit(j) - count(j)) < limit(j) then hold = 0 end
  end
end
return {0, grant, general_ms, failed_ms, hold}
"""
# A failed permit reserved for one look-up that did not fail goes back (KEYS: the failed windows).
_RELEASE_LUA = """
for k = 1, #KEYS do
  if redis.call("exists", KEYS[k]) == 1 then redis.call("decr", KEYS[k]) end
end
return 0
"""
ROOM_DIVISOR = 32  # a lease takes at most 1/32 of what the fullest window has left
MARGIN = 0.005  # seconds: a lease ends this much before its window, whatever the reply's transit time


@dataclass
class _Lease:
    """One worker thread's permits for one API key."""

    permits: int = 0
    permits_until: float = 0.0  # time.monotonic()
    failed_held: bool = False
    failed_until: float = 0.0


@dataclass(frozen=True)
class _Reserved:
    """A failed permit reserved for the current look-up only (the failed budget was over half used)."""

    storage: RedisStorage
    key: str
    windows: tuple[str, ...]  # the failed windows' Redis keys
    until: float  # time.monotonic(): after this the window that counted it is over


# Leases belong to a thread (in a sync worker, to the process), so no two requests ever spend one
# permit; per storage (a test builds many apps), per API key.
_local = threading.local()
_scripts: weakref.WeakKeyDictionary[RedisStorage, tuple[object, object]] = weakref.WeakKeyDictionary()


def _thread_leases(storage: RedisStorage) -> dict[str, _Lease]:
    leases = getattr(_local, "leases", None)
    if leases is None:
        leases = _local.leases = weakref.WeakKeyDictionary()
    return leases.setdefault(storage, {})  # type: ignore[no-any-return]


@lru_cache(maxsize=32)
def _items(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec))


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True)) and limiter.enabled


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def _refuse(item: RateLimitItem, scope: str, key: str, message: str) -> None:
    stats = limiter.limiter.get_window_stats(item, scope, key)
    abort(429, message=message, headers={"Retry-After": _retry_after(stats.reset_time - time.time())})


def _general_message(item: RateLimitItem) -> str:
    return f"Too many requests for this key ({item})."


def _failed_message(item: RateLimitItem) -> str:
    return f"Too many failed look-ups for this key ({item})."


def hit_general(key: str) -> None:
    """Count one call of ``key``; 429 when over ``PARTNER_API_LIMIT``."""
    if not _enabled():
        return
    if _lease_storage() is not None:
        _admit_leased(key, failed=False)
        return
    for item in _items(current_app.config["PARTNER_API_LIMIT"]):
        if not limiter.limiter.hit(item, "partner-api", key):
            _refuse(item, "partner-api", key, _general_message(item))


def check_failed(key: str) -> None:
    """429 when ``key`` has used up its budget of failed look-ups (step-by-step path)."""
    if not _enabled():
        return
    for item in _items(current_app.config["PARTNER_FAILED_LIMIT"]):
        if not limiter.limiter.test(item, "partner-failed", key):
            _refuse(item, "partner-failed", key, _failed_message(item))


def charge_failed(key: str) -> None:
    """Count one failed look-up of ``key``: the permit reserved for it, else a hit on the failed windows."""
    if not _enabled():
        return
    storage = _lease_storage()
    if storage is not None:
        reserved = getattr(_local, "reserved", None)
        if reserved is not None and reserved.storage is storage and reserved.key == key:
            _local.reserved = None  # already counted in Redis when it was reserved
            return
        lease = _thread_leases(storage).get(key)
        if lease is not None and lease.failed_held:
            lease.failed_held = False
            return
    for item in _items(current_app.config["PARTNER_FAILED_LIMIT"]):
        limiter.limiter.hit(item, "partner-failed", key)


def settle(_exc: BaseException | None = None) -> None:
    """End of a request (teardown): a failed permit reserved for a look-up that did not fail goes back."""
    reserved = getattr(_local, "reserved", None)
    if reserved is None:
        return
    _local.reserved = None
    if time.monotonic() < reserved.until:  # still its window: give it back (a later window never counted it)
        _scripts_of(reserved.storage)[1](keys=list(reserved.windows))  # type: ignore[operator]


def admit(key: str) -> None:
    """A look-up call of ``key``: counts it (general limit) and needs room for a failed look-up."""
    if not _enabled():
        return
    if _lease_storage() is not None:
        _admit_leased(key, failed=True)
        return
    hit_general(key)
    check_failed(key)


def _lease_storage() -> RedisStorage | None:
    """The limiter's storage when leases apply: plain Redis under the fixed-window strategy."""
    strategy = limiter.limiter
    if type(strategy) is not FixedWindowRateLimiter:
        return None
    storage = strategy.storage
    return storage if type(storage) is RedisStorage else None  # cluster and sentinel: step by step


@lru_cache(maxsize=4096)
def _lease_call(key: str, general_spec: str, failed_spec: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The lease script's window keys (before the storage's prefix) and per-window arguments for one
    API key: the same on every call of that key."""
    general, failed = _items(general_spec), _items(failed_spec)
    keys = [item.key_for("partner-api", key) for item in general] + [item.key_for("partner-failed", key) for item in failed]
    windows: list[int] = []
    for item in (*general, *failed):
        windows += [item.get_expiry(), item.amount]
    return tuple(keys), tuple(windows)


def _scripts_of(storage: RedisStorage) -> tuple[object, object]:
    scripts = _scripts.get(storage)
    if scripts is None:
        connection = storage.get_connection()
        scripts = _scripts[storage] = (connection.register_script(_LEASE_LUA), connection.register_script(_RELEASE_LUA))
    return scripts


def _admit_leased(key: str, *, failed: bool) -> None:
    storage = _lease_storage()
    assert storage is not None
    settle()  # a reservation a previous request of this thread left (no teardown ran): back first
    now = time.monotonic()
    lease = _thread_leases(storage).setdefault(key, _Lease())
    need_general = not (lease.permits > 0 and now < lease.permits_until)
    need_failed = failed and not (lease.failed_held and now < lease.failed_until)
    if need_general or need_failed:
        config = current_app.config
        general_spec, failed_spec = config["PARTNER_API_LIMIT"], config["PARTNER_FAILED_LIMIT"]
        keys, windows = _lease_call(key, general_spec, failed_spec)
        ng = len(_items(general_spec))
        head = (ng, int(need_general), int(need_failed), config["PARTNER_LIMIT_LEASE"], ROOM_DIVISOR)
        redis_keys = [storage.prefixed_key(k) for k in keys]
        reply = _scripts_of(storage)[0](keys=redis_keys, args=head + windows)  # type: ignore[operator]
        kind, value, ms = int(reply[0]), int(reply[1]), int(reply[2])
        if kind == 1:
            item = _items(general_spec)[value - 1]
            abort(429, message=_general_message(item), headers={"Retry-After": _retry_after(ms / 1000)})
        if kind == 2:
            item = _items(failed_spec)[value - 1]
            abort(429, message=_failed_message(item), headers={"Retry-After": _retry_after(ms / 1000)})
        if need_general:
            lease.permits, lease.permits_until = value, now + ms / 1000 - MARGIN
        if need_failed:
            until = now + int(reply[3]) / 1000 - MARGIN
            if int(reply[4]):
                lease.failed_held, lease.failed_until = True, until
            else:
                _local.reserved = _Reserved(storage, key, tuple(redis_keys[ng:]), until)
    lease.permits -= 1
