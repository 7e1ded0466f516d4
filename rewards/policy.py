"""The declared access policy: which staff roles may do which action, and how routes declare theirs.

Every route carries exactly one access rule, set by one of the decorators below; ``rewards.access``
enforces the rule before the view runs. A route without a rule is refused (deny by default), and a
test walks the URL map to prove that every route has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

ALL = frozenset({"admin", "marketing", "auditor"})
STAFF_WRITE = frozenset({"admin", "marketing"})
ADMIN = frozenset({"admin"})
AUDIT = frozenset({"admin", "auditor"})

# action -> roles allowed. Auditors read everything and verify; they change nothing.
ACTIONS: dict[str, frozenset[str]] = {
    "dashboard.view": ALL,
    "account.self": ALL,  # change one's own password, log out
    "snapshots.view": ALL,
    "snapshots.import": STAFF_WRITE,
    "snapshots.export": ALL,
    "draws.view": ALL,
    "draws.manage": STAFF_WRITE,
    "draws.bundle": AUDIT,
    "draws.verify": ALL,
    "partners.view": ALL,
    "partners.manage": STAFF_WRITE,
    "flags.view": ALL,
    "flags.manage": STAFF_WRITE,
    "audit.view": ALL,
    "audit.verify": ALL,
    "audit.checkpoint": AUDIT,
    "admin.users": ADMIN,
    "admin.clients": ADMIN,
    "admin.keys": ADMIN,
}

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
    """A logged-in staff user whose role may do ``action``."""
    if action not in ACTIONS:
        raise KeyError(f"undeclared action {action!r}: add it to rewards.policy.ACTIONS")
    return _mark(Rule("staff", action=action))


def api(scope: str) -> Callable[[F], F]:
    """A machine caller with a bearer key holding ``scope``."""
    from rewards.apikeys.services import SCOPES

    if scope not in SCOPES:
        raise KeyError(f"undeclared scope {scope!r}: add it to rewards.apikeys.services.SCOPES")
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
