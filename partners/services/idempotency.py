"""Idempotency keys (Stripe's semantics, IETF draft-ietf-httpapi-idempotency-key-header).

The first request with a key claims it in its own short transaction (state ``in_flight``); the work
and the stored response are then committed together, so a stored response always matches what
happened. A retry with the same key and the same request gets the stored status and body byte for
byte; the same key with a different request is refused (422 ``idempotency_key_reused``); a retry
while the first is still running gets 409 ``idempotency_in_flight``. An in-flight claim older than
``STALE_AFTER`` (its worker died) may be taken over. Records are kept ``RETENTION`` (24 h) at least;
``purge`` removes older ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from partners.models import IdempotencyRecord
from rewards.db import commit_unflushed, rowcount
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


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def claim(session: Session, partner_id: int, key: str, endpoint: str, request_hash: str, now: datetime) -> Claim:
    """Claim ``key`` for this request, or return the stored response; the caller commits."""
    for _attempt in range(3):
        stmt = (
            _insert(session)(IdempotencyRecord)
            .values(
                partner_id=partner_id,
                key=key,
                endpoint=endpoint,
                request_hash=request_hash,
                state=IN_FLIGHT,
                locked_at=now,
                created_at=now,
                expires_at=now + RETENTION,
            )
            .on_conflict_do_nothing(index_elements=["partner_id", "key"])
            .returning(IdempotencyRecord.id)
        )
        rid = session.execute(stmt).scalar()
        if rid is not None:
            return Claim(rid, replay=False)
        rec = session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.partner_id == partner_id, IdempotencyRecord.key == key)
        )
        if rec is None:  # deleted between the two statements (a purge): try again
            continue
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
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(state=DONE, status_code=status_code, content_type=content_type, body=body)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, record_id: int) -> None:
    """Forget an in-flight claim whose request failed unexpectedly, so a retry can run."""
    session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id, IdempotencyRecord.state == IN_FLIGHT)
    )


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

    The protocol, in order: the key is claimed and the claim committed at once (a concurrent retry
    sees it: :class:`InFlight`; the same key with other ``data``: :class:`KeyReused`; a finished key:
    its stored answer, ``replayed``); ``work`` runs; a :class:`DomainError` from it is rolled back and
    answered by ``refusal(error)``; the answer is stored in the transaction of the work and both are
    committed together. Any other exception, ``refusal``'s included (e.g. a 429 instead of a
    ``not_found``), rolls back, frees the claim (committed) and propagates, so a retry runs afresh.
    Without a key the same happens without the claim. The one service that ends transactions: the
    claim must be visible to other requests before the work runs, so the shell hands over ``tx``.
    """
    record_id = None
    if key is not None:
        # The claim's commit need not wait for the disk (rewards.db.commit_unflushed): other requests
        # see it at once, and the work's own commit, which waits, makes it durable too (the log is
        # written in order). A crash that loses it loses no work: nothing was answered yet, a retry
        # runs afresh. So a redeem waits for the disk once (its work), not twice.
        commit_unflushed(session)
        try:
            claimed = claim(session, partner_id, key, endpoint, fingerprint(endpoint, data), now)
        except DomainError:
            tx.rollback()
            raise
        tx.commit()
        if claimed.replay:
            status, content_type, body = claimed.status_code, claimed.content_type, claimed.body
            assert status is not None and content_type is not None and body is not None  # a done record
            return Answer(status, content_type, body, replayed=True)
        record_id = claimed.record_id
    try:
        try:
            answer = work()
        except DomainError as exc:
            tx.rollback()
            answer = refusal(exc)
    except BaseException:
        tx.rollback()
        if record_id is not None:
            release(session, record_id)
            tx.commit()
        raise
    if record_id is not None:
        complete(session, record_id, answer.status, answer.content_type, answer.body)
    tx.commit()
    return answer
