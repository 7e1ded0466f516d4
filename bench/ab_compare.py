"""Two versions of the service against the same database and the bare-Flask floor, runs interleaved.

    PYTHONPATH=. python bench/ab_compare.py validate|priority --before /path/to/old/checkout [--rounds 3]
        [--workers 2,4] [--backend sqlite|postgresql] [--accounts 1500000]

On a shared machine the load changes from one minute to the next, so a "before" run and an "after" run
minutes apart compare the machine, not the code. Here, for each worker count, three gunicorn servers
run at once — bare Flask, the old checkout, this checkout — on one database built by this checkout's
bench code, and wrk (2 threads, 32 connections, 10 s) hits every server in turn, round after round;
the table gives every run (with the load average) and the medians, and each server's ratio to the bare
Flask server with the same worker count, and the CPU its gunicorn processes spent per request (from
``/proc``: the least load-dependent figure on a shared machine; Redis' and the database server's CPU
are not in it). Validate: rate limits on, Redis storage when a server answers
at 127.0.0.1:6379. The old checkout must use the same schema.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_partners_validate as bpv  # noqa: E402

from bench._ports import free_port, wait_port  # noqa: E402

SECONDS = 10


def serve(
    checkout: Path, target: str, env: dict[str, str], workers: int, conf: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**env, "PYTHONPATH": str(checkout)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(conf), "-w", str(workers), "-k", "sync",
         "-b", f"127.0.0.1:{port}", "--preload", "--access-logfile", "-", "--error-logfile", "-",
         "--log-level", "warning", target],
        cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_port(port, f"{target} in {checkout}", proc=proc, settle=0.5)
    return proc, port


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children (gunicorn: the master and its workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue  # a process gone between reads
    return total


def wrk(port: int, script: Path, pid: int | None = None) -> dict[str, float]:
    before = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{SECONDS}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    result = {"rps": rps}
    done = re.search(r"(\d+) requests in", out)
    if pid and done:
        result["cpu_us"] = (cpu_seconds(pid) - before) / int(done.group(1)) * 1e6
    for pct in ("50", "99"):
        m = re.search(pct + r"%\s+([\d.]+)(us|ms|s)\b", out)
        assert m, out
        result[f"p{pct}"] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["bad"] = int(bad.group(1)) if bad else 0
    return result


PRIORITY_LUA = """
local n = %(n)d
math.randomseed(7)
request = function()
  local path = string.format("/api/v1/accounts/%%010d/priority", math.random(0, n - 1))
  return wrk.format("GET", path, {["Authorization"] = "Bearer %(token)s"})
end
"""


def _scripts(args: argparse.Namespace, work: Path) -> tuple[Path, Path, Path]:
    """The instance folder, and the wrk scripts of the app and of bare Flask."""
    if args.endpoint == "validate":
        token, sample = bpv.prepare(args.backend, work, args.codes)
        instance = work
        app_script = bpv.lua("/api/v1/partner/codes/validate", token, sample, work / "app.lua")
        bare_script = bpv.lua("/validate", None, sample, work / "bare.lua")
    else:
        import flags_data

        instance, _ = flags_data.build(args.backend, work, args.accounts, log=lambda *a: None,
                                        register_lines=args.register)
        token = flags_data.make_token(instance)
        app_script = work / "app.lua"
        app_script.write_text(PRIORITY_LUA % {"n": args.accounts, "token": token})
        bare_script = app_script
    return instance, app_script, bare_script


def _report(args: argparse.Namespace, results: dict[str, list[dict[str, float]]]) -> None:
    """The medians of every server's rounds as a Markdown table, with the ratios to bare Flask."""
    print(f"\n{args.endpoint} on {args.backend}: medians of {args.rounds} interleaved rounds, wrk 2 threads "
          f"32 connections {SECONDS} s")
    print("| server | req/s | % of bare | p50 ms | p99 ms | p99 / bare's | CPU µs/req | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, runs in results.items():
        bare = results["bare Flask (" + label.split("(")[1]]
        bare_rps = statistics.median(x["rps"] for x in bare)
        bare_p99 = statistics.median(x["p99"] for x in bare)
        rps, p99 = statistics.median(x["rps"] for x in runs), statistics.median(x["p99"] for x in runs)
        cpu = statistics.median(x.get("cpu_us", 0.0) for x in runs)
        print(f"| {label} | {rps:,.0f} | {rps / bare_rps:.0%} | {statistics.median(x['p50'] for x in runs):.1f} | "
              f"{p99:.1f} | {p99 / bare_p99:.2f} | {cpu:,.0f} | {sum(int(x['bad']) for x in runs)} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint", choices=["validate", "priority"])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="",
                        help="worker counts, comma-separated; default: gunicorn.conf.py's (2 per core)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--accounts", type=int, default=1_500_000)
    parser.add_argument("--codes", type=int, default=200_000)
    parser.add_argument("--register", type=int, default=0,
                        help="priority: register entries with needs (issue 18) for accounts 0, 7, 14, ...")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w] or [2 * max(1, os.cpu_count() or 1)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        instance, app_script, bare_script = _scripts(args, work)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDS_")}
        env["REWARDS_INSTANCE_PATH"] = str(instance)
        empty = work / "bare.gunicorn.conf.py"
        empty.write_text("")
        servers: list[tuple[str, subprocess.Popen[bytes], int, Path]] = []
        try:
            plan = []
            for workers in counts:
                plan += [
                    (f"bare Flask ({workers} w)", ROOT, "bench._bare_app:app", workers, empty),
                    (f"before ({workers} w)", args.before.resolve(), "rewards:create_app()", workers,
                     args.before.resolve() / "gunicorn.conf.py"),
                    (f"after ({workers} w)", ROOT, "rewards:create_app()", workers, ROOT / "gunicorn.conf.py"),
                ]
            for label, checkout, target, w, conf in plan:
                proc, port = serve(checkout, target, env, w, conf)
                servers.append((label, proc, port, bare_script if target.startswith("bench") else app_script))
            for _label, _proc, port, script in servers:
                wrk(port, script)  # warm-up
            results: dict[str, list[dict[str, float]]] = {s[0]: [] for s in servers}
            for r in range(args.rounds):
                for label, proc, port, script in servers:
                    res = wrk(port, script, proc.pid)
                    results[label].append(res)
                    print(f"round {r + 1} {label:<16} {res['rps']:>7.0f} req/s  p50 {res['p50']:>7.1f} ms  "
                          f"p99 {res['p99']:>7.1f} ms  CPU {res.get('cpu_us', 0):>5.0f} us/req  non-2xx {res['bad']}  "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            for _label, proc, _port, _script in servers:
                proc.terminate()
                proc.wait(timeout=30)
        _report(args, results)


if __name__ == "__main__":
    main()
