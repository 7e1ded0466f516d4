"""Bulk issue of codes for one offer: 1 M accounts of a snapshot, on SQLite and PostgreSQL (in process).

    PYTHONPATH=. python bench/bench_partners_issue.py [--accounts 1000000] [--backend sqlite|postgresql|both]
    PYTHONPATH=. python bench/bench_partners_issue.py --prepare --accounts N   # the database of the env

The whole ``flask partners issue`` process against its floor is ``bench/monthly.py issue``, which uses
``--prepare`` (the instance's migrated database, ``REWARDS_DATABASE_URL``: a snapshot of N accounts, a
partner, an offer; prints ``snapshot_id offer_id``).

Builds a snapshot of N qualifying accounts (plain tables named as ``partners/snapshots.py`` expects),
then times: the first bulk issue (all N codes), the idempotent re-run (nothing missing), and the CSV
export. PostgreSQL: ``REWARDS_BENCH_PG_URL`` (default the local server's database ``test``),
in a schema of its own that is dropped first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._partners_db import database_settings  # noqa: E402 (after the path is set)

SCHEMA = "bench_partners"


def _app(backend: str, tmp: Path):  # noqa: ANN202
    from rewards import create_app

    cfg = {"TESTING": True, "SECRET_KEY": "bench", "KEYS_DIR": str(tmp / "keys"), "RATELIMIT_ENABLED": False,
           "LOG_LEVEL": "WARNING"}
    cfg.update(database_settings(backend, tmp, SCHEMA))
    return create_app(cfg)


def _snapshot(n: int) -> int:
    """An active snapshot of ``n`` accounts, 3 in 4 'ideal'; returns its id."""
    from rewards.db import db
    from rewards.snapshots.models import Snapshot

    snap = Snapshot(period="2026-10", status="active", source="import", source_name="bench", loaded_by="bench",
                    row_count=n, tier_counts="{}", digest="0" * 64)
    db.session.add(snap)
    db.session.flush()
    snapshot_id = snap.id
    db.session.commit()
    tiers = ("beginner", "promising", "responsible", "ideal")
    rows = [(snapshot_id, f"74{i:010d}", "ideal" if i % 4 else tiers[(i // 4) % 2]) for i in range(n)]
    with db.engine.begin() as conn:
        raw = conn.connection.driver_connection
        if db.engine.dialect.name == "postgresql":
            with raw.cursor() as cur, cur.copy("COPY snapshot_rows (snapshot_id, account, tier) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            with raw.cursor() as cur:
                cur.execute("ANALYZE snapshot_rows")  # as the import does: pages are planned from these statistics
        else:
            raw.executemany("INSERT INTO snapshot_rows (snapshot_id, account, tier) VALUES (?, ?, ?)", rows)
    return snapshot_id


def run(backend: str, n: int) -> dict[str, float]:
    from partners import snapshots
    from partners.models import Offer
    from partners.services import issue
    from rewards.db import db

    with tempfile.TemporaryDirectory() as tmpdir:
        app = _app(backend, Path(tmpdir))
        with app.app_context():
            db.create_all()
            t = time.perf_counter()
            snapshot_id = _snapshot(n)
            load = time.perf_counter() - t
            offer_id = _offer()
            snap = snapshots.SnapshotRef(snapshot_id, "2026-10")
            t = time.perf_counter()
            run1 = issue.issue_all(db.session, db.session.get(Offer, offer_id), snap, actor="bench",
                                   commit=db.session.commit)
            first = time.perf_counter() - t
            t = time.perf_counter()
            run2 = issue.issue_all(db.session, db.session.get(Offer, offer_id), snap, actor="bench",
                                   commit=db.session.commit)
            rerun = time.perf_counter() - t
            t = time.perf_counter()
            lines = sum(chunk.count("\n") for chunk in issue.export_lines(db.session, db.session.get(Offer, offer_id)))
            export = time.perf_counter() - t
            assert run2.issued == 0 and lines - 1 == run1.issued
            db.session.remove()
            db.engine.dispose()
    return {"codes": run1.issued, "snapshot load s": load, "issue s": first, "re-run s": rerun, "export s": export}


def prepare(n: int) -> tuple[int, int]:
    """In the migrated database of the environment: a snapshot of ``n`` accounts (3 in 4 'ideal'), a
    partner and an offer for 'ideal'; ``(snapshot_id, offer_id)``."""
    from rewards import create_app

    app = create_app({"LOG_LEVEL": "WARNING"})
    with app.app_context():
        snapshot_id = _snapshot(n)
        return snapshot_id, _offer()


def _offer() -> int:
    """A partner and its 10% offer for 'ideal', valid for 30 days from now, committed; the offer's id."""
    from partners.services import catalog
    from rewards.db import db, utcnow

    partner = catalog.create_partner(db.session, "Gorserv", "GSRV", actor="bench")
    now = utcnow()
    offer = catalog.create_offer(db.session, partner, title="bench", discount_kind="percent", discount_value=10,
                                 tiers=["ideal"], valid_from=now, valid_to=now + timedelta(days=30), actor="bench")
    db.session.commit()
    return offer.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prepare", action="store_true")
    parser.add_argument("--accounts", type=int, default=1_000_000 * 4 // 3 + 1)  # 3 in 4 qualify: ~1 M codes
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if args.prepare:
        print(*prepare(args.accounts))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"bulk issue, {args.accounts:,} accounts in the snapshot")
    print(f"{'backend':<11} {'codes':>9} {'load s':>7} {'issue s':>8} {'codes/s':>9} {'re-run s':>9} {'export s':>9}")
    for backend in backends:
        r = run(backend, args.accounts)
        print(f"{backend:<11} {r['codes']:>9,} {r['snapshot load s']:>7.1f} {r['issue s']:>8.1f} "
              f"{r['codes'] / r['issue s']:>9,.0f} {r['re-run s']:>9.1f} {r['export s']:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
