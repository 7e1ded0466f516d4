"""The Flask application class of the service."""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask, request

from rewards import inputguard


class RewardsFlask(Flask):
    """Flask, remembering which functions are coroutines.

    Flask passes every hook and view through ``ensure_sync`` on every request (about eighteen calls
    for an API request here), and each asks ``inspect.iscoroutinefunction`` again. The answer is
    remembered per underlying function (a bound method counts as its function, so a method view's
    fresh instance each request adds nothing); a coroutine still gets Flask's wrapping.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._is_coroutine: dict[Any, bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        target = getattr(func, "__func__", func)
        is_coroutine = self._is_coroutine.get(target)
        if is_coroutine is None:
            is_coroutine = self._is_coroutine[target] = iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func

    def preprocess_request(self) -> Any:
        """``rewards.inputguard``: sizes, Flask's before-request hooks, then the input (after a blueprint's
        own body limit)."""
        inputguard.check_size(request)
        answer = super().preprocess_request()
        if answer is None:
            inputguard.check_request(request)
        return answer
