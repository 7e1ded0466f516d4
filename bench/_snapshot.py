"""The snapshot record a benchmark loads its rows under (the rows themselves go through the driver)."""

from __future__ import annotations

import random
from typing import Any


def bench_snapshot(period: str, row_count: int, tier_counts: str = "{}") -> Any:
    """An active imported snapshot of ``period``, not yet added to the session."""
    from rewards.snapshots.models import Snapshot

    return Snapshot(period=period, status="active", source="import", source_name="bench", loaded_by="bench",
                    row_count=row_count, tier_counts=tier_counts, digest="0" * 64)


def load_random_snapshot(db: Any, backend: str, n: int) -> int:
    """The draw benchmarks' active snapshot of 2026-05: ``n`` random accounts with weighted tiers, written in
    account order through the driver (``executemany`` on SQLite, ``COPY`` on PostgreSQL) and committed;
    its id."""
    rng = random.Random(7)  # benchmark data only
    numbers = rng.sample(range(10**10), n)
    tiers = rng.choices(("beginner", "promising", "responsible", "ideal"), weights=(1, 1, 3, 2), k=n)
    snap = bench_snapshot("2026-05", n)
    db.session.add(snap)
    db.session.flush()
    rows = sorted((snap.id, f"{x:010d}", t) for x, t in zip(numbers, tiers, strict=True))
    raw = db.session.connection().connection.driver_connection
    if backend == "sqlite":
        raw.executemany("INSERT INTO snapshot_rows (snapshot_id, account, tier) VALUES (?, ?, ?)", rows)
    else:
        with raw.cursor() as cur, cur.copy("COPY snapshot_rows (snapshot_id, account, tier) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    db.session.commit()
    return int(snap.id)
