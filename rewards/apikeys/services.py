"""Use cases for API clients and keys: create, authenticate, revoke, rotate."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from rewards.apikeys import tokens
from rewards.apikeys.models import ApiClient, ApiKey
from rewards.audit.services import record_event
from rewards.db import utcnow
from rewards.directread import DirectRead
from rewards.errors import DomainError, NotFound

# Every scope an endpoint may ask for; a client cannot be given a scope nothing checks.
SCOPES: dict[str, str] = {
    "cabinet:read": "personal cabinet: read an account's tier, explanation and codes",
    "cabinet:write": "personal cabinet: issue an account's code for an offer",
    "priority:read": "call centre: whether an account has priority",
    "flags:write": "set and revoke priority flags",
    "snapshots:write": "billing: load tier snapshots",
    "snapshots:read": "read snapshots, movement and exports",
    "draws:read": "read draws and their public records",
    "draws:write": "create and run draws",
    "draws:audit": "auditor: download a draw's auditor bundle (full entrant list, salt key) and run its verification",
    "codes:validate": "partner site: validate a code",
    "codes:redeem": "partner site: redeem a code",
    "redemptions:rollback": "partner site: undo a redemption",
    "partners:write": "manage partners, offers and code issues",
    "partners:read": "read partners, offers and reports",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ApiKeyError(DomainError):
    """An API client or key operation was refused."""


@dataclass(frozen=True)
class Caller:
    """An authenticated machine caller."""

    client_id: int
    name: str
    scopes: frozenset[str]
    key_id: int


def _check_scopes(scopes: list[str]) -> str:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ApiKeyError(f"unknown scope(s): {', '.join(unknown)}", field="scopes")
    if not scopes:
        raise ApiKeyError("give at least one scope", field="scopes")
    return " ".join(sorted(set(scopes)))


def _new_key(session: Session, client: ApiClient, expires_at: datetime | None) -> str:
    token = tokens.new_token()
    session.add(
        ApiKey(client=client, lookup=tokens.lookup_of(token), token_hash=tokens.hash_of(token), expires_at=expires_at)
    )
    session.flush()
    return token


def create_client(
    session: Session, name: str, scopes: list[str], *, actor: str, expires_at: datetime | None = None
) -> tuple[ApiClient, str]:
    """Create a client with one key; returns the client and the token (shown once, never stored)."""
    if not _NAME.match(name):
        raise ApiKeyError("name: letters, digits, '.', '_', '-' (1-64)", field="name")
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise ApiKeyError(f"client {name!r} already exists", field="name")
    client = ApiClient(name=name, scopes=_check_scopes(scopes))
    session.add(client)
    token = _new_key(session, client, expires_at)
    record_event(session, actor, "apiclient.created", "api_client", name, {"scopes": client.scopes.split()})
    return client, token


def get_client(session: Session, name: str) -> ApiClient:
    """The client with this name."""
    client = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is None:
        raise NotFound(f"no API client {name!r}")
    return client


def rotate_key(session: Session, name: str, *, actor: str, grace: timedelta) -> str:
    """Issue a new key; the client's current keys stay valid for ``grace`` and then expire."""
    client = get_client(session, name)
    now = utcnow()
    deadline = now + grace
    for key in client.keys:
        if key.usable_at(now) and (key.expires_at is None or key.expires_at > deadline):
            key.expires_at = deadline
    token = _new_key(session, client, None)
    record_event(session, actor, "apiclient.key_rotated", "api_client", name, {"old_keys_expire": deadline.isoformat()})
    return token


def revoke_client(session: Session, name: str, *, actor: str) -> None:
    """Revoke every key of the client and disable it; the next request is refused."""
    client = get_client(session, name)
    now = utcnow()
    for key in client.keys:
        if key.revoked_at is None:
            key.revoked_at = now
    client.active = False
    record_event(session, actor, "apiclient.revoked", "api_client", name, {})


def revoke_key(session: Session, key_id: int, *, actor: str) -> None:
    """Revoke one key (e.g. the old one after a rotation, before its expiry)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    record_event(session, actor, "apikey.revoked", "api_key", str(key_id), {"client": key.client.name})


# One indexed query per API request: the key, its client and the client's scopes, read directly on
# the driver (every API call pays for it; see rewards.directread).
_K, _C = ApiKey.__table__.c, ApiClient.__table__.c
_AUTH_QUERY = DirectRead(
    select(_K.id, _K.token_hash, _K.expires_at, _K.revoked_at, _C.id, _C.name, _C.scopes, _C.active)
    .join_from(ApiKey.__table__, ApiClient.__table__, _C.id == _K.client_id)
    .where(_K.lookup == bindparam("lookup"))
)


def authenticate(engine: Engine, token: str, now: datetime | None = None) -> Caller | None:
    """The caller a bearer token belongs to, or None for any kind of bad token (committed keys only)."""
    if not tokens.well_formed(token):
        return None
    row = _AUTH_QUERY.first(engine, {"lookup": tokens.lookup_of(token)})
    if row is None:
        return None
    key_id, token_hash, expires_at, revoked_at, client_id, name, scopes, active = row
    if not hmac.compare_digest(token_hash, tokens.hash_of(token)):
        return None
    now = now or utcnow()
    if revoked_at is not None or (expires_at is not None and now >= expires_at) or not active:
        return None
    return Caller(client_id=client_id, name=name, scopes=frozenset(scopes.split()), key_id=key_id)
