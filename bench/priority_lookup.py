"""Benchmark: the call-centre look-up ``GET /api/v1/accounts/{account}/priority`` over HTTP.

Builds a database of N accounts (default 1.5 M: two snapshots, their tier flags, 20,000 staff
flags; see ``bench/flags_data.py``), starts gunicorn with ``--workers`` sync workers (default as
``gunicorn.conf.py``: 2 per core) on loopback, and drives it with 32 concurrent clients asking for random accounts;
with wrk, a bare Flask endpoint of the same shape served the same way runs interleaved (the floor):

- ``wrk`` (installed with apt-get when missing and running as root), 2 threads, 32 connections;
- otherwise a Python load generator: 32 threads, ``http.client``, one connection per request
  (gunicorn's sync workers close the connection after each answer anyway);
- then, open loop: the same 32 Python clients on a fixed schedule at ``--rates`` requests per
  second in all (a call centre's agents do not fire the next look-up the instant one returns).

In a closed loop, 32 clients always have 32 requests outstanding, so latency is about
32 / throughput (Little's law): p99 under 20 ms there needs well over 1,600 req/s.

Each measured run lasts ``--seconds``; ``--runs`` runs after a warm-up; the table shows every run.
Target (issue 6): p99 under 20 ms. Usage::

    python bench/priority_lookup.py [--accounts 1500000] [--db sqlite|postgresql|both] [--seconds 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cpu import measured, per_request  # noqa: E402 (after the path is set)
from _ports import wait_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("BENCH_PORT", "8765"))
CLIENTS = 32

WRK_SCRIPT = """
local n = %(n)d
local token = "%(token)s"
math.randomseed(%(seed)d)
request = function()
  local path = string.format("/api/v1/accounts/%%010d/priority", math.random(0, n - 1))
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("JSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"errors\\": %%d, \\"non2xx\\": %%d, " ..
    "\\"p50\\": %%f, \\"p90\\": %%f, \\"p99\\": %%f, \\"max\\": %%f}\\n",
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def ensure_wrk() -> str | None:
    """The wrk binary, installing it with apt-get when we are root; None when unavailable."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or os.environ.get("BENCH_NO_WRK"):
        return found if not os.environ.get("BENCH_NO_WRK") else None
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


def start_gunicorn(inst: Path, workers: int, port: int = PORT, target: str = "rewards:create_app()",
                   conf: Path | None = None) -> subprocess.Popen[bytes]:
    # --bind/--workers on the command line: REWARDS_BIND/REWARDS_WORKERS, which gunicorn.conf.py reads,
    # are refused by the app's own check of REWARDS_* variables.
    env = {k: v for k, v in os.environ.items() if k not in ("REWARDS_BIND", "REWARDS_WORKERS")}
    env.update(REWARDS_INSTANCE_PATH=str(inst), PYTHONPATH=str(ROOT))
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "-c", str(conf or ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "sync", "--preload", "--access-logfile", "-", target],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    wait_port(port)
    return proc


def run_wrk(wrk: str, token: str, n: int, seconds: int, workdir: Path, seed: int, port: int = PORT) -> dict[str, float]:
    script = workdir / "lookup.lua"
    script.write_text(WRK_SCRIPT % {"n": n, "token": token, "seed": seed}, encoding="utf-8")
    out = subprocess.run(
        [wrk, "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    data = json.loads(line[5:])
    data["rps"] = data["requests"] / data["seconds"]
    return data


def run_python(token: str, n: int, seconds: int, seed: int, rate: float = 0) -> dict[str, float]:
    """32 client threads. ``rate`` 0: closed loop (each sends its next request when the answer is in).
    ``rate`` > 0: open loop, ``rate`` requests per second in all, each client on a fixed schedule;
    latency counts from the scheduled send time, so a slow answer also delays the ones queued behind
    it (no coordinated omission)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        rng = random.Random(seed * 100 + k)
        mine: list[float] = []
        bad = 0
        headers = {"Authorization": f"Bearer {token}"}
        interval = CLIENTS / rate if rate else 0.0
        scheduled = time.perf_counter() + rng.random() * interval
        while time.perf_counter() < stop:
            path = f"/api/v1/accounts/{rng.randrange(n):010d}/priority"
            if interval:
                pause = scheduled - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                t0 = scheduled
                scheduled += interval
            else:
                t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status != 200:
                    bad += 1
            except OSError:
                bad += 1
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed, "errors": errors[0],
            "non2xx": 0, "p50": q[49] * 1000, "p90": q[89] * 1000, "p99": q[98] * 1000, "max": max(latencies) * 1000}


def with_cpu(server: subprocess.Popen[bytes], run: Callable[[], dict[str, float]]) -> dict[str, float]:
    """``run()``'s result with the CPU per request of the server's workers, the database server,
    Redis and the load generator (wrk; a Python client's threads are not counted), in µs."""
    result, seconds = measured(server, run)
    cpu = per_request(seconds, result["requests"])
    result.update({f"cpu_{k}": v for k, v in cpu.items()})
    return result


def check_answer(token: str) -> dict[str, object]:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    conn.request("GET", "/api/v1/accounts/0000000003/priority", headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 200, body
    return body


def bench(kind: str, n: int, seconds: int, runs: int, rates: list[float], workers: int = 2,
          bare: bool = True) -> list[tuple[str, str, dict[str, float]]]:
    import flags_data

    rows: list[tuple[str, str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-lookup-") as tmp:
        workdir = Path(tmp)
        print(f"[{kind}] building {n:,} accounts ...", flush=True)
        inst, timings = flags_data.build(kind, workdir, n)
        for name, sec in timings.items():
            print(f"  {name}: {sec:.2f} s")
        token = flags_data.make_token(inst)
        proc = start_gunicorn(inst, workers)
        bare_proc = None
        wrk = ensure_wrk()
        if bare and wrk:
            # The floor: a bare Flask endpoint of the same shape, served the same way, runs interleaved.
            empty = workdir / "bare.gunicorn.conf.py"  # gunicorn would read ./gunicorn.conf.py otherwise
            empty.write_text("")
            bare_proc = start_gunicorn(inst, workers, port=PORT + 1, target="bench._bare_app:app", conf=empty)
        try:
            print("  sample answer:", json.dumps(check_answer(token), ensure_ascii=False))
            tool = "wrk" if wrk else "python"
            warm = (lambda s: run_wrk(wrk, token, n, s, workdir, 1)) if wrk else (lambda s: run_python(token, n, s, 1))
            warm(min(5, seconds))
            for i in range(runs):
                if bare_proc is not None:
                    result = with_cpu(bare_proc, lambda seed=i + 2: run_wrk(wrk, token, n, seconds, workdir, seed,
                                                                              port=PORT + 1))
                    rows.append((kind, f"bare Flask, {workers} workers, wrk closed loop", result))
                    print(f"  bare run {i + 1}: {result['rps']:.0f} req/s, p99 {result['p99']:.1f} ms", flush=True)
                result = with_cpu(proc, lambda seed=i + 2: (
                    run_wrk(wrk, token, n, seconds, workdir, seed) if wrk else run_python(token, n, seconds, seed)
                ))
                rows.append((kind, f"{tool}, {workers} workers, closed loop", result))
                print(f"  run {i + 1}: {result['rps']:.0f} req/s, p99 {result['p99']:.1f} ms", flush=True)
            for rate in rates:
                result = run_python(token, n, seconds, 50 + int(rate), rate=rate)
                rows.append((kind, f"python, open loop {rate:.0f} req/s", result))
                print(f"  paced {rate:.0f} req/s: p99 {result['p99']:.1f} ms", flush=True)
        finally:
            for p in (proc, bare_proc):
                if p is not None:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=30)
            if kind == "postgresql":
                flags_data.drop_pg()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_500_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rates", default="100,200,300", help="open-loop total rates (req/s), comma-separated")
    parser.add_argument("--workers", type=int, default=2 * max(1, os.cpu_count() or 1),
                        help="gunicorn sync workers, service and bare floor (default: gunicorn.conf.py's, 2 per core)")
    parser.add_argument("--no-bare", action="store_true", help="skip the interleaved bare-Flask floor runs")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    rows = []
    for kind in kinds:
        rows += bench(kind, args.accounts, args.seconds, args.runs, [float(r) for r in args.rates.split(",") if r],
                      workers=args.workers, bare=not args.no_bare)
    print(
        f"\nPriority look-up, {args.accounts:,} accounts, gunicorn {args.workers} sync workers, {CLIENTS} concurrent "
        "clients, "
        f"{args.seconds} s per run, loopback, {os.cpu_count()} cores"
    )
    print("| database | load | requests | req/s | errors | p50 ms | p90 ms | p99 ms | max ms "
          "| CPU µs/req: workers + database + Redis + wrk |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for kind, tool, r in rows:
        cpu = ("{cpu_server:.0f} + {cpu_database:.0f} + {cpu_redis:.0f} + {cpu_client:.0f}".format(**r)
               if "cpu_server" in r else "")
        print(f"| {kind} | {tool} | {r['requests']:,} | {r['rps']:.0f} | {int(r['errors']) + int(r['non2xx'])} | "
              f"{r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | {cpu} |")


if __name__ == "__main__":
    main()
