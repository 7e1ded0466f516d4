"""The statements (round trips) one API request sends to PostgreSQL, counted by the server itself.

    PYTHONPATH=. python bench/pg_statements.py [validate|priority|both] [--requests 50]
        [--log /var/log/postgresql/postgresql-15-main.log]

Builds a small PostgreSQL database (validate: 2,000 codes, rate limits on with Redis storage when one
answers, as ``bench_partners_validate.py``; priority: 2,000 accounts with their flags), serves the
requests through the app in process (Flask's test client: every hook and view as under gunicorn),
and asks the server to log every statement of the app's connections (``log_statement=all`` as a
connection option: only these connections log). After a warm-up (the key read, psycopg preparing the
statements), it counts the lines the server logged for N requests and prints each distinct statement
with its count per request. BEGIN, COMMIT, ROLLBACK, SET and pool pings would show as lines of their
own. Needs a superuser connection (the default URL) and the server log readable (run as root or
postgres); PostgreSQL's CSV or syslog destinations are not read.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

LOG_OPTION = "-clog_statement=all -capplication_name=pg_statements "


def _count(log: Path, requests: list[tuple[str, str, bytes | None, str]], label: str) -> None:
    from rewards import create_app

    app = create_app()
    client = app.test_client()

    def send(method: str, path: str, body: bytes | None, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        answer = client.open(path, method=method, data=body, headers=headers,
                             content_type="application/json" if body is not None else None)
        assert answer.status_code == 200, (answer.status_code, answer.get_data(as_text=True))

    for request in requests[:10]:  # warm-up: the key read, psycopg's prepared statements
        send(*request)
    time.sleep(0.3)
    start = log.stat().st_size
    for request in requests:
        send(*request)
    time.sleep(0.5)  # the server writes its log asynchronously
    with log.open("rb") as f:
        f.seek(start)
        lines = f.read().decode("utf-8", "replace").splitlines()
    logged = [line.split("LOG:  ", 1)[1] for line in lines
              if "LOG:  " in line and ("statement: " in line or "execute " in line)]
    print(f"{label}: {len(logged)} statements for {len(requests)} requests "
          f"({len(logged) / len(requests):.2f} per request)")
    for text, count in Counter(s[:160] for s in logged).most_common():
        print(f"  {count / len(requests):5.2f}  {text}")


def validate(log: Path, n: int) -> None:
    import bench_partners_validate as bpv

    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        token, sample = bpv.prepare("postgresql", instance, 2_000)
        config = instance / "config.py"
        config.write_text(config.read_text().replace("-csearch_path=", LOG_OPTION + "-csearch_path="))
        bodies = [f'{{"code":"{c}"}}'.encode() for c in sample]
        _count(log, [("POST", "/api/v1/partner/codes/validate", bodies[i % len(bodies)], token) for i in range(n)],
               "validate")


def priority(log: Path, n: int) -> None:
    import flags_data

    with tempfile.TemporaryDirectory() as tmp:
        instance, _ = flags_data.build("postgresql", Path(tmp), 2_000, staff_lines=200, log=lambda *a: None)
        token = flags_data.make_token(instance)
        config = instance / "config.py"
        config.write_text(config.read_text() + "SQLALCHEMY_ENGINE_OPTIONS = "
                          + repr({"connect_args": {"options": LOG_OPTION.strip()}}) + "\n")
        os.environ["REWARDS_INSTANCE_PATH"] = str(instance)
        _count(log, [("GET", f"/api/v1/accounts/{i * 7 % 2_000:010d}/priority", None, token) for i in range(n)],
               "priority look-up")
        flags_data.drop_pg()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint", choices=["validate", "priority", "both"], nargs="?", default="both")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--log", type=Path, default=Path("/var/log/postgresql/postgresql-15-main.log"))
    args = parser.parse_args()
    if args.endpoint in ("validate", "both"):
        validate(args.log, args.requests)
    if args.endpoint in ("priority", "both"):
        priority(args.log, args.requests)


if __name__ == "__main__":
    main()
