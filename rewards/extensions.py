"""Flask extensions, created unbound and initialised in the app factory."""

from __future__ import annotations

from flask import g, request
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

migrate = Migrate()
csrf = CSRFProtect()


def _rate_limit_key() -> str:
    """Limits count per API client key when there is one, else per remote address."""
    caller = getattr(g, "caller", None)
    if caller is not None:
        return f"key:{caller.key_id}"
    return f"ip:{request.remote_addr or 'unknown'}"


limiter = Limiter(key_func=_rate_limit_key, default_limits=[], headers_enabled=True)


@limiter.request_filter
def _api_is_limited_per_key() -> bool:
    """Flask-Limiter's limits are for pages (login, the public draw check); JSON API calls are counted
    per key where a feature needs it (``partners.ratelimit``). Exempting ``/api/`` here spares every
    API call Flask-Limiter's evaluation of limits it would not find (about 150 µs a request): a limit
    declared for an API route through Flask-Limiter would not apply."""
    return request.path.startswith("/api/")
