"""Draw freeze, draw run and the credit export as background jobs, on a queue no consumer reads
(the test runs each job itself, as a consumer would): the API answers 202 with the job, the draw
page follows it, the CLI queues with ``--background``, and a refused step shows on the draw page."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from draws import jobs as draw_jobs
from draws import services
from draws.models import CreditBatch
from draws.secretbox import SecretBox
from rewards.config import DEFAULTS
from rewards.db import db
from rewards.jobs import runner as job_runner
from rewards.signing.keystore import KeyStore
from tests.draws.conftest import TEST_CHAIN, DrawKit, make_kit
from tests.rewards.jobs.consumers import job as _job
from tests.support import bearer


@pytest.fixture
def app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    """Jobs wait on a SQLite queue file until the test runs them."""
    return app_factory(
        DRAND_CHAINS={**DEFAULTS["DRAND_CHAINS"], "test": TEST_CHAIN},
        JOBS_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}",
    )


@pytest.fixture
def announced(app: Flask, monkeypatch: pytest.MonkeyPatch) -> str:
    """An announced draw whose freeze time has come (the services' clock is set past it)."""
    with app.app_context():
        kit = make_kit(app)
        pid = kit.draft()
        kit.announce(pid)
        moment = services.get_draw(db.session, pid).freeze_at + timedelta(seconds=30)
    monkeypatch.setattr(services, "utcnow", lambda: moment)
    return pid


def _draw_state(app: Flask, pid: str) -> str:
    with app.app_context():
        return services.get_draw(db.session, pid).state


def test_api_freeze_answers_202_and_the_job_freezes(app: Flask, announced: str, api_token: Callable[..., str]) -> None:
    client = app.test_client()
    headers = bearer(api_token("draws:write", "draws:read", "jobs:read"))
    answer = client.post(f"/api/v1/draws/{announced}/freeze", headers=headers)
    assert answer.status_code == 202, answer.get_json()
    job_id = answer.get_json()["job"]["id"]
    assert answer.headers["Location"] == f"/api/v1/jobs/{job_id}"
    assert (answer.get_json()["job"]["kind"], answer.get_json()["job"]["state"]) == ("draws.freeze", "queued")
    assert _draw_state(app, announced) == "announced"  # nothing happens until a consumer runs it
    assert job_runner.execute(app, job_id) == "done"
    assert _draw_state(app, announced) == "frozen"
    followed = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
    assert followed["state"] == "done" and followed["result"]["draw_id"] == announced
    assert followed["result"]["entrants"] > 0
    assert job_runner.execute(app, job_id) is None  # a message delivered twice runs nothing


def test_draw_page_follows_the_job_and_shows_a_refusal(
    app: Flask, announced: str, logged_in: Callable[[str], FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    page = logged_in("marketing")
    answer = page.post(f"/draws/{announced}/freeze")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/draws/{announced}")
    shown = page.get(f"/draws/{announced}?lang=en").get_data(as_text=True)
    assert 'id="draw-job"' in shown and 'data-state="queued"' in shown and 'http-equiv="refresh"' in shown
    assert "Freeze the entrant list" not in shown  # no second freeze while one is queued
    with app.app_context():
        job_id = draw_jobs.current_job(db.session, services.get_draw(db.session, announced)).id  # type: ignore[union-attr]
    monkeypatch.setattr(
        services, "utcnow", lambda: services.get_draw(db.session, announced).freeze_at - timedelta(hours=1)
    )
    assert job_runner.execute(app, job_id) == "failed"  # too early: refused, nothing frozen
    shown = page.get(f"/draws/{announced}?lang=en").get_data(as_text=True)
    assert 'data-state="failed"' in shown and "not yet the freeze time" in shown
    assert "Freeze the entrant list" in shown and _draw_state(app, announced) == "announced"


def test_run_with_entropy_as_a_job_and_from_the_command_line(
    app: Flask,
    announced: str,
    runner: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    logged_in: Callable[[str], FlaskClient],
) -> None:
    result = runner.invoke(args=["draws", "freeze", announced, "--background"])
    assert result.exit_code == 0 and "queued job" in result.output, result.output
    job_id = int(result.output.split("queued job ")[1].split(":")[0])
    assert _job(app, job_id).state == "queued" and _draw_state(app, announced) == "announced"
    assert job_runner.execute(app, job_id) == "done"
    with app.app_context():
        kit = DrawKit(
            app, KeyStore(app.config["KEYS_DIR"]), SecretBox(Path(app.config["KEYS_DIR"]) / "draw-secrets.key")
        )
        kit.cosign(announced)
        value, at = kit.entropy_for(announced)
    entropy = tmp_path / "round.json"
    entropy.write_text(json.dumps(value), encoding="utf-8")
    monkeypatch.setattr(services, "utcnow", lambda: at)
    result = runner.invoke(args=["draws", "draw", announced, "--entropy", str(entropy), "--background"])
    assert result.exit_code == 0, result.output
    run_id = int(result.output.split("queued job ")[1].split(":")[0])
    assert _job(app, run_id).kind == "draws.run"
    assert job_runner.execute(app, run_id) == "done"
    assert _draw_state(app, announced) == "drawn"
    job_page = logged_in("auditor").get(f"/jobs/{run_id}?lang=en").get_data(as_text=True)
    assert f'href="/draws/{announced}"' in job_page  # the job's page leads to the draw
    assert (
        "float"
        in runner.invoke(args=["draws", "draw", announced, "--entropy", str(_float(tmp_path)), "--background"]).output
    )


def _float(tmp_path: Path) -> Path:
    path = tmp_path / "float.json"
    path.write_text('{"type": "drand", "round": 1.5}', encoding="utf-8")
    return path


def test_credit_export_job_writes_the_batch_file_with_the_batch(
    app: Flask, logged_in: Callable[[str], FlaskClient], api_token: Callable[..., str]
) -> None:
    with app.app_context():
        make_kit(app).full()
    client = app.test_client()
    answer = client.post("/api/v1/draw-credits/batches", headers=bearer(api_token("draws:write")))
    assert answer.status_code == 202
    job_id = answer.get_json()["job"]["id"]
    assert job_runner.execute(app, job_id) == "done"
    with app.app_context():
        batch = db.session.query(CreditBatch).one()
        content = batch.content
        assert batch.count == 3
    assert _job(app, job_id).result is not None
    marketing = logged_in("marketing")
    download = marketing.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200 and download.get_data(as_text=True) == content
    again = marketing.post("/draws/credits/export")  # nothing pending: the job fails with the refusal
    assert again.status_code == 302 and "/jobs/" in again.headers["Location"]
    again_id = int(again.headers["Location"].rstrip("/").split("/")[-1])
    assert job_runner.execute(app, again_id) == "failed"
    assert "no pending credits" in (_job(app, again_id).error_message or "")
    assert marketing.get(f"/jobs/{again_id}/download").status_code == 404
