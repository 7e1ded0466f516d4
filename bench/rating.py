"""Benchmark: the rating engine over N accounts x 6 months of behaviour rows (default 1.5 M x 6 = 9 M).

Generates the behaviour data into a temporary directory (sorted by account, as the engine requires),
then, each phase in its own child process so that peak memory (ru_maxrss) is the phase's own:

- ``floor``: parse the file(s) with the ``csv`` module and nothing else (open, decode, split);
- ``engine``: our reader + the engine (tiers, points and the stored facts text) + the streaming
  snapshot digest of the result, i.e. everything the compute service does before the database.

Usage: ``python bench/rating.py [--accounts 1500000] [--files 1|6] [--keep DIR]``.
Target (issue 3): engine time at most 3x the floor; peak memory under 1.5 GB. Both wall and CPU
time (user + system, of the child process) are printed: on a shared machine CPU time is the fairer
comparison, because the two phases may not get the same share of the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2026-10"
HEADER = (
    "account;month;reading_at;reading_channel;payment_at;payment_channel;"
    "registered;email_confirmed;paperless;plan;plan_kept\n"
)


def _month_variants(m: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Reading and payment texts of month ``m``: (text before the seconds, text after them)."""
    y, mo = int(m[:4]), int(m[5:])
    ny, nm = (y + 1, 1) if mo == 12 else (y, mo + 1)
    nxt = f"{ny:04d}-{nm:02d}"
    # Seconds are random, as in real data.
    readings = [
        (f"{m}-{d:02d}T{h:02d}:{mi:02d}:", f"Z;{ch}")
        for d in (3, 15, 20, 22, 24, 24, 25, 26, 28)
        for h in (4, 12, 19, 20)
        for mi in range(0, 60, 7)
        for ch in ("cabinet", "cabinet", "app", "app", "phone")
    ] + [(";", "")] * 20
    days = [(f"{m}-{d:02d}T{h:02d}:{mi:02d}:", "+05:00") for d in (20, 27, 30) for h in (9, 23)
            for mi in range(0, 60, 11)]
    days += [(f"{nxt}-{d:02d}T{h:02d}:{mi:02d}:", "Z") for d in (3, 5, 9, 10, 10, 11, 20) for h in (3, 18, 19)
             for mi in range(0, 60, 13)]
    payments = [(day, f"{off};{ch}") for day, off in days
                for ch in ("cabinet", "app", "app", "autopay", "autopay", "bank", "post")] + [(";", "")] * 20
    return readings, payments


def generate(directory: Path, accounts: int, files: int) -> list[Path]:
    """Write the behaviour rows: one file sorted by account, or one file per month."""
    sys.path.insert(0, str(ROOT))
    from rewards.rating.behaviour import window

    months = window(PERIOD, 6)
    rng = random.Random(20261001)
    paths = [
        directory / (f"behaviour-{m}.csv" if files > 1 else "behaviour.csv")
        for m in (months if files > 1 else months[:1])
    ]
    handles = [p.open("w", encoding="utf-8", newline="") for p in paths]
    for h in handles:
        h.write(HEADER)
    # Pre-built pieces per month: a few realistic variants, picked at random.
    variants = [_month_variants(m) for m in months]
    flags = [
        "1;1;1;;",
        "1;1;0;;",
        "1;0;0;;",
        "0;0;0;;",
        "1;1;1;deferral;1",
        "1;1;1;instalment;0",
        "да;да;да;нет;",
    ]
    flag_weights = [50, 15, 10, 15, 4, 3, 3]
    choice = rng.choices
    for n in range(accounts):
        account = f"{7400000000 + n * 7:012d}"
        fl = choice(flags, flag_weights, k=6)
        for i, (readings, payments) in enumerate(variants):
            r = readings[rng.randrange(len(readings))]
            p = payments[rng.randrange(len(payments))]
            r = r[0] if not r[1] else f"{r[0]}{rng.randrange(60):02d}{r[1]}"
            p = p[0] if not p[1] else f"{p[0]}{rng.randrange(60):02d}{p[1]}"
            line = f"{account};{months[i]};{r};{p};{fl[i]}\n"
            handles[i if files > 1 else 0].write(line)
    for h in handles:
        h.close()
    return paths


def phase_floor(paths: list[str]) -> dict:
    import csv

    rows = 0
    start = time.perf_counter()
    for p in paths:
        with open(p, newline="", encoding="utf-8") as f:
            for _row in csv.reader(f, delimiter=";"):
                rows += 1
    return {"seconds": time.perf_counter() - start, "rows": rows}


def phase_engine(paths: list[str]) -> dict:
    sys.path.insert(0, str(ROOT))
    from rewards.csvread import ErrorLog
    from rewards.rating.engine import Engine
    from rewards.rating.rules import default_rules
    from rewards.snapshots.digest import SnapshotDigest

    start = time.perf_counter()
    rules = default_rules()
    engine = Engine(rules, PERIOD)
    errors = ErrorLog()
    handles = [open(p, "rb") for p in paths]
    digest = SnapshotDigest()
    counts: dict[str, int] = {}
    facts_bytes = 0
    accounts = 0
    for account, tier, points, facts in engine.rate(list(zip(handles, paths, strict=True)), errors):
        digest.add(account, tier, points)
        counts[tier] = counts.get(tier, 0) + 1
        facts_bytes += len(facts)
        accounts += 1
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "accounts": accounts,
        "tiers": counts,
        "errors": errors.total,
        "digest": digest.hexdigest(),
        "facts_avg_chars": round(facts_bytes / max(accounts, 1), 1),
    }


def run_phase(name: str, paths: list[Path]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_500_000)
    parser.add_argument("--files", type=int, choices=(1, 6), default=1)
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    parser.add_argument("--phase", choices=("floor", "engine"), help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = {"floor": phase_floor, "engine": phase_engine}[args.phase](args.paths)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
        result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="bench-rating-") as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths = generate(directory, args.accounts, args.files)
        size = sum(os.path.getsize(p) for p in paths)
        print(
            f"generated {args.accounts * 6:,} rows in {len(paths)} file(s), {size / 1e6:.0f} MB, "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        floor = run_phase("floor", paths)
        engine = run_phase("engine", paths)
        for name, r in (("csv floor", floor), ("engine", engine)):
            print(
                f"{name:10s}: wall {r['seconds']:7.2f} s  cpu {r['cpu_seconds']:7.2f} s  "
                f"peak {r['peak_rss_mb']:7.1f} MB"
            )
        print(
            f"accounts  : {engine['accounts']:,} ({engine['errors']} errors), "
            f"rows {floor['rows'] - len(paths):,}"
        )
        print(
            f"ratio     : cpu {engine['cpu_seconds'] / floor['cpu_seconds']:.2f}x, wall "
            f"{engine['seconds'] / floor['seconds']:.2f}x the csv floor "
            "(target <= 3x; the machine is shared, "
            f"so CPU time is the fairer measure); peak target < 1536 MB"
        )
        print(f"tiers     : {engine['tiers']}")
        print(f"digest    : {engine['digest']}  facts ~{engine['facts_avg_chars']} chars/account")


if __name__ == "__main__":
    main()
