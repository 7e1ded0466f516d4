"""Enforcement of the access policy, in one place, before every view."""

from __future__ import annotations

import logging

from flask import Flask, Request, abort, current_app, g, redirect, request, session, url_for
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


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _refuse_api(reason: str) -> None:
    # The reason goes to the log, never to the client: the client learns only "401".
    log.warning("api auth refused: %s path=%s request_id=%s", reason, request.path, g.get("request_id"))
    abort(401, description="Authentication required: send a valid API key as 'Authorization: Bearer ...'.")


def enforce() -> Response | None:
    """The before-request hook: find the route's rule and apply it."""
    if request.endpoint is None:  # routing 404/405: the error handler answers
        return None
    if request.endpoint == "static":
        return None
    view = current_app.view_functions[request.endpoint]
    rule = policy.rule_for(view, request.method)
    if rule is None and request.endpoint.startswith("api-docs."):
        rule = policy.Rule("public")
    if rule is None:
        log.error("route %s has no access rule; refused", request.endpoint)
        abort(403)
    if rule.kind == "api":
        token = _bearer_token()
        if token is None:
            _refuse_api("no bearer token")
        caller = apikeys.authenticate(db.engine, token, max_age=current_app.config["API_KEY_CACHE_SECONDS"])  # type: ignore[arg-type]
        if caller is None:
            # A hash prefix identifies repeated attempts in the log without writing any part of a secret.
            _refuse_api(f"bad key (sha256 prefix {tokens.hash_of_any(token)[:12]})")  # type: ignore[arg-type]
        g.caller = caller
        if rule.scope is not None and rule.scope not in caller.scopes:  # type: ignore[union-attr]
            log.warning("api scope refused: client=%s scope=%s", caller.name, rule.scope)  # type: ignore[union-attr]
            abort(403, description=f"This key lacks the scope {rule.scope}.")
        return None
    # Pages: cookie session and CSRF on every state-changing request.
    if request.method in UNSAFE and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    if rule.kind == "public":
        current_user()
        return None
    user = current_user()
    if user is None:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
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
    """Install the hook."""
    app.session_interface = _SessionInterface()
    app.before_request(enforce)

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
