"""Benchmark: parsing a 1.5 M-row tier snapshot file (no database).

Generates the file into a temporary directory (semicolon, Russian header, tiers as Russian names and
codes, points; shuffled accounts, as billing exports come), then, each phase in its own child process
(so that the peak memory, ru_maxrss, is the phase's own):

- ``floor``: the ``csv`` module over the decoded file, nothing else;
- ``parser``: ``read_snapshot_csv`` (decoding, dialect, header, every row checked, duplicates
  detected), i.e. everything the import does before the database.

Usage: ``python bench/snapshot_parse.py [--rows 1500000] [--encoding utf-8|cp1251]``.
The import as a whole (with the database) is measured by ``bench/snapshot_import.py``.
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


def generate(path: Path, rows: int, encoding: str) -> None:
    rng = random.Random(1500000)
    # Accounts in a scrambled order without holding a list (the parent's memory would show in the
    # children's ru_maxrss, which counts the pages shared before exec): n -> n * step mod rows.
    step = 1_000_003
    while math.gcd(step, rows) != 1:
        step += 2
    accounts = ((n * step) % rows for n in range(rows))
    labels = ["идеальный", "Ответственный", "перспективный", "начинающий", "ideal", "responsible"]
    weights = [10, 25, 30, 25, 5, 5]
    with path.open("w", encoding=encoding, newline="") as f:
        f.write("Лицевой счёт;Рейтинг;Баллы\r\n")
        for n in accounts:
            f.write(f"{7400000000 + n * 7:012d};{rng.choices(labels, weights)[0]};{rng.randrange(49)}\r\n")


def phase_floor(path: str, encoding: str) -> dict:
    import csv

    start = time.perf_counter()
    rows = 0
    with open(path, newline="", encoding=encoding) as f:
        for _row in csv.reader(f, delimiter=";"):
            rows += 1
    return {"seconds": time.perf_counter() - start, "rows": rows - 1}


def phase_parser(path: str, encoding: str) -> dict:
    from rewards.snapshots.csvfile import SnapshotReport, read_snapshot_csv

    start = time.perf_counter()
    report = SnapshotReport()
    rows = 0
    with open(path, "rb") as f:
        for _row in read_snapshot_csv(f, report, path):
            rows += 1
    return {
        "seconds": time.perf_counter() - start,
        "rows": rows,
        "errors": report.errors.total,
        "encoding": report.encoding,
        "tiers": report.tier_counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--encoding", default="utf-8", choices=("utf-8", "cp1251"))
    parser.add_argument("--phase", choices=("floor", "parser"), help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = {"floor": phase_floor, "parser": phase_parser}[args.phase](args.path, args.encoding)
        report_phase(result)
        return
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        path = Path(tmp) / "snapshot.csv"
        t0 = time.perf_counter()
        generate(path, args.rows, args.encoding)
        print(
            f"generated {args.rows:,} rows ({args.encoding}), {os.path.getsize(path) / 1e6:.0f} MB, "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        floor = run_phase(__file__, "floor", "--encoding", args.encoding, str(path))
        ours = run_phase(__file__, "parser", "--encoding", args.encoding, str(path))
        for name, r in (("csv floor", floor), ("parser", ours)):
            print(
                f"{name:10s}: wall {r['seconds']:6.2f} s  cpu {r['cpu_seconds']:6.2f} s  "
                f"peak {r['peak_rss_mb']:6.1f} MB"
            )
        print(f"rows      : {ours['rows']:,} ({ours['errors']} errors, {ours['encoding']}); {ours['tiers']}")
        print(
            f"ratio     : cpu {ours['cpu_seconds'] / floor['cpu_seconds']:.2f}x, wall "
            f"{ours['seconds'] / floor['seconds']:.2f}x the csv floor"
        )


if __name__ == "__main__":
    main()
