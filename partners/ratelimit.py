"""Per-key rate limits of the partner API: every call, and a tighter budget for failed look-ups.

Two budgets per API key, kept in the service's rate-limit storage (``rewards.throttle``) under
``limits``' fixed-window keys, so ``rewards.throttle.limiter().get_window_stats`` reads them:
``memory://`` counts per process, ``redis://`` across every worker and every server (set
``RATELIMIT_STORAGE_URI`` whenever more than one worker runs).

- ``PARTNER_API_LIMIT`` (scope ``partner-api``): every partner API call of a key.
- ``PARTNER_FAILED_LIMIT`` (scope ``partner-failed``): the key's ``not_found`` answers (validate,
  redeem). A well-formed code that does not exist is what guessing produces; a typo is caught by the
  check symbol and answers ``malformed``, which costs only the general limit.

Guarantees, across every worker and server that share the storage:

1. A call is counted in every general window before it runs, so a key is **never admitted beyond its
   limit**. A refused call is counted nowhere.
2. A ``not_found`` answer is counted in the failed windows before it is given (:func:`charge_failed`);
   when that count goes past the budget the answer is a 429 instead. So a key **never gets more
   ``not_found`` answers in a window than its budget**, however many of its look-ups run at once.
3. A look-up (:func:`admit`) needs room in the failed windows when its permit is taken: a key that used
   up its failed budget is refused, even for good codes, at the latest when the permits workers hold
   for it run out or the shortest general window ends (one second with the default limits).
4. Refusals are 429 in the API error shape, naming the window, with ``Retry-After`` in whole seconds.

Permits (Redis only). A Redis round trip costs a validate more than its database read, so a worker
thread takes general permits a few at a time: one Lua call checks every window and counts
``min(PARTNER_LIMIT_LEASE, room // 32)`` permits (at least 1; ``room`` is what the fullest general
window has left) in every general window, and the thread spends them until they run out or the
shortest general window ends. Permits a thread holds unspent when that window ends are lost, so a key
may be refused early by at most one batch per worker thread; a batch is never more than 1/32 of the
room left, and near the limit it is one permit (a Redis call per call). A thread whose ``not_found``
answer was refused drops its permits for that key (so its next look-up is refused).
``PARTNER_LIMIT_LEASE = 1`` asks Redis on every call. Other storages count call by call through
``limits``' ``test`` and ``hit``.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass
from functools import lru_cache

from flask import Response, current_app, g
from flask_smorest import abort
from limits import RateLimitItem
from limits.storage import RedisStorage

from rewards.throttle import items as _items
from rewards.throttle import limiter as _strategy

GENERAL, FAILED = "partner-api", "partner-failed"
MARGIN = 0.005  # seconds: permits end this much before their window, whatever the reply's transit time

# KEYS: the failed windows (NF of them), then the general windows. ARGV: NF, the batch cap, then each
# general window's (limit, expiry seconds), then each failed window's limit. Every window is checked
# before any is counted. Returns {0, permits, ms until the shortest general window ends}, or
# {1, i, ms} when general window i is full, {2, j, ms} when failed window j is. After {0, permits, ms}
# come each general window's room left and ms until it ends (for the RateLimit header).
_TAKE_LUA = """
local nf, grant = tonumber(ARGV[1]), tonumber(ARGV[2])
local ng = #KEYS - nf
for j = 1, nf do
  if tonumber(redis.call("get", KEYS[j]) or "0") >= tonumber(ARGV[2 + 2 * ng + j]) then
    return {2, j, redis.call("pttl", KEYS[j])}
  end
end
for i = 1, ng do
  local key = KEYS[nf + i]
  local room = tonumber(ARGV[1 + 2 * i]) - tonumber(redis.call("get", key) or "0")
  if room <= 0 then return {1, i, redis.call("pttl", key)} end
  grant = math.min(grant, math.max(1, math.floor(room / 32)))
end
local left = -1
local out = {0, grant, 0}
for i = 1, ng do
  local key = KEYS[nf + i]
  local count = redis.call("incrby", key, grant)
  if count == grant then redis.call("expire", key, ARGV[2 + 2 * i]) end
  local ms = redis.call("pttl", key)
  if left < 0 or ms < left then left = ms end
  out[#out + 1] = tonumber(ARGV[1 + 2 * i]) - count
  out[#out + 1] = ms
end
out[3] = left
return out
"""


@dataclass
class _Permits:
    """General permits one thread holds for one key, counted in Redis already."""

    left: int
    until: float  # time.monotonic()
    rooms: tuple[tuple[int, float], ...] = ()  # each general window: room left in Redis, ends at (monotonic)


_local = threading.local()  # a thread's permits: no two requests ever spend the same one
_scripts: weakref.WeakKeyDictionary[RedisStorage, object] = weakref.WeakKeyDictionary()  # per storage


def _refuse(item: RateLimitItem, scope: str, seconds: float) -> None:
    what = "requests" if scope == GENERAL else "failed look-ups"
    abort(429, message=f"Too many {what} for this key ({item}).",
          headers={"Retry-After": str(max(1, math.ceil(seconds)))})


def _held(storage: RedisStorage) -> dict[str, _Permits]:
    held = getattr(_local, "held", None)
    if held is None:
        held = _local.held = weakref.WeakKeyDictionary()
    return held.setdefault(storage, {})  # type: ignore[no-any-return]


def _take(storage: RedisStorage, key: str, general: tuple[RateLimitItem, ...],
          failed: tuple[RateLimitItem, ...]) -> None:
    """Spend a permit this thread holds for ``key``, or take a batch from Redis (429 when full)."""
    held = _held(storage)
    now = time.monotonic()
    permits = held.get(key)
    if permits is not None and permits.left > 0 and now < permits.until:
        permits.left -= 1
        _note(general, [(room + permits.left, end - now) for room, end in permits.rooms])
        return
    script = _scripts.get(storage)
    if script is None:
        script = _scripts[storage] = storage.get_connection().register_script(_TAKE_LUA.encode())
    keys = [storage.prefixed_key(i.key_for(FAILED, key)) for i in failed]
    keys += [storage.prefixed_key(i.key_for(GENERAL, key)) for i in general]
    args: list[int] = [len(failed), current_app.config["PARTNER_LIMIT_LEASE"]]
    for item in general:
        args += [item.amount, item.get_expiry()]
    args += [item.amount for item in failed]
    reply = [int(x) for x in script(keys=keys, args=args)]  # type: ignore[operator]
    kind, value, ms = reply[:3]
    if kind == 1:
        _refuse(general[value - 1], GENERAL, ms / 1000)
    if kind == 2:
        _refuse(failed[value - 1], FAILED, ms / 1000)
    rooms = tuple((reply[3 + 2 * i], now + reply[4 + 2 * i] / 1000) for i in range(len(general)))
    held[key] = _Permits(value - 1, now + ms / 1000 - MARGIN, rooms)
    _note(general, [(room + value - 1, end - now) for room, end in rooms])


def _admit(key: str, *, lookup: bool) -> None:
    strategy = _strategy()
    if strategy is None:
        return
    config = current_app.config
    general = _items(config["PARTNER_API_LIMIT"])
    failed = _items(config["PARTNER_FAILED_LIMIT"]) if lookup else ()
    if isinstance(strategy.storage, RedisStorage):
        _take(strategy.storage, key, general, failed)
        return
    for item in failed:
        if not strategy.test(item, FAILED, key):
            _refuse(item, FAILED, strategy.get_window_stats(item, FAILED, key).reset_time - time.time())
    for item in general:
        if not strategy.test(item, GENERAL, key):
            _refuse(item, GENERAL, strategy.get_window_stats(item, GENERAL, key).reset_time - time.time())
    for item in general:
        strategy.hit(item, GENERAL, key)
    stats = [strategy.get_window_stats(item, GENERAL, key) for item in general]
    _note(general, [(st.remaining, st.reset_time - time.time()) for st in stats])


# --- RateLimit / RateLimit-Policy headers (draft-ietf-httpapi-ratelimit-headers) -----------------
# Every partner response carries ``RateLimit-Policy`` (each general window: quota ``q`` and window
# ``w`` in seconds) and, once the call was counted, ``RateLimit`` (each window: ``r`` requests left and
# ``t`` seconds until it resets). With Redis permits the room is the storage's count when the permits
# were taken plus this thread's unspent ones: a hint (as the draft says), never a promise.


def _policy_name(item: RateLimitItem) -> str:
    return f"{item.GRANULARITY.name}" + (f"{item.multiples}" if item.multiples > 1 else "")


def _note(general: tuple[RateLimitItem, ...], windows: list[tuple[int, float]]) -> None:
    g.partner_ratelimit = [(_policy_name(item), max(0, room), max(0, math.ceil(seconds)))
                           for item, (room, seconds) in zip(general, windows, strict=True)]


def policy_header() -> str:
    """``RateLimit-Policy`` of the partner API (from ``PARTNER_API_LIMIT``)."""
    return _policy_header(current_app.config["PARTNER_API_LIMIT"])


@lru_cache(maxsize=16)
def _policy_header(spec: str) -> str:
    return ", ".join(f'"{_policy_name(i)}";q={i.amount};w={i.get_expiry()}' for i in _items(spec))


def add_headers(response: Response) -> Response:
    """An ``after_request`` of the partner blueprints: the rate-limit headers on every answer."""
    if _strategy() is None:
        return response
    response.headers["RateLimit-Policy"] = policy_header()
    noted = g.get("partner_ratelimit")
    if noted:
        response.headers["RateLimit"] = ", ".join(f'"{name}";r={room};t={seconds}' for name, room, seconds in noted)
    return response


def hit_general(key: str) -> None:
    """Count one partner API call of ``key``; 429 when a ``PARTNER_API_LIMIT`` window is full."""
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
            if isinstance(strategy.storage, RedisStorage):
                _held(strategy.storage).pop(key, None)  # this thread's next look-up asks Redis, and is refused
            _refuse(item, FAILED, strategy.get_window_stats(item, FAILED, key).reset_time - time.time())
