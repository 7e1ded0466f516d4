"""Two staff members press the same button at the same moment: exactly one step runs, the other gets
a clean Conflict (409), on SQLite and PostgreSQL. Each worker is a thread with its own app context,
so its own session and connection.

On PostgreSQL the workers meet at a barrier after reading the draw, so both really see the old
state before either writes (the race the conditional UPDATE must settle). On SQLite the first
statement of a transaction takes the writer lock (BEGIN IMMEDIATE), so the second worker simply
waits; a barrier there would only deadlock until the lock times out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from draws import services
from draws.models import CreditBatch, Draw, DrawCredit, DrawEntrantList, DrawWinner
from rewards.db import db
from rewards.errors import Conflict
from tests.draws.conftest import DrawKit, make_kit

WORKERS = 3


def race(app: Flask, backend: str, step: Callable[[], Any], monkeypatch: pytest.MonkeyPatch,
         meet: str = "get_draw") -> list[str]:
    """Run ``step`` in WORKERS threads at once; return each one's outcome ("ok", "conflict" or the error)."""
    barrier = threading.Barrier(WORKERS, timeout=20)
    if backend == "postgresql":
        original = getattr(services, meet)

        def meeting(*args: Any, **kwargs: Any) -> Any:
            value = original(*args, **kwargs)
            barrier.wait()
            return value

        monkeypatch.setattr(services, meet, meeting)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with app.app_context():
            try:
                step()
                db.session.commit()
                outcome = "ok"
            except Conflict:
                db.session.rollback()
                outcome = "conflict"
            except Exception as exc:  # noqa: BLE001 - recorded, and the test fails on it
                db.session.rollback()
                outcome = f"{type(exc).__name__}: {exc}"[:300]
            finally:
                db.session.remove()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    monkeypatch.undo()
    return sorted(outcomes)


@pytest.fixture
def setup(app: Flask) -> DrawKit:
    with app.app_context():
        return make_kit(app)


def test_concurrent_freezes(app: Flask, backend: str, setup: DrawKit, monkeypatch: pytest.MonkeyPatch) -> None:
    kit = setup
    with app.app_context():
        pid = kit.draft()
        kit.announce(pid)
        freeze_at = services.get_draw(db.session, pid).freeze_at
    from datetime import timedelta

    def step() -> None:
        services.freeze(db.session, pid, actor="m", signer=kit.signer, box=kit.box, timezone=kit.timezone,
                        now=freeze_at + timedelta(seconds=30))

    assert race(app, backend, step, monkeypatch) == ["conflict"] * (WORKERS - 1) + ["ok"]
    with app.app_context():
        assert services.get_draw(db.session, pid).state == "frozen"
        assert db.session.scalar(select(func.count()).select_from(DrawEntrantList)) == 1


def test_concurrent_draws(app: Flask, backend: str, setup: DrawKit, monkeypatch: pytest.MonkeyPatch) -> None:
    kit = setup
    with app.app_context():
        pid = kit.draft()
        kit.announce(pid)
        kit.freeze(pid)
        value, at = kit.entropy_for(pid)

    def step() -> None:
        services.run_draw(db.session, pid, value, actor="m", signer=kit.signer, box=kit.box, now=at)

    assert race(app, backend, step, monkeypatch) == ["conflict"] * (WORKERS - 1) + ["ok"]
    with app.app_context():
        draw = db.session.scalar(select(Draw).where(Draw.public_id == pid))
        assert draw is not None and draw.state == "drawn"
        assert db.session.scalar(select(func.count()).select_from(DrawWinner)) == 3 + 2  # prizes + reserves, once


def test_concurrent_credit_exports(app: Flask, backend: str, setup: DrawKit, monkeypatch: pytest.MonkeyPatch) -> None:
    kit = setup
    with app.app_context():
        kit.full()

    real_batch = CreditBatch
    barrier_calls: list[int] = []

    def step() -> None:
        services.export_credits(db.session, actor="m")

    if backend == "postgresql":
        # meet after the pending credits were read and before anything is written
        barrier = threading.Barrier(WORKERS, timeout=20)

        def batch(**kwargs: Any) -> CreditBatch:
            barrier_calls.append(1)
            barrier.wait()
            return real_batch(**kwargs)

        monkeypatch.setattr(services, "CreditBatch", batch)
    outcomes = race(app, "sqlite", step, monkeypatch)  # the barrier (if any) is already in place
    # Racing exports claim the pending credits with one UPDATE: the losers wait for the winner's row
    # locks (PostgreSQL) or its writer lock (SQLite), then find nothing pending (a clean 422 refusal).
    refusals = [o for o in outcomes if o != "ok"]
    assert outcomes.count("ok") == 1, outcomes
    assert refusals == ["DrawRefused: there are no pending credits to export"] * (WORKERS - 1), outcomes
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CreditBatch)) == 1
        states = list(db.session.scalars(select(DrawCredit.state)))
        assert states == ["exported"] * 3
    assert backend == "sqlite" or len(barrier_calls) == WORKERS
