"""Validate under gunicorn vs a bare Flask endpoint served the same way, in the same run.

    PYTHONPATH=. python bench/bench_partners_validate.py [--codes 200000] [--rounds 2]
        [--backend sqlite|postgresql|both]

Both servers: gunicorn, 4 sync workers, loopback. Load: wrk, 2 threads, 32 connections, 10 s per run,
runs interleaved (bare, service, bare, service, ...) so background noise hits both; medians reported.
Each run's CPU per request (``bench/_cpu.py``) is reported beside it: the server's workers, the database
server and Redis (the service's), and wrk's; on a machine whose cores are all busy the ratio of
requests per second is about the inverse of the ratio of these sums.
The service validates real codes (a rotating set of 1,000 out of N issued) with a real partner key,
rate limits on (Redis storage when a server answers at 127.0.0.1:6379, as with several workers it
must be; a high general limit so the run measures the work, not the refusals).

wrk comes from Debian's package: installed here with apt-get when missing and running as root.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._cpu import measured, per_request  # noqa: E402 (after the path is set)
from bench._partners_db import database_settings, redis_url  # noqa: E402
from bench._ports import free_port, wait_port  # noqa: E402

# A helper running this next to others sets its own schema (BENCH_PG_SCHEMA), or the runs clobber each other.
SCHEMA = os.environ.get("BENCH_PG_SCHEMA", "bench_partners_http")
WORKERS, CONNECTIONS, SECONDS = 4, 32, 10


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, check=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed: apt-get install wrk")
    return found



def prepare(backend: str, instance: Path, n: int) -> tuple[str, list[str]]:
    """Write the instance config, build the database with N codes; returns (token, sample of codes)."""
    from sqlalchemy import text

    cfg: dict[str, object] = {
        "SECRET_KEY": "bench",
        "KEYS_DIR": str(instance / "keys"),
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": True,
        "PARTNER_API_LIMIT": "1000000/second",
    }
    url = redis_url(15)
    if url:
        cfg["RATELIMIT_STORAGE_URI"] = url
    cfg.update(database_settings(backend, instance, SCHEMA))
    (instance / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in cfg.items()))
    os.environ["REWARDS_INSTANCE_PATH"] = str(instance)
    from partners import snapshots
    from partners.models import Offer
    from partners.services import catalog, issue
    from rewards import create_app
    from rewards.apikeys.services import create_client
    from rewards.db import db, utcnow

    app = create_app()
    with app.app_context():
        db.create_all()
        # The snapshots feature owns these tables (created by create_all); one active snapshot, all 'ideal'.
        from rewards.snapshots.models import Snapshot

        snap = Snapshot(period="2026-10", status="active", source="import", source_name="bench", loaded_by="bench",
                        row_count=n, tier_counts=f'{{"ideal":{n}}}', digest="0" * 64)
        db.session.add(snap)
        db.session.flush()
        snap_id = snap.id
        db.session.commit()
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO snapshot_rows (snapshot_id, account, tier) VALUES (:s, :a, 'ideal')"),
                         [{"s": snap_id, "a": f"74{i:010d}"} for i in range(n)])
        partner = catalog.create_partner(db.session, "Gorserv", "GSRV", actor="bench")
        _client, token = create_client(db.session, "gsrv-site", ["codes:validate", "codes:redeem"], actor="bench")
        catalog.link_client(db.session, partner, "gsrv-site", actor="bench")
        now = utcnow()
        offer = catalog.create_offer(db.session, partner, title="bench", discount_kind="percent", discount_value=10,
                                     tiers=["ideal"], valid_from=now - timedelta(hours=1),
                                     valid_to=now + timedelta(days=30), actor="bench")
        db.session.commit()
        issue.issue_all(db.session, db.session.get(Offer, offer.id), snapshots.SnapshotRef(snap_id, "2026-10"),
                        actor="bench", commit=db.session.commit)
        sample = [line.split(";")[2] for chunk in issue.export_lines(db.session, db.session.get(Offer, offer.id))
                  for line in chunk.splitlines()[:1001] if not line.startswith("account;")][:1000]
        db.session.remove()
        db.engine.dispose()
    return token, sample


def lua(path: str, token: str | None, codes: list[str], out: Path) -> Path:
    items = ",".join(f'"{c}"' for c in codes)
    auth = f', ["Authorization"] = "Bearer {token}"' if token else ""
    out.write_text(
        f"local codes = {{{items}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  local body = '{\"code\":\"' .. codes[(i % #codes) + 1] .. '\"}'\n"
        f"  return wrk.format(\"POST\", \"{path}\", {{[\"Content-Type\"] = \"application/json\"{auth}}}, body)\nend\n"
    )
    return out


def serve(target: str, port: int, env: dict[str, str], conf: Path) -> subprocess.Popen[bytes]:
    # The service uses gunicorn.conf.py (its post_fork disposes the database pool); the bare app has no
    # database, so it gets the same settings on the command line instead: sync workers, preload, and the
    # access log on stdout as gunicorn.conf.py has it (stdout goes to /dev/null here, but every request
    # still formats and writes its line, as in production).
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(conf),
         "-w", str(WORKERS), "-k", "sync", "-b", f"127.0.0.1:{port}",
         "--preload", "--access-logfile", "-", "--error-logfile", "-", "--log-level", "warning", target],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_port(port, target, proc=proc, seconds=30, settle=0.5)
    return proc


def wrk(binary: str, port: int, script: Path) -> tuple[float, float, int]:
    out = subprocess.run(
        [binary, "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert m, out
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p99, int(bad.group(1)) if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    binary = ensure_wrk()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"validate vs bare Flask: gunicorn {WORKERS} sync workers, wrk {CONNECTIONS} connections, {SECONDS} s, "
          f"{args.rounds} interleaved rounds, {args.codes:,} codes; rate-limit storage: {redis_url(15) or 'memory://'}")
    print(
        f"{'backend':<11} {'bare rps':>9} {'bare p99':>9} {'validate rps':>13} {'p99 ms':>7} {'ratio':>6} "
        f"{'non-2xx':>8}"
    )
    cpu_rows: list[str] = []
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            instance = Path(tmp)
            token, sample = prepare(backend, instance, args.codes)
            env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDS_")}
            env.update(REWARDS_INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT))
            bare_script = lua("/validate", None, sample, instance / "bare.lua")
            app_script = lua("/api/v1/partner/codes/validate", token, sample, instance / "app.lua")
            bare_port, app_port = free_port(), free_port()
            empty = instance / "bare.gunicorn.conf.py"  # gunicorn would read ./gunicorn.conf.py otherwise
            empty.write_text("")
            bare = serve("bench._bare_app:app", bare_port, env, conf=empty)
            app = serve("rewards:create_app()", app_port, env, conf=ROOT / "gunicorn.conf.py")
            try:
                wrk(binary, app_port, app_script)  # warm-up: connections, caches
                results: dict[str, list[tuple[float, float, int]]] = {"bare": [], "app": []}
                cpu: dict[str, list[dict[str, float]]] = {"bare": [], "app": []}
                for _ in range(args.rounds):
                    for name, server, port, script in (("bare", bare, bare_port, bare_script),
                                                       ("app", app, app_port, app_script)):
                        result, seconds = measured(server, lambda p=port, s=script: wrk(binary, p, s))
                        results[name].append(result)
                        cpu[name].append(per_request(seconds, result[0] * SECONDS))
            finally:
                for proc in (bare, app):
                    proc.terminate()
                    proc.wait(timeout=15)
            b_rps = statistics.median(r[0] for r in results["bare"])
            b_p99 = statistics.median(r[1] for r in results["bare"])
            a_rps = statistics.median(r[0] for r in results["app"])
            a_p99 = statistics.median(r[1] for r in results["app"])
            bad = sum(r[2] for r in results["app"])
            print(
                f"{backend:<11} {b_rps:>9,.0f} {b_p99:>9.1f} {a_rps:>13,.0f} {a_p99:>7.1f} {a_rps / b_rps:>6.0%} "
                f"{bad:>8}",
                flush=True,
            )
            cpu_rows.append(cpu_line(backend, cpu))
    print("\nCPU per request, µs (medians): server workers, database server, Redis, wrk; their sum")
    print(f"{'backend':<11} {'bare':>27} {'validate':>34} {'ratio':>6}")
    print("\n".join(cpu_rows))


def cpu_line(backend: str, cpu: dict[str, list[dict[str, float]]]) -> str:
    """One backend's medians of CPU per request: bare's workers + wrk, the service's four, the ratio."""
    med = {name: {k: statistics.median(run[k] for run in runs) for k in runs[0]} for name, runs in cpu.items()}
    bare = med["bare"]["server"] + med["bare"]["client"]
    app = sum(med["app"][k] for k in ("server", "database", "redis", "client"))
    b, a = med["bare"], med["app"]
    return (f"{backend:<11} {b['server']:>7.0f} + {b['client']:>4.0f} = {bare:>6.0f}    "
            f"{a['server']:>6.0f} + {a['database']:>4.0f} + {a['redis']:>3.0f} + {a['client']:>4.0f} = {app:>6.0f} "
            f"{app / bare:>6.2f}")


if __name__ == "__main__":
    main()
