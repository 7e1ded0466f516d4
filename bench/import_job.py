"""A snapshot import run as a background job against the same import run by the CLI in the foreground.

    PYTHONPATH=. python bench/import_job.py [--rows 1500000] [--rounds 3] [--backend sqlite|postgresql]

SQLite in a fresh instance (``instance/``-like temporary folder, Huey's default SQLite storage), or
with ``--backend postgresql`` the production pair: a PostgreSQL schema of its own (dropped at the end)
and Huey on Redis (``REWARDS_BENCH_REDIS_URL``, database 15 by default, a queue named after this
process). Each round, interleaved:

- ``cli``: ``flask snapshots import FILE --period P`` as a process under ``/usr/bin/time -v``: wall
  seconds from start to exit and the process's peak RSS;
- ``job``: ``flask snapshots import FILE --period P --background`` (the command stores nothing but the
  job and returns), with a consumer (``flask jobs consumer --workers 1``) already running as its own
  process: wall seconds from the command's start until the job's row says ``done`` (polled every
  0.1 s), and the consumer's peak RSS (``/usr/bin/time -v`` on the consumer, read after it stops).

Then ``upload``: the same file sent to ``POST /api/v1/snapshots`` of a gunicorn server (2 sync workers,
loopback) with an API key of scope ``snapshots:write``: wall seconds from the request's start until its
202 answer (the file is stored, the job queued), ``--uploads`` times.

Targets (issue 13): the job at most 1.15x the CLI; the consumer's peak RSS under 300 MB; the upload
request answered in under 2 s for a 47 MB file.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._ports import free_port  # noqa: E402
from bench.snapshot_import import generate  # noqa: E402

PG_URL = os.environ.get("REWARDS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REWARDS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


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


def job_state(database: str) -> Callable[..., Any]:
    """A function running one SQL query (``?`` placeholders) on the bench's database: its first row."""
    if database.startswith("postgresql"):
        import psycopg

        url, _, schema = database.partition("?options=-csearch_path%3D")
        conn = psycopg.connect(url.replace("+psycopg", ""), options=f"-csearch_path={schema}", autocommit=True)
        return lambda sql, *args: conn.execute(sql.replace("?", "%s"), args).fetchone()
    lite = sqlite3.connect(database.removeprefix("sqlite:///"))
    return lambda sql, *args: lite.execute(sql, args).fetchone()


def run_job(env: dict[str, str], path: Path, period: str, database: str) -> float:
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
    query = job_state(database)
    job_id = query("SELECT max(id) FROM jobs")[0]
    while True:
        state = query("SELECT state FROM jobs WHERE id = ?", job_id)[0]
        if state == "done":
            return time.perf_counter() - start
        if state in ("failed", "cancelled"):
            raise SystemExit(f"job {job_id} ended {state}")
        time.sleep(0.1)


def time_uploads(env: dict[str, str], path: Path, periods: list[str]) -> list[float]:
    """Seconds until the 202 answer of each upload of ``path`` through a gunicorn server."""
    token = subprocess.run(
        flask("keys", "create-client", "bench-upload", "--scope", "snapshots:write"),
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.split()[0]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "rewards:create_app()"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(env, REWARDS_BIND=f"127.0.0.1:{port}", REWARDS_WORKERS="2"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        seconds = []
        for period in periods:
            with path.open("rb") as body:
                start = time.perf_counter()
                answer = requests.post(
                    f"{url}/api/v1/snapshots",
                    data=body,
                    timeout=120,
                    params={"period": period, "filename": path.name, "format": "csv"},
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
                )
                seconds.append(time.perf_counter() - start)
            if answer.status_code not in (201, 202):
                raise SystemExit(f"upload answered {answer.status_code}: {answer.text[:500]}")
        return seconds
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uploads", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="import-job-bench-"))
    path = tmp / "snapshot.csv"
    generate(path, args.rows)
    instance = tmp / "instance"
    env = dict(os.environ, REWARDS_INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT))
    subprocess.run(
        [sys.executable, "-m", "rewards.instance", "init"], check=True, cwd=ROOT, env=env, capture_output=True
    )
    database = f"sqlite:///{instance / 'rewards.sqlite3'}"
    schema = f"bench_import_job_{os.getpid()}"
    if args.backend == "postgresql":
        _pg(f"CREATE SCHEMA {schema}")
        database = f"{PG_URL}?options=-csearch_path%3D{schema}"
        env.update(REWARDS_DATABASE_URL=database, REWARDS_JOBS_URL=REDIS_URL, REWARDS_JOBS_QUEUE=schema)
    try:
        _run(args, env, path, database)
    finally:
        if args.backend == "postgresql":
            _pg(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


def _run(args: argparse.Namespace, env: dict[str, str], path: Path, database: str) -> None:
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
            job.append(run_job(env, path, f"2025-{2 * n + 2:02d}", database))
            print(f"round {n + 1}: cli {cli[-1]:.2f} s ({rss} MiB), job {job[-1]:.2f} s", flush=True)
        uploads = time_uploads(env, path, [f"2024-{n + 1:02d}" for n in range(args.uploads)])
    finally:
        os.killpg(consumer.pid, signal.SIGINT)  # time(1) ignores SIGINT itself; the consumer stops gracefully
        _out, err = consumer.communicate(timeout=120)
    consumer_rss = peak_rss_mb(err)
    print(f"\nsnapshot import of {args.rows:,} rows on {args.backend}, {args.rounds} rounds interleaved, medians\n")
    print("| run | wall s | peak RSS MiB |")
    print("|---|---:|---:|")
    if cli:
        cli_median, job_median = statistics.median(cli), statistics.median(job)
        print(f"| `flask snapshots import` (foreground) | {cli_median:.2f} | {max(cli_rss):,} |")
        print(
            f"| the same with `--background`, until the job is done | {job_median:.2f} | {consumer_rss:,} (consumer) |"
        )
    size_mb = path.stat().st_size / 2**20
    print(
        f"| `POST /api/v1/snapshots` of the {size_mb:.0f} MiB file, until its 202 answer | "
        f"{statistics.median(uploads):.2f} (max {max(uploads):.2f}) | |"
    )
    print(f"\nuploads (s): {', '.join(f'{x:.2f}' for x in uploads)}")
    if cli:
        print(f"job / CLI = {statistics.median(job) / statistics.median(cli):.2f}x")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
