"""Protocol 2's keyed entrant order against protocol 1's account order: the same freeze, interleaved.

    PYTHONPATH=. python bench/draw_versions.py [--n 1500000] [--rounds 3]

Each round runs the pure freeze (timed in CPU seconds, steadier than wall time on a shared machine)
(validation, order, digest, salted leaves, Merkle root) of the same ``n`` entrants once per version,
alternating, each in a fresh process (``/usr/bin/time -v`` gives wall time and peak RSS), and prints
the medians, their ratio and the load average. Both start from columns sorted by account, as the
service reads them from the snapshot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import hashlib, random, sys
from draws.engine import freeze_columns
n, version = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(7)  # benchmark data only
accounts = sorted(f"{x:010d}" for x in rng.sample(range(10**10), n))
tiers = [("responsible", "ideal")[x % 2] for x in range(n)]
weights = [1 if t == "responsible" else 3 for t in tiers]
import time
start = time.process_time()  # CPU seconds: steadier than wall time on a shared machine
freeze_columns(accounts, tiers, weights, hashlib.sha256(b"bench").digest(), version)
print(f"FREEZE {time.process_time() - start:.3f}")
"""


def run(n: int, version: int) -> tuple[float, float, int]:
    """Wall seconds of the whole process, CPU seconds of the freeze itself, peak RSS in MiB."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", CHILD, str(n), str(version)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          check=True)
    wall = time.perf_counter() - start
    freeze = float(done.stdout.split("FREEZE")[1])
    rss = next(int(line.split()[-1]) for line in done.stderr.splitlines() if "Maximum resident" in line) // 1024
    return wall, freeze, rss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_500_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[int, list[tuple[float, float, int]]] = {1: [], 2: []}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for version in (1, 2):
            results[version].append(run(args.n, version))
        loads.append(os.getloadavg()[0])
    print(
        f"\nFreeze of {args.n:,} entrants, {args.rounds} interleaved rounds, load average "
        f"{min(loads):.1f}-{max(loads):.1f}\n"
    )
    print("| protocol | process wall s (median) | freeze CPU s (median) | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    medians = {}
    for version, rows in results.items():
        medians[version] = statistics.median(r[1] for r in rows)
        print(f"| {version} ({'account order' if version == 1 else 'keyed order'}) | "
              f"{statistics.median(r[0] for r in rows):.2f} | {medians[version]:.2f} | {max(r[2] for r in rows)} |")
    print(f"\nratio of the freeze, protocol 2 / protocol 1: {medians[2] / medians[1]:.2f}")


if __name__ == "__main__":
    main()
