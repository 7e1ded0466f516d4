"""The one place where partners read tier snapshots (owned by the snapshots feature, issue 3).

Partners need three things from a snapshot: which one is the latest, an account's tier in it, and
the accounts of some tiers, in account order. The snapshots feature owns the tables; this module
names the columns it relies on, so that adapting to their final names is a change here only:

    snapshots(id, period 'YYYY-MM', ...)            -- a replaced snapshot keeps its row; the
                                                      replacing one has a larger id
    snapshot_rows(snapshot_id, account, tier, ...)  -- unique (snapshot_id, account)

Only active snapshots are read: a replaced one is kept with status ``superseded``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, String, column, func, select, table
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from rewards.snapshots.queries import latest_snapshot

SNAPSHOTS = table("snapshots", column("id", Integer), column("period", String), column("status", String))
_ACTIVE = SNAPSHOTS.c.status == "active"  # a replaced (superseded) snapshot is never read
ROWS = table("snapshot_rows", column("snapshot_id", Integer), column("account", String), column("tier", String))


@dataclass(frozen=True)
class SnapshotRef:
    """A snapshot as partners see it."""

    id: int
    period: str


def latest(session: Session) -> SnapshotRef | None:
    """The latest snapshot as every feature means it (``rewards.snapshots.queries.latest_snapshot``: the
    newest period not after the current local month; a replacement wins over the replaced one)."""
    snapshot = latest_snapshot(session)
    return SnapshotRef(snapshot.id, snapshot.period) if snapshot is not None else None


def by_period(session: Session, period: str) -> SnapshotRef | None:
    """The current snapshot of ``period``."""
    row = session.execute(
        select(SNAPSHOTS.c.id, SNAPSHOTS.c.period)
        .where(SNAPSHOTS.c.period == period, _ACTIVE)
        .order_by(SNAPSHOTS.c.id.desc())
        .limit(1)
    ).first()
    return SnapshotRef(row[0], row[1]) if row else None


def recent(session: Session, limit: int = 24) -> list[SnapshotRef]:
    """The current snapshot of each of the latest periods, newest first (for choosers on pages)."""
    rows = session.execute(
        select(func.max(SNAPSHOTS.c.id), SNAPSHOTS.c.period)
        .where(_ACTIVE)
        .group_by(SNAPSHOTS.c.period)
        .order_by(SNAPSHOTS.c.period.desc())
        .limit(limit)
    ).all()
    return [SnapshotRef(r[0], r[1]) for r in rows]


def tier_of(session: Session, snapshot_id: int, account: str) -> str | None:
    """The account's tier in the snapshot, or None when it is not in it."""
    return session.scalar(
        select(ROWS.c.tier).where(ROWS.c.snapshot_id == snapshot_id, ROWS.c.account == account)
    )


def accounts_query(snapshot_id: int, tiers: Sequence[str]) -> Select[tuple[str, str]]:
    """``(account, tier)`` of the snapshot's accounts in ``tiers``, ordered by account."""
    return (
        select(ROWS.c.account, ROWS.c.tier)
        .where(ROWS.c.snapshot_id == snapshot_id, ROWS.c.tier.in_(list(tiers)))
        .order_by(ROWS.c.account)
    )


def count_in_tiers(session: Session, snapshot_id: int, tiers: Sequence[str]) -> int:
    """How many accounts of the snapshot are in ``tiers``."""
    return session.scalar(
        select(func.count()).select_from(ROWS).where(ROWS.c.snapshot_id == snapshot_id, ROWS.c.tier.in_(list(tiers)))
    ) or 0
