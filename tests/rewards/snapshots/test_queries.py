"""The snapshot read interface other features use: the same rows whichever way a database reads them."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import insert

from rewards.db import db
from rewards.snapshots.models import SnapshotRow
from rewards.snapshots.queries import account_tier_columns, iter_account_tier_batches
from tests.support import make_snapshot

ROWS = {f"{n * 37:07d}": ("ideal", "responsible", "beginner", "promising")[n % 4] for n in range(2_500)}


def _batched(snapshot_id: int, tiers: list[str]) -> tuple[list[str], list[str]]:
    rows = [
        row for batch in iter_account_tier_batches(db.session, snapshot_id, batch=300, tiers=tiers) for row in batch
    ]
    return [a for a, _t in rows], [t for _a, t in rows]


def test_columns_are_the_rows_of_the_named_tiers_in_account_order(app: Flask) -> None:
    with app.app_context():
        snap = make_snapshot(db.session, "2026-04", ROWS)
        other = make_snapshot(db.session, "2026-05", {"0000001": "ideal"})  # another month: never mixed in
        db.session.commit()
        accounts, tiers = account_tier_columns(db.session, snap.id, {"ideal", "responsible"})
        expected = sorted((a, t) for a, t in ROWS.items() if t in ("ideal", "responsible"))
        assert list(zip(accounts, tiers, strict=True)) == expected
        assert (accounts, tiers) == _batched(snap.id, ["ideal", "responsible"])
        assert len({id(t) for t in tiers}) == 2  # one string per tier, not one per row
        assert account_tier_columns(db.session, snap.id, set()) == ([], [])
        assert account_tier_columns(db.session, other.id, {"beginner"}) == ([], [])


def test_a_value_the_database_had_to_escape_reads_the_same(app: Flask) -> None:
    """A backslash and a tab (which PostgreSQL's text formats escape) come back as they were stored."""
    with app.app_context():
        snap = make_snapshot(db.session, "2026-04", {"0000002": "ideal"})
        db.session.execute(insert(SnapshotRow), [{"snapshot_id": snap.id, "account": "00\\01\t", "tier": "ideal"}])
        db.session.commit()
        columns = account_tier_columns(db.session, snap.id, ["ideal"])
        assert columns == (["0000002", "00\\01\t"], ["ideal", "ideal"])
