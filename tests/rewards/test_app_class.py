"""The app class and the extension set-up that every request goes through."""

from __future__ import annotations

from flask import Flask
from flask.views import MethodView

from rewards.extensions import drop_idle_limiter_hook, limiter
from rewards.flaskapp import RewardsFlask


def test_ensure_sync_remembers_functions_not_instances() -> None:
    app = RewardsFlask(__name__)

    def plain() -> str:
        return "x"

    async def coroutine() -> str:
        return "y"

    class View(MethodView):
        def get(self) -> str:
            return "z"

    assert app.ensure_sync(plain) is plain
    for _ in range(50):  # a method view's handler is a fresh bound method every request
        bound = View().get
        assert app.ensure_sync(bound) is bound
    try:  # still handed to Flask's async support (which needs asgiref, not installed here)
        assert app.ensure_sync(coroutine) is not coroutine
    except RuntimeError as exc:
        assert "async" in str(exc)
    assert len(app._is_coroutine) == 3


def test_the_idle_limiter_hook_is_dropped_and_kept_when_needed(app: Flask) -> None:
    hooks = app.before_request_funcs[None]
    assert limiter._check_request_limit not in hooks  # no default, application or blueprint limit
    hooks.append(limiter._check_request_limit)
    saved = limiter.limit_manager._default_limits
    try:
        limiter.limit_manager.set_default_limits(["stand-in"])  # type: ignore[list-item]
        assert drop_idle_limiter_hook(app) is False and limiter._check_request_limit in hooks
    finally:
        limiter.limit_manager.set_default_limits(saved)
    assert drop_idle_limiter_hook(app) is True and limiter._check_request_limit not in hooks
