"""Monthly runs as staff run them: each command a whole process, against its floor, interleaved, medians.

    PYTHONPATH=. python bench/monthly.py import [--rows 1500000] [--rounds 3] [--no-pg] [--no-sqlite]
                                                [--baseline DIR]
    PYTHONPATH=. python bench/monthly.py startup [--rounds 5] [--baseline DIR]
    PYTHONPATH=. python bench/monthly.py compute [--rows 1500000] [--rounds 3] [--no-pg] [--baseline DIR]
    PYTHONPATH=. python bench/monthly.py issue [--codes 1000000] [--rounds 3] [--no-pg] [--no-sqlite]

``import``: ``flask snapshots import FILE --period P`` on a freshly migrated database each round (SQLite
file, PostgreSQL schema; the migration is not timed) against ``bench/floors/import_snapshot.py`` (sorted
``executemany`` into a WITHOUT ROWID table / chunked ``COPY`` + ``ANALYZE``). Target (issue 15): at most
2x the floor's wall time; peak RSS under 300 MB at any size. ``--baseline DIR``: another checkout of the
project (say ``git archive`` of the commit before a change, with its compiled catalogues) timed as a third
case in the same rounds, its database migrated by its own code, to compare old and new under the same load.

``startup``: ``flask --app rewards snapshots list`` and ``flask --app rewards draws --help`` against
``bench/floors/cli_start.py`` (a bare Flask + Flask-SQLAlchemy app with one command). Target: under
0.5 s CPU. ``--baseline DIR``: both commands from another checkout too, on the same database (so of the
same schema). A ``git archive`` checkout ran ``draws --help`` with 7% more instructions (callgrind) than
the same code in the worktree; a copy of the worktree with the old files put back compares fairly.

``compute``: ``flask snapshots compute --period P FILE`` over ``--rows`` accounts x 6 months of
behaviour (``bench/rating.py``'s generator, one file sorted by account) on a freshly migrated database
each round, against ``bench/floors/csv_parse.py`` (the csv module reading the same file). Target: at
most 3x the floor's CPU time (user + system). ``--baseline DIR``: the same command from another checkout
(e.g. ``git archive`` of the commit before a change), as more cases of the same rounds, to compare a
change before and after in one run.

``issue``: ``flask partners issue OFFER`` (every code of an offer for 'ideal', 3 in 4 of the snapshot's
accounts) against ``bench/floors/issue_codes.py`` (``secrets`` values, ``executemany`` / ``COPY`` into
``(id, value UNIQUE, account)``), each case on a database of its own prepared before it (migrated, the
snapshot, a partner and the offer: ``bench/bench_partners_issue.py --prepare``; not timed). Target
(issue 15): under 30 s at 1 M codes on both databases; peak RSS under 300 MB at 5 M.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.process import Case, interleave, table  # noqa: E402

PG_URL = os.environ.get("REWARDS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FLASK = [sys.executable, "-m", "flask", "--app", "rewards"]
# The server backends of each case go by these names, so that their CPU is added up (bench/process.py).
FLOOR_APP, OURS_APP = f"bench_floor_{os.getpid()}", f"bench_ours_{os.getpid()}"


def _ours_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}&application_name={OURS_APP}"


@contextmanager
def _scratch(prefix: str) -> Iterator[tuple[Path, list[str]]]:
    """A temporary folder and a list for the PostgreSQL schemas a bench makes; both removed at the end."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    schemas: list[str] = []
    try:
        yield tmp, schemas
    finally:
        for schema in schemas:
            _pg(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        shutil.rmtree(tmp, ignore_errors=True)


def _new_schema(name: str, schemas: list[str]) -> str:
    """A new PostgreSQL schema for one case of one round (this process's id in its name), noted in
    ``schemas`` for the clean-up."""
    schema = f"{name}_{os.getpid()}"
    _pg(f"CREATE SCHEMA {schema}")
    schemas.append(schema)
    return schema


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


def _instance(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, REWARDS_INSTANCE_PATH=str(tmp), FLASK_APP="rewards", PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "rewards.instance", "init"], check=True, cwd=ROOT, env=env,
                   capture_output=True)
    return env


def _migrate(env: dict[str, str], cwd: Path = ROOT) -> None:
    subprocess.run([*FLASK, "db", "upgrade"], check=True, cwd=cwd, env=env, capture_output=True)


def bench_import(rows: int, rounds: int, sqlite: bool, pg: bool, baseline: Path | None = None) -> None:
    from bench.snapshot_import import generate

    with _scratch("monthly-import-") as (tmp, schemas):
        data = tmp / "snapshot.csv"
        generate(data, rows)
        env = _instance(tmp)
        template = tmp / "template.sqlite3"
        _migrate(dict(env, REWARDS_DATABASE_URL=f"sqlite:///{template}"))
        ours_cmd = [*FLASK, "snapshots", "import", str(data), "--period", "2026-10"]
        floor = sys.executable, str(ROOT / "bench" / "floors" / "import_snapshot.py"), str(data)

        def sqlite_floor(n: int) -> list[str]:
            return [*floor, "--sqlite", str(tmp / f"floor-{n}.sqlite3")]

        def sqlite_ours(n: int) -> list[str]:
            shutil.copy(template, tmp / f"ours-{n}.sqlite3")
            sqlite_env.update(REWARDS_DATABASE_URL=f"sqlite:///{tmp / f'ours-{n}.sqlite3'}")
            return ours_cmd

        sqlite_env = dict(env)
        base_env = dict(env, PYTHONPATH=str(baseline)) if baseline is not None else {}
        base_name = f"baseline `{baseline}`" if baseline is not None else ""
        if baseline is not None:
            base_template = tmp / "base-template.sqlite3"
            _migrate(dict(base_env, REWARDS_DATABASE_URL=f"sqlite:///{base_template}"), baseline)

        def sqlite_base(n: int) -> list[str]:
            shutil.copy(base_template, tmp / f"base-{n}.sqlite3")
            base_env.update(REWARDS_DATABASE_URL=f"sqlite:///{tmp / f'base-{n}.sqlite3'}")
            return ours_cmd

        if sqlite:
            cases = [Case("floor: sorted executemany, WITHOUT ROWID", sqlite_floor),
                     Case("`flask snapshots import` (SQLite)", sqlite_ours, sqlite_env)]
            if baseline is not None:
                cases.append(Case(f"{base_name} (SQLite)", sqlite_base, base_env, cwd=baseline))
            load = interleave(cases, rounds)
            print(table(f"Snapshot import, {rows:,} rows, SQLite", cases[0], cases[1:], load), flush=True)
        if not pg:
            return
        pg_env = dict(env)

        def pg_floor(n: int) -> list[str]:
            schema = _new_schema(f"bench_floor_{n}", schemas)
            return [*floor, "--pg", f"{PG_URL}?application_name={FLOOR_APP}", "--schema", schema]

        def pg_ours(n: int) -> list[str]:
            schema = _new_schema(f"bench_ours_{n}", schemas)
            pg_env.update(REWARDS_DATABASE_URL=_ours_url(schema))
            _migrate(pg_env)
            return ours_cmd

        def pg_base(n: int) -> list[str]:
            schema = _new_schema(f"bench_base_{n}", schemas)
            base_env.update(REWARDS_DATABASE_URL=_ours_url(schema))
            _migrate(base_env, baseline or ROOT)
            return ours_cmd

        cases = [Case("floor: chunked COPY + ANALYZE", pg_floor, server=(PG_URL, FLOOR_APP)),
                 Case("`flask snapshots import` (PostgreSQL)", pg_ours, pg_env, server=(PG_URL, OURS_APP))]
        if baseline is not None:
            cases.append(Case(f"{base_name} (PostgreSQL)", pg_base, base_env, server=(PG_URL, OURS_APP), cwd=baseline))
        load = interleave(cases, rounds)
        print(table(f"Snapshot import, {rows:,} rows, PostgreSQL", cases[0], cases[1:], load), flush=True)


def bench_compute(accounts: int, rounds: int, pg: bool, baseline: Path | None = None) -> None:
    from bench.rating import PERIOD, generate

    with _scratch("monthly-compute-") as (tmp, schemas):
        data = generate(tmp, accounts, 1)[0]
        env = _instance(tmp)
        template = tmp / "template.sqlite3"
        _migrate(dict(env, REWARDS_DATABASE_URL=f"sqlite:///{template}"))
        ours_cmd = [*FLASK, "snapshots", "compute", "--period", PERIOD, str(data)]
        floor = Case("floor: csv module parse of the same file",
                     lambda n: [sys.executable, str(ROOT / "bench" / "floors" / "csv_parse.py"), str(data)])
        sqlite_env = dict(env)
        base_env = dict(env, PYTHONPATH=str(baseline)) if baseline is not None else {}
        base_sqlite_env = dict(base_env)

        def sqlite_db(n: int, case_env: dict[str, str], name: str) -> list[str]:
            shutil.copy(template, tmp / f"{name}-{n}.sqlite3")
            case_env.update(REWARDS_DATABASE_URL=f"sqlite:///{tmp / f'{name}-{n}.sqlite3'}")
            return ours_cmd

        cases = [floor,
                 Case("`flask snapshots compute` (SQLite)", lambda n: sqlite_db(n, sqlite_env, "ours"), sqlite_env)]
        if baseline is not None:
            compileall.compile_dir(baseline / "rewards", quiet=1)
            cases.append(Case(f"baseline `{baseline}` (SQLite)", lambda n: sqlite_db(n, base_sqlite_env, "base"),
                              base_sqlite_env, cwd=baseline))
        if pg:
            pg_env = dict(env)
            base_pg_env = dict(base_env)

            def pg_db(n: int, case_env: dict[str, str], name: str, root: Path) -> list[str]:
                schema = _new_schema(f"bench_compute_{name}_{n}", schemas)
                case_env.update(REWARDS_DATABASE_URL=_ours_url(schema))
                _migrate(case_env, root)
                return ours_cmd

            cases.append(Case("`flask snapshots compute` (PostgreSQL)", lambda n: pg_db(n, pg_env, "ours", ROOT),
                              pg_env, server=(PG_URL, OURS_APP)))
            if baseline is not None:
                cases.append(Case(f"baseline `{baseline}` (PostgreSQL)",
                                  lambda n: pg_db(n, base_pg_env, "base", baseline), base_pg_env,
                                  server=(PG_URL, OURS_APP), cwd=baseline))
        load = interleave(cases, rounds)
        print(table(f"Snapshot compute, {accounts:,} accounts x 6 months", cases[0], cases[1:], load), flush=True)


def _prepare_issue(env: dict[str, str], accounts: int) -> tuple[str, str]:
    """Migrate the env's database and fill it for an issue; ``(snapshot_id, offer_id)``."""
    _migrate(env)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_partners_issue.py"), "--prepare", "--accounts",
                           str(accounts)], check=True, cwd=ROOT, env=env, capture_output=True, text=True)
    snapshot_id, offer_id = done.stdout.split()[-2:]
    return snapshot_id, offer_id


def bench_issue(codes: int, rounds: int, sqlite: bool, pg: bool) -> None:
    accounts = codes * 4 // 3 + 1  # 3 in 4 are 'ideal'
    with _scratch("monthly-issue-") as (tmp, schemas):
        floor = [sys.executable, str(ROOT / "bench" / "floors" / "issue_codes.py")]
        env = _instance(tmp)
        if sqlite:
            template = tmp / "template.sqlite3"
            snapshot_id, offer_id = _prepare_issue(dict(env, REWARDS_DATABASE_URL=f"sqlite:///{template}"), accounts)
            sqlite_env = dict(env)

            def sqlite_floor(n: int) -> list[str]:
                shutil.copy(template, tmp / f"floor-{n}.sqlite3")
                return [*floor, "--sqlite", str(tmp / f"floor-{n}.sqlite3"), "--snapshot", snapshot_id]

            def sqlite_ours(n: int) -> list[str]:
                shutil.copy(template, tmp / f"ours-{n}.sqlite3")
                sqlite_env.update(REWARDS_DATABASE_URL=f"sqlite:///{tmp / f'ours-{n}.sqlite3'}")
                return [*FLASK, "partners", "issue", offer_id]

            cases = [Case("floor: secrets + executemany", sqlite_floor),
                     Case("`flask partners issue` (SQLite)", sqlite_ours, sqlite_env)]
            load = interleave(cases, rounds)
            print(table(f"Bulk issue, {codes:,} codes, SQLite", cases[0], cases[1:], load), flush=True)
        if not pg:
            return
        pg_env = dict(env)

        def pg_case(kind: str, n: int) -> tuple[str, str, str]:
            schema = _new_schema(f"bench_issue_{kind}_{n}", schemas)
            pg_env.update(REWARDS_DATABASE_URL=_ours_url(schema))
            return (schema, *_prepare_issue(pg_env, accounts))

        def pg_floor(n: int) -> list[str]:
            schema, snapshot_id, _offer = pg_case("floor", n)
            return [*floor, "--pg", f"{PG_URL}?application_name={FLOOR_APP}", "--schema", schema,
                    "--snapshot", snapshot_id]

        def pg_ours(n: int) -> list[str]:
            _schema, _snapshot, offer_id = pg_case("ours", n)
            return [*FLASK, "partners", "issue", offer_id]

        cases = [Case("floor: secrets + COPY", pg_floor, server=(PG_URL, FLOOR_APP)),
                 Case("`flask partners issue` (PostgreSQL)", pg_ours, pg_env, server=(PG_URL, OURS_APP))]
        load = interleave(cases, rounds)
        print(table(f"Bulk issue, {codes:,} codes, PostgreSQL", cases[0], cases[1:], load), flush=True)


def bench_startup(rounds: int, baseline: Path | None = None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="monthly-start-"))
    try:
        env = _instance(tmp)
        _migrate(env)
        floor_env = dict(env, FLOOR_DB=f"sqlite:///{tmp / 'rewards.sqlite3'}")
        bare = [sys.executable, "-m", "flask", "--app", "bench/floors/cli_start.py", "list"]
        cases = [Case("floor: bare Flask + Flask-SQLAlchemy, one command", lambda n: bare, floor_env),
                 Case("`flask --app rewards snapshots list`", lambda n: [*FLASK, "snapshots", "list"], env),
                 Case("`flask --app rewards draws --help`", lambda n: [*FLASK, "draws", "--help"], env)]
        if baseline is not None:  # the same database: a baseline with another schema needs its own
            base_env = dict(env, PYTHONPATH=str(baseline))
            cases += [Case(f"baseline `{baseline}`: `snapshots list`", lambda n: [*FLASK, "snapshots", "list"],
                           base_env, cwd=baseline),
                      Case(f"baseline `{baseline}`: `draws --help`", lambda n: [*FLASK, "draws", "--help"],
                           base_env, cwd=baseline)]
        load = interleave(cases, rounds)
        print(table("CLI start-up", cases[0], cases[1:], load), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", choices=("import", "startup", "compute", "issue"))
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--baseline", type=Path,
                        help="import, compute, startup: another checkout's code, timed in the same rounds")
    args = parser.parse_args()
    if args.run == "import":
        bench_import(args.rows, args.rounds, not args.no_sqlite, not args.no_pg,
                     args.baseline.resolve() if args.baseline else None)
    elif args.run == "compute":
        bench_compute(args.rows, args.rounds, not args.no_pg, args.baseline.resolve() if args.baseline else None)
    elif args.run == "issue":
        bench_issue(args.codes, args.rounds, not args.no_sqlite, not args.no_pg)
    else:
        bench_startup(args.rounds, args.baseline.resolve() if args.baseline else None)


if __name__ == "__main__":
    main()
