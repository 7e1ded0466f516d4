"""Floor of a snapshot import: the csv module, the tier names mapped, rows into a table of the same key.

    python bench/floors/import_snapshot.py FILE --sqlite DB_FILE
    python bench/floors/import_snapshot.py FILE --pg URL --schema NAME

SQLite: the rows sorted by account, then one ``executemany`` into a ``WITHOUT ROWID`` table keyed
(snapshot_id, account), one transaction. PostgreSQL: ``COPY`` in 20,000-row writes, then ``ANALYZE``.
No checks beyond what the table's key and CHECK do: that is the service's extra work.
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
from collections.abc import Iterator

TIERS = {"идеальный": "ideal", "ответственный": "responsible", "перспективный": "promising",
         "начинающий": "beginner", "ideal": "ideal", "responsible": "responsible", "promising": "promising",
         "beginner": "beginner"}
TABLE = """CREATE TABLE snapshot_rows (
    snapshot_id INTEGER NOT NULL, account VARCHAR(32) {collate} NOT NULL, tier VARCHAR(12) NOT NULL,
    points INTEGER, facts TEXT,
    CONSTRAINT ck_tier CHECK (tier IN ('beginner', 'promising', 'responsible', 'ideal')),
    PRIMARY KEY (snapshot_id, account)){suffix}"""


def rows(path: str) -> Iterator[tuple[int, str, str, int]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=";")
        next(reader)
        for account, tier, points in reader:
            yield 1, account, TIERS[tier.lower()], int(points)


def sqlite(path: str, db: str) -> int:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(TABLE.format(collate="", suffix=" WITHOUT ROWID"))
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO snapshot_rows (snapshot_id, account, tier, points) VALUES (?, ?, ?, ?)",
                     sorted(rows(path), key=lambda r: r[1]))
    conn.execute("COMMIT")
    return conn.execute("SELECT count(*) FROM snapshot_rows").fetchone()[0]


def postgresql(path: str, url: str, schema: str) -> int:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), options=f"-csearch_path={schema}") as conn:
        conn.execute(TABLE.format(collate='COLLATE "C"', suffix=""))
        batch: list[str] = []
        copy_sql = "COPY snapshot_rows (snapshot_id, account, tier, points) FROM STDIN"
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for snapshot_id, account, tier, points in rows(path):
                batch.append(f"{snapshot_id}\t{account}\t{tier}\t{points}\n")
                if len(batch) == 20_000:
                    copy.write("".join(batch))
                    batch.clear()
            copy.write("".join(batch))
        conn.execute("ANALYZE snapshot_rows")
        conn.commit()
        return conn.execute("SELECT count(*) FROM snapshot_rows").fetchone()[0]  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--sqlite")
    parser.add_argument("--pg")
    parser.add_argument("--schema", default="public")
    args = parser.parse_args()
    count = sqlite(args.file, args.sqlite) if args.sqlite else postgresql(args.file, args.pg, args.schema)
    print(f"{count} rows")


if __name__ == "__main__":
    main()
