"""Freeze + draw as staff run them: ``flask draws freeze`` and ``flask draws draw`` as whole processes.

    PYTHONPATH=. python bench/draw_cli.py --backend sqlite [--n 1500000] [--rounds 1]
    PYTHONPATH=. python bench/draw_cli.py --backend postgresql [--pg-url URL]

Builds an instance in a temporary folder (``flask db upgrade``, a snapshot of ``n`` accounts loaded
through the driver: billing's import, not timed), creates and announces an unwitnessed weighted draw
whose entropy is RFC 3797 public numbers available ``--wait`` seconds after the freeze time (so the
freeze can run at once and the draw after), then times each command under ``/usr/bin/time -v``: wall
seconds, CPU seconds (user + system) and peak RSS of the process, Flask's start-up included, which is
what a user waits for; ``--verify`` adds the auditor bundle's export and the standalone verifier run on
it. The in-process breakdown of the same steps is ``bench/draw_service.py``.

The floor (``bench/floors/freeze_draw.py``: the driver's read, the plain list's digest and storage, the
seed, a Fenwick selection) runs three times around them, on the same database: before the freeze, in
the wait for the entropy, after the draw. A draw is frozen and drawn once, at announced times, so
ours runs once per bench; the table gives the floor's median and ours against it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._pgschema import create_schema, drop_schema  # noqa: E402
from bench.process import timed  # noqa: E402


def prepare(env: dict[str, str], n: int, wait: int, backend: str) -> tuple[str, int, datetime, datetime]:
    """Migrate, load the snapshot, create and announce the draw; its id, the snapshot's, the freeze time and
    the entropy time."""
    for step in (
        ["-m", "rewards.instance", "init"],
        ["-m", "flask", "--app", "rewards", "db", "upgrade"],
        ["-m", "flask", "--app", "rewards", "keys", "generate"],
    ):
        subprocess.run([sys.executable, *step], check=True, cwd=ROOT, env=env, capture_output=True)
    os.environ.update(env)
    from bench._snapshot import load_random_snapshot
    from draws import services, wiring
    from rewards import create_app
    from rewards.db import db

    app = create_app()
    with app.app_context():
        snapshot_id = load_random_snapshot(db, backend, n)
        if backend == "postgresql":
            db.session.execute(db.text("ANALYZE snapshot_rows"))
            db.session.commit()
        now = datetime.now(UTC).replace(microsecond=0)
        freeze_at = now + timedelta(seconds=15)
        available = freeze_at + timedelta(seconds=wait)
        draft = services.DraftInput(
            name="Bench",
            kind="quarterly",
            tier_weights={"responsible": 1, "ideal": 3},
            prizes=[{"amount_kopecks": 400_000, "count": 100}],
            reserves=20,
            freeze_at=freeze_at,
            entropy={
                "type": "rfc3797",
                "sources": ["bench numbers"],
                "available_after": available.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            snapshot_period="2026-05",
            unwitnessed=True,
        )
        chains = wiring.chains()
        pid = services.create_draft(
            db.session, draft, actor="bench", chains=chains, yearly_cap_kopecks=400_000
        ).public_id
        db.session.commit()
        services.announce(db.session, pid, actor="bench", signer=wiring.signer(), box=wiring.box(), chains=chains)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return pid, snapshot_id, freeze_at, available


def sleep_until(moment: datetime) -> None:
    """Wait for a wall-clock time (the draw's own rules refuse a step before its time)."""
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--n", type=int, default=1_500_000)
    parser.add_argument("--wait", type=int, default=90, help="seconds between the freeze time and the entropy")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--verify", action="store_true",
                        help="also time `flask draws bundle` and the standalone verifier on that bundle")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="draw-cli-bench-")
    schema = f"bench_draw_cli_{os.getpid()}"
    env = dict(os.environ, REWARDS_INSTANCE_PATH=tmp, FLASK_APP="rewards", PYTHONPATH=str(ROOT))
    if args.backend == "postgresql":
        create_schema(args.pg_url, schema)
        env["REWARDS_DATABASE_URL"] = f"{args.pg_url}?options=-csearch_path%3D{schema}"
    try:
        pid, snapshot_id, freeze_at, available = prepare(env, args.n, args.wait, args.backend)
        flask = [sys.executable, "-m", "flask", "--app", "rewards", "draws"]
        numbers = Path(tmp, "numbers.txt")
        numbers.write_text("17 5 2871.45\n")
        database = (["--sqlite", str(Path(tmp, "rewards.sqlite3"))] if args.backend == "sqlite"
                    else ["--pg", args.pg_url, "--schema", schema])
        floor_command = [sys.executable, str(ROOT / "bench" / "floors" / "freeze_draw.py"), *database,
                         "--snapshot", str(snapshot_id), "--weights", "responsible=1,ideal=3"]
        floors = [timed(floor_command, env)]
        sleep_until(freeze_at)
        freeze = timed([*flask, "freeze", pid], env)
        if datetime.now(UTC) >= available:
            raise SystemExit(f"the freeze ended after the entropy time: rerun with --wait above {args.wait}")
        floors.append(timed(floor_command, env))
        sleep_until(available + timedelta(seconds=1))
        draw = timed([*flask, "draw", pid, "--numbers", str(numbers)], env)
        floors.append(timed(floor_command, env))
        steps = [("flask draws freeze", freeze), ("flask draws draw --numbers", draw)]
        if args.verify:
            bundle = Path(tmp, "bundle.json")
            steps.append(("flask draws bundle", timed([*flask, "bundle", pid, "--out", str(bundle)], env)))
            steps.append(("python -m draws.verify (auditor bundle)", timed(
                [sys.executable, "-m", "draws.verify", str(bundle), "--trust-embedded-keyset", "--accept-unwitnessed"],
                env)))
    finally:
        if args.backend == "postgresql":
            drop_schema(args.pg_url, schema)

    first_line = freeze.output.splitlines()[0]
    print(f"\nfreeze + draw as processes on {args.backend}: {args.n:,} snapshot rows; {first_line}\n")
    print("| command | wall s | CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for label, run in steps:
        print(f"| `{label}` | {run.wall:.2f} | {run.cpu:.2f} | {run.rss_mib:,} |")
    both_wall, both_cpu = freeze.wall + draw.wall, freeze.cpu + draw.cpu
    print(f"| **both** | **{both_wall:.2f}** | {both_cpu:.2f} | |")
    floor_wall = statistics.median(r.wall for r in floors)
    floor_cpu = statistics.median(r.cpu for r in floors)
    print(f"| floor (`bench/floors/freeze_draw.py`), median of {len(floors)} | {floor_wall:.2f} | {floor_cpu:.2f} | "
          f"{max(r.rss_mib for r in floors):,} |")
    print(f"\nboth / floor: **{both_wall / floor_wall:.2f}x** wall, {both_cpu / floor_cpu:.2f}x CPU "
          f"(floor runs: {', '.join(f'{r.wall:.2f}' for r in floors)} s; {floors[0].output})")
    print(f"\nload average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
