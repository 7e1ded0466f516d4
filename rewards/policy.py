"""The declared access policy: which staff roles may do which action, and how routes declare theirs.

Every route carries exactly one access rule, set by one of the decorators below; ``rewards.access``
enforces the rule before the view runs. A route without a rule is refused (deny by default), and a
test walks the URL map to prove that every route has one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

ROLES: tuple[str, ...] = ("admin", "marketing", "auditor")  # staff roles, in the order shown to people
ALL = frozenset(ROLES)
STAFF_WRITE = frozenset({"admin", "marketing"})
ADMIN = frozenset({"admin"})
AUDIT = frozenset({"admin", "auditor"})

# action -> roles allowed. Auditors read everything and verify; they change nothing. These are the
# kernel's rows; each feature declares its own in its ``init_app`` (:func:`declare`).
ACTIONS: dict[str, frozenset[str]] = {
    "dashboard.view": ALL,
    "account.self": ALL,  # change one's own password, log out
    "accounts.view": ALL,  # the customer card (read only: each section links to its feature's pages)
    "audit.view": ALL,
    "audit.verify": ALL,
    "audit.checkpoint": AUDIT,
    "admin.users": ADMIN,
    "admin.clients": ADMIN,
    "admin.keys": ADMIN,
}

# API scope -> what it lets a caller do (shown to admins when they give a client its scopes). Every
# scope belongs to a feature, which declares it; a client cannot be given a scope nothing checks.
SCOPES: dict[str, object] = {}


def declare(
    *, actions: Mapping[str, frozenset[str]] | None = None, scopes: Mapping[str, object] | None = None
) -> None:
    """Add a feature's policy rows: staff actions (with the roles allowed) and API scopes (with a
    description, a string or a lazy translation).

    Declaring a row again with the same value changes nothing (every app a process builds declares
    it); a different value for a declared name is a programming error and raises ``ValueError``.
    """
    actions = actions or {}
    scopes = scopes or {}
    for action, roles in actions.items():
        if action in ACTIONS and ACTIONS[action] != roles:
            raise ValueError(f"action {action!r} is already declared with other roles")
        if not roles or not roles <= ALL:
            raise ValueError(f"action {action!r}: roles must be some of {sorted(ALL)}")
    for scope, description in scopes.items():
        if scope in SCOPES and str(SCOPES[scope]) != str(description):
            raise ValueError(f"scope {scope!r} is already declared with another description")
    ACTIONS.update(actions)
    for scope, description in scopes.items():
        SCOPES.setdefault(scope, description)


F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Rule:
    """How a route is reached: ``public``, ``staff`` (with an action) or ``api`` (with a scope)."""

    kind: str
    action: str | None = None
    scope: str | None = None


def _mark(rule: Rule) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        fn._access_rule = rule  # type: ignore[attr-defined]
        return fn

    return decorate


def public(fn: F) -> F:
    """Anyone may call this route, logged in or not."""
    return _mark(Rule("public"))(fn)


def staff(action: str) -> Callable[[F], F]:
    """A logged-in staff user whose role may do ``action`` (declared by the time the app is built)."""
    return _mark(Rule("staff", action=action))


def api(scope: str) -> Callable[[F], F]:
    """A machine caller with a bearer key holding ``scope`` (declared by its feature: ``declare``)."""
    return _mark(Rule("api", scope=scope))


def api_any(fn: F) -> F:
    """Any machine caller with a valid bearer key, whatever its scopes."""
    return _mark(Rule("api", scope=None))(fn)


def allowed(role: str, action: str) -> bool:
    """True when ``role`` may do ``action``."""
    return role in ACTIONS.get(action, frozenset())


def rule_for(view: Callable[..., Any], method: str) -> Rule | None:
    """The access rule of a view function (for a MethodView, of its handler for ``method``)."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(view_class, "get", None)
        return getattr(handler, "_access_rule", None) or getattr(view_class, "_access_rule", None)
    return getattr(view, "_access_rule", None)


def undeclared(
    view_functions: Mapping[str, Callable[..., Any]], methods: Mapping[str, set[str]]
) -> Iterator[str]:
    """Each route rule naming an action or scope that no one declared, as ``endpoint METHOD: name``.

    ``methods`` maps each endpoint to the methods its URL rules take. The app factory refuses to
    start while this yields anything, so a typo in a decorator never becomes a route nobody may call.
    """
    for endpoint, view in sorted(view_functions.items()):
        for method in sorted(methods.get(endpoint, ())):
            rule = rule_for(view, method)
            if rule is None:
                continue
            if rule.kind == "staff" and rule.action not in ACTIONS:
                yield f"{endpoint} {method}: undeclared action {rule.action!r}"
            if rule.kind == "api" and rule.scope is not None and rule.scope not in SCOPES:
                yield f"{endpoint} {method}: undeclared scope {rule.scope!r}"
