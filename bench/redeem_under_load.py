"""Partner redeem latency alone vs while a snapshot import and a bulk issue run in a consumer (issue 13, item 5).

    PYTHONPATH=. python bench/redeem_under_load.py [--import-rows 1500000] [--issue-codes 1000000]
        [--seconds 60] [--connections 8] [--rate RPS] [--root CHECKOUT] [--set NAME=VALUE ...] [--no-jobs-alone]

PostgreSQL (REWARDS_BENCH_PG_URL, a schema of its own), Redis for the rate limits and the job queue.
gunicorn with 4 sync workers (``gunicorn.conf.py``) and one ``flask jobs consumer -w 2``, all on
loopback. Load: ``--connections`` client threads on keep-alive connections, each request redeeming a
fresh code (no code twice) with a real partner key and an Idempotency-Key; every latency is kept, so
the percentiles are exact. With ``--rate`` the load is an open loop instead: redeem ``i`` is due at
``start + i / rate`` and timed from then, so a wait for a free client counts (no coordinated omission).
Phases: a warm-up (5 s of the same load, not counted: the workers' first requests load code and
connections); alone (``--seconds``); loaded, from the moment the import (``--import-rows`` rows, one
transaction) and the bulk issue (``--issue-codes`` codes, batches of 50,000) are both taken by the
consumer until both are over (so their commits, and whatever runs inside their transactions, fall
inside it); alone again; then the same two jobs again (another period, another offer) with no traffic
at all, for their throughput without it (``--no-jobs-alone`` skips it). Prints p50/p99/max, rps,
non-2xx answers, the load average, how long each job took, and the CPU seconds the load generator
itself used in each phase (it shares the 2 cores with the server: it must stay small).

``--set NAME=VALUE`` writes a setting into the instance's config (e.g. ``JOBS_YIELD_RATIO=0`` for the
run without pacing); a value is read as a Python literal when it is one.

``--root`` runs the servers and the consumer from another checkout (e.g. ``git archive`` of the
commit before the event log change) for an A/B in the same conditions.
"""

from __future__ import annotations

import argparse
import ast
import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
SCHEMA = "bench_redeem_load"
WORKERS = 4
REDIS = "redis://127.0.0.1:6379"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--import-rows", type=int, default=1_500_000)
    parser.add_argument("--issue-codes", type=int, default=1_000_000)
    parser.add_argument("--redeem-codes", type=int, default=60_000)
    # As long as a loaded phase lasts (about a minute here), so that both p99s come from about as many
    # answers: at 20 s the alone p99 was the 6th slowest of 608 and moved by a third between runs.
    parser.add_argument("--seconds", type=int, default=60, help="length of each phase alone")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="open loop: this many redeems a second in all, each timed from when it was due "
                             "(0: closed loop, each client sends as soon as its last answer came)")
    parser.add_argument("--root", type=Path, default=BENCH, help="the checkout whose code is served")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting of the served instance (repeatable)")
    parser.add_argument("--no-jobs-alone", dest="jobs_alone", action="store_false",
                        help="skip the last phase (the jobs again, without traffic)")
    parser.add_argument("--waits", action="store_true",
                        help="sample what the web workers' and the consumer's PostgreSQL sessions wait on "
                             "(pg_stat_activity every 10 ms) and print it per phase")
    parser.add_argument("--schema", default=SCHEMA, help="the PostgreSQL schema of the run (emptied first)")
    return parser.parse_args()


ARGS = parse()
ROOT = ARGS.root.resolve()
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(BENCH))
from bench._partners_db import database_settings  # noqa: E402 (after the path is set)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(instance: Path) -> dict[str, Any]:
    from rewards.config import DEFAULTS

    cfg: dict[str, Any] = {
        "SECRET_KEY": "bench",
        "KEYS_DIR": str(instance / "keys"),
        "JOBS_DIR": str(instance / "jobs"),
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": f"{REDIS}/15",
        "PARTNER_API_LIMIT": "1000000/second",
        "JOBS_URL": f"{REDIS}/14",
    }
    if "JOBS_QUEUE" in DEFAULTS:  # a queue of its own; an older checkout has one name: another database
        cfg["JOBS_QUEUE"] = f"bench-{uuid.uuid4().hex[:10]}"
    else:
        cfg["JOBS_URL"] = f"{REDIS}/13"
    cfg.update(database_settings("postgresql", instance, ARGS.schema))
    for item in ARGS.settings:
        name, _, raw = item.partition("=")
        try:
            cfg[name] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            cfg[name] = raw
    (instance / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in cfg.items()))
    os.environ["REWARDS_INSTANCE_PATH"] = str(instance)
    return cfg


def prioritize_extension() -> str:
    """Install PostgreSQL's ``prioritize`` extension in the database when the server has it (what an
    operator does once, ``rewards.jobs.dbpriority``); says whether the consumer's sessions can use it."""
    from sqlalchemy import create_engine, text

    from bench._partners_db import PG_URL

    engine = create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS prioritize SCHEMA public"))
        return "prioritize extension installed"
    except Exception as exc:  # noqa: BLE001 - the server has no such package: the run says so
        return f"no prioritize extension ({type(exc).__name__})"
    finally:
        engine.dispose()


def prepare(instance: Path) -> tuple[Any, str, list[str], list[int], int]:
    """The database: one snapshot (issue_codes 'ideal' + redeem_codes 'promising' accounts), a partner,
    its key, the redeem offer's codes issued, two bulk offers planned later (one issued under traffic,
    one without); the import file on disk. Returns (app, token, redeem codes, bulk offer ids, snapshot id)."""
    from sqlalchemy import text

    from bench._snapshot import bench_snapshot
    from partners import snapshots
    from partners.models import Offer
    from partners.services import catalog, issue
    from rewards import create_app
    from rewards.apikeys.services import create_client
    from rewards.db import db, utcnow

    app = create_app()
    n_bulk, n_redeem = ARGS.issue_codes, ARGS.redeem_codes
    with app.app_context():
        db.create_all()
        counts = json.dumps({"ideal": n_bulk, "promising": n_redeem})
        snap = bench_snapshot("2026-10", n_bulk + n_redeem, counts)
        db.session.add(snap)
        db.session.commit()
        snap_id = snap.id
        with db.engine.begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy("COPY snapshot_rows (snapshot_id, account, tier) FROM STDIN") as copy:
                for i in range(n_bulk + n_redeem):
                    copy.write_row((snap_id, f"74{i:010d}", "ideal" if i < n_bulk else "promising"))
            conn.execute(text("ANALYZE snapshot_rows"))
        partner = catalog.create_partner(db.session, "Gorserv", "GSRV", actor="bench")
        _client, token = create_client(db.session, "gsrv-site", ["codes:validate", "codes:redeem"], actor="bench")
        catalog.link_client(db.session, partner, "gsrv-site", actor="bench")
        now = utcnow()
        offers = [
            catalog.create_offer(
                db.session,
                partner,
                title=title,
                discount_kind="percent",
                discount_value=10,
                tiers=[tier],
                valid_from=now - timedelta(hours=1),
                valid_to=now + timedelta(days=30),
                actor="bench",
            )
            for title, tier in (("redeem", "promising"), ("bulk", "ideal"), ("bulk alone", "ideal"))
        ]
        db.session.commit()
        redeem_id, bulk_ids = offers[0].id, [offers[1].id, offers[2].id]
        issue.issue_all(
            db.session,
            db.session.get(Offer, redeem_id),
            snapshots.SnapshotRef(snap_id, "2026-10"),
            actor="bench",
            commit=db.session.commit,
        )
        codes = [
            line.split(";")[2]
            for chunk in issue.export_lines(db.session, db.session.get(Offer, redeem_id))
            for line in chunk.splitlines()
            if line and not line.startswith("account;")
        ]
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        db.engine.dispose()
    files = instance / "jobs" / "files" / "bench"
    files.mkdir(parents=True, exist_ok=True)
    with (files / "import.csv").open("w") as out:
        out.write("account;tier;points\n")
        tiers = ("beginner", "promising", "responsible", "ideal")
        for i in range(ARGS.import_rows):
            out.write(f"75{(i * 7919) % ARGS.import_rows:010d};{tiers[i % 4]};{i % 48}\n")
    return app, token, codes, bulk_ids, snap_id


class Load:
    """``clients`` threads, each on its own keep-alive connection, redeeming fresh codes back to back
    and recording every answer's latency: exact percentiles over a phase of any length."""

    def __init__(self, port: int, token: str, codes: list[str], phase: str) -> None:
        self.port, self.token, self.codes, self.phase = port, token, codes, phase
        self.next = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.cpu_began = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        self.statuses: dict[int, int] = {}
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(ARGS.connections)]

    def _client(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        while not self.stop.is_set():
            with self.lock:
                i, self.next = self.next, self.next + 1
            if i >= len(self.codes):
                break
            body = json.dumps({"code": self.codes[i], "order_ref": f"{self.phase}-{i}"})
            began = time.monotonic()
            if ARGS.rate:  # open loop: request i is due at a fixed time; waiting for a free client counts
                began = self.began + i / ARGS.rate
                wait = began - time.monotonic()  # read once: a second read may come after ``began``
                if wait > 0:
                    time.sleep(wait)
            conn.request(
                "POST", "/api/v1/partner/redemptions", body, {**headers, "Idempotency-Key": f"{self.phase}-{i}"}
            )
            answer = conn.getresponse()
            answer.read()
            took = (time.monotonic() - began) * 1000
            with self.lock:
                self.latencies.append(took)
                self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
        conn.close()

    def start(self) -> None:
        self.began = time.monotonic()
        for t in self.threads:
            t.start()

    def finish(self) -> dict[str, Any]:
        self.stop.set()
        for t in self.threads:
            t.join()
        seconds = time.monotonic() - self.began
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")

        if self.next >= len(self.codes):
            print(f"  ({self.phase}: ran out of codes; use more --redeem-codes)")
        return {
            "n": len(ordered),
            "seconds": seconds,
            "rps": len(ordered) / seconds,
            "p50": pct(50),
            "p99": pct(99),
            "p999": pct(99.9),
            "over5s": sum(1 for x in ordered if x >= 5000),
            "max": ordered[-1] if ordered else float("nan"),
            "non2xx": sum(n for s, n in self.statuses.items() if not 200 <= s < 300),
            "load": os.getloadavg(),
            "client_cpu": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - self.cpu_began,
        }


def timed(
    port: int, token: str, codes: list[str], phase: str, seconds: float, meter: CpuMeter | None = None
) -> dict[str, Any]:
    load = Load(port, token, codes, phase)
    if meter:
        meter.start()
    load.start()
    time.sleep(seconds)
    result = load.finish()
    if meter:
        result["cpu"] = meter.stop()
    return result


def check(port: int, token: str, code: str) -> None:
    """One redeem by hand: the load must measure redemptions, not refusals."""
    import urllib.error
    import urllib.request

    body = json.dumps({"code": code, "order_ref": "check"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/partner/redemptions",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": "check"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    if status != 201:
        sys.exit(f"a redeem answered {status}: {text[:300]!r}")


TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn's master and workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            pass
    return out


def _pg_ports(pids: list[int]) -> set[int]:
    """Local ports of the TCP connections to PostgreSQL (port 5432) that ``pids`` hold."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports: set[int] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if cols[9] in inodes and cols[2].endswith(":1538"):  # remote port 5432
            ports.add(int(cols[1].split(":")[1], 16))
    return ports


class CpuMeter:
    """CPU seconds of the web workers, the consumer, and the PostgreSQL server processes serving each
    (found by their connections' ports), between ``start`` and ``stop``: shares that a busy machine's
    scheduling does not blur the way it blurs latencies."""

    def __init__(self, app: Any, web: int, consumer: int) -> None:
        self.app, self.web, self.consumer = app, web, consumer

    def _backends(self, pids: list[int]) -> list[int]:
        from sqlalchemy import text

        from rewards.db import db

        ports = sorted(_pg_ports(pids))
        if not ports:
            return []
        with self.app.app_context():
            rows = db.session.execute(
                text("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(:ports)"), {"ports": ports}
            ).scalars().all()
            db.session.remove()
        return [int(r) for r in rows]

    def sample(self) -> dict[str, dict[int, float]]:
        web, consumer = _tree(self.web), _tree(self.consumer)
        groups = {"web": web, "web db": self._backends(web), "jobs": consumer, "jobs db": self._backends(consumer)}
        return {name: {pid: _cpu_of(pid) for pid in pids} for name, pids in groups.items()}

    def start(self) -> None:
        self.began = self.sample()

    def stop(self) -> dict[str, float]:
        end = self.sample()
        return {name: sum(v - self.began[name].get(pid, 0.0) for pid, v in end[name].items()) for name in end}


APP_NAMES = {"web": f"bench-redeem-web-{os.getpid()}", "jobs": f"bench-redeem-jobs-{os.getpid()}"}


class WaitSampler:
    """What the web workers' and the consumer's PostgreSQL sessions are doing, every ``every`` seconds
    (``--waits``): a session is told apart by its ``application_name`` (``PGAPPNAME`` of its process).
    Per phase and per group, the mean number of sessions in each state: ``active`` with no wait event
    (on a CPU or waiting for one), ``active`` waiting on an event (``IO:WALSync``, ``Lock:advisory``...),
    or idle in a transaction (the worker is computing or waiting for a CPU), with the statement's kind;
    and the machine's mean run queue (``procs_running`` of /proc/stat, this sampler excluded); the write-ahead
    log the whole server wrote and the checkpoints it began in each phase (other databases' included)."""

    def __init__(self, every: float = 0.01) -> None:
        self.every, self.phase = every, ""
        self.counts: dict[str, dict[tuple[str, str, str], int]] = {}
        self.ticks: dict[str, int] = {}
        self.running: dict[str, int] = {}
        self.server: dict[str, tuple[Any, float, int, int]] = {}  # phase: (start LSN, WAL bytes, checkpoints)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _kind(query: str) -> str:
        words = query.split()
        if not words:
            return ""
        if "advisory_xact_lock" in query:
            return "chain lock"
        return words[0].upper()

    def _run(self) -> None:
        import psycopg

        from bench._partners_db import PG_URL

        names = {v: k for k, v in APP_NAMES.items()}
        query = (
            "SELECT application_name, state, coalesce(wait_event_type || ':' || wait_event, ''), left(query, 80) "
            "FROM pg_stat_activity WHERE application_name = ANY(%s) AND state <> 'idle'"
        )
        server = (
            "SELECT pg_current_wal_lsn(), checkpoints_timed + checkpoints_req, checkpoints_req FROM pg_stat_bgwriter"
        )
        with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
            last = ""
            while not self.stop.is_set():
                began = time.monotonic()
                phase = self.phase
                if phase != last:  # the server's write-ahead log and checkpoints at each phase's start and end
                    lsn, checkpoints, requested = conn.execute(server).fetchone() or (None, 0, 0)
                    if last:
                        wal = conn.execute("SELECT pg_wal_lsn_diff(%s, %s)", (lsn, self.server[last][0])).fetchone()
                        self.server[last] = (self.server[last][0], float(wal[0]) if wal else 0.0,
                                             checkpoints - self.server[last][2], requested - self.server[last][3])
                    if phase:
                        self.server[phase] = (lsn, 0.0, checkpoints, requested)
                    last = phase
                if phase:
                    rows = conn.execute(query, (list(names),)).fetchall()
                    stat = Path("/proc/stat").read_text()
                    running = int(stat.split("procs_running", 1)[1].split()[0]) - 1
                    counts = self.counts.setdefault(phase, {})
                    self.ticks[phase] = self.ticks.get(phase, 0) + 1
                    self.running[phase] = self.running.get(phase, 0) + running
                    for app_name, state, wait, text in rows:
                        if state == "active":
                            what = wait or "CPU"
                        else:
                            what = f"{state} ({wait or '-'})"
                        key = (names[app_name], what, self._kind(text))
                        counts[key] = counts.get(key, 0) + 1
                self.stop.wait(max(0.0, self.every - (time.monotonic() - began)))

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> None:
        self.phase = ""
        time.sleep(5 * self.every)  # the last phase's end is read
        self.stop.set()
        self.thread.join()

    def report(self) -> None:
        print("database sessions, mean number in each state per phase (--waits; 'CPU': active, no wait event)")
        for phase, counts in self.counts.items():
            ticks = self.ticks[phase]
            _lsn, wal, checkpoints, requested = self.server.get(phase, (None, 0.0, 0, 0))
            print(f"  {phase}: {ticks} samples, mean run queue {self.running[phase] / ticks:.2f}; the whole server "
                  f"wrote {wal / 2**20:,.0f} MB of WAL, {checkpoints} checkpoint(s) began ({requested} by WAL volume)")
            for key, n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
                if n / ticks >= 0.005:
                    print(f"    {key[0]:<5} {key[1]:<40} {key[2]:<12} {n / ticks:6.3f}")


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def start_jobs(app: Any, bulk_offer: int, snap_id: int, period: str) -> list[int]:
    from partners import jobs as partner_jobs
    from partners import snapshots
    from partners.models import Offer
    from partners.services import issue
    from rewards.db import db
    from rewards.jobs.start import start
    from rewards.snapshots import jobs as snapshot_jobs

    with app.test_request_context():
        params = {
            "file": "files/bench/import.csv",
            "name": "import.csv",
            "period": period,
            "format": "csv",
            "replace": False,
        }
        first = start(snapshot_jobs.IMPORT, params, title="bench import", actor="bench").id
        run = issue.start_run(
            db.session, db.session.get(Offer, bulk_offer), snapshots.SnapshotRef(snap_id, "2026-10"), actor="bench"
        )
        run_id = run.id
        db.session.commit()
        second = start(partner_jobs.ISSUE, {"run_id": run_id}, title="bench issue", actor="bench").id
        db.session.remove()
    return [first, second]


def job_states(app: Any, ids: list[int]) -> list[Any]:
    from rewards.db import db
    from rewards.jobs.models import Job

    with app.app_context():
        rows = [db.session.get(Job, i) for i in ids]
        out = [(j.state, j.started_at, j.finished_at, j.error_message) for j in rows]
        db.session.remove()
    return out


def run_jobs(app: Any, bulk_offer: int, snap_id: int, period: str) -> list[int]:
    """Queue the import and the bulk issue; return their ids once the consumer has taken both."""
    ids = start_jobs(app, bulk_offer, snap_id, period)
    deadline = time.monotonic() + 120
    while any(s[0] == "queued" for s in job_states(app, ids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return ids


def wait_jobs(app: Any, ids: list[int]) -> list[Any]:
    deadline = time.monotonic() + 1800
    while any(s[0] in ("queued", "running") for s in job_states(app, ids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return job_states(app, ids)


def print_jobs(title: str, states: list[Any]) -> None:
    for name, count, (state, started, finished, error) in zip(
        ("import", "bulk issue"), (ARGS.import_rows, ARGS.issue_codes), states, strict=True
    ):
        took = (finished - started).total_seconds() if started and finished else float("nan")
        print(f"  {title}: {name} {state} in {took:.1f} s ({count / took:,.0f} rows/s) {error or ''}")


class NoSampler:
    """Stands in for :class:`WaitSampler` without ``--waits``: phases are named, nothing is sampled."""

    phase = ""

    def start(self) -> None:
        """Nothing to start."""

    def finish(self) -> None:
        """Nothing to stop."""

    def report(self) -> None:
        """Nothing to report."""


def measure(app: Any, port: int, token: str, codes: list[str], bulk_offers: list[Any], snap_id: int,
            procs: list[Any]) -> tuple[dict[str, Any], list[Any], list[Any], dict[str, Any], WaitSampler | NoSampler]:
    """The phases: redeems alone, under the two jobs, alone again, then the jobs without traffic."""
    wait_port(port)
    time.sleep(2)
    check(port, token, codes[-1])
    codes = codes[:-1]
    q = len(codes) // 4
    timed(port, token, codes[:q], "w", 5)  # warm-up, not counted
    meter = CpuMeter(app, procs[0].pid, procs[1].pid)
    results = {}
    sampler: WaitSampler | NoSampler = WaitSampler() if ARGS.waits else NoSampler()
    sampler.start()
    sampler.phase = "alone"
    results["alone"] = timed(port, token, codes[q : 2 * q], "a", ARGS.seconds, meter)
    meter.start()
    ids = run_jobs(app, bulk_offers[0], snap_id, "2026-11")
    # the loaded phase lasts from both jobs running until both are over, so it covers every
    # moment of them, their commits and what runs inside their transactions included
    load = Load(port, token, codes[2 * q : 3 * q], "b")
    sampler.phase = "loaded"
    load.start()
    final = wait_jobs(app, ids)
    results["loaded"] = load.finish()
    results["loaded"]["cpu"] = meter.stop()
    sampler.phase = "alone again"
    results["alone again"] = timed(port, token, codes[3 * q :], "c", ARGS.seconds, meter)
    sampler.phase = ""
    alone_states: list[Any] = []
    cpu_alone: dict[str, Any] = {}
    if ARGS.jobs_alone:
        time.sleep(3)  # no traffic: the live-traffic signal has lapsed (rewards.livetraffic.TTL)
        sampler.phase = "jobs, no load"
        meter.start()
        began = time.monotonic()
        alone_states = wait_jobs(app, run_jobs(app, bulk_offers[1], snap_id, "2026-12"))
        cpu_alone = {"seconds": time.monotonic() - began, "n": 0, "cpu": meter.stop()}
    sampler.finish()
    return results, final, alone_states, cpu_alone, sampler


def report(results: dict[str, Any], final: list[Any], alone_states: list[Any], cpu_alone: dict[str, Any],
           sampler: WaitSampler | NoSampler, instance: Path) -> None:
    """The consumer's own lines, the jobs' times, the latency table, the CPU table, the waits."""
    for line in (instance / "consumer.log").read_text(errors="replace").splitlines():
        if line.startswith("consumer "):
            print(f"  {line}")
    print_jobs("under traffic", final)
    if alone_states:
        print_jobs("no traffic", alone_states)
    print(
        f"{'phase':<12} {'seconds':>7} {'redeems':>8} {'rps':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'p99.9 ms':>9} {'max ms':>8} {'>=5 s':>6} "
        f"{'non-2xx':>8} {'client CPU s':>12}  load average (1/5/15 min) at the end"
    )
    for name, r in results.items():
        load = "/".join(f"{x:.1f}" for x in r["load"])
        print(
            f"{name:<12} {r['seconds']:>7.0f} {r['n']:>8} {r['rps']:>6.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
            f"{r['p999']:>9.1f} {r['max']:>8.1f} {r['over5s']:>6} {r['non2xx']:>8} {r['client_cpu']:>12.1f}  {load}"
        )
    print(f"loaded p99 / alone p99: {results['loaded']['p99'] / results['alone']['p99']:.2f}x")
    print(f"{'CPU seconds':<14} {'wall s':>7} {'web':>7} {'web db':>7} {'jobs':>7} {'jobs db':>8} "
          f"{'web+db ms/redeem':>17}")
    rows = [(name, r) for name, r in results.items()] + ([("jobs, no load", cpu_alone)] if cpu_alone else [])
    for name, r in rows:
        c = r["cpu"]
        per = (c["web"] + c["web db"]) * 1000 / r["n"] if r["n"] else float("nan")
        print(f"{name:<14} {r['seconds']:>7.0f} {c['web']:>7.1f} {c['web db']:>7.1f} {c['jobs']:>7.1f} "
              f"{c['jobs db']:>8.1f} {per:>17.1f}", flush=True)
    sampler.report()


def main() -> None:
    print(
        f"redeem under load: code of {ROOT}; gunicorn {WORKERS} sync workers, one consumer -w 2; "
        f"{ARGS.connections} clients" + (f" at {ARGS.rate:g} redeems/s (open loop)" if ARGS.rate else " (closed loop)")
        + f", {ARGS.seconds} s alone; import {ARGS.import_rows:,} rows, "
        f"bulk issue {ARGS.issue_codes:,} codes; settings {ARGS.settings or 'as the defaults'}",
        flush=True,
    )
    print(prioritize_extension(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        write_config(instance)
        t0 = time.monotonic()
        app, token, codes, bulk_offers, snap_id = prepare(instance)
        print(f"prepared in {time.monotonic() - t0:.0f} s: {len(codes):,} codes to redeem", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDS_")}
        env.update(REWARDS_INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT), FLASK_APP="rewards")
        web_env, jobs_env = dict(env, PGAPPNAME=APP_NAMES["web"]), dict(env, PGAPPNAME=APP_NAMES["jobs"])
        port = free_port()
        gunicorn = ["gunicorn", "-c", "gunicorn.conf.py", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
                    "--access-logfile", "/dev/null", "rewards:create_app()"]
        procs = [
            spawn(gunicorn, web_env, instance / "web.log"),
            spawn(["flask", "jobs", "consumer", "-w", "2"], jobs_env, instance / "consumer.log"),
        ]
        try:
            measured = measure(app, port, token, codes, bulk_offers, snap_id, procs)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=60)
        report(*measured, instance)


if __name__ == "__main__":
    main()
