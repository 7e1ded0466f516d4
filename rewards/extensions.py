"""Flask extensions, created unbound and initialised in the app factory."""

from __future__ import annotations

from flask import Flask, g, request
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


def drop_idle_limiter_hook(app: Flask) -> bool:
    """Remove Flask-Limiter's before-request hook when it has nothing to check; True when removed.

    That hook evaluates default, application, blueprint and meta limits on every request. This
    service declares none: its limited routes (login, the public draw check) carry decorators, which
    check in their own wrapper, and the partner API counts in ``partners.ratelimit``. The idle hook
    still costs about 150 µs a request, a sixth of a partner validate, so it goes; should a limit of
    those kinds ever be declared, it stays and the limit applies.
    """
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits or manager._blueprint_limits or limiter._meta_limits:
        return False
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
        return True
    return False
