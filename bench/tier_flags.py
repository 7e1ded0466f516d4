"""Benchmark: flags from tiers over N accounts (default 1.5 M), bulk staff file, export.

Usage: ``python bench/tier_flags.py [--accounts 1500000] [--db sqlite|postgresql|both]``.
Prints a table of timings; see docs/benchmarks.md, "Priority flags from tiers".
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def run_one(kind: str, n: int) -> None:
    import flags_data

    with tempfile.TemporaryDirectory(prefix="bench-flags-") as tmp:
        try:
            _inst, timings = flags_data.build(kind, Path(tmp), n)
        finally:
            if kind == "postgresql":
                flags_data.drop_pg()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{kind}, {n:,} accounts (peak RSS of the whole run {rss:.0f} MB)")
    print(f"| {'step':<62} | {'seconds':>8} |")
    print(f"|{'-' * 64}|{'-' * 10}|")
    for name, seconds in timings.items():
        print(f"| {name:<62} | {seconds:8.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1_500_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for kind in kinds:
        # each engine in its own process: its peak memory is its own
        subprocess.run([sys.executable, __file__, "--accounts", str(args.accounts), "--db", kind, "--child"],
                       check=True) \
            if len(kinds) > 1 else run_one(kind, args.accounts)


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.argv.remove("--child")
        a = argparse.ArgumentParser()
        a.add_argument("--accounts", type=int)
        a.add_argument("--db")
        ns = a.parse_args()
        run_one(ns.db, ns.accounts)
    else:
        main()
