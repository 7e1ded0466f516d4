"""The job record, the runner's protocol, pages and API, with jobs run at once (``memory://``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from rewards.audit.models import Event
from rewards.audit.services import verify_log
from rewards.db import db, utcnow
from rewards.jobs import runner, services
from rewards.jobs.models import Job
from rewards.jobs.start import start
from tests.support import bearer

FEATURE = "tests.rewards.jobs.sample_feature"


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    from rewards.config import DEFAULTS

    return app_factory(FEATURES=[*DEFAULTS["FEATURES"], FEATURE])


def _start(app: Flask, actor: str = "tester", **params: Any) -> int:
    with app.test_request_context():
        return start("sample.count", params, title="sample", actor=actor, total=params.get("n")).id


def _items(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event).where(Event.action == "sample.item")) or 0


def test_a_job_runs_and_its_work_commits_with_done(app: Flask) -> None:
    job_id = _start(app, n=3)
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.state == "done" and job.progress_done == 3 and job.progress_total == 3
        assert json.loads(job.result)["items"] == 3
        assert job.started_at is not None and job.finished_at is not None and job.worker
        assert verify_log(db.session).ok
    assert _items(app) == 3


def test_a_refused_job_writes_nothing_and_keeps_its_errors(app: Flask, logged_in: Callable[..., Any]) -> None:
    job_id = _start(app, n=4, fail=True)
    assert _items(app) == 0
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert (job.state, job.error_code) == ("failed", "sample_refused")
        assert json.loads(job.error_details)["shown"][0]["line"] == 3
    page = logged_in("marketing").get(f"/jobs/{job_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "the sample said no" in body and "line three is bad" in body and "a bad line" in body


def test_a_crash_is_an_internal_failure(app: Flask) -> None:
    job_id = _start(app, n=2, crash=True)
    assert _items(app) == 0
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert (job.state, job.error_code) == ("failed", "internal")
        assert "RuntimeError" in job.error_message


def test_a_job_runs_once_and_a_cancelled_one_never(app: Flask) -> None:
    job_id = _start(app, n=1)
    assert runner.execute(app, job_id) is None  # delivered again: not claimed
    assert _items(app) == 1
    with app.app_context():
        queued = services.submit(db.session, "sample.count", {"n": 1}, title="x", actor="tester")
        db.session.commit()
        assert services.cancel(db.session, queued.id, actor="tester") == "cancelled"
        db.session.commit()
        queued_id = queued.id
    assert runner.execute(app, queued_id) is None
    assert _items(app) == 1


def test_a_job_whose_consumer_died_is_closed_as_interrupted(app: Flask) -> None:
    with app.app_context():
        job = services.submit(db.session, "sample.count", {"n": 1}, title="x", actor="tester")
        db.session.flush()
        assert services.claim(db.session, job.id, "gone:1")
        job.started_at = utcnow() - timedelta(minutes=2)
        db.session.commit()
        fresh = services.submit(db.session, "sample.count", {"n": 1}, title="y", actor="tester")
        db.session.flush()
        assert services.claim(db.session, fresh.id, "alive:1")
        db.session.commit()
        stale_id, fresh_id = job.id, fresh.id
    assert runner.close_stale(app) == [stale_id]
    with app.app_context():
        assert db.session.get(Job, stale_id).error_code == "interrupted"
        assert db.session.get(Job, fresh_id).state == "running"


def test_pages_list_filter_and_download(app: Flask, logged_in: Callable[..., Any]) -> None:
    done_id = _start(app, n=2)
    failed_id = _start(app, n=1, fail=True)
    client = logged_in("auditor")
    listing = client.get("/jobs/?state=failed").get_data(as_text=True)
    assert f"/jobs/{failed_id}\"" in listing and f"/jobs/{done_id}\"" not in listing
    assert client.get(f"/jobs/{done_id}/progress").get_json()["state"] == "done"
    download = client.get(f"/jobs/{done_id}/download")
    assert download.status_code == 200 and download.data.startswith(b"2 items")
    assert client.get(f"/jobs/{failed_id}/download").status_code == 404
    assert client.post(f"/jobs/{done_id}/cancel").status_code == 403  # auditors change nothing


def test_api_shows_a_client_its_own_jobs_only(app: Flask, api_token: Callable[..., str]) -> None:
    token = api_token("jobs:read", name="billing")
    own = _start(app, actor="api:billing", n=1)
    other = _start(app, actor="someone", n=1)
    client = app.test_client()
    answer = client.get(f"/api/v1/jobs/{own}", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.get_json()["state"] == "done" and answer.get_json()["progress"]["done"] == 1
    assert client.get(f"/api/v1/jobs/{other}", headers=bearer(token)).status_code == 404
    assert client.get(f"/api/v1/jobs/{own}").status_code == 401


def test_the_job_pacer_is_off_at_zero_and_never_pauses_inside_a_sqlite_write(
    app_factory: Callable[..., Flask], backend: str
) -> None:
    from rewards import livetraffic

    off = app_factory(JOBS_YIELD_RATIO=0)
    with off.app_context():
        assert runner.job_pacer(off, db.session) is None
    app = app_factory(JOBS_YIELD_RATIO=2.0)
    with app.app_context():
        pacer = runner.job_pacer(app, db.session)
        assert pacer is not None and pacer.ratio == 2.0
        assert not pacer.busy()  # no live traffic yet
        livetraffic.note(app)
        assert pacer.busy()
        db.session.execute(select(func.count()).select_from(Job))  # the job's transaction has begun
        assert pacer.busy() is (backend != "sqlite")  # SQLite: it would hold the one write lock while asleep
        db.session.rollback()
        assert pacer.busy()
