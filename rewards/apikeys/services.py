"""Use cases for API clients and keys: create, authenticate, revoke, rotate."""

from __future__ import annotations

import hmac
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from rewards import policy
from rewards.apikeys import tokens
from rewards.apikeys.models import ApiClient, ApiKey
from rewards.audit.services import record_event
from rewards.db import utcnow
from rewards.directread import DirectRead
from rewards.errors import DomainError, NotFound

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
    token_hash: str = ""  # SHA-256 of the presented token, for a view's own read to confirm it


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
    """Issue a new key; the client's current keys stay valid for ``grace`` (0 to 90 days) and then expire."""
    if not timedelta(0) <= grace <= timedelta(days=MAX_GRACE_DAYS):
        raise DomainError(f"the grace period must be 0 to {MAX_GRACE_DAYS} days", field="grace_days")
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
    key = session.get(ApiKey, key_id) if 0 < key_id <= _MAX_ID else None
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
    presented = tokens.hash_of(token)
    if not hmac.compare_digest(token_hash, presented):
        return None
    if not _usable(revoked_at, expires_at, active, now or utcnow()):
        return None
    caller = Caller(client_id=client_id, name=name, scopes=frozenset(scopes.split()), key_id=key_id,
                    token_hash=presented)
    _recent.remember(presented, caller, expires_at)
    return caller


def _usable(revoked_at: datetime | None, expires_at: datetime | None, active: bool | None, now: datetime) -> bool:
    return revoked_at is None and (expires_at is None or now < expires_at) and bool(active)


class _RecentKeys:
    """This worker's memory of keys it authenticated: SHA-256 of the token -> caller and expiry.

    Read only for routes whose view confirms the key in its own query (``rewards.policy.api``), so
    it needs no invalidation: the confirming read, or the check before an unconfirmed answer leaves,
    sees a revocation on the very next request. Bounded, least recently used out first.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[Caller, datetime | None]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, token_hash: str, caller: Caller, expires_at: datetime | None) -> None:
        with self._lock:
            self._items[token_hash] = (caller, expires_at)
            self._items.move_to_end(token_hash)
            if len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, token: str) -> None:
        with self._lock:
            self._items.pop(tokens.hash_of_any(token), None)

    def recall(self, token: str, now: datetime) -> Caller | None:
        if not tokens.well_formed(token):
            return None
        token_hash = tokens.hash_of(token)
        with self._lock:
            item = self._items.get(token_hash)
            if item is not None:
                self._items.move_to_end(token_hash)
        if item is None or (item[1] is not None and now >= item[1]):
            return None
        return item[0]


_recent = _RecentKeys(1024)


def recall(token: str, now: datetime | None = None) -> Caller | None:
    """The caller of a key this worker authenticated before and that had not expired by then, without
    reading the database; None when unknown. Its answer must be confirmed (see :func:`confirm`)."""
    return _recent.recall(token, now or utcnow())


def forget(token: str) -> None:
    """Drop a key from this worker's memory (it was found no longer usable)."""
    _recent.forget(token)


# What a view's own query reads to confirm the calling key (labelled, to sit beside its columns; on
# aliases, so a query of these tables may add them too); ``key_state_join`` adds the joins, on the
# key id bound as ``key_id``.
_KS = ApiKey.__table__.alias("calling_key")
_CS = ApiClient.__table__.alias("calling_client")
KEY_STATE_COLUMNS = (
    _KS.c.revoked_at.label("key_revoked_at"),
    _KS.c.expires_at.label("key_expires_at"),
    _CS.c.active.label("key_client_active"),
    _CS.c.scopes.label("key_client_scopes"),
)


def key_state_join(stmt: Select[Any], client_id_column: Any = None) -> Select[Any]:
    """``stmt`` joined to the calling key (``key_id`` with the token's hash ``token_hash``: an id
    reused by another key after a restore never matches), of the client in ``client_id_column`` if
    given."""
    on = and_(_KS.c.id == bindparam("key_id"), _KS.c.token_hash == bindparam("token_hash"))
    if client_id_column is not None:
        on = and_(on, _KS.c.client_id == client_id_column)
    return stmt.outerjoin(_KS, on).outerjoin(_CS, _CS.c.id == _KS.c.client_id)


@dataclass(frozen=True)
class AnswerWithKey:
    """A view's answer, and the calling key's state read with it (``KEY_STATE_COLUMNS``) to confirm."""

    answer: Any
    key_state: Any


def confirm(row: Any, scope: str | None, now: datetime | None = None) -> bool:
    """True when a row read with ``KEY_STATE_COLUMNS`` shows the key still usable, with ``scope``."""
    if row.key_client_scopes is None:  # no such key (or not this client's, or another token's)
        return False
    if not _usable(row.key_revoked_at, row.key_expires_at, row.key_client_active, now or utcnow()):
        return False
    return scope is None or scope in row.key_client_scopes.split()
