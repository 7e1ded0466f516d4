"""Appending to the event log, checkpoints and verification."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, func, select, text, type_coerce
from sqlalchemy.orm import Session

from signedjson import canonical_json
from rewards.audit.chain import GENESIS, ChainReport, Unreadable, event_body, event_hash, verify_chain
from rewards.audit.models import Checkpoint, Event
from rewards.db import utcnow
from signedjson import utc_timestamp

# Any constant works: it names the PostgreSQL advisory lock that serialises appends.
_APPEND_LOCK = 0x5257_4441_4C4F_4721 & 0x7FFF_FFFF_FFFF_FFFF


def record_event(
    session: Session, actor: str, action: str, object_type: str, object_id: str, details: dict[str, Any]
) -> Event:
    """Append an event in the caller's transaction (it commits or rolls back with the change it records)."""
    if session.get_bind().dialect.name == "postgresql":
        # Appends must be serial or two transactions would chain to the same head; the lock is
        # released at commit. On SQLite, BEGIN IMMEDIATE already serialises writers.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK})
    head = session.execute(select(Event.seq, Event.hash).order_by(Event.seq.desc()).limit(1)).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    at = utcnow()
    details_json = canonical_json(details).decode("utf-8")
    body = event_body(seq, at, actor, action, object_type, str(object_id), json.loads(details_json), prev)
    event = Event(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details_json,
        prev_hash=prev,
        hash=event_hash(body),
    )
    session.add(event)
    session.flush()
    return event


def body_of(event: Event) -> dict[str, Any]:
    """The canonical body of a stored event, as its hash was computed."""
    return event_body(
        event.seq,
        event.at,
        event.actor,
        event.action,
        event.object_type,
        event.object_id,
        json.loads(event.details),
        event.prev_hash,
    )


# The raw columns of an event: the time as the driver gives it (text on SQLite, so a malformed one
# is reported as a broken link instead of failing the whole read).
_RAW = Event.__table__.c
_RAW_COLUMNS = (_RAW.seq, type_coerce(_RAW.at, String), _RAW.actor, _RAW.action, _RAW.object_type,
                _RAW.object_id, _RAW.details, _RAW.prev_hash, _RAW.hash)


def _instant(value: Any) -> datetime:
    """A stored event time as an aware UTC datetime (ValueError when it is none)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueError(f"not a time: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _raw_body(row: Any) -> dict[str, Any] | Unreadable:
    seq, at, actor, action, object_type, object_id, details, prev_hash, _hash = row
    try:
        return event_body(seq, _instant(at), actor, action, object_type, object_id, json.loads(details), prev_hash)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        return Unreadable(seq, f"{type(exc).__name__}: {str(exc)[:200]}")


def iter_chain(session: Session, batch: int = 5000) -> Iterator[tuple[dict[str, Any] | Unreadable, str]]:
    """Every event as ``(body, stored hash)`` in sequence order, read in batches; a row that is no
    event (bad JSON, a bad time) comes as ``Unreadable``."""
    last = 0
    while True:
        rows = session.execute(select(*_RAW_COLUMNS).where(_RAW.seq > last).order_by(_RAW.seq).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            yield _raw_body(row), row[-1]
        last = rows[-1][0]


def export_lines(session: Session, batch: int = 5000) -> Iterator[str]:
    """The whole log as JSON lines in sequence order: ``{"body": ..., "hash": ...}`` per event (the
    body as its hash was computed, so an auditor can re-check every link), or ``{"seq", "unreadable",
    "hash"}`` for a row that is no event."""
    for body, stored in iter_chain(session, batch):
        item: dict[str, Any] = (
            {"seq": body.seq, "unreadable": body.reason, "hash": stored} if isinstance(body, Unreadable)
            else {"body": body, "hash": stored}
        )
        yield json.dumps(item, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str) + "\n"


def event_count(session: Session) -> int:
    """How many events the log holds."""
    return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def verify_log(session: Session, checkpoint: dict[str, Any] | None = None) -> ChainReport:
    """Walk the whole log; with a checkpoint payload, also detect a truncated tail."""
    return verify_chain(iter_chain(session), checkpoint)


def make_checkpoint(session: Session, signer: Any, *, actor: str) -> dict[str, Any]:
    """Sign the current head (seq, hash) and store the envelope; returns the envelope."""
    head = session.execute(select(Event.seq, Event.hash).order_by(Event.seq.desc()).limit(1)).first()
    seq, head_hash = (head[0], head[1]) if head else (0, GENESIS)
    now = utcnow()
    payload = {
        "type": "audit-checkpoint",
        "seq": seq,
        "head_hash": head_hash,
        "created_at": utc_timestamp(now),
    }
    envelope = signer.sign(payload)
    session.add(Checkpoint(seq=seq, head_hash=head_hash, created_at=now, envelope=canonical_json(envelope).decode()))
    record_event(session, actor, "audit.checkpoint", "checkpoint", str(seq), {"head_hash": head_hash})
    return envelope
