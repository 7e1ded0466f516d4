"""Use cases for staff users: create, authenticate, end sessions, disable."""

from __future__ import annotations

import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from rewards.audit.services import record_event
from rewards.auth.models import ROLES, User
from rewards.errors import N_, DomainError, NotFound

# Verifying against a hash of the same cost when the user does not exist keeps both refusals alike in
# timing (a cheaper dummy hash would tell which user names exist).
_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash(method: str) -> str:
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash("not a password", method=method)
    return _DUMMY_HASHES[method]

MIN_PASSWORD_LENGTH = 10


class UserError(DomainError):
    """A user operation was refused."""


def create_user(
    session: Session, username: str, password: str, role: str, *, method: str, actor: str
) -> User:
    """Create a staff user with a hashed password."""
    username = username.strip()
    if not username or len(username) > 64:
        raise UserError(N_("username must be 1 to 64 characters"), field="username", code="bad_username")
    if role not in ROLES:
        raise UserError(N_("unknown role %(role)s; roles are %(roles)s"), field="role", code="unknown_role",
                        role=repr(role), roles=", ".join(ROLES))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(N_("password must have at least %(length)s characters"), field="password",
                        code="short_password", length=MIN_PASSWORD_LENGTH)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(N_("user %(user)s already exists"), field="username", code="user_exists", user=repr(username))
    user = User(username=username, password_hash=generate_password_hash(password, method=method), role=role)
    session.add(user)
    session.flush()
    record_event(session, actor, "user.created", "user", username, {"role": role})
    return user


def authenticate(session: Session, username: str, password: str, *, method: str) -> User | None:
    """The active user with this name and password, or None (timing alike for every refusal).

    ``method`` is the configured password hash method, used for the dummy check of unknown names.
    """
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_dummy_hash(method), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    user.touch_login()
    return user


def session_matches(user: User | None, version: object) -> bool:
    """True when a cookie's session version is still valid for this user."""
    if user is None or not user.active or not isinstance(version, int):
        return False
    return hmac.compare_digest(str(user.session_version), str(version))


def end_sessions(session: Session, user: User, *, actor: str, reason: str) -> None:
    """End every session of ``user`` at once (logout, password change, disable)."""
    user.session_version += 1
    record_event(session, actor, "user.sessions_ended", "user", user.username, {"reason": reason})


def get_user(session: Session, username: str) -> User:
    """The user with this name."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(N_("no user %(user)s"), code="no_user", user=repr(username))
    return user


def set_active(session: Session, username: str, active: bool, *, actor: str) -> User:
    """Enable or disable a user; disabling ends their sessions."""
    user = get_user(session, username)
    user.active = active
    if not active:
        user.session_version += 1
    record_event(session, actor, "user.enabled" if active else "user.disabled", "user", username, {})
    return user


def set_role(session: Session, username: str, role: str, *, actor: str) -> User:
    """Change a user's role (their sessions end so the new role applies at once)."""
    if role not in ROLES:
        raise UserError(N_("unknown role %(role)s"), field="role", code="unknown_role", role=repr(role))
    user = get_user(session, username)
    old = user.role
    user.role = role
    user.session_version += 1
    record_event(session, actor, "user.role_changed", "user", username, {"from": old, "to": role})
    return user


def set_password(session: Session, username: str, password: str, *, method: str, actor: str) -> User:
    """Set a new password; every session of the user ends."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(N_("password must have at least %(length)s characters"), field="password",
                        code="short_password", length=MIN_PASSWORD_LENGTH)
    user = get_user(session, username)
    user.password_hash = generate_password_hash(password, method=method)
    user.session_version += 1
    record_event(session, actor, "user.password_changed", "user", username, {})
    return user
