"""Stored draws: the draw and its signed records, the frozen list, disqualifications, credits to billing.

States (``Draw.state``): ``draft`` → ``announced`` → ``frozen`` → ``drawn`` → ``published``; ``draft``,
``announced`` and ``frozen`` can go to ``cancelled`` (publicly, once announced). Each step is one
conditional ``UPDATE ... WHERE state = <expected>`` in the services, so a step runs exactly once even
when two staff members press the button at the same moment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from rewards.db import UTCDateTime, db, intpk, timestamp
from rewards.snapshots import models as _snapshot_tables  # noqa: F401  (draws.snapshot_id references snapshots.id)

DRAW_STATES = ("draft", "announced", "frozen", "drawn", "published", "cancelled")
CREDIT_STATES = ("pending", "exported", "posted", "cancelled")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return " OR ".join(f"{column} = '{v}'" for v in values)


class Draw(db.Model):
    """One prize draw and everything it publishes."""

    __tablename__ = "draws"
    __table_args__ = (
        CheckConstraint(_one_of("state", DRAW_STATES), name="state"),
        CheckConstraint("kind = 'quarterly' OR kind = 'semi-annual'", name="kind"),
        CheckConstraint("reserves >= 0", name="reserves"),
    )

    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # in every record and public URL
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    algorithm: Mapped[str] = mapped_column(String(64))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    snapshot_period: Mapped[str] = mapped_column(String(7))
    tier_weights: Mapped[str] = mapped_column(Text)  # canonical JSON {tier: weight}
    prizes: Mapped[str] = mapped_column(Text)  # canonical JSON [{"amount_kopecks", "count"}]
    reserves: Mapped[int] = mapped_column(Integer)
    freeze_at: Mapped[datetime] = mapped_column(UTCDateTime())
    entropy_source: Mapped[str] = mapped_column(Text)  # canonical JSON, fixed at announcement
    yearly_cap_kopecks: Mapped[int] = mapped_column(BigInteger)
    exclusions_count: Mapped[int] = mapped_column(Integer, default=0)

    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[timestamp]
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancel_reason: Mapped[str | None] = mapped_column(Text, default=None)

    # Secrets sealed by draws.secretbox (key file outside the database).
    secret_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    salt_key_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    commitment: Mapped[str | None] = mapped_column(String(64), default=None)

    # Signed envelopes, canonical JSON text, exactly as published.
    announcement: Mapped[str | None] = mapped_column(Text, default=None)
    freeze_record: Mapped[str | None] = mapped_column(Text, default=None)
    result_record: Mapped[str | None] = mapped_column(Text, default=None)
    cancellation: Mapped[str | None] = mapped_column(Text, default=None)
    # When the drand round was fetched: {"url", "fetched_at", "response"} (the relay's text as received).
    entropy_relay: Mapped[str | None] = mapped_column(Text, default=None)
    entrant_count: Mapped[int | None] = mapped_column(Integer, default=None)
    # The witness set fixed by the draft: canonical JSON {"quorum", "keys", "unwitnessed"} (protocol 2).
    witnesses: Mapped[str | None] = mapped_column(Text, default=None)
    # The latest signed head (protocol 2): re-signed at the draw and at every disqualification.
    head_record: Mapped[str | None] = mapped_column(Text, default=None)


class DrawExclusion(db.Model):
    """An account excluded from one draw (employees and others), uploaded as a file."""

    __tablename__ = "draw_exclusions"

    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), primary_key=True)


class DrawEntrantList(db.Model):
    """The frozen entrant list of a draw: its canonical ``ENTRANTS_V1`` encoding, zlib-compressed.

    One row instead of 1.5 million: writing it takes a fraction of a second, and it is exactly what
    the entrant digest is computed over, so the stored list can always be checked against the record.
    """

    __tablename__ = "draw_entrant_lists"

    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # Merkle levels above the proof chunks (draws.merkle.upper_levels_blob): ~94 KB at 1.5 M entrants.
    merkle_upper: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # The weights vector's encoding (draws.entrants.encode_weights), zlib-compressed: the draw step
    # reads the weights from it (checked against the signed weights digest) instead of decoding the
    # whole list, and proves each winner's account with its proof chunk. None for older freezes.
    weights: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class DrawEntrantChunk(db.Model):
    """The frozen list again, in chunks of ``draws.merkle.CHUNK_SIZE`` entrants (accounts and weights,
    zlib), keyed by the sort key of each chunk's first entrant (protocol 2: its order key
    ``HMAC-SHA256(salt_key, account)``; protocol 1: the account's UTF-8 bytes): an inclusion proof reads
    one chunk and the upper levels instead of the whole list (bytes compare bytewise on both engines)."""

    __tablename__ = "draw_entrant_chunks"

    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_key: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_draw_entrant_chunks_lookup", "draw_id", "first_key"),)


class DrawCosignature(db.Model):
    """A witness's cosignature of a draw's freeze record (a signed envelope, ``draws.witness``), as
    received; only valid, timely ones are stored (one per witness)."""

    __tablename__ = "draw_cosignatures"
    __table_args__ = (UniqueConstraint("draw_id", "witness_kid", name="witness"),)

    id: Mapped[intpk]
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), index=True)
    witness_kid: Mapped[str] = mapped_column(String(16))
    witness_name: Mapped[str] = mapped_column(String(200))
    cosigned_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the witness's own clock
    envelope: Mapped[str] = mapped_column(Text)
    received_at: Mapped[timestamp]
    received_by: Mapped[str] = mapped_column(String(128))


class DrawWinner(db.Model):
    """Who holds what after the draw: winners (prize order) and reserves, with their current status."""

    __tablename__ = "draw_winners"
    __table_args__ = (
        UniqueConstraint("draw_id", "role", "position", name="position"),
        CheckConstraint("role = 'winner' OR role = 'reserve'", name="role"),
        CheckConstraint(
            "status = 'holder' OR status = 'disqualified' OR status = 'waiting' OR status = 'promoted'", name="status"
        ),
    )

    id: Mapped[intpk]
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), index=True)
    role: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(Integer)  # prize index or reserve index
    entrant_index: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    prize_index: Mapped[int | None] = mapped_column(Integer, default=None)  # a promoted reserve's prize


class DrawDisqualification(db.Model):
    """A disqualification, public and signed; the prize passed to the next reserve."""

    __tablename__ = "draw_disqualifications"
    __table_args__ = (UniqueConstraint("draw_id", "sequence", name="sequence"),)

    id: Mapped[intpk]
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    prize_index: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(64))
    replacement_account: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[timestamp]
    envelope: Mapped[str] = mapped_column(Text)


class CreditBatch(db.Model):
    """One export file of credit orders for billing; its bytes are stored so a re-download is identical."""

    __tablename__ = "draw_credit_batches"

    id: Mapped[intpk]
    created_at: Mapped[timestamp]
    created_by: Mapped[str] = mapped_column(String(128))
    count: Mapped[int] = mapped_column(Integer)
    total_kopecks: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    confirmed_count: Mapped[int] = mapped_column(Integer, default=0)


class DrawCredit(db.Model):
    """A credit order for billing: ``amount_kopecks`` onto ``account`` for one prize of one draw."""

    __tablename__ = "draw_credits"
    __table_args__ = (
        CheckConstraint(_one_of("state", CREDIT_STATES), name="state"),
        CheckConstraint("amount_kopecks > 0 AND amount_kopecks <= 400000", name="amount"),
        Index("ix_draw_credits_year_account", "year", "account"),
    )

    id: Mapped[intpk]
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), index=True)
    prize_index: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(64))
    amount_kopecks: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)  # calendar year of the draw (retailer's time zone): the cap
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("draw_credit_batches.id"), default=None, index=True)
    created_at: Mapped[timestamp]
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
