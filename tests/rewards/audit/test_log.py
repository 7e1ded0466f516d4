"""The hash-chained event log: every tamper kind is detected."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import delete, select, update

from rewards.audit import services
from rewards.audit.models import Event
from rewards.db import db
from rewards.signing.keystore import KeyStore
from signedjson import verify_envelope


def _seed(app: Flask, n: int = 5) -> None:
    with app.app_context():
        for i in range(n):
            services.record_event(db.session, "tester", "thing.done", "thing", str(i), {"i": i, "text": "ё"})
        db.session.commit()


def test_intact_log_verifies(app: Flask) -> None:
    _seed(app)
    with app.app_context():
        report = services.verify_log(db.session)
        assert report.ok and report.count == 5 and report.head_seq == 5


def test_event_rolls_back_with_its_change(app: Flask) -> None:
    _seed(app, 2)
    with app.app_context():
        services.record_event(db.session, "tester", "thing.done", "thing", "x", {})
        db.session.rollback()
        assert db.session.scalar(select(db.func.count()).select_from(Event)) == 2


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("modify", "event 3: content does not match its hash"),
        ("delete", "event 4: expected seq 3 (deleted)"),
        ("reorder", "event 3: link to previous event broken"),
        ("insert", "event 3: link to previous event broken"),
    ],
)
def test_tampering_is_detected(app: Flask, tamper: str, problem: str) -> None:
    _seed(app)
    with app.app_context():
        if tamper == "modify":
            db.session.execute(update(Event).where(Event.seq == 3).values(details='{"i":300,"text":"ё"}'))
        elif tamper == "delete":
            db.session.execute(delete(Event).where(Event.seq == 3))
        elif tamper == "reorder":
            # swap the contents of events 3 and 4, keeping their sequence numbers
            e3, e4 = (db.session.scalars(select(Event).where(Event.seq == s)).one() for s in (3, 4))
            fields = ("at", "actor", "action", "object_type", "object_id", "details", "prev_hash", "hash")
            v3, v4 = ({f: getattr(e, f) for f in fields} for e in (e3, e4))
            db.session.execute(delete(Event).where(Event.seq.in_([3, 4])))
            db.session.flush()
            db.session.add_all([Event(seq=3, **v4), Event(seq=4, **v3)])
        elif tamper == "insert":
            # shift 3..5 up by one and forge a new event 3 that hashes correctly but links wrongly
            from rewards.audit.chain import event_body, event_hash

            rows = db.session.scalars(select(Event).where(Event.seq >= 3).order_by(Event.seq.desc())).all()
            for row in rows:
                row.seq += 1
                db.session.flush()
            e2 = db.session.scalars(select(Event).where(Event.seq == 2)).one()
            body = event_body(3, e2.at, "intruder", "thing.done", "thing", "z", {}, "f" * 64)
            db.session.add(
                Event(seq=3, at=e2.at, actor="intruder", action="thing.done", object_type="thing", object_id="z",
                      details="{}", prev_hash="f" * 64, hash=event_hash(body))
            )
        db.session.commit()
        report = services.verify_log(db.session)
        assert not report.ok
        assert report.problem == problem


def test_truncated_tail_detected_against_checkpoint(app: Flask) -> None:
    _seed(app)
    with app.app_context():
        store = KeyStore(app.config["KEYS_DIR"])
        envelope = services.make_checkpoint(db.session, store, actor="auditor")
        db.session.commit()
        checkpoint = verify_envelope(envelope, store.keyset())
        assert checkpoint["seq"] == 5
        assert services.verify_log(db.session, checkpoint).ok
        # cut the last two events (the checkpoint's own event 6, and event 5): the chain alone looks fine
        db.session.execute(delete(Event).where(Event.seq >= 5))
        db.session.commit()
        assert services.verify_log(db.session).ok
        report = services.verify_log(db.session, checkpoint)
        assert not report.ok and report.problem == "log ends at event 4, checkpoint holds 5"


def test_cli_verify_and_checkpoint(app: Flask, tmp_path) -> None:
    _seed(app)
    runner = app.test_cli_runner()
    out = tmp_path / "cp.json"
    result = runner.invoke(args=["audit", "checkpoint", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["payload"]["seq"] == 5
    result = runner.invoke(args=["audit", "verify", "--checkpoint", str(out)])
    assert result.exit_code == 0 and result.output.startswith("OK: 6 events")
    with app.app_context():
        db.session.execute(update(Event).where(Event.seq == 2).values(actor="someone else"))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "event 2: content does not match its hash" in result.output
