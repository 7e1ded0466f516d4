"""Helpers of the flag tests: store a snapshot the way the snapshots feature does (rows, no file)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from rewards.snapshots.models import Snapshot
from tests.support import make_snapshot

TODAY = date(2026, 3, 15)


def store_snapshot(session: Session, period: str, tiers: dict[str, str]) -> Snapshot:
    """An active snapshot of ``period`` with ``{account: tier}`` (an earlier one of the period is superseded)."""
    for old in session.query(Snapshot).filter_by(period=period, status="active"):
        old.status = "superseded"
    session.flush()
    snap: Snapshot = make_snapshot(session, period, tiers)
    return snap
