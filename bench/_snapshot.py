"""The snapshot record a benchmark loads its rows under (the rows themselves go through the driver)."""

from __future__ import annotations

from typing import Any


def bench_snapshot(period: str, row_count: int, tier_counts: str = "{}") -> Any:
    """An active imported snapshot of ``period``, not yet added to the session."""
    from rewards.snapshots.models import Snapshot

    return Snapshot(period=period, status="active", source="import", source_name="bench", loaded_by="bench",
                    row_count=row_count, tier_counts=tier_counts, digest="0" * 64)
