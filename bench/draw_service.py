"""Benchmark of freeze + draw through the services, on SQLite and on PostgreSQL.

    PYTHONPATH=. python bench/draw_service.py --backend sqlite [--n 1500000]
    PYTHONPATH=. python bench/draw_service.py --backend postgresql [--pg-url URL]

Loads a snapshot of ``n`` accounts (not timed: billing's import does that), then times, each in its
own transaction: ``freeze`` (read the snapshot in account order, exclusions, yearly cap, canonical
list, digests, salted Merkle tree, signed record, store the compressed list) and ``run_draw``
(load and check the stored list, reveal, select 100 prizes + 20 reserves, sign), then building the
auditor bundle and running every verifier check on it. Peak memory is the process's ``VmHWM``.
PostgreSQL runs in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._pgschema import create_schema, drop_schema  # noqa: E402
from bench._snapshot import load_random_snapshot  # noqa: E402
from bench.draw_engine import peak_mb  # noqa: E402


class _Stop(Exception):
    """Raised to end the run after freeze + draw (``--skip-verify``)."""


def _timed_process(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB, from /usr/bin/time -v) of a command that must exit 0."""
    import subprocess

    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    rss_kb = next(int(line.split()[-1]) for line in done.stderr.splitlines() if "Maximum resident set size" in line)
    return seconds, rss_kb // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--n", type=int, default=1_500_000)
    parser.add_argument("--profile", action="store_true", help="print where the freeze spends its time (cProfile)")
    parser.add_argument("--skip-verify", action="store_true", help="stop after freeze + draw")
    parser.add_argument("--pg-url", default=os.environ.get("REWARDS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    from sqlalchemy import text

    from draws import services
    from draws.engine import entropy_available_at
    from draws.sample import cosign_freeze, quicknet_value, sample_witness_key, witness_entry
    from draws.secretbox import SecretBox
    from draws.verify import verify_bundle
    from rewards import create_app
    from rewards.db import db
    from rewards.signing.keystore import KeyStore

    tmp = tempfile.mkdtemp(prefix="draw-bench-")
    schema = f"bench_draws_{os.getpid()}"
    cfg = {"TESTING": True, "SECRET_KEY": "bench", "KEYS_DIR": os.path.join(tmp, "keys"), "RATELIMIT_ENABLED": False}
    if args.backend == "sqlite":
        cfg["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    else:
        create_schema(args.pg_url, schema)
        cfg["DATABASE_URL"] = args.pg_url
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={schema}"}}
    app = create_app(cfg)
    rows: list[tuple[str, float]] = []
    cpu_line = ""
    try:
        with app.app_context():
            db.create_all()
            signer = KeyStore(app.config["KEYS_DIR"])
            signer.generate(created_at=datetime(2023, 1, 1, tzinfo=UTC))
            box = SecretBox(os.path.join(app.config["KEYS_DIR"], "draw-secrets.key"))
            start = time.perf_counter()
            load_random_snapshot(db, args.backend, args.n)
            rows.append((f"load snapshot of {args.n:,} rows (not part of the draw)", time.perf_counter() - start))
            if args.backend == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(text("ANALYZE snapshot_rows"))

            # The timeline of draws.sample: frozen just after quicknet's genesis, so that the entropy is the
            # real round 3 and its BLS check is part of the draw, as in production.
            t0 = datetime(2023, 8, 23, 15, 0, tzinfo=UTC)
            chains = dict(app.config["DRAND_CHAINS"])
            witness_keys = [(f"Witness {n + 1}", sample_witness_key("bench", n)) for n in range(2)]
            witnesses = [witness_entry(name, key) for name, key in witness_keys]
            draft = services.DraftInput(
                name="Bench", kind="quarterly", tier_weights={"responsible": 1, "ideal": 3},
                prizes=[{"amount_kopecks": 400_000, "count": 100}], reserves=20,
                freeze_at=datetime(2023, 8, 23, 15, 9, 30, tzinfo=UTC),
                entropy={"type": "drand", "chain": "quicknet", "delay_seconds": 0}, snapshot_period="2026-05",
                witnesses=witnesses, quorum=2,
            )
            pid = services.create_draft(db.session, draft, actor="bench", chains=chains, yearly_cap_kopecks=400_000,
                                        now=t0).public_id
            db.session.commit()
            services.announce(db.session, pid, actor="bench", signer=signer, box=box, chains=chains, now=t0)
            db.session.commit()

            draw = services.get_draw(db.session, pid)
            profile = cProfile.Profile() if args.profile else None
            start, cpu = time.perf_counter(), time.process_time()
            if profile:
                profile.enable()
            services.freeze(db.session, pid, actor="bench", signer=signer, box=box, timezone="Asia/Yekaterinburg",
                            now=draw.freeze_at)
            db.session.commit()
            freeze_s, freeze_cpu = time.perf_counter() - start, time.process_time() - cpu
            if profile:
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            count = services.get_draw(db.session, pid).entrant_count
            rows.append((f"freeze ({count:,} entrants, keyed order)", freeze_s))

            import json

            draw = services.get_draw(db.session, pid)
            ann, frz = json.loads(draw.announcement)["payload"], json.loads(draw.freeze_record)["payload"]
            for name, key in witness_keys:  # the witnesses' part (not timed: it happens on their machines)
                envelope = cosign_freeze(key, name, ann, frz, "2023-08-23T15:09:31Z")
                services.add_cosignature(db.session, pid, envelope, actor="bench",
                                         now=draw.freeze_at + timedelta(seconds=2))
            db.session.commit()
            source = json.loads(draw.entropy_source)
            profile = cProfile.Profile() if args.profile else None
            if profile:
                profile.enable()
            start, cpu = time.perf_counter(), time.process_time()
            services.run_draw(db.session, pid, quicknet_value(source["round"]), actor="bench", signer=signer,
                              box=box,
                              now=datetime.fromtimestamp(entropy_available_at(source), UTC) + timedelta(seconds=60))
            db.session.commit()
            draw_s, draw_cpu = time.perf_counter() - start, time.process_time() - cpu
            cpu_line = (f"CPU seconds of this process (the database server's are not counted on PostgreSQL): "
                        f"freeze {freeze_cpu:.2f}, draw {draw_cpu:.2f}, sum {freeze_cpu + draw_cpu:.2f}; "
                        f"load average {os.getloadavg()[0]:.1f}")
            if profile:
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(20)
            rows.append(("draw (load + check list, quorum, BLS check of the round, 100 + 20, sign)", draw_s))
            rows.append(("freeze + draw", freeze_s + draw_s))
            service_peak = peak_mb()
            if args.skip_verify:
                raise _Stop

            start = time.perf_counter()
            bundle = services.auditor_bundle_of(db.session, services.get_draw(db.session, pid), signer.keyset(), box)
            rows.append(("build the auditor bundle", time.perf_counter() - start))
            start = time.perf_counter()
            checks = verify_bundle(bundle, signer.keyset(), witnesses=witnesses)
            rows.append(("verify the auditor bundle in process (every check; BLS cached)", time.perf_counter() - start))
            assert all(c.status == "PASS" for c in checks), [c.line() for c in checks if c.status != "PASS"]
            files = {"bundle": bundle, "keyset": signer.keyset(), "witnesses": {"witnesses": witnesses}}
            for name, content in files.items():
                Path(tmp, f"{name}.json").write_text(json.dumps(content))
            del bundle
            seconds, rss = _timed_process([sys.executable, "-m", "draws.verify", f"{tmp}/bundle.json", "--keyset",
                                           f"{tmp}/keyset.json", "--witnesses", f"{tmp}/witnesses.json"])
            rows.append((f"python -m draws.verify, whole process (peak RSS {rss:,} MiB)", seconds))
    except _Stop:
        pass
    finally:
        if args.backend == "postgresql":
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            drop_schema(args.pg_url, schema)

    print(f"\nDraw service benchmark on {args.backend}: {args.n:,} snapshot rows, 100 prizes + 20 reserves\n")
    print(f"| {'step':<58} | {'seconds':>8} |")
    print(f"|{'-' * 60}|{'-' * 10}|")
    for label, seconds in rows:
        print(f"| {label:<58} | {seconds:>8.2f} |")
    print(f"\n{cpu_line}")
    print(f"\npeak RSS after freeze + draw: {service_peak:,.0f} MiB; "
          f"at the end (with the bundle): {peak_mb():,.0f} MiB")


if __name__ == "__main__":
    main()
