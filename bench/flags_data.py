"""Shared set-up of the flag benchmarks: a database with snapshots of N accounts and their flags.

The timed parts are the flag services themselves (``apply_tier_flags`` on two periods and a re-run,
a bulk staff file); loading the snapshot rows is set-up (raw ``executemany`` / ``COPY``), not measured.

Accounts are ``%010d`` of 0..N-1. Tiers are spread evenly (25% ideal); the second period moves 10%
of the accounts to another tier, so some leave and some join the priority tiers.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIERS = ("beginner", "promising", "responsible", "ideal")
PERIODS = ("2026-09", "2026-10")
PG_ADMIN_URL = os.environ.get("REWARDS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "bench_flags")  # a helper next to others sets its own


def account(i: int) -> str:
    return f"{i:010d}"


def tiers_of(n: int, period_index: int) -> Iterator[tuple[str, str]]:
    """(account, tier) in account order; deterministic per period."""
    rng = random.Random(1000 + period_index)
    base = random.Random(7)
    for i in range(n):
        tier = TIERS[base.randrange(4)]
        if period_index and rng.random() < 0.10:
            tier = TIERS[rng.randrange(4)]
        yield account(i), tier


def database_url(kind: str, workdir: Path) -> str:
    """A fresh database: a SQLite file in ``workdir``, or the PostgreSQL database ``bench_flags``."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {PG_DB}"))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DB


def drop_pg() -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
    admin.dispose()


def write_instance(workdir: Path, url: str) -> Path:
    """An instance folder whose config.py points the app (and gunicorn) at the bench database."""
    inst = workdir / "instance"
    inst.mkdir(exist_ok=True)
    (inst / "config.py").write_text(
        f"SECRET_KEY = 'bench-secret'\nDATABASE_URL = {url!r}\nKEYS_DIR = {str(inst / 'keys')!r}\n"
        "RATELIMIT_ENABLED = False\nLOG_LEVEL = 'WARNING'\n",
        encoding="utf-8",
    )
    return inst


def _store_snapshot(session: Any, period: str, n: int, period_index: int) -> None:
    from rewards.snapshots.models import Snapshot

    snap = Snapshot(period=period, status="active", source="import", source_name="bench", loaded_by="bench",
                    row_count=n, tier_counts="{}", digest="0" * 64)
    session.add(snap)
    session.flush()
    raw = session.connection().connection.driver_connection
    rows = ((snap.id, a, t) for a, t in tiers_of(n, period_index))
    if session.get_bind().dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy("COPY snapshot_rows (snapshot_id, account, tier) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
    else:
        cur = raw.cursor()
        cur.executemany("INSERT INTO snapshot_rows (snapshot_id, account, tier) VALUES (?, ?, ?)", rows)
        cur.close()
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.execute(text("ANALYZE snapshot_rows"))  # as an import would leave it
        session.commit()


def build(
    kind: str, workdir: Path, n: int, staff_lines: int = 20_000, log: Any = print, register_lines: int = 0
) -> tuple[Path, dict[str, float]]:
    """Create the database and the flags; returns the instance folder and the timings (seconds)."""
    url = database_url(kind, workdir)
    inst = write_instance(workdir, url)
    os.environ["REWARDS_INSTANCE_PATH"] = str(inst)
    from rewards import create_app
    from rewards.db import db
    from rewards.flags import services
    from rewards.signing.keystore import KeyStore

    app = create_app()
    timings: dict[str, float] = {}
    with app.app_context():
        db.create_all()
        KeyStore(app.config["KEYS_DIR"]).generate()
        s = db.session
        for index, period in enumerate(PERIODS):
            t0 = time.perf_counter()
            _store_snapshot(s, period, n, index)
            log(f"  set-up: snapshot {period} of {n:,} rows stored in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            result = services.apply_tier_flags(s, period, tiers_of(n, index), actor="bench")
            s.commit()
            timings[f"apply_tier_flags {period} (+{result.added:,} / closed {result.closed:,})"] = (
                time.perf_counter() - t0
            )
        t0 = time.perf_counter()
        result = services.apply_tier_flags(s, PERIODS[-1], tiers_of(n, 1), actor="bench")
        s.commit()
        timings[f"re-run {PERIODS[-1]} (+{result.added:,} / closed {result.closed:,})"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in tiers_of(n, 1):
            pass
        timings["floor: generating the (account, tier) stream alone"] = time.perf_counter() - t0
        rng = random.Random(3)
        chosen = sorted(rng.sample(range(n), min(staff_lines, n)))
        reasons = ("pensioner", "large_family", "disability", "hardship")
        body = "account;reason;valid_to\n" + "".join(
            f"{account(i)};{reasons[i % 4]};{'2027-12-31' if i % 3 else ''}\n" for i in chosen
        )
        t0 = time.perf_counter()
        bulk = services.apply_bulk(s, body.encode(), actor="bench", today=date(2026, 11, 15), source_name="bench.csv")
        s.commit()
        timings[f"apply_bulk, {bulk.lines:,} staff lines"] = time.perf_counter() - t0
        if register_lines:
            # register entries (issue 18) for accounts 0, 7, 14, ...: the look-up reads their needs too
            body = "account;needs;ends_on;consent_on;consent_channel;share;nominee_name\n" + "".join(
                f"{account(i)};disability.hearing,hardship.income_loss;2099-12-31;2026-11-01;phone;yes;N {i}\n"
                for i in range(0, min(n, register_lines * 7), 7)
            )
            t0 = time.perf_counter()
            entries = services.apply_needs_bulk(s, body.encode(), actor="bench", today=date(2026, 11, 15))
            s.commit()
            timings[f"apply_needs_bulk, {entries.lines:,} register entries"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        exported = sum(1 for _ in services.export_rows(s, today=date(2026, 11, 15)))
        timings[f"export_rows, {exported:,} accounts with priority"] = time.perf_counter() - t0
        if kind == "postgresql":
            from sqlalchemy import text

            s.execute(text("ANALYZE"))
            s.commit()
        db.engine.dispose()
    return inst, timings


def make_token(inst: Path) -> str:
    """An API key with the scope priority:read."""
    os.environ["REWARDS_INSTANCE_PATH"] = str(inst)
    from rewards import create_app
    from rewards.apikeys.services import create_client
    from rewards.db import db

    app = create_app()
    with app.app_context():
        _client, token = create_client(db.session, f"bench-{os.getpid()}", ["priority:read"], actor="bench")
        db.session.commit()
        db.engine.dispose()
    return token
