"""Use cases for API clients and keys: create, authenticate, revoke, rotate."""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from rewards import policy
from rewards.apikeys import tokens
from rewards.apikeys.models import ApiClient, ApiKey
from rewards.audit.services import record_event
from rewards.db import utcnow
from rewards.directread import DirectRead
from rewards.errors import N_, DomainError, NotFound

# Every scope an endpoint may ask for, as the features declared them (rewards.policy.declare).
SCOPES = policy.SCOPES

MAX_GRACE_DAYS = 90  # longest time an old key keeps working after a rotation
_MAX_ID = 2**31 - 1  # key ids are INTEGER columns
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
        raise ApiKeyError(N_("unknown scope(s): %(scopes)s"),
                          field="scopes", code="unknown_scope", scopes=", ".join(unknown))
    if not scopes:
        raise ApiKeyError(N_("give at least one scope"), field="scopes", code="no_scope")
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
        raise ApiKeyError(N_("name: letters, digits, '.', '_', '-' (1-64)"), field="name", code="bad_client_name")
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise ApiKeyError(N_("client %(client)s already exists"), field="name", code="client_exists", client=repr(name))
    client = ApiClient(name=name, scopes=_check_scopes(scopes))
    session.add(client)
    token = _new_key(session, client, expires_at)
    record_event(session, actor, "apiclient.created", "api_client", name, {"scopes": client.scopes.split()})
    return client, token


def get_client(session: Session, name: str) -> ApiClient:
    """The client with this name."""
    client = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is None:
        raise NotFound(N_("no API client %(client)s"), code="no_client", client=repr(name))
    return client


def rotate_key(session: Session, name: str, *, actor: str, grace: timedelta) -> str:
    """Issue a new key; the client's current keys stay valid for ``grace`` (0 to 90 days) and then expire."""
    if not timedelta(0) <= grace <= timedelta(days=MAX_GRACE_DAYS):
        raise DomainError(N_("the grace period must be 0 to %(days)s days"), field="grace_days", code="bad_grace",
                          days=MAX_GRACE_DAYS)
    client = get_client(session, name)
    now = utcnow()
    deadline = now + grace
    for key in client.keys:
        if key.usable_at(now) and (key.expires_at is None or key.expires_at > deadline):
            key.expires_at = deadline
    token = _new_key(session, client, None)
    forget_remembered_keys()
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
    forget_remembered_keys()
    record_event(session, actor, "apiclient.revoked", "api_client", name, {})


def revoke_key(session: Session, key_id: int, *, actor: str) -> None:
    """Revoke one key (e.g. the old one after a rotation, before its expiry)."""
    key = session.get(ApiKey, key_id) if 0 < key_id <= _MAX_ID else None
    if key is None:
        raise NotFound(N_("no API key %(key)s"), code="no_key", key=key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    forget_remembered_keys()
    record_event(session, actor, "apikey.revoked", "api_key", str(key_id), {"client": key.client.name})


# One indexed query per API request: the key, its client and the client's scopes, read directly on
# the driver (every API call pays for it; see rewards.directread).
_K, _C = ApiKey.__table__.c, ApiClient.__table__.c
_AUTH_QUERY = DirectRead(
    select(_K.id, _K.token_hash, _K.expires_at, _K.revoked_at, _C.id, _C.name, _C.scopes, _C.active)
    .join_from(ApiKey.__table__, ApiClient.__table__, _C.id == _K.client_id)
    .where(_K.lookup == bindparam("lookup"))
)


def authenticate(engine: Engine, token: str, now: datetime | None = None, *, max_age: float = 0) -> Caller | None:
    """The caller a bearer token belongs to, or None for any kind of bad token (committed keys only).

    ``max_age`` > 0: a key this process authenticated at most that many seconds ago is taken from its
    memory without a database read (see :class:`_RecentKeys` for what that allows)."""
    if not tokens.well_formed(token):
        return None
    presented = tokens.hash_of(token)
    now = now or utcnow()
    if max_age > 0:
        caller = _recent.recall(presented, max_age, now)
        if caller is not None:
            return caller
    row = _AUTH_QUERY.first(engine, {"lookup": tokens.lookup_of(token)})
    if row is None:
        return None
    key_id, token_hash, expires_at, revoked_at, client_id, name, scopes, active = row
    if not hmac.compare_digest(token_hash, presented):
        return None
    if revoked_at is not None or (expires_at is not None and now >= expires_at) or not active:
        return None
    caller = Caller(client_id=client_id, name=name, scopes=frozenset(scopes.split()), key_id=key_id)
    if max_age > 0:
        _recent.remember(presented, caller, expires_at)
    return caller


class _RecentKeys:
    """This process's memory of the keys it authenticated: SHA-256 of the token -> caller.

    The whole contract (``API_KEY_CACHE_SECONDS``, default 2; 0 turns it off):
    - an entry is used at most ``API_KEY_CACHE_SECONDS`` after the database read that made it, and
      never at or after the key's own expiry;
    - only a successful authentication is remembered: a refused key reads the database every time;
    - revoking a client or a key, and rotating keys, through this module clears the memory of the
      process that does it;
    - so any other worker or server refuses a revoked key, a disabled client or a removed scope at the
      latest ``API_KEY_CACHE_SECONDS`` after the change commits.
    At most 1,024 keys, the oldest entry out first. Plain dict operations (atomic under the GIL).
    """

    SIZE = 1024

    def __init__(self) -> None:
        self._items: dict[str, tuple[Caller, float, datetime | None]] = {}

    def remember(self, token_hash: str, caller: Caller, expires_at: datetime | None) -> None:
        self._items.pop(token_hash, None)
        self._items[token_hash] = (caller, time.monotonic(), expires_at)
        if len(self._items) > self.SIZE:
            self._items.pop(next(iter(self._items)), None)

    def recall(self, token_hash: str, max_age: float, now: datetime) -> Caller | None:
        item = self._items.get(token_hash)
        if item is None:
            return None
        caller, read_at, expires_at = item
        if time.monotonic() - read_at >= max_age or (expires_at is not None and now >= expires_at):
            self._items.pop(token_hash, None)
            return None
        return caller

    def clear(self) -> None:
        self._items.clear()


_recent = _RecentKeys()


def forget_remembered_keys() -> None:
    """Empty this process's memory of authenticated keys (a key or client changed)."""
    _recent.clear()
