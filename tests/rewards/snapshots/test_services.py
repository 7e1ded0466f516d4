"""Snapshot services on both databases: import, replace, compute, explain, compare, export."""

from __future__ import annotations

import io
import json

import pytest
from flask import Flask
from sqlalchemy import func, select

from rewards.audit.models import Event
from rewards.db import db
from rewards.errors import Conflict, DomainError, NotFound
from rewards.snapshots import services
from rewards.snapshots.digest import snapshot_digest
from rewards.snapshots.models import RulesFile, Snapshot, SnapshotRow
from rewards.snapshots.queries import iter_rows
from tests.rewards.rating.helpers import csv_bytes, good_month, row

CSV = "Лицевой счёт;Рейтинг;Баллы\r\n0002;идеальный;41\r\n0001;перспективный;12\r\n10;ideal;\r\n".encode(
    "cp1251"
)


def _import(data: bytes, period: str = "2026-10", **kw):
    return services.import_snapshot(
        db.session, io.BytesIO(data), period=period, source_name="upload.csv", actor="tester", **kw
    )


def test_import_stores_rows_provenance_and_event(app: Flask) -> None:
    with app.app_context():
        outcome = _import(CSV)
        db.session.commit()
        snap = db.session.get(Snapshot, outcome.snapshot.id)
        assert snap.status == "active" and snap.source == "import" and snap.loaded_by == "tester"
        assert snap.row_count == 3 and snap.has_points and snap.file_format == "csv"
        assert services.tier_counts(snap) == {"beginner": 0, "promising": 1, "responsible": 0, "ideal": 2}
        rows = list(iter_rows(db.session, snap.id))
        assert rows == [("0001", "promising", 12), ("0002", "ideal", 41), ("10", "ideal", None)]
        assert snap.digest == snapshot_digest(rows)
        assert services.verify_digest(db.session, snap)
        import hashlib

        assert snap.file_sha256 == hashlib.sha256(CSV).hexdigest()
        event = db.session.scalars(select(Event).where(Event.action == "snapshot.imported")).one()
        details = json.loads(event.details)
        assert details["digest"] == snap.digest and details["rows"] == 3 and event.actor == "tester"


@pytest.mark.parametrize("path", ["hashed-in-db", "too-big", "collation-not-bytes"])
def test_the_digest_is_the_canonical_one_either_way(app: Flask, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """PostgreSQL hashes a snapshot itself when it has at most _DIGEST_IN_DB_ROWS rows and its collation
    sorts digit strings as bytes, else the lines are read back and checked; each way gives the digest of
    the rows in byte order (leading zeros, prefixes, rows without points). SQLite always reads back."""
    broken = "SELECT no_such_column FROM snapshot_rows WHERE snapshot_id = %s"
    if path == "hashed-in-db":
        monkeypatch.setattr(services, "_DIGEST_LINES_PG", broken)  # the read-back is not used
    else:
        monkeypatch.setattr(services, "_DIGEST_IN_DB_PG", broken)
        if path == "too-big":
            monkeypatch.setattr(services, "_DIGEST_IN_DB_ROWS", 8)
        else:  # a sample out of byte order stands for a collation that sorts it so
            monkeypatch.setattr(services, "_ORDER_SAMPLE", ["1", "09"])
    accounts = ["7", "07", "007", "70", "0070", "1", "10", "9", "0"]
    data = "account;tier;points\n" + "".join(f"{account};{'ideal' if n % 2 else 'beginner'};{'' if n % 3 else n * 11}\n"
                                              for n, account in enumerate(accounts))
    with app.app_context():
        snap = _import(data.encode()).snapshot
        db.session.commit()
        rows = list(iter_rows(db.session, snap.id))
        assert [a for a, _, _ in rows] == sorted(accounts)
        expected = snapshot_digest([(a, "ideal" if n % 2 else "beginner", None if n % 3 else n * 11)
                                    for n, a in enumerate(accounts)])
        assert snap.digest == expected == snapshot_digest(rows)
        assert services.verify_digest(db.session, snap)
        db.session.execute(SnapshotRow.__table__.update().where(SnapshotRow.snapshot_id == snap.id,
                                                                 SnapshotRow.account == "07").values(points=5))
        assert not services.verify_digest(db.session, snap)


def test_a_bad_file_loads_nothing_and_reports_by_line(app: Flask) -> None:
    with app.app_context():
        data = b"account;tier\n1;ideal\n2;gold\n1;beginner\n" + b"".join(b"%d;x\n" % i for i in range(3, 200))
        with pytest.raises(services.FileRejected) as info:
            _import(data)
        db.session.rollback()
        errors = info.value.errors
        assert errors["total"] == 199 and len(errors["shown"]) == 100
        assert errors["shown"][0] == {
            "line": 3,
            "kind": "unknown_tier",
            "message": "unknown tier 'gold'",
            "source": "upload.csv",
            "field": "tier",
            "template": "unknown tier %(tier)s",  # what a page needs to say it in its own language
            "params": {"tier": "'gold'"},
        }
        assert errors["shown"][1]["kind"] == "duplicate_account"
        assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0
        assert db.session.scalar(select(func.count()).select_from(SnapshotRow)) == 0


class _OneWay(io.RawIOBase):
    """A stream that cannot go back (a pipe): the reader must find repeated accounts itself."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("one_way", [False, True], ids=["file", "pipe"])
def test_a_repeated_account_past_the_first_chunk_is_reported_by_line(app: Flask, one_way: bool) -> None:
    # On a file the table's primary key finds the repeat (COPY sends 20,000 rows at a time; the repeat
    # is in the second chunk) and the file is read again for the report; a pipe is checked as it is read.
    lines = [b"%07d;ideal" % i for i in range(25_000)] + [b"0000007;beginner", b"9999999;ideal"]
    data = b"account;tier\n" + b"\n".join(lines) + b"\n"
    stream = io.BufferedReader(_OneWay(data)) if one_way else io.BytesIO(data)
    with app.app_context():
        assert stream.seekable() is not one_way
        with pytest.raises(services.FileRejected) as info:
            services.import_snapshot(db.session, stream, period="2026-10", source_name="big.csv", actor="tester")
        db.session.rollback()
        errors = info.value.errors
        assert errors["total"] == 1
        assert errors["shown"][0]["line"] == 25_002 and errors["shown"][0]["kind"] == "duplicate_account"
        assert errors["shown"][0]["params"] == {"account": "0000007"}
        assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0
        assert db.session.scalar(select(func.count()).select_from(SnapshotRow)) == 0


@pytest.mark.parametrize("data", [b"", b"account;tier\n"])
def test_empty_files_are_refused(app: Flask, data: bytes) -> None:
    with app.app_context(), pytest.raises(services.FileRejected):
        _import(data)


def test_a_taken_period_is_refused_unless_replaced_and_the_old_one_stays(app: Flask) -> None:
    with app.app_context():
        first = _import(CSV).snapshot.id
        db.session.commit()
        with pytest.raises(Conflict):
            _import(b"account,tier\n5,ideal\n")
        db.session.rollback()
        outcome = services.import_snapshot(
            db.session,
            io.BytesIO(b"account,tier\n5,ideal\n"),
            period="2026-10",
            source_name="fix.csv",
            actor="boss",
            replace=True,
        )
        db.session.commit()
        old = db.session.get(Snapshot, first)
        assert old.status == "superseded" and old.superseded_by_id == outcome.snapshot.id
        assert old.superseded_by_actor == "boss"
        assert db.session.scalar(select(func.count()).where(SnapshotRow.snapshot_id == first)) == 3
        assert services.active_for(db.session, "2026-10").id == outcome.snapshot.id
        event = db.session.scalars(select(Event).where(Event.action == "snapshot.superseded")).one()
        assert event.actor == "boss" and event.object_id == str(first)


def test_jsonl_import_and_bad_period(app: Flask) -> None:
    with app.app_context():
        outcome = _import(b'{"account": "007", "tier": "ideal", "points": 3}\n', fmt="jsonl")
        assert outcome.snapshot.row_count == 1
        with pytest.raises(DomainError):
            _import(CSV, period="2026-13")
        with pytest.raises(DomainError):
            _import(CSV, fmt="xml")


MONTHS = ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]


def _behaviour() -> bytes:
    rows = [good_month("0001", m) for m in MONTHS]
    rows += [good_month("0002", m) for m in MONTHS[:5]]
    rows += [row("0002", "2026-10", "2026-10-27T10:00:00Z", "app", "2026-11-11T10:00:00Z", "bank")]
    rows += [row("0003", "2026-10")]
    return csv_bytes(rows)


def test_compute_records_rules_and_explains_each_account(app: Flask) -> None:
    with app.app_context():
        outcome = services.compute_snapshot(
            db.session, [(io.BytesIO(_behaviour()), "behaviour.csv")], period="2026-10", actor="tester"
        )
        db.session.commit()
        snap = outcome.snapshot
        assert snap.source == "computed" and snap.rules_version == "default-v1" and len(snap.rules_hash) == 64
        assert db.session.get(RulesFile, snap.rules_hash) is not None
        rows = list(iter_rows(db.session, snap.id))
        assert [(a, t) for a, t, _ in rows] == [
            ("0001", "ideal"),
            ("0002", "responsible"),
            ("0003", "beginner"),
        ]
        assert snap.digest == snapshot_digest(rows) and services.verify_digest(db.session, snap)
        doc = services.account_tier(db.session, "0002", "2026-10")
        assert doc["explained"] and doc["tier"] == "responsible" and doc["rules_version"] == "default-v1"
        last = {c["criterion"]: c for c in doc["months"][-1]["criteria"]}
        assert "after the 25th" in last["reading_on_time"]["reason"]
        assert doc["next_tier"]["tier"] == "ideal"
        assert db.session.scalars(select(Event.action).where(Event.action == "snapshot.computed")).one()


def test_compute_with_errors_stores_nothing(app: Flask) -> None:
    with app.app_context():
        data = csv_bytes([good_month("0002", "2026-10"), good_month("0001", "2026-10")])
        with pytest.raises(services.FileRejected) as info:
            services.compute_snapshot(db.session, [(io.BytesIO(data), "b.csv")], period="2026-10", actor="t")
        db.session.rollback()
        assert info.value.errors["shown"][0]["kind"] == "unsorted"
        assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0


def test_compute_with_a_custom_rules_file_and_a_bad_one(app: Flask) -> None:
    from rewards.rating.rules import default_rules_bytes

    with app.app_context():
        doc = json.loads(default_rules_bytes())
        doc["version"] = "strict-v2"
        doc["tiers"]["ideal"]["min_points"] = 48
        outcome = services.compute_snapshot(
            db.session,
            [(io.BytesIO(_behaviour()), "b.csv")],
            period="2026-10",
            actor="t",
            rules_bytes=json.dumps(doc).encode(),
        )
        assert outcome.snapshot.rules_version == "strict-v2"
        assert services.account_tier(db.session, "0001", "2026-10")["rules_version"] == "strict-v2"
        doc["tiers"]["ideal"]["min_points"] = 1
        with pytest.raises(DomainError, match="rules.tiers.ideal.min_points"):
            services.compute_snapshot(
                db.session,
                [(io.BytesIO(_behaviour()), "b.csv")],
                period="2026-11",
                actor="t",
                rules_bytes=json.dumps(doc).encode(),
            )


def test_explanation_of_an_imported_snapshot_and_history(app: Flask) -> None:
    with app.app_context():
        _import(CSV, period="2026-09")
        _import(b"account;tier\n0002;responsible\n", period="2026-10")
        doc = services.account_tier(db.session, "0002")
        assert doc["period"] == "2026-10" and doc["tier"] == "responsible" and not doc["explained"]
        assert [(h["period"], h["tier"]) for h in services.account_history(db.session, "0002")] == [
            ("2026-09", "ideal"),
            ("2026-10", "responsible"),
        ]
        with pytest.raises(NotFound):
            services.account_tier(db.session, "0001")
        with pytest.raises(NotFound):
            services.account_tier(db.session, "0002", "2025-01")


def test_transition_matrix(app: Flask) -> None:
    with app.app_context():
        _import(b"account;tier\n1;beginner\n2;beginner\n3;ideal\n4;promising\n", period="2026-09")
        _import(b"account;tier\n1;promising\n2;beginner\n3;responsible\n5;ideal\n", period="2026-10")
        result = services.compare(db.session, "2026-09", "2026-10")
        m = result["matrix"]
        assert (
            m["beginner"]["promising"] == 1
            and m["beginner"]["beginner"] == 1
            and m["ideal"]["responsible"] == 1
        )
        assert result["left"] == {"beginner": 0, "promising": 1, "responsible": 0, "ideal": 0}
        assert result["joined"] == {"beginner": 0, "promising": 0, "responsible": 0, "ideal": 1}
        assert (result["moved_up"], result["moved_down"], result["unchanged"]) == (1, 1, 1)


def test_exports(app: Flask) -> None:
    with app.app_context():
        snap = _import(CSV).snapshot
        bills = "".join(services.export_lines(db.session, snap, "bills"))
        assert bills == "Лицевой счет;Рейтинг\n0001;перспективный\n0002;идеальный\n10;идеальный\n"
        full = "".join(services.export_lines(db.session, snap, "full"))
        assert full == "account;tier;points\n0001;promising;12\n0002;ideal;41\n10;ideal;\n"
        # The documented recipe: drop the header, tabs for semicolons, sort by bytes, SHA-256.
        import hashlib

        body = "".join(sorted(line.replace(";", "\t") + "\n" for line in full.splitlines()[1:]))
        assert hashlib.sha256(body.encode()).hexdigest() == snap.digest
        with pytest.raises(DomainError):
            list(services.export_lines(db.session, snap, "pdf"))


def test_demo_snapshots_are_idempotent(app: Flask) -> None:
    from rewards.snapshots.demo import ACCOUNTS, load_demo_snapshots

    with app.app_context():
        load_demo_snapshots(db.session)
        load_demo_snapshots(db.session)
        db.session.commit()
        snaps = services.list_snapshots(db.session)
        assert [(s.period, s.source) for s in snaps] == [("2026-10", "computed"), ("2026-09", "import")]
        counts = services.tier_counts(snaps[0])
        assert sum(counts.values()) == ACCOUNTS and all(counts.values())
        result = services.compare(db.session, "2026-09", "2026-10")
        assert sum(sum(r.values()) for r in result["matrix"].values()) == ACCOUNTS


def test_a_future_period_is_refused_unless_confirmed_and_never_latest(app: Flask) -> None:
    from rewards.snapshots.queries import current_period, latest_snapshot

    with app.app_context():
        now = current_period()
        year, month = map(int, now.split("-"))
        ahead = f"{year + month // 12}-{month % 12 + 1:02d}"
        with pytest.raises(DomainError) as refused:
            _import(CSV, period=ahead)
        assert refused.value.code == "future_period" and refused.value.field == "period"
        assert ahead in refused.value.message and now in refused.value.message
        with pytest.raises(DomainError) as refused:
            services.compute_snapshot(db.session, [(io.BytesIO(_behaviour()), "b.csv")], period=ahead, actor="t")
        assert refused.value.code == "future_period"
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0  # nothing written
        _import(CSV, period=now)
        loaded = _import(CSV, period=ahead, future=True)
        db.session.commit()
        assert loaded.snapshot.period == ahead
        assert latest_snapshot(db.session).period == now  # type: ignore[union-attr]
        with pytest.raises(DomainError) as bad:
            _import(CSV, period="2026-13", future=True)  # a malformed period stays a bad period
        assert bad.value.code == "bad_period"
