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
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from flask import current_app
from flask_smorest import abort
from limits import RateLimitItem, parse_many

from rewards.extensions import limiter


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
