"""Stored tier snapshots: one row of provenance per loaded month, one row per account.

Owned by the snapshots feature; other features read snapshots through ``rewards.snapshots.queries``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from rewards.db import UTCDateTime, db, intpk, timestamp

# Written with OR rather than IN: measured ~3x cheaper per inserted row on SQLite (stack notes).
TIER_CHECK = "tier = 'beginner' OR tier = 'promising' OR tier = 'responsible' OR tier = 'ideal'"


class Snapshot(db.Model):
    """One month of account -> tier, immutable once loaded; replaced ones stay, superseded."""

    __tablename__ = "snapshots"
    __table_args__ = (
        CheckConstraint("status = 'active' OR status = 'superseded'", name="status"),
        CheckConstraint("source = 'import' OR source = 'computed'", name="source"),
        # At most one active snapshot per period.
        Index(
            "uq_snapshots_active_period",
            "period",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
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


class SnapshotRow(db.Model):
    """One account's tier in one snapshot."""

    __tablename__ = "snapshot_rows"
    __table_args__ = (CheckConstraint(TIER_CHECK, name="tier"),)

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"), primary_key=True)
    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    tier: Mapped[str] = mapped_column(String(12))
    points: Mapped[int | None] = mapped_column(Integer, default=None)
