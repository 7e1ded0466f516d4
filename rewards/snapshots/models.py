"""Stored tier snapshots: one row of provenance per loaded month, one row per account.

Owned by the snapshots feature; other features read snapshots through ``rewards.snapshots.queries``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from rewards.db import UTCDateTime, db, intpk, partial_index, timestamp

# Written with OR rather than IN: measured ~3x cheaper per inserted row on SQLite (stack notes).
TIER_CHECK = "tier = 'beginner' OR tier = 'promising' OR tier = 'responsible' OR tier = 'ideal'"


class Snapshot(db.Model):
    """One month of account -> tier, immutable once loaded; replaced ones stay, superseded."""

    __tablename__ = "snapshots"
    __table_args__ = (
        CheckConstraint("status = 'active' OR status = 'superseded'", name="status"),
        CheckConstraint("source = 'import' OR source = 'computed'", name="source"),
        # At most one active snapshot per period.
        partial_index("uq_snapshots_active_period", "period", where="status = 'active'", unique=True),
    )

    id: Mapped[intpk]
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    status: Mapped[str] = mapped_column(String(12), default="active")
    source: Mapped[str] = mapped_column(String(12))
    source_name: Mapped[str] = mapped_column(String(255))
    loaded_by: Mapped[str] = mapped_column(String(128))
    loaded_at: Mapped[timestamp]
    row_count: Mapped[int] = mapped_column(Integer)
    tier_counts: Mapped[str] = mapped_column(Text)  # canonical JSON {"beginner": n, ...}
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical content (docs/snapshots.md)
    rules_version: Mapped[str | None] = mapped_column(String(64), default=None)
    rules_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"), default=None)
    superseded_by_actor: Mapped[str | None] = mapped_column(String(128), default=None)
    # SHA-256 of the uploaded file's bytes (several files for a computed snapshot: of their hashes, in order).
    file_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    file_format: Mapped[str | None] = mapped_column(String(16), default=None)  # csv, jsonl, behaviour-csv
    has_points: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SnapshotRow(db.Model):
    """One account's tier in one snapshot."""

    __tablename__ = "snapshot_rows"
    # SQLite keeps the rows in the primary key's B-tree (WITHOUT ROWID): reading a snapshot in account
    # order then needs no look-up per row (migration e5b7d1c9a3f2).
    __table_args__ = (CheckConstraint(TIER_CHECK, name="tier"), {"sqlite_with_rowid": False})

    # No foreign key on purpose: PostgreSQL checks one with a trigger per inserted row, which made the
    # COPY of 1.5 M rows 2.5x slower (bench/snapshot_import.py). Rows are written only by the snapshot
    # services, inside the transaction that creates their snapshot, and snapshots are never deleted.
    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Accounts are ASCII digits only (the readers enforce it), so every collation orders them as their
    # bytes: the canonical digest can read them with a plain ORDER BY account.
    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    tier: Mapped[str] = mapped_column(String(12))
    points: Mapped[int | None] = mapped_column(Integer, default=None)
    # A computed snapshot keeps each account's month-by-month inputs (rewards.rating.engine.Engine.decode)
    # so that the explanation needs no behaviour files.
    facts: Mapped[str | None] = mapped_column(Text, default=None)


class RulesFile(db.Model):
    """Every rules file a computed snapshot used, byte for byte: explanations and recomputation use it."""

    __tablename__ = "rating_rules_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)  # the file's bytes, UTF-8
    first_used_at: Mapped[timestamp]


class RulesDraft(db.Model):
    """A draft rules file being prepared (what-if before it goes live): its bytes, author and times."""

    __tablename__ = "rating_rules_drafts"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)  # the rules JSON, UTF-8, validated when saved
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[timestamp]
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[timestamp]


class RulesVersion(db.Model):
    """A published rules file, in force for computed snapshots of ``effective_from`` and later months
    (until a later publication); the file's bytes are in :class:`RulesFile`."""

    __tablename__ = "rating_rules_versions"

    id: Mapped[intpk]
    effective_from: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM
    sha256: Mapped[str] = mapped_column(ForeignKey("rating_rules_files.sha256"))
    version: Mapped[str] = mapped_column(String(64))
    published_by: Mapped[str] = mapped_column(String(128))
    published_at: Mapped[timestamp]
