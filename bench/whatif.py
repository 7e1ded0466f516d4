"""Rules what-if over a computed snapshot, as staff run it: ``flask snapshots what-if`` as a whole process.

    PYTHONPATH=. python bench/whatif.py --backend sqlite [--accounts 1500000] [--rounds 3]
    PYTHONPATH=. python bench/whatif.py --backend postgresql [--pg-url URL]

Builds an instance in a temporary folder (``flask db upgrade``), generates the behaviour of ``accounts``
accounts x 6 months with ``bench/rating.py``'s generator and computes the snapshot with
``flask snapshots compute`` (timed: the rating engine's own time over the same accounts, as a process,
database writes included). Then, interleaved for ``rounds`` rounds, each under ``/usr/bin/time -v``:

- ``floor``: plain code over the same stored rows: one query of (account, tier, facts) through the
  driver, each facts text split into its months, a count per tier; no rules, no Flask;
- ``what-if``: ``flask snapshots what-if 2026-10 --rules draft.json --changed changed.csv`` (Flask's
  start-up, reading the rules, re-rating every account, the costs and the changed accounts' file);
- ``engine``: ``bench/rating.py``'s engine phase over the behaviour file (the engine alone, no database).

Prints medians (wall, CPU, peak RSS), the ratios what-if / floor, what-if / engine, what-if / compute, and
the load average (the machine is shared: CPU time is the fairer comparison). Targets (issue 16): what-if
under 30 s, peak RSS under 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PERIOD = "2026-10"


def floor(url: str) -> None:
    """The plain-code floor: read every (account, tier, facts) of the snapshot and split the facts."""
    counts: dict[str, int] = {}
    months = 0
    if url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///"):])
        cursor = conn.execute("SELECT id FROM snapshots WHERE period = ? AND status = 'active'", (PERIOD,))
        snapshot_id = cursor.fetchone()[0]
        cursor = conn.execute("SELECT account, tier, facts FROM snapshot_rows WHERE snapshot_id = ? ORDER BY account",
                              (snapshot_id,))
        cursor.arraysize = 20_000
        while rows := cursor.fetchmany():
            for _account, tier, facts in rows:
                months += len(facts.split(","))
                counts[tier] = counts.get(tier, 0) + 1
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            snapshot_id = conn.execute("SELECT id FROM snapshots WHERE period = %s AND status = 'active'",
                                       (PERIOD,)).fetchone()[0]  # type: ignore[index]
            with conn.cursor(name="floor") as cursor:
                cursor.itersize = 20_000
                cursor.execute("SELECT account, tier, facts FROM snapshot_rows WHERE snapshot_id = %s ORDER BY account",
                               (snapshot_id,))
                for _account, tier, facts in cursor:
                    months += len(facts.split(","))
                    counts[tier] = counts.get(tier, 0) + 1
    print(json.dumps({"tiers": counts, "months": months}))


def draft_rules(path: Path) -> None:
    """The draft of the bench: paperless counts double, ideal needs 44 points."""
    from rewards.rating.rules import default_rules_bytes

    doc = json.loads(default_rules_bytes())
    doc["version"] = "bench-paperless-x2"
    doc["points"]["paperless"] = 2
    doc["tiers"]["ideal"]["min_points"] = 44
    path.write_text(json.dumps(doc, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--accounts", type=int, default=1_500_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-engine", action="store_true",
                        help="skip the engine-alone runs (the compute, timed once, still gives the engine's time)")
    parser.add_argument("--floor", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor(args.floor)
        return
    # Here, not at the top: the floor's own process (above) must not pay for these imports.
    from bench._pgschema import create_schema, drop_schema
    from bench.process import Run, timed

    tmp = tempfile.mkdtemp(prefix="whatif-bench-")
    schema = f"bench_whatif_{os.getpid()}"
    env = dict(os.environ, REWARDS_INSTANCE_PATH=tmp, FLASK_APP="rewards", PYTHONPATH=str(ROOT))
    if args.backend == "postgresql":
        create_schema(args.pg_url, schema)
        url = f"{args.pg_url}?options=-csearch_path%3D{schema}"
        env["REWARDS_DATABASE_URL"] = url
        floor_url = f"{args.pg_url.replace('postgresql+psycopg://', 'postgresql://')}?options=-csearch_path%3D{schema}"
    try:
        for step in (["-m", "rewards.instance", "init"], ["-m", "flask", "--app", "rewards", "db", "upgrade"]):
            subprocess.run([sys.executable, *step], check=True, cwd=ROOT, env=env, capture_output=True)
        if args.backend == "sqlite":
            floor_url = f"sqlite:///{next(Path(tmp).glob('*.sqlite3'))}"
        from bench.rating import generate

        t0 = time.perf_counter()
        (behaviour,) = generate(Path(tmp), args.accounts, 1)
        print(f"generated {args.accounts:,} accounts x 6 months in {time.perf_counter() - t0:.1f} s")
        rules = Path(tmp, "draft.json")
        draft_rules(rules)
        flask = [sys.executable, "-m", "flask", "--app", "rewards", "snapshots"]
        compute = timed([*flask, "compute", str(behaviour), "--period", PERIOD], env)
        print(compute.output.splitlines()[-1][:160])
        runs: dict[str, list[Run]] = {"floor": [], "what-if": [], "engine": []}
        for _ in range(args.rounds):
            runs["floor"].append(timed([sys.executable, __file__, "--floor", floor_url], env))
            runs["what-if"].append(timed([*flask, "what-if", PERIOD, "--rules", str(rules), "--changed",
                                          str(Path(tmp, "changed.csv"))], env))
            if not args.no_engine:
                runs["engine"].append(timed([sys.executable, str(ROOT / "bench" / "rating.py"), "--phase", "engine",
                                             str(behaviour)], env))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.backend == "postgresql":
            drop_schema(args.pg_url, schema)

    def med(name: str, i: int) -> float:
        """Median of the wall (0), CPU (1) or peak RSS (2) of a case's runs."""
        attribute = ("wall", "cpu", "rss_mib")[i]
        return statistics.median(getattr(r, attribute) for r in runs[name]) if runs[name] else float("nan")

    print(f"\nwhat-if as a process on {args.backend}: {args.accounts:,} accounts, {args.rounds} interleaved rounds "
          "(medians)\n")
    print("| command | wall s | CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    print(f"| floor: read (account, tier, facts) and split the facts | {med('floor', 0):.2f} | {med('floor', 1):.2f} "
          f"| {med('floor', 2):,.0f} |")
    print(f"| `flask snapshots what-if` | {med('what-if', 0):.2f} | {med('what-if', 1):.2f} | "
          f"{med('what-if', 2):,.0f} |")
    print(f"| rating engine alone over the behaviour file | {med('engine', 0):.2f} | {med('engine', 1):.2f} | "
          f"{med('engine', 2):,.0f} |")
    print(f"| `flask snapshots compute` (once, setup) | {compute.wall:.2f} | {compute.cpu:.2f} | {compute.rss_mib:,} |")
    w, c = med("what-if", 0), med("what-if", 1)
    print(f"\nwhat-if / floor: wall {w / med('floor', 0):.2f}x, CPU {c / med('floor', 1):.2f}x; "
          f"what-if / engine: wall {w / med('engine', 0):.2f}x, CPU {c / med('engine', 1):.2f}x; "
          f"what-if / compute: wall {w / compute.wall:.2f}x, CPU {c / compute.cpu:.2f}x")
    print(f"targets: wall < 30 s ({'met' if w < 30 else 'NOT met'}), peak < 500 MB "
          f"({'met' if med('what-if', 2) < 500 else 'NOT met'})")
    print(runs["what-if"][-1].output.splitlines()[0][:200])
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
