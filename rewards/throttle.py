"""Rate limits of our own, on the ``limits`` library's public API: one storage per app, fixed windows.

Pages use :func:`limit` (the login throttle per address and per user name, the public draw check per
address); the partner API's budgets (``partners.ratelimit``) count in the same storage through
:func:`limiter`. Nothing runs on a request that no limit names: no before-request hook.

Guarantees:

1. **What is counted**: each request a decorated view receives with one of its ``methods``, before the
   view runs, in every window of its limit string (``"10 per minute;50 per hour"``), refused requests
   included (a client that keeps trying keeps its windows full). Each window's count is one atomic
   increment in the storage, so across every worker and server that share it no window ever admits
   more than its amount.
2. **Per what key**: ``scope`` (one per limited thing, e.g. ``login-ip``) and the string ``key()``
   returns for the request: the client address as the app sees it (``request.remote_addr``: with
   ``TRUSTED_PROXIES`` set, the address the trusted proxy appended, by werkzeug's ``ProxyFix``), or a
   keyed hash of a typed user name. Windows are fixed: they start at the first request counted.
3. **Where**: ``RATELIMIT_STORAGE_URI`` with ``RATELIMIT_STORAGE_OPTIONS`` (``memory://`` counts per
   process; ``redis://`` across every worker and server). ``RATELIMIT_ENABLED = False`` counts nothing.
4. **Refusal**: ``TooManyRequests`` with ``Retry-After`` (whole seconds until the full window ends):
   the app's error handler answers 429 in the page's language (or the API error shape).
5. **Storage down**: the request is refused with 503 (``ServiceUnavailable``, the page's language)
   and the error is logged: a limit that cannot count does not admit, so password guessing does not
   become free while Redis is down (``/readyz`` reports Redis then).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, TypeVar

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import ServiceUnavailable, TooManyRequests

log = logging.getLogger("rewards.throttle")

EXTENSION = "rewards.throttle"
F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """Give ``app`` its limiter on ``RATELIMIT_STORAGE_URI`` (None when rate limits are off)."""
    limiter = None
    if app.config["RATELIMIT_ENABLED"]:
        options = dict(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {})
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"], wrap_exceptions=True, **options)
        limiter = FixedWindowRateLimiter(storage)
    app.extensions[EXTENSION] = limiter


def limiter() -> FixedWindowRateLimiter | None:
    """The current app's fixed-window limiter, or None when rate limits are off."""
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


@lru_cache(maxsize=64)
def items(spec: str) -> tuple[RateLimitItem, ...]:
    """The windows of a limit string such as ``"10 per minute;50 per hour"`` (parsed once)."""
    return tuple(parse_many(spec))


def retry_after(strategy: FixedWindowRateLimiter, item: RateLimitItem, *identifiers: str) -> int:
    """Whole seconds until the window of ``item`` for ``identifiers`` ends (at least 1)."""
    reset = strategy.get_window_stats(item, *identifiers).reset_time
    return max(1, math.ceil(reset - time.time()))


def hit(scope: str, spec: str, key: str) -> None:
    """Count one request of ``key`` in every window of ``spec``; 429 when one is over (guarantees above)."""
    strategy = limiter()
    if strategy is None:
        return
    try:
        refused = [item for item in items(spec) if not strategy.hit(item, scope, key)]
        wait = max((retry_after(strategy, item, scope, key) for item in refused), default=0)
    except StorageError as exc:
        log.error("rate-limit storage unavailable (%s): %s refused", exc.storage_error, scope)
        raise ServiceUnavailable() from exc
    if refused:
        raise TooManyRequests(retry_after=wait)


def limit(spec: str | Callable[[], str], key: Callable[[], str], *, scope: str,
          methods: Iterable[str] = ("POST",)) -> Callable[[F], F]:
    """Decorate a view: each request with one of ``methods`` is counted by :func:`hit` first.

    ``spec`` is a limit string or a function returning one (read from the config per request).
    """
    counted = frozenset(m.upper() for m in methods)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            if request.method in counted:
                hit(scope, spec() if callable(spec) else spec, key())
            return view(*args, **kwargs)

        return limited  # type: ignore[return-value]

    return decorate
