"""Enforcement of the access policy, in one place, before every view."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers import Response

from rewards import policy
from rewards.apikeys import services as apikeys
from rewards.apikeys import tokens
from rewards.auth.models import User
from rewards.auth.services import session_matches
from rewards.db import db
from rewards.extensions import csrf

log = logging.getLogger("rewards.security")

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def is_api_request() -> bool:
    """True for the JSON API (bearer keys, JSON errors); false for pages."""
    return request.path.startswith("/api/")


def current_user() -> User | None:
    """The logged-in staff user of this request, if any (pages only)."""
    if "user" not in g:
        g.user = None
        uid = session.get("uid")
        if uid is not None:
            user = db.session.get(User, uid)
            if session_matches(user, session.get("sv")):
                g.user = user
            else:
                session.clear()
    return g.user


def _bearer_token(req: Request) -> str | None:
    header = req.environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _refuse_api(reason: str) -> None:
    # The reason goes to the log, never to the client: the client learns only "401".
    log.warning("api auth refused: %s path=%s request_id=%s", reason, request.path, g.get("request_id"))
    abort(401, description="Authentication required: send a valid API key as 'Authorization: Bearer ...'.")


_RULES = "rewards.access_rules"  # app.extensions key: (endpoint, method) -> the route's rule, read once


def _rule(app: Flask, endpoint: str, method: str) -> policy.Rule | None:
    rules: dict[tuple[str, str], policy.Rule | None] = app.extensions[_RULES]
    key = (endpoint, method)
    if key not in rules:  # bounded by the app's routes
        rule = policy.rule_for(app.view_functions[endpoint], method)  # type: ignore[arg-type]
        if rule is None and endpoint.startswith("api-docs."):
            rule = policy.Rule("public")
        rules[key] = rule
    return rules[key]


def enforce(app: Flask, req: Request, ctx: Any) -> Response | None:
    """Find the route's rule and apply it (the kernel's before-request hook calls this with the
    request and its ``g``)."""
    endpoint = req.endpoint
    if endpoint is None:  # routing 404/405: the error handler answers
        return None
    if endpoint == "static":
        return None
    rule = _rule(app, endpoint, req.method)
    if rule is None:
        log.error("route %s has no access rule; refused", endpoint)
        abort(403)
    if rule.kind == "api":
        token = _bearer_token(req)
        if token is None:
            _refuse_api("no bearer token")
        caller = apikeys.authenticate(db.engine, token, max_age=app.config["API_KEY_CACHE_SECONDS"])  # type: ignore[arg-type]
        if caller is None:
            # A hash prefix identifies repeated attempts in the log without writing any part of a secret.
            _refuse_api(f"bad key (sha256 prefix {tokens.hash_of_any(token)[:12]})")  # type: ignore[arg-type]
        ctx.caller = caller
        if rule.scope is not None and rule.scope not in caller.scopes:  # type: ignore[union-attr]
            log.warning("api scope refused: client=%s scope=%s", caller.name, rule.scope)  # type: ignore[union-attr]
            abort(403, description=f"This key lacks the scope {rule.scope}.")
        return None
    # Pages: cookie session and CSRF on every state-changing request.
    if req.method in UNSAFE and app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    if rule.kind == "public":
        current_user()
        return None
    user = current_user()
    if user is None:
        if req.method == "GET":
            return redirect(url_for("auth.login", next=req.full_path.rstrip("?")))
        abort(401)
    assert rule.action is not None
    if not policy.allowed(user.role, rule.action):
        log.warning("page refused: user=%s role=%s action=%s", user.username, user.role, rule.action)
        abort(403)
    return None


class _SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session for pages; none at all for the API (bearer keys, never cookies).

    An API request gets Flask's null session: nothing reads or verifies a cookie it may carry, and
    nothing can be stored in one (a write raises). It also spares every API call the cookie parsing
    and the signing serializer."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """The session interface and the templates' ``current_user`` and ``can`` (:func:`enforce` is called
    by the kernel's before-request hook, ``rewards.requesthooks``)."""
    app.session_interface = _SessionInterface()
    app.extensions[_RULES] = {}

    @app.context_processor
    def _inject_user() -> dict[str, object]:
        return {"current_user": current_user() if not is_api_request() else None, "can": _can}


def _can(action: str) -> bool:
    user = current_user()
    return user is not None and policy.allowed(user.role, action)


def check_declared(app: Flask) -> None:
    """Refuse to build an app whose routes name an action or scope that no policy row declares."""
    methods: dict[str, set[str]] = {}
    for url_rule in app.url_map.iter_rules():
        methods.setdefault(url_rule.endpoint, set()).update(url_rule.methods or ())
    problems = list(policy.undeclared(app.view_functions, methods))
    if problems:
        raise RuntimeError("routes with undeclared access rules (rewards.policy.declare): " + "; ".join(problems))
