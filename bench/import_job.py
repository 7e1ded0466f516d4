"""A snapshot import run as a background job against the same import run by the CLI in the foreground.

    PYTHONPATH=. python bench/import_job.py [--rows 1500000] [--rounds 3]

SQLite in a fresh instance (``instance/``-like temporary folder, Huey's default SQLite storage). Each
round, interleaved:

- ``cli``: ``flask snapshots import FILE --period P`` as a process under ``/usr/bin/time -v``: wall
  seconds from start to exit and the process's peak RSS;
- ``job``: ``flask snapshots import FILE --period P --background`` (the command stores nothing but the
  job and returns), with a consumer (``flask jobs consumer --workers 1``) already running as its own
  process: wall seconds from the command's start until the job's row says ``done`` (polled every
  0.1 s), and the consumer's peak RSS (``/usr/bin/time -v`` on the consumer, read after it stops).

Target (issue 13): the job at most 1.15x the CLI; the consumer's peak RSS under 300 MB.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.snapshot_import import generate  # noqa: E402


def flask(*args: str) -> list[str]:
    """A ``flask`` command line for this checkout's app."""
    return [sys.executable, "-m", "flask", "--app", "rewards", *args]


def peak_rss_mb(stderr: str) -> int:
    """Peak RSS in MiB from ``/usr/bin/time -v`` output."""
    line = next(x for x in stderr.splitlines() if "Maximum resident set size" in x)
    return int(line.split()[-1]) // 1024


def run_cli(env: dict[str, str], path: Path, period: str) -> tuple[float, int]:
    """The foreground import: wall seconds and peak RSS."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *flask("snapshots", "import", str(path), "--period", period)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"CLI import failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return seconds, peak_rss_mb(done.stderr)


def run_job(env: dict[str, str], path: Path, period: str, database: Path) -> float:
    """The background import: wall seconds from the command's start until its job is done."""
    start = time.perf_counter()
    done = subprocess.run(
        flask("snapshots", "import", str(path), "--period", period, "--background"),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"enqueue failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    with sqlite3.connect(database) as conn:
        job_id = conn.execute("SELECT max(id) FROM jobs").fetchone()[0]
        while True:
            state = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
            if state == "done":
                return time.perf_counter() - start
            if state in ("failed", "cancelled"):
                raise SystemExit(f"job {job_id} ended {state}")
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="import-job-bench-"))
    path = tmp / "snapshot.csv"
    generate(path, args.rows)
    instance = tmp / "instance"
    env = dict(os.environ, REWARDS_INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT))
    subprocess.run(
        [sys.executable, "-m", "rewards.instance", "init"], check=True, cwd=ROOT, env=env, capture_output=True
    )
    subprocess.run(flask("db", "upgrade"), check=True, cwd=ROOT, env=env, capture_output=True)
    consumer = subprocess.Popen(
        ["/usr/bin/time", "-v", *flask("jobs", "consumer", "--workers", "1", "--no-periodic")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    cli: list[float] = []
    job: list[float] = []
    cli_rss: list[int] = []
    try:
        for n in range(args.rounds):
            seconds, rss = run_cli(env, path, f"2025-{2 * n + 1:02d}")
            cli.append(seconds)
            cli_rss.append(rss)
            job.append(run_job(env, path, f"2025-{2 * n + 2:02d}", instance / "rewards.sqlite3"))
            print(f"round {n + 1}: cli {cli[-1]:.2f} s ({rss} MiB), job {job[-1]:.2f} s", flush=True)
    finally:
        os.killpg(consumer.pid, signal.SIGINT)  # time(1) ignores SIGINT itself; the consumer stops gracefully
        _out, err = consumer.communicate(timeout=120)
    consumer_rss = peak_rss_mb(err)
    cli_median, job_median = statistics.median(cli), statistics.median(job)
    print(f"\nsnapshot import of {args.rows:,} rows on SQLite, {args.rounds} rounds interleaved, medians\n")
    print("| run | wall s | peak RSS MiB |")
    print("|---|---:|---:|")
    print(f"| `flask snapshots import` (foreground) | {cli_median:.2f} | {max(cli_rss):,} |")
    print(f"| the same with `--background`, until the job is done | {job_median:.2f} | {consumer_rss:,} (consumer) |")
    print(f"\njob / CLI = {job_median / cli_median:.2f}x; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
