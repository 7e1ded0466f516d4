"""A partner redeem's own cost in process: CPU, wall and SQL statements per redeem (issue 13 item 5).

    PYTHONPATH=. python bench/redeem_cpu.py [--base CHECKOUT] [--rounds 3] [--redeems 1000] [--warmup 200]
                                            [--count 100] [--ratelimit]

PostgreSQL (REWARDS_BENCH_PG_URL, a schema per run). Each run is a process of its own: one partner, its
key and an offer with fresh codes, Redis as the job queue when one answers (as served), rate limits off
unless ``--ratelimit`` (then on Redis); ``--warmup`` redeems, then ``--redeems`` timed ones with the
Flask test client (every hook and view as under gunicorn, without the HTTP server): the process's CPU
time (user + system) and the wall time per redeem. Then ``--count`` more redeems on connections that ask
the server to log every statement (``log_statement=all`` as a connection option; the server log must
be readable, ``--log``): BEGIN, COMMIT, SET and the event log's chaining count as statements, as they
are round trips. With ``--base`` the runs alternate between that checkout (e.g. a ``git archive`` of
main) and this one, round by round, the order flipping each round, so background load hits both alike.
Prints each run, the medians per code and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
LOG_OPTION = "-clog_statement=all -capplication_name=redeem_cpu"
PG_URL = os.environ.get("REWARDS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")



def _app(folder: Path, schema: str, ratelimit: bool, options: str = "") -> Any:
    from bench._partners_db import database_settings, redis_url
    from rewards import create_app

    queue = redis_url(13) or f"sqlite:///{folder / 'queue.sqlite3'}"
    db_cfg = database_settings("postgresql", folder, schema) if not options else {
        "DATABASE_URL": PG_URL,
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"{options} -csearch_path={schema}"}}}
    cfg = {"SECRET_KEY": "bench", "KEYS_DIR": str(folder / "keys"), "LOG_LEVEL": "WARNING",
           "RATELIMIT_ENABLED": ratelimit, "JOBS_URL": queue, "JOBS_QUEUE": f"bench-cpu-{os.getpid()}",
           "JOBS_DIR": str(folder / "jobs"), **db_cfg}
    if ratelimit and queue.startswith("redis"):
        cfg["RATELIMIT_STORAGE_URI"] = queue
    return create_app(cfg)


def _setup(app: Any, n: int) -> tuple[str, list[str]]:
    from partners import codes as codecore
    from partners.services import catalog, issue
    from rewards.apikeys.services import create_client
    from rewards.db import db, utcnow

    with app.app_context():
        db.create_all()
        _client, token = create_client(db.session, "cpu-site", list(catalog.PARTNER_SCOPES), actor="bench")
        partner = catalog.create_partner(db.session, "bench-cpu", "BCPV", actor="bench")
        catalog.link_client(db.session, partner, "cpu-site", actor="bench")
        now = utcnow()
        offer = catalog.create_offer(db.session, partner, title="bench", discount_kind="percent", discount_value=5,
                                     tiers=["ideal"], valid_from=now - timedelta(hours=1),
                                     valid_to=now + timedelta(days=30), actor="bench")
        values = codecore.random_values(n)
        at = issue._time_text(db.session, now)
        issue.insert_codes(db.session, [(offer.id, v, f"{i:010d}", "ideal", None, None, at, "issued", 0)
                                        for i, v in enumerate(values)])
        db.session.commit()
        db.engine.dispose()
    return token, [codecore.format_code("BCPV", v) for v in values]


def _redeem(client: Any, token: str, codes: list[str], tag: str) -> None:
    for i, code in enumerate(codes):
        r = client.post("/api/v1/partner/redemptions", json={"code": code, "order_ref": f"{tag}-{i}"},
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"{tag}-{i}"})
        if r.status_code != 201:
            raise SystemExit(f"redeem answered {r.status_code}: {r.get_data(as_text=True)[:200]}")


def child(args: argparse.Namespace) -> None:
    """One run: prints a JSON line with the figures."""
    schema = f"bench_redeem_cpu_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["REWARDS_INSTANCE_PATH"] = str(folder)
        app = _app(folder, schema, args.ratelimit)
        token, codes = _setup(app, args.warmup + args.redeems + args.count)
        client = app.test_client()
        _redeem(client, token, codes[:args.warmup], "warm")
        timed = codes[args.warmup:args.warmup + args.redeems]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        _redeem(client, token, timed, "timed")
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        out: dict[str, Any] = {"cpu_ms": cpu * 1000 / len(timed), "wall_ms": wall * 1000 / len(timed)}
        if args.count:
            from rewards.db import db

            with app.app_context():
                db.engine.dispose()
            logged_app = _app(folder, schema, args.ratelimit, LOG_OPTION)
            logged = logged_app.test_client()
            rest = codes[args.warmup + args.redeems:]
            _redeem(logged, token, rest[:10], "logwarm")  # connections and prepared statements
            time.sleep(0.3)
            start = args.log.stat().st_size
            _redeem(logged, token, rest[10:], "counted")
            time.sleep(0.5)  # the server writes its log asynchronously
            with args.log.open("rb") as f:
                f.seek(start)
                lines = f.read().decode("utf-8", "replace").splitlines()
            statements = [line.split("LOG:  ", 1)[1] for line in lines
                          if "LOG:  " in line and ("statement: " in line or "execute " in line)]
            n = len(rest) - 10
            out["statements"] = len(statements) / n
            out["kinds"] = {k[:110]: c / n for k, c in Counter(
                s.split(": ", 1)[-1] for s in statements).most_common()}
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_URL)
        with engine.begin() as conn:  # the run's schema goes with it
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="another checkout to alternate with (e.g. git archive of main)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redeems", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--count", type=int, default=100, help="redeems whose statements are counted (0: none)")
    parser.add_argument("--ratelimit", action="store_true", help="rate limits on (Redis), as served")
    parser.add_argument("--log", type=Path, default=Path("/var/log/postgresql/postgresql-15-main.log"))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        sys.path[:0] = [str(args.child), str(BENCH)]
        child(args)
        return
    roots = {"this": BENCH} | ({"base": args.base.resolve()} if args.base else {})
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in roots}
    load = [os.getloadavg()]
    for r in range(args.rounds):
        for name in list(roots) if r % 2 == 0 else list(reversed(roots)):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(roots[name]),
                   "--redeems", str(args.redeems), "--warmup", str(args.warmup), "--count", str(args.count),
                   "--log", str(args.log)] + (["--ratelimit"] if args.ratelimit else [])
            env = {**os.environ, "PYTHONPATH": str(roots[name])}
            done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=roots[name])
            res = json.loads(done.stdout.strip().splitlines()[-1])
            results[name].append(res)
            load.append(os.getloadavg())
            print(f"round {r + 1} {name}: CPU {res['cpu_ms']:.2f} ms, wall {res['wall_ms']:.2f} ms per redeem"
                  + (f", {res['statements']:.2f} statements" if "statements" in res else ""), flush=True)
    for name, runs in results.items():
        cpu = statistics.median(x["cpu_ms"] for x in runs)
        wall = statistics.median(x["wall_ms"] for x in runs)
        print(f"{name} ({roots[name]}): median CPU {cpu:.2f} ms, wall {wall:.2f} ms per redeem")
        if "kinds" in runs[-1]:
            print(f"  statements per redeem {runs[-1]['statements']:.2f} (last run):")
            for text_, per in runs[-1]["kinds"].items():
                print(f"    {per:5.2f}  {text_}")
    print("load average (1 min) per run: " + " ".join(f"{x[0]:.2f}" for x in load) + " (2 cores)")


if __name__ == "__main__":
    main()
