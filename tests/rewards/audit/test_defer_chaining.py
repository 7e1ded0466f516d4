"""A process that defers chaining (the jobs consumer, while live traffic is served) leaves its events
pending for the next chainer; the chain stays whole."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from rewards.audit import services
from rewards.audit.models import Event
from rewards.db import db


@pytest.fixture
def deferring() -> Iterator[list[bool]]:
    state = [True]
    services.defer_chaining(lambda: state[0])
    yield state
    services.defer_chaining(None)


def test_deferred_events_stay_pending_until_a_chainer_runs(app: Flask, backend: str, deferring: list[bool]) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite chains inside the writing transaction: there is nothing to defer")
    with app.app_context():
        services.record_event(db.session, "job", "test.deferred", "test", "1", {})
        db.session.commit()
        assert services.any_pending(db.engine) and services.pending_count(db.session) == 1
        deferring[0] = False  # the traffic is over: the next commit chains everything pending
        services.record_event(db.session, "job", "test.chained", "test", "2", {})
        db.session.commit()
        assert not services.any_pending(db.engine)
        assert [e.seq is not None for e in db.session.query(Event).order_by(Event.id)] == [True, True]
        assert services.verify_log(db.session).ok
