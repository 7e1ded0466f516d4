"""Idempotency keys (Stripe's semantics, IETF draft-ietf-httpapi-idempotency-key-header).

The first request with a key claims it in the transaction of its work (a row in state ``in_flight``);
the work and the stored response are committed together, so a stored response always matches what
happened, and a claim whose request fails or whose worker dies goes with its transaction. A retry with
the same key and the same request gets the stored status and body byte for byte; the same key with a
different request is refused (422 ``idempotency_key_reused``); a retry while the first is still running
gets 409 ``idempotency_in_flight``: on PostgreSQL the claim also takes a transaction-level advisory lock
on the key, tried in the claim's own INSERT, so a concurrent duplicate sees the key taken without
waiting for the first's commit; on SQLite writers are serial (``BEGIN IMMEDIATE``), so a duplicate waits
for the first and gets its stored answer. A claim committed by itself in state ``in_flight`` (the
protocol before this one kept it so; :func:`claim` can still make one) answers 409 until it is older
than ``STALE_AFTER`` (its worker died), then it may be taken over. Records are kept ``RETENTION`` (24 h)
at least; ``purge`` removes older ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from partners.models import IdempotencyRecord
from rewards.db import rowcount
from rewards.errors import N_, Conflict, DomainError
from signedjson import canonical_json

RETENTION = timedelta(hours=24)
STALE_AFTER = timedelta(seconds=60)
IN_FLIGHT = "in_flight"
DONE = "done"
MAX_KEY_LENGTH = 255


class KeyReused(DomainError):
    """The key was used with a different request."""

    status = 422
    code = "idempotency_key_reused"


class InFlight(Conflict):
    """The first request with this key is still running."""

    code = "idempotency_in_flight"


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: ``record_id`` to complete, or a stored response to replay."""

    record_id: int
    replay: bool
    status_code: int | None = None
    content_type: str | None = None
    body: bytes | None = None


def check_key(key: str | None) -> str:
    """The key from the header, or a DomainError when it is missing or unusable."""
    if key is None or not key.strip():
        raise DomainError(N_("send an Idempotency-Key header (up to 255 printable ASCII characters)"),
                          field="Idempotency-Key")
    if len(key) > MAX_KEY_LENGTH or not all(32 < ord(c) < 127 for c in key):
        raise DomainError(N_("an Idempotency-Key has 1 to 255 printable ASCII characters"), field="Idempotency-Key")
    return key


def fingerprint(endpoint: str, data: Any) -> str:
    """SHA-256 of the endpoint and the request's validated data in canonical JSON."""
    return hashlib.sha256(canonical_json({"endpoint": endpoint, "data": data})).hexdigest()


_T = IdempotencyRecord.__table__
_CLAIM_COLUMNS = ("partner_id", "key", "endpoint", "request_hash", "state", "locked_at", "created_at", "expires_at")
# The claim, prebuilt once as SQL text with typed parameters: the dialects' INSERT ... ON CONFLICT
# constructs are not cacheable in SQLAlchemy (they were compiled anew on every request), a TextClause is.
# On PostgreSQL the row is inserted only if this transaction gets the key's advisory lock (64 bits of a
# hash of the partner, the key and the schema, so test runs and installations in one database never
# share one): the lock and the insert are one round trip, and a duplicate finds the lock taken while the
# first runs. The lock goes with the transaction.
_COLUMNS = ", ".join(_CLAIM_COLUMNS)
_PARAMS = ", ".join(f"CAST(:{c} AS {_T.c[c].type.compile(dialect=postgresql.dialect())})" for c in _CLAIM_COLUMNS)
_TYPED = [bindparam(c, type_=_T.c[c].type) for c in _CLAIM_COLUMNS]
_CLAIM = {
    "postgresql": text(
        f"INSERT INTO {_T.name} ({_COLUMNS}) SELECT {_PARAMS}"
        " WHERE pg_try_advisory_xact_lock(hashtextextended(CAST(:lock_name AS TEXT) || current_schema(), 0))"
        " ON CONFLICT (partner_id, key) DO NOTHING RETURNING id"
    ).bindparams(*_TYPED),
    "sqlite": text(
        f"INSERT INTO {_T.name} ({_COLUMNS}) VALUES ({', '.join(':' + c for c in _CLAIM_COLUMNS)})"
        " ON CONFLICT (partner_id, key) DO NOTHING RETURNING id"
    ).bindparams(*_TYPED),
}
_COMPLETE = (
    update(_T)
    .where(_T.c.id == bindparam("record_id"))
    .values(state=DONE, status_code=bindparam("status_code"), content_type=bindparam("content_type"),
            body=bindparam("body"))
)


def claim(session: Session, partner_id: int, key: str, endpoint: str, request_hash: str, now: datetime) -> Claim:
    """Claim ``key`` for this request in the current transaction, or return the stored response."""
    conn = session.connection()
    on_postgresql = conn.dialect.name == "postgresql"
    params = {"partner_id": partner_id, "key": key, "endpoint": endpoint, "request_hash": request_hash,
              "state": IN_FLIGHT, "locked_at": now, "created_at": now, "expires_at": now + RETENTION}
    if on_postgresql:
        params["lock_name"] = f"idempotency:{partner_id}:{key}:"
    for _attempt in range(3):
        rid = conn.execute(_CLAIM[conn.dialect.name], params).scalar()
        if rid is not None:
            return Claim(rid, replay=False)
        rec = session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.partner_id == partner_id, IdempotencyRecord.key == key)
        )
        if rec is None:
            if on_postgresql:  # no row and no insert: another transaction holds the key's lock, its claim unseen
                raise InFlight(N_("a request with this Idempotency-Key is still being processed; retry shortly"))
            continue  # deleted between the two statements (a purge): try again
        if rec.expires_at <= now:  # past retention: the key is free again
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == rec.id))
            continue
        if rec.request_hash != request_hash or rec.endpoint != endpoint:
            raise KeyReused(N_("this Idempotency-Key was used with a different request"))
        if rec.state == DONE:
            return Claim(rec.id, replay=True, status_code=rec.status_code, content_type=rec.content_type, body=rec.body)
        if rec.locked_at > now - STALE_AFTER:
            raise InFlight(N_("a request with this Idempotency-Key is still being processed; retry shortly"))
        taken = session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == rec.id,
                IdempotencyRecord.state == IN_FLIGHT,
                IdempotencyRecord.locked_at == rec.locked_at,
            )
            .values(locked_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(taken) == 1:
            return Claim(rec.id, replay=False)
        raise InFlight(N_("a request with this Idempotency-Key is still being processed; retry shortly"))
    raise InFlight(N_("the Idempotency-Key is busy; retry shortly"))


def complete(session: Session, record_id: int, status_code: int, content_type: str, body: bytes) -> None:
    """Store the response of the claimed request (in the transaction of its work)."""
    session.connection().execute(_COMPLETE, {"record_id": record_id, "status_code": status_code,
                                             "content_type": content_type, "body": body})


def purge(session: Session, now: datetime) -> int:
    """Delete records past their retention; returns how many."""
    return rowcount(session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))) or 0



@dataclass(frozen=True)
class Answer:
    """A response as sent and as stored: status, content type, body; ``replayed`` when it is the
    stored answer of an earlier request with the same key."""

    status: int
    content_type: str
    body: bytes
    replayed: bool = False


class Transaction(Protocol):
    """Where the protocol ends its transactions: the shell's session (``db.session``)."""

    def commit(self) -> None: ...  # noqa: E704 - a protocol's method

    def rollback(self) -> None: ...  # noqa: E704 - a protocol's method


def run_once(
    session: Session,
    tx: Transaction,
    partner_id: int,
    key: str | None,
    endpoint: str,
    data: Any,
    now: datetime,
    work: Callable[[], Answer],
    refusal: Callable[[DomainError], Answer],
) -> Answer:
    """Run ``work`` at most once per idempotency ``key`` and give every retry its stored answer.

    The protocol, in one transaction: the key is claimed (the same key with other ``data``:
    :class:`KeyReused`; a finished key: its stored answer, ``replayed``; a key claimed by a request
    still running: :class:`InFlight`); ``work`` runs; its answer is stored and both are committed
    together. A :class:`DomainError` from ``work`` is rolled back, the claim with it, and answered by
    ``refusal(error)``, stored under the key claimed again in a transaction of its own (if a duplicate
    took the key in between, its answer is given instead, or :class:`InFlight` while it runs: either
    way every answer but a 409 is the stored one). Any other exception, ``refusal``'s included (e.g. a
    429 instead of a ``not_found``), rolls back, the claim with it, and propagates, so a retry runs
    afresh. Without a key the same happens without the claim. The one service that ends
    transactions: a refusal's claim must follow the rollback of the work, so the shell hands over
    ``tx``. One commit, one transaction for a redemption (it was two: the claim was committed first).
    """
    record_id = None
    request_hash = fingerprint(endpoint, data) if key is not None else ""

    def claimed(key: str) -> Answer | int:
        """The key's record id, or the stored answer to replay (the transaction rolled back)."""
        try:
            found = claim(session, partner_id, key, endpoint, request_hash, now)
        except DomainError:
            tx.rollback()
            raise
        if not found.replay:
            return found.record_id
        tx.rollback()
        status, content_type, body = found.status_code, found.content_type, found.body
        assert status is not None and content_type is not None and body is not None  # a done record
        return Answer(status, content_type, body, replayed=True)

    if key is not None:
        got = claimed(key)
        if isinstance(got, Answer):
            return got
        record_id = got
    try:
        try:
            answer = work()
        except DomainError as exc:
            tx.rollback()
            answer = refusal(exc)
            if key is not None:
                got = claimed(key)
                if isinstance(got, Answer):
                    return got  # a duplicate ran meanwhile: every retry gets its stored answer, so do we
                record_id = got
    except BaseException:
        tx.rollback()
        raise
    if record_id is not None:
        complete(session, record_id, answer.status, answer.content_type, answer.body)
    tx.commit()
    return answer
