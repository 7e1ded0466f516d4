"""Redeem latency with webhooks on vs off, interleaved in one run (short: about a minute).

    PYTHONPATH=. python bench/redeem_webhooks.py [--backend sqlite|postgresql|both] [--rounds 6] [--batch 150]
                                                 [--queue auto|sqlite] [--http [--connections 4]]

Two partners in one database, each with its own key and codes: "off" has no webhook endpoint, "on" has
one (so each of its redemptions also writes the outbox message, and wakes the thread that queues the
send task after the commit: on the Redis queue when a server answers at 127.0.0.1:6379, else the
SQLite queue file). Nothing sends meanwhile (no consumer): the bench measures what the API call pays.
Each round redeems a batch through each partner in turn (off, on, off, on, ...; the order flips each
round) with the Flask test client in this process, so background load hits both alike; the medians,
p90 and p99 of the per-call times, their ratio and the CPU of this process per call are printed, with
the load average before and after. Without an HTTP server in front the fixed costs are smaller, so the
ratio is the pessimistic one.

``--http`` measures what a partner site waits for instead: the same two partners served by gunicorn with
the project's ``gunicorn.conf.py`` (its worker count), rate limits on (Redis when it answers), and
``--connections`` client threads redeeming one partner's batch together, then the other's (the order flips
each round); every answer's latency is kept, so the percentiles are exact. gunicorn's sync workers close
the connection after each answer, so each latency includes a loopback connect, as for a partner's client.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._partners_db import database_settings, redis_url  # noqa: E402 (after the path is set)
from bench._ports import free_port, wait_port  # noqa: E402

SCHEMA = "bench_redeem_webhooks"



def _setup(app: Any, codes_each: int) -> dict[str, tuple[str, list[str]]]:
    from partners import codes as codecore
    from partners.models import Partner
    from partners.services import catalog, issue
    from partners.services import webhooks as hooks
    from rewards.apikeys.services import create_client
    from rewards.db import db, utcnow

    out: dict[str, tuple[str, list[str]]] = {}
    with app.app_context():
        db.create_all()
        for name, prefix in (("off", "BNX"), ("on", "BWH")):
            _client, token = create_client(db.session, f"{name}-site", list(catalog.PARTNER_SCOPES), actor="bench")
            partner: Partner = catalog.create_partner(db.session, f"bench-{name}", prefix, actor="bench")
            catalog.link_client(db.session, partner, f"{name}-site", actor="bench")
            now = utcnow()
            offer = catalog.create_offer(db.session, partner, title="bench", discount_kind="percent",
                                         discount_value=5, tiers=["ideal"], valid_from=now - timedelta(hours=1),
                                         valid_to=now + timedelta(days=30), actor="bench")
            if name == "on":
                hooks.create_endpoint(db.session, partner.id, "https://partner.example/hooks", actor="bench")
            values = codecore.random_values(codes_each)
            at = issue._time_text(db.session, now)
            issue.insert_codes(db.session, [(offer.id, v, f"{i:010d}", "ideal", None, None, at, "issued", 0)
                                            for i, v in enumerate(values)])
            db.session.commit()
            out[name] = (token, [codecore.format_code(prefix, v) for v in values])
    return out


def _batch(client: Any, token: str, codes: list[str], tag: str, cpu: list[float] | None = None) -> list[float]:
    times = []
    headers = {"Authorization": f"Bearer {token}"}
    for i, code in enumerate(codes):
        started, cpu_started = time.perf_counter(), time.process_time()
        r = client.post("/api/v1/partner/redemptions", json={"code": code, "order_ref": f"{tag}-{i}"},
                        headers={**headers, "Idempotency-Key": f"{tag}-{i}"})
        times.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - cpu_started)
        if r.status_code != 201:
            raise SystemExit(f"redeem answered {r.status_code}: {r.get_data(as_text=True)[:200]}")
    return times


def _settings(backend: str, folder: Path, queue_kind: str) -> dict[str, Any]:
    queue = (redis_url(14) if queue_kind == "auto" else None) or f"sqlite:///{folder / 'queue.sqlite3'}"
    return {"SECRET_KEY": "bench", "KEYS_DIR": str(folder / "keys"), "LOG_LEVEL": "WARNING",
            "RATELIMIT_ENABLED": False, "JOBS_URL": queue, "JOBS_QUEUE": f"bench-{os.getpid()}",
            "JOBS_DIR": str(folder / "jobs"), **database_settings(backend, folder, SCHEMA)}


def _report(backend: str, queue: str, times: dict[str, list[float]], cpu: dict[str, list[float]] | None,
            load_before: tuple[float, ...], how: str) -> None:
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    cuts = {k: statistics.quantiles(v, n=100) for k, v in times.items()}
    print(f"{backend}: queue {queue.split(':')[0]}, {len(times['off'])} redemptions each, {how}")
    print(f"  median  off {off * 1000:.2f} ms   on {on * 1000:.2f} ms   on/off {on / off:.3f}")
    for name, at in (("p90", 89), ("p99", 98)):
        a, b = cuts["off"][at], cuts["on"][at]
        print(f"  {name}     off {a * 1000:.2f} ms   on {b * 1000:.2f} ms   on/off {b / a:.3f}")
    if cpu:
        c_off, c_on = statistics.median(cpu["off"]), statistics.median(cpu["on"])
        print(f"  CPU of this process per call (median)  off {c_off * 1000:.2f} ms   on {c_on * 1000:.2f} ms   "
              f"on/off {c_on / c_off:.3f}")
    print(f"  load average before {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)", flush=True)


def _http_batch(port: int, token: str, codes: list[str], tag: str, connections: int) -> list[float]:
    """``connections`` threads redeem ``codes`` together; every latency (any failure ends the bench)."""
    times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    shared = iter(enumerate(codes))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while True:
            with lock:
                i, code = next(shared, (-1, ""))
            if i < 0:
                break
            body = json.dumps({"code": code, "order_ref": f"{tag}-{i}"})
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/partner/redemptions", body,
                             {**headers, "Idempotency-Key": f"{tag}-{i}"})
                answer = conn.getresponse()
                text = answer.read()
            except (OSError, http.client.HTTPException) as exc:  # counted, never a silently thinner sample
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                continue
            took = time.perf_counter() - started
            with lock:
                times.append(took)
                if answer.status != 201:
                    failures.append(f"{answer.status}: {text[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"redeem answered {failures[0]} ({len(failures)} failures)")
    return times


def run_http(backend: str, rounds: int, batch: int, queue_kind: str, connections: int) -> None:
    """The two partners through gunicorn (``gunicorn.conf.py``), ``connections`` clients at a time."""
    from rewards import create_app
    from rewards.db import db

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["REWARDS_INSTANCE_PATH"] = str(folder)
        cfg = _settings(backend, folder, queue_kind)
        limits = redis_url(15)
        cfg.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=limits or "memory://",
                   PARTNER_API_LIMIT="1000000/second")
        (folder / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in cfg.items()))
        app = create_app(cfg)
        made = _setup(app, rounds * batch + batch)
        with app.app_context():
            db.engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDS_")}
        env.update(REWARDS_INSTANCE_PATH=str(folder), PYTHONPATH=str(ROOT))
        port = free_port()
        log = (folder / "web.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
                                 "--access-logfile", "/dev/null", "rewards:create_app()"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(port, proc=proc)
            load_before = os.getloadavg()
            for name in ("off", "on"):  # warm every worker on both paths
                _http_batch(port, made[name][0], made[name][1][-batch:], f"warm-{name}", connections)
            times: dict[str, list[float]] = {"off": [], "on": []}
            for r in range(rounds):
                for name in ("off", "on") if r % 2 == 0 else ("on", "off"):
                    token, codes = made[name]
                    times[name] += _http_batch(port, token, codes[r * batch:(r + 1) * batch], f"{name}-{r}",
                                               connections)
            _report(backend, cfg["JOBS_URL"], times, None, load_before,
                    f"through gunicorn, {connections} connections, rate limits on "
                    f"({'Redis' if limits else 'memory'}), interleaved")
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            log.close()
        if cfg["JOBS_URL"].startswith("redis"):
            from rewards.jobs import store

            store.instance(app).flush()


def run(backend: str, rounds: int, batch: int, queue_kind: str = "auto") -> None:
    from rewards import create_app

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["REWARDS_INSTANCE_PATH"] = str(folder)  # no instance config of a checkout
        cfg = _settings(backend, folder, queue_kind)
        queue = cfg["JOBS_URL"]
        load_before = os.getloadavg()
        app = create_app(cfg)
        made = _setup(app, rounds * batch + batch)
        client = app.test_client()
        _batch(client, made["off"][0], made["off"][1][-batch // 3:], "warm-off")  # warm both paths
        _batch(client, made["on"][0], made["on"][1][-batch // 3:], "warm-on")
        times: dict[str, list[float]] = {"off": [], "on": []}
        cpu: dict[str, list[float]] = {"off": [], "on": []}
        for r in range(rounds):
            for name in ("off", "on") if r % 2 == 0 else ("on", "off"):
                token, codes = made[name]
                times[name] += _batch(client, token, codes[r * batch:(r + 1) * batch], f"{name}-{r}", cpu[name])
        _report(backend, queue, times, cpu, load_before, "interleaved, in process")
        if queue.startswith("redis"):
            from rewards.jobs import store

            store.instance(app).flush()  # the bench's queued send tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch", type=int, default=150)
    parser.add_argument("--queue", choices=("auto", "sqlite"), default="auto",
                        help="auto: Redis when it answers, else the SQLite queue file; sqlite: the file")
    parser.add_argument("--http", action="store_true", help="through gunicorn (gunicorn.conf.py), over HTTP")
    parser.add_argument("--connections", type=int, default=4, help="with --http: concurrent clients")
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        if args.http:
            run_http(backend, args.rounds, args.batch, args.queue, args.connections)
        else:
            run(backend, args.rounds, args.batch, args.queue)


if __name__ == "__main__":
    main()
