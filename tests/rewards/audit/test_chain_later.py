"""Transactions marked ``chain_later`` (a partner redemption) are chained at most once per
``LATER_SECONDS`` per process; the events between wait for the next chainer and the chain stays whole."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from rewards.audit import services
from rewards.audit.models import Event
from rewards.db import db


def _append(name: str, later: bool) -> None:
    services.record_event(db.session, "api:site", "thing.done", "thing", name, {"n": name})
    if later:
        services.chain_later(db.session)
    db.session.commit()


def test_chain_later_leaves_events_to_the_next_chainer(app: Flask, backend: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "LATER_SECONDS", 3600.0)
    with app.app_context():
        _append("a", later=True)  # chained, or left if this process chained within the hour
        _append("b", later=True)  # left: this process chained within the hour (at the latest for "a")
        if backend == "postgresql":
            assert services.pending_count(db.session) >= 1
        else:  # SQLite chains in the writing transaction: nothing is ever left
            assert services.pending_count(db.session) == 0
        _append("c", later=False)  # an ordinary commit chains everything pending, in commit order
        assert services.pending_count(db.session) == 0
        rows = db.session.execute(select(Event.object_id, Event.seq).order_by(Event.seq)).all()
        assert [r.object_id for r in rows] == ["a", "b", "c"] and [r.seq for r in rows] == [1, 2, 3]
        report = services.verify_log(db.session)
        assert report.ok and report.count == 3 and report.pending == 0


def test_chain_later_chains_once_the_interval_is_over(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "LATER_SECONDS", 0.0)
    with app.app_context():
        for name in ("a", "b"):
            _append(name, later=True)
            assert services.pending_count(db.session) == 0


def test_a_rollback_forgets_the_mark(app: Flask, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "LATER_SECONDS", 3600.0)
    with app.app_context():
        services.chain_later(db.session)
        db.session.rollback()
        services.record_event(db.session, "staff", "thing.done", "thing", "x", {})
        db.session.commit()  # not marked: chained at once
        assert services.pending_count(db.session) == 0
