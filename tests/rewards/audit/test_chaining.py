"""Appends never wait for each other: events are chained after commit, in the order they became visible.

A transaction that recorded an event and stays open (a long import) blocks no other append; ids from
rolled-back transactions leave gaps and late commits come out of id order, and the chain still verifies;
events committed but not chained yet are reported as pending, never as broken.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select

from rewards.audit import services
from rewards.audit.models import Event
from rewards.db import db, utcnow


def _record(app: Flask, object_id: str, commit: bool = True) -> int:
    with app.app_context():
        services.record_event(db.session, "tester", "thing.done", "thing", object_id, {"o": object_id})
        event_id = db.session.scalar(select(Event.id).where(Event.object_id == object_id))
        assert event_id is not None
        if commit:
            db.session.commit()
        else:
            db.session.rollback()
        return event_id


def _unchained_insert(app: Flask, object_id: str) -> None:
    """An event stored but not chained: as if the chainer after its commit had failed."""
    with app.app_context():
        db.session.execute(insert(Event).values(at=utcnow(), actor="tester", action="thing.done",
                                                object_type="thing", object_id=object_id, details="{}"))
        db.session.commit()


def test_an_open_transaction_blocks_no_other_append(app: Flask, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time by design (BEGIN IMMEDIATE): only PostgreSQL appends concurrently")
    _record(app, "first")
    opened, release = threading.Event(), threading.Event()

    def long_transaction() -> int:
        with app.app_context():
            services.record_event(db.session, "importer", "thing.done", "thing", "long", {})
            event_id = db.session.scalar(select(Event.id).where(Event.object_id == "long"))
            opened.set()
            release.wait(30)
            db.session.commit()
            return event_id

    with ThreadPoolExecutor(1) as pool:
        long_id = pool.submit(long_transaction)
        assert opened.wait(10)
        # while the long transaction holds its event, another append commits and is chained at once
        short_id = _record(app, "short")
        with app.app_context():
            seqs = dict(db.session.execute(select(Event.object_id, Event.seq)).all())
        assert seqs == {"first": 1, "short": 2}  # the open transaction's event is invisible, not in the way
        release.set()
        long_id = long_id.result(30)
    assert long_id < short_id  # the long one took its id first and committed last
    with app.app_context():
        rows = db.session.execute(select(Event.object_id, Event.seq).order_by(Event.seq)).all()
        assert [r.object_id for r in rows] == ["first", "short", "long"]  # chained in commit order
        report = services.verify_log(db.session)
        assert report.ok and report.count == 3 and report.pending == 0


def test_gaps_and_concurrent_appends_verify(app: Flask, backend: str) -> None:
    """Many appends from threads, a third rolled back: every committed one is chained once, in a
    contiguous seq, and the log verifies."""
    rng = random.Random(13)
    plan = [(f"e{i}", rng.random() > 0.3) for i in range(60)]
    with ThreadPoolExecutor(4 if backend == "postgresql" else 1) as pool:
        list(pool.map(lambda p: _record(app, *p), plan))
    committed = {name for name, keep in plan if keep}
    with app.app_context():
        rows = db.session.execute(select(Event.id, Event.seq, Event.object_id).order_by(Event.seq)).all()
        assert {r.object_id for r in rows} == committed
        assert [r.seq for r in rows] == list(range(1, len(committed) + 1))
        if backend == "postgresql":
            assert max(r.id for r in rows) > len(committed)  # rolled-back appends left gaps in the ids
        report = services.verify_log(db.session)
        assert report.ok and report.count == len(committed) and report.pending == 0


def test_pending_events_are_reported_not_broken(app: Flask, backend: str) -> None:
    for i in range(3):
        _record(app, str(i))
    _unchained_insert(app, "late")
    with app.app_context():
        if backend == "postgresql":
            # the verifier chains what is committed first
            report = services.verify_log(db.session)
            assert report.ok and report.count == 4 and report.pending == 0
            return
        # SQLite chains inside the writing transaction; an event stored behind its back waits for the chainer
        report = services.verify_log(db.session)
        assert report.ok and report.count == 3 and report.pending == 1
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "1 pending" in result.output, result.output
    result = app.test_cli_runner().invoke(args=["audit", "chain"])
    assert result.exit_code == 0 and result.output.startswith("1 event(s) chained"), result.output
    with app.app_context():
        report = services.verify_log(db.session)
        assert report.ok and report.count == 4 and report.pending == 0


def test_checkpoint_covers_what_was_pending(app: Flask, backend: str) -> None:
    from rewards.signing.keystore import KeyStore

    _record(app, "a")
    _unchained_insert(app, "b")
    with app.app_context():
        if backend == "sqlite":
            services.chain_pending(db.engine)  # the consumer's periodic chainer
        envelope = services.make_checkpoint(db.session, KeyStore(app.config["KEYS_DIR"]), actor="auditor")
        db.session.commit()
        assert envelope["payload"]["seq"] == 2
        head = db.session.execute(select(Event.hash).where(Event.seq == 2)).scalar_one()
        assert envelope["payload"]["head_hash"] == head
        assert services.verify_log(db.session, envelope["payload"]).ok
        # the checkpoint's own event is chained after its commit
        assert db.session.scalar(select(Event.seq).where(Event.action == "audit.checkpoint")) == 3


def test_audit_page_shows_pending_events(app: Flask, backend: str, logged_in) -> None:  # type: ignore[no-untyped-def]
    browser = logged_in("auditor")  # (creating the user records an event, which on SQLite chains all)
    _record(app, "chained")
    _unchained_insert(app, "waiting")
    page = browser.get("/audit/").get_data(as_text=True)
    assert "chained" in page and "waiting" in page
    if backend == "sqlite":
        assert "…" in page  # the unchained event has no seq yet


def test_a_commit_never_waits_for_the_chain_lock_and_its_holder_takes_its_events(
    app: Flask, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a commit, a chainer that finds the chain lock taken leaves at once (its request goes on);
    the holder, once its batch is committed, looks again and chains what was left to it."""
    if backend == "sqlite":
        pytest.skip("SQLite chains inside the writing transaction: there is no chain lock")
    _record(app, "first")
    holding, release = threading.Event(), threading.Event()

    original = services._chain_batch

    def slow_batch(conn: Any, limit: int | None) -> int:  # a holder caught with the lock, e.g. waiting for a CPU
        holding.set()
        release.wait(30)
        return original(conn, limit)

    monkeypatch.setattr(services, "_chain_batch", slow_batch)

    def holder() -> int:
        with app.app_context():
            return services.chain_pending(db.engine)

    with ThreadPoolExecutor(1) as pool:
        chained = pool.submit(holder)
        assert holding.wait(10)
        began = time.monotonic()
        _record(app, "second")  # its commit's chainer finds the lock taken and does not wait
        returned_while_held = not release.is_set()
        release.set()
        assert chained.result(30) == 1  # the holder chained the event left to it
    assert returned_while_held and time.monotonic() - began < 30
    with app.app_context():
        rows = db.session.execute(select(Event.object_id, Event.seq).order_by(Event.seq)).all()
        assert [(r.object_id, r.seq) for r in rows] == [("first", 1), ("second", 2)]
        report = services.verify_log(db.session)
        assert report.ok and report.count == 2 and report.pending == 0


def test_the_chaining_does_not_wait_for_the_disk_in_its_own_transaction_only(app: Flask, backend: str) -> None:
    """The chainer's lock statement turns synchronous_commit off for its transaction only (PostgreSQL)."""
    from sqlalchemy import text

    if backend == "sqlite":
        pytest.skip("synchronous_commit is PostgreSQL's; SQLite chains inside the writing transaction")
    with app.app_context():
        assert db.session.scalar(text("SHOW synchronous_commit")) == "on"
        db.session.rollback()
        db.session.execute(text(f"SELECT {services._UNFLUSHED}"))
        assert db.session.scalar(text("SHOW synchronous_commit")) == "off"
        db.session.commit()
        assert db.session.scalar(text("SHOW synchronous_commit")) == "on"  # the next transaction waits again
        db.session.rollback()
