"""Benchmark: importing a 1.5 M-row tier snapshot into SQLite and PostgreSQL, against the floors.

Generates the snapshot file (semicolon, Russian header and tier names, points, accounts in scrambled
order as billing exports come), then, each phase in its own child process (so that peak memory,
ru_maxrss, is the phase's own):

- ``sqlite-floor``: csv module + a plain ``sqlite3`` ``executemany`` of the same tuples into a table of
  the same shape (primary key snapshot_id + account, the same OR check) in one transaction;
- ``sqlite-import``: ``rewards.snapshots.services.import_snapshot`` through the app (every row checked,
  duplicates detected, digest recomputed from the stored rows, provenance, event log), committed;
- ``pg-floor`` / ``pg-import``: the same on PostgreSQL with ``COPY`` as the floor.

Usage: ``python bench/snapshot_import.py [--rows 1500000] [--pg URL | --no-pg]``.
Targets (issue 3): import at most 2x the floor on each database; peak memory under 300 MB.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.phases import report_phase, run_phase  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TABLE = """CREATE TABLE snapshot_rows (
    snapshot_id INTEGER NOT NULL, account VARCHAR(32) {collate} NOT NULL, tier VARCHAR(12) NOT NULL,
    points INTEGER, facts TEXT,
    CONSTRAINT ck_tier CHECK (tier = 'beginner' OR tier = 'promising' OR tier = 'responsible'
                              OR tier = 'ideal'),
    PRIMARY KEY (snapshot_id, account))"""


def generate(path: Path, rows: int) -> None:
    rng = random.Random(1500000)
    step = 1_000_003
    while math.gcd(step, rows) != 1:
        step += 2
    labels = ["идеальный", "Ответственный", "перспективный", "начинающий", "ideal", "responsible"]
    weights = [10, 25, 30, 25, 5, 5]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("Лицевой счёт;Рейтинг;Баллы\r\n")
        for n in range(rows):
            account = 7400000000 + ((n * step) % rows) * 7
            f.write(f"{account:012d};{rng.choices(labels, weights)[0]};{rng.randrange(49)}\r\n")


def _csv_tuples(path: str):  # type: ignore[no-untyped-def]
    import csv

    codes = {
        "идеальный": "ideal",
        "ответственный": "responsible",
        "перспективный": "promising",
        "начинающий": "beginner",
        "ideal": "ideal",
        "responsible": "responsible",
    }
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=";")
        next(reader)
        for account, tier, points in reader:
            yield 1, account, codes[tier.lower()], int(points), None


def phase_sqlite_floor(path: str, workdir: str) -> dict:
    import sqlite3

    db = Path(workdir) / "floor.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(TABLE.format(collate=""))
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO snapshot_rows VALUES (?, ?, ?, ?, ?)", _csv_tuples(path))
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    rows = conn.execute("SELECT count(*) FROM snapshot_rows").fetchone()[0]
    conn.close()
    db.unlink()
    return {"seconds": seconds, "rows": rows}


def phase_pg_floor(path: str, url: str) -> dict:
    import psycopg

    schema = f"bench_floor_{os.getpid()}"
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        with psycopg.connect(url.replace("+psycopg", ""), options=f"-csearch_path={schema}") as conn:
            conn.execute(TABLE.format(collate='COLLATE "C"'))
            conn.commit()
            start = time.perf_counter()
            with conn.cursor() as cur, cur.copy("COPY snapshot_rows FROM STDIN") as copy:
                for row in _csv_tuples(path):
                    copy.write_row(row)
            conn.commit()
            seconds = time.perf_counter() - start
            rows = conn.execute("SELECT count(*) FROM snapshot_rows").fetchone()[0]  # type: ignore[index]
    finally:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    return {"seconds": seconds, "rows": rows}


def _app(workdir: str, url: str | None, schema: str | None):  # type: ignore[no-untyped-def]
    from rewards import create_app

    config = {
        "SECRET_KEY": "bench",
        "KEYS_DIR": str(Path(workdir) / "keys"),
        "TESTING": True,
        "DATABASE_URL": url or f"sqlite:///{Path(workdir) / 'import.sqlite3'}",
    }
    if schema:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={schema}"}}
    return create_app(config)


def phase_import(path: str, workdir: str, url: str | None) -> dict:
    schema = None
    if url:
        import psycopg

        schema = f"bench_import_{os.getpid()}"
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
    try:
        app = _app(workdir, url, schema)
        from rewards.db import db
        from rewards.snapshots import services

        with app.app_context():
            db.create_all()
            db.session.commit()
            start = time.perf_counter()
            with open(path, "rb") as stream:
                outcome = services.import_snapshot(
                    db.session, stream, period="2026-10", source_name="bench.csv", actor="bench"
                )
            db.session.commit()
            seconds = time.perf_counter() - start
            result = {
                "seconds": seconds,
                "rows": outcome.snapshot.row_count,
                "digest": outcome.snapshot.digest,
            }
            db.session.remove()
            db.engine.dispose()
    finally:
        if schema:
            import psycopg

            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:  # type: ignore[union-attr]
                admin.execute(f"DROP SCHEMA {schema} CASCADE")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--pg", default=os.environ.get("REWARDS_BENCH_PG_URL", PG_URL))
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        a = args.args
        result = {
            "sqlite-floor": lambda: phase_sqlite_floor(a[0], a[1]),
            "pg-floor": lambda: phase_pg_floor(a[0], a[1]),
            "sqlite-import": lambda: phase_import(a[0], a[1], None),
            "pg-import": lambda: phase_import(a[0], a[1], a[2]),
        }[args.phase]()
        report_phase(result)
        return
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        path = Path(tmp) / "snapshot.csv"
        t0 = time.perf_counter()
        generate(path, args.rows)
        print(
            f"generated {args.rows:,} rows, {os.path.getsize(path) / 1e6:.0f} MB, "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        pairs = []
        if not args.no_sqlite:
            pairs.append(
                (
                    "SQLite",
                    run_phase(__file__, "sqlite-floor", str(path), tmp),
                    run_phase(__file__, "sqlite-import", str(path), tmp),
                )
            )
        if not args.no_pg:
            pairs.append(
                (
                    "PostgreSQL",
                    run_phase(__file__, "pg-floor", str(path), args.pg),
                    run_phase(__file__, "pg-import", str(path), tmp, args.pg),
                )
            )
        for name, floor, ours in pairs:
            print(f"{name}:")
            print(
                f"  floor  : {floor['seconds']:7.2f} s  (cpu {floor['cpu_seconds']:6.2f} s, "
                f"peak {floor['peak_rss_mb']:6.1f} MB)"
                f"  {floor['rows']:,} rows"
            )
            print(
                f"  import : {ours['seconds']:7.2f} s  (cpu {ours['cpu_seconds']:6.2f} s, "
                f"peak {ours['peak_rss_mb']:6.1f} MB)"
                f"  {ours['rows']:,} rows, digest {ours['digest'][:16]}..."
            )
            print(
                f"  ratio  : {ours['seconds'] / floor['seconds']:.2f}x the floor (target <= 2x); "
                "peak target < 300 MB"
            )


if __name__ == "__main__":
    main()
