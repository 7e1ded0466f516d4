"""A consumer killed with -9 at random points of a bulk issue, on both engines: no partial state (every
committed code has its batch's event and is counted by its run; no run left running once its job is
closed) and no stuck job; the next run continues where the killed one stopped, each account once."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners.models import Code, IssueRun
from rewards.audit.models import Event
from rewards.bulkload import bulk_insert
from rewards.db import db
from rewards.jobs import store
from rewards.jobs.models import Job
from tests.rewards.jobs.consumers import STALE_SECONDS, Consumers, job, kill_nine, queue_settings, stuck_jobs, wait_job
from tests.support import make_snapshot

pytestmark = pytest.mark.slow
ACCOUNTS = 300_000  # half of them qualify
QUALIFYING = ACCOUNTS // 2
BATCH = 10_000
KILLS = 3


@pytest.fixture
def app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    return app_factory(PARTNER_ISSUE_BATCH=BATCH, **queue_settings(tmp_path))


# The consumers issue in batches of 10,000 (15 a run): a kill at a random point lands inside a run, not
# after it (a batch of 50,000 takes about half a second on SQLite: three kills could all find it over).
@pytest.fixture
def consumers(backend: str, tmp_path: Path) -> Iterator[Consumers]:
    started = Consumers(backend, tmp_path, {**queue_settings(tmp_path), "PARTNER_ISSUE_BATCH": BATCH})
    yield started
    started.stop_all()


def _snapshot(app: Flask) -> None:
    with app.app_context():
        snap = make_snapshot(db.session, "2026-10", {})
        tiers = ("beginner", "ideal", "promising", "responsible")  # ideal and responsible qualify
        rows = ((snap.id, f"{7100000000 + i:010d}", tiers[i % 4], None) for i in range(ACCOUNTS))
        bulk_insert(db.session, "snapshot_rows", ("snapshot_id", "account", "tier", "points"), rows)
        snap.row_count = ACCOUNTS
        db.session.commit()


def _partial_states(app: Flask, offer_id: int) -> list[str]:
    """What would be a partial state: codes without their batch's event, a run's count off its codes,
    an account with two codes, a run still running although its job is closed."""
    problems = []
    with app.app_context():
        codes = dict(
            db.session.execute(
                select(Code.issue_run_id, func.count()).where(Code.offer_id == offer_id).group_by(Code.issue_run_id)
            ).all()
        )
        logged: dict[int, int] = {}
        for details in db.session.scalars(select(Event.details).where(Event.action == "codes.issue_batch")):
            d = json.loads(details)
            logged[d["run"]] = logged.get(d["run"], 0) + d["count"]
        if codes != {run: n for run, n in logged.items() if n}:
            problems.append(f"codes by run {codes} != logged batches {logged}")
        for run in db.session.scalars(select(IssueRun).where(IssueRun.offer_id == offer_id)):
            if run.issued != codes.get(run.id, 0):
                problems.append(f"run {run.id} counts {run.issued}, has {codes.get(run.id, 0)} codes")
            params = json.dumps({"run_id": run.id}, separators=(",", ":"))
            driver = db.session.scalar(select(Job).where(Job.params == params))
            if run.state == "running" and driver is not None and driver.state in ("done", "failed", "cancelled"):
                problems.append(f"run {run.id} running, its job {driver.id} {driver.state}")
        twice = db.session.scalar(
            select(func.count()).select_from(
                select(Code.account)
                .where(Code.offer_id == offer_id)
                .group_by(Code.account)
                .having(func.count() > 1)
                .subquery()
            )
        )
        if twice:
            problems.append(f"{twice} accounts have two codes")
    return problems


def _kill_point(app: Flask, job_id: int, rng: random.Random) -> None:
    """Wait for a random point of the run: a random share of its codes issued (as its progress in the
    queue's store says: the database may be locked by the batch being written), then up to 0.1 s more."""
    share = rng.uniform(0.0, 0.6)
    deadline = time.monotonic() + 90
    seen = False
    while time.monotonic() < deadline:
        with app.app_context():
            live = store.progress(app, job_id)
            started = store.last_beat(app, job_id) is not None
        if share < 0.1 and started:
            break  # before its first batch commits
        if live is None and seen:
            break  # finished: the runner dropped its progress
        if live is not None:
            seen = True
            if live[1] and live[0] >= share * live[1]:
                break
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.1))  # somewhere inside the next batch, or between two


def _start_run(page: Any, app: Flask, offer_id: int) -> int:
    answer = page.post(f"/partners/offers/{offer_id}", data={"op": "issue", "period": "2026-10"})
    assert answer.status_code == 302 and "/partners/runs/" in answer.headers["Location"]
    with app.app_context():
        return int(db.session.scalar(select(func.max(Job.id)).where(Job.kind == "partners.issue")))


def test_kill_minus_nine_during_bulk_issues(
    app: Flask, backend: str, consumers: Consumers, logged_in: Any, make_partner: Any, make_offer: Any
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    _snapshot(app)
    offer_id = make_offer(make_partner()["id"])
    page = logged_in("marketing")
    killed = 0
    for _round in range(KILLS):
        job_id = _start_run(page, app, offer_id)
        consumer = consumers.start()
        _kill_point(app, job_id, rng)
        kill_nine(consumer)
        killed += job(app, job_id).state == "running"
        time.sleep(STALE_SECONDS + 1)
        closer = consumers.start()  # a consumer starting closes the jobs of the dead one
        final = wait_job(app, job_id, lambda j: j.state not in ("queued", "running"), 60)
        assert final.state in ("done", "failed"), consumers.log()
        if final.state == "failed":
            assert final.error_code == "interrupted"
        kill_nine(closer)
        with app.app_context():  # the periodic close of the runs whose job was closed (each minute)
            from partners.jobs import close_interrupted_runs

            close_interrupted_runs(db.session)
            db.session.commit()
        assert _partial_states(app, offer_id) == [], f"seed {seed}"
        assert stuck_jobs(app) == 0
    job_id = _start_run(page, app, offer_id)  # the next run issues what is missing
    consumers.start()
    assert wait_job(app, job_id, lambda j: j.state not in ("queued", "running"), 120).state == "done", consumers.log()
    assert _partial_states(app, offer_id) == [] and stuck_jobs(app) == 0, f"seed {seed}"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Code).where(Code.offer_id == offer_id)) == QUALIFYING
        assert set(db.session.scalars(select(IssueRun.state))) <= {"done", "failed"}
    assert killed >= 1, f"no kill landed while a run was running (seed {seed})"
