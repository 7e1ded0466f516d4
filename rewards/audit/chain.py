"""Pure hash-chain rules of the event log (no Flask, no SQLAlchemy), shared by the service and auditors.

Each event's hash is ``SHA-256(canonical_json(body))`` where ``body`` is::

    {"seq": N, "at": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "actor": ..., "action": ...,
     "object_type": ..., "object_id": ..., "details": {...}, "prev": PREVIOUS_HASH}

and ``prev`` of the first event is 64 zeros. Changing, deleting, inserting or reordering any event
breaks a link; cutting the tail is caught against a signed checkpoint (seq, head hash) an auditor holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signedjson import canonical_json, sha256_hex
from signedjson import utc_timestamp

GENESIS = "0" * 64


def format_instant(at: datetime) -> str:
    """UTC instant as fixed-width ISO 8601 with microseconds and Z."""
    return utc_timestamp(at, microseconds=True)


def event_body(
    seq: int, at: datetime, actor: str, action: str, object_type: str, object_id: str, details: Any, prev: str
) -> dict[str, Any]:
    """The canonical body whose hash chains an event."""
    return {
        "seq": seq,
        "at": format_instant(at),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
        "prev": prev,
    }


def event_hash(body: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical body."""
    return sha256_hex(canonical_json(body))


@dataclass(frozen=True)
class Unreadable:
    """A stored event that could not be turned into a body (bad JSON, a bad time): a broken link."""

    seq: Any
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """Outcome of walking the chain: ok, how many events, the head, and the first problem found."""

    ok: bool
    count: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    pending: int = 0  # events stored but not chained yet: neither verified nor broken


def verify_chain(
    events: Iterable[tuple[dict[str, Any] | Unreadable, str]], checkpoint: dict[str, Any] | None = None
) -> ChainReport:
    """Walk ``(body, stored_hash)`` pairs in sequence order and report the first broken link.

    A row that is no event (``Unreadable``) or whose content cannot be hashed (e.g. a float in its
    details, which canonical JSON refuses) is a broken link too, reported like any other.
    """
    prev = GENESIS
    expected_seq = 1
    count = 0
    head_seq = 0
    checkpoint_seen = checkpoint is None or checkpoint["seq"] == 0
    for body, stored in events:
        if isinstance(body, Unreadable):
            return ChainReport(False, count, head_seq, prev, f"event {body.seq}: unreadable row ({body.reason})")
        seq = body["seq"]
        if seq != expected_seq:
            kind = "deleted" if seq > expected_seq else "inserted or reordered"
            return ChainReport(False, count, head_seq, prev, f"event {seq}: expected seq {expected_seq} ({kind})")
        if body["prev"] != prev:
            return ChainReport(False, count, head_seq, prev, f"event {seq}: link to previous event broken")
        try:
            computed = event_hash(body)
        except (TypeError, ValueError) as exc:
            return ChainReport(False, count, head_seq, prev, f"event {seq}: content cannot be hashed ({exc})")
        if computed != stored:
            return ChainReport(False, count, head_seq, prev, f"event {seq}: content does not match its hash")
        if checkpoint is not None and seq == checkpoint["seq"]:
            if stored != checkpoint["head_hash"]:
                return ChainReport(False, count, head_seq, prev, f"event {seq}: differs from the checkpoint")
            checkpoint_seen = True
        prev = stored
        head_seq = seq
        expected_seq += 1
        count += 1
    if not checkpoint_seen:
        assert checkpoint is not None
        return ChainReport(
            False, count, head_seq, prev, f"log ends at event {head_seq}, checkpoint holds {checkpoint['seq']}"
        )
    return ChainReport(True, count, head_seq, prev)
