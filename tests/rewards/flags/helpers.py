"""Helpers of the flag tests: store a snapshot the way the snapshots feature does (rows, no file)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

from sqlalchemy.orm import Session

from rewards.snapshots.models import Snapshot, SnapshotRow

TODAY = date(2026, 3, 15)


def store_snapshot(session: Session, period: str, tiers: dict[str, str]) -> Snapshot:
    """An active snapshot of ``period`` with ``{account: tier}`` (an earlier one of the period is superseded)."""
    for old in session.query(Snapshot).filter_by(period=period, status="active"):
        old.status = "superseded"
    session.flush()
    snap = Snapshot(
        period=period,
        status="active",
        source="import",
        source_name="test.csv",
        loaded_by="test",
        row_count=len(tiers),
        tier_counts=json.dumps(dict(Counter(tiers.values()))),
        digest="0" * 64,
    )
    session.add(snap)
    session.flush()
    session.add_all(SnapshotRow(snapshot_id=snap.id, account=a, tier=t) for a, t in tiers.items())
    session.flush()
    return snap
