"""The kernel's request hooks: one before every request and one after it, each calling the kernel's
concerns in a fixed order.

Flask dispatches every registered hook on its own (a look-up, ``ensure_sync``, a call), and each
``request.x`` or ``g.x`` goes through a context proxy (about a microsecond a time); on the partner API's
hot calls a dozen separate hooks added up to a sixth of the request's CPU (docs/benchmarks.md). So the
kernel registers one hook each way, resolves the request and ``g`` once, and hands them on.

Before the view, in this order (the first that refuses or answers ends the request):

1. the request's start time (the request metrics and log line measure from here);
2. the size guard: a request target or headers too large get 414/431 before anything else runs;
3. the page language (``?lang=`` remembered; pages only);
4. the request id (``X-Request-Id``), so every log record of the request carries it;
5. SQLite only: GET, HEAD, OPTIONS and views marked ``read_only_view`` read in deferred transactions;
6. the access policy (``rewards.access.enforce``): the API key or the staff session, CSRF on pages;
7. the body limit a feature asked for its blueprints (``Web.small_bodies``);
8. the input guard (``rewards.inputguard.check_request``), last: it reads the body under that limit;
   the JSON body it parsed is kept as ``g.json_body`` (the partners' validate loads it from there).

After the view (error answers included): the request log line, the request metrics, the security
headers, ``X-Request-Id``.

Blueprint hooks run after these (Flask orders app-level hooks first); a feature does not register an
app-level before-request hook of its own, so nothing of a feature runs before the input guard.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, g, request

from rewards import access, httperrors, i18n, inputguard
from rewards.db import is_read_only_view, reset_read_only, set_read_only
from rewards.ops import headers, metrics, requestlog

_SMALL_BODIES = "rewards.requesthooks.small_bodies"


def limit_bodies(app: Flask, blueprints: list[str], config_key: str) -> None:
    """Requests to these blueprints may carry at most ``app.config[config_key]`` bytes of body (413)."""
    app.extensions.setdefault(_SMALL_BODIES, {}).update(dict.fromkeys(blueprints, config_key))


def init_app(app: Flask, *, sqlite: bool) -> None:
    """Register the two hooks (call it before any other before-request hook is registered)."""
    config = app.config
    small_bodies: dict[str, str] = app.extensions.setdefault(_SMALL_BODIES, {})
    read_only: dict[tuple[str | None, str], bool] = {}  # per endpoint and method: asked once, not per request
    security = headers.for_app(app)

    def read_only_flag(endpoint: str | None, method: str) -> bool:
        key = (endpoint, method)
        flag = read_only.get(key)
        if flag is None:
            flag = method in ("GET", "HEAD", "OPTIONS")
            if not flag and endpoint is not None:
                flag = is_read_only_view(app.view_functions.get(endpoint), method)
            if endpoint is not None:  # a routed request's method is one its rule takes: a bounded set
                read_only[key] = flag
        return flag

    @app.before_request
    def before() -> Any:
        req = request._get_current_object()  # type: ignore[attr-defined]
        ctx = g._get_current_object()  # type: ignore[attr-defined]
        ctx._ops_started = time.perf_counter()
        inputguard.check_size(req)
        api = req.path.startswith("/api/")
        if not api:
            i18n.remember_lang(req)
        httperrors.assign_request_id(ctx, req.environ)
        if sqlite:
            ctx._ro_token = set_read_only(read_only_flag(req.endpoint, req.method))
        answer = access.enforce(app, req, ctx)
        if answer is not None:
            return answer
        limit_key = small_bodies.get(req.blueprint) if small_bodies else None
        if limit_key is not None:
            req.max_content_length = config[limit_key]
        body = inputguard.check_request(req)
        if body is not None:
            ctx.json_body = body  # the guard's parse of the JSON body: a hot view reads it from g
        return None

    @app.after_request
    def after(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        ctx = g._get_current_object()  # type: ignore[attr-defined]
        requestlog.log_request(req, ctx, response)
        metrics.observe(req, ctx, response)
        security(req, response)
        response.headers["X-Request-Id"] = httperrors.assign_request_id(ctx, req.environ)
        return response

    if sqlite:

        @app.teardown_request
        def _unmark(_exc: BaseException | None) -> None:
            token = g.pop("_ro_token", None)
            if token is not None:
                reset_read_only(token)
