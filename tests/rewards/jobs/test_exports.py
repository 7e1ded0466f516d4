"""Large exports as jobs (a snapshot for bills or whole, the event log): the file is written by the job,
downloaded from its page by those allowed the export, and deleted after the retention days."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from rewards.audit.chain import verify_chain
from rewards.audit.models import Event
from rewards.db import db
from rewards.jobs.runner import jobs_dir
from rewards.jobs.start import purge_files
from tests.support import make_snapshot

ACCOUNTS = {f"{7400000000 + i:010d}": ("ideal", "beginner", "responsible")[i % 3] for i in range(25)}


def _snapshot(app: Flask) -> int:
    with app.app_context():
        snap = make_snapshot(db.session, "2026-04", ACCOUNTS)
        db.session.commit()
        return snap.id


def _job_id(answer: Any) -> int:
    assert answer.status_code == 302 and "/jobs/" in answer.headers["Location"], answer.headers.get("Location")
    return int(answer.headers["Location"].rstrip("/").split("/")[-1])


def test_snapshot_exports_as_jobs(app: Flask, backend: str, logged_in: Any) -> None:
    snap_id = _snapshot(app)
    auditor = logged_in("auditor")  # snapshots.export is every role's
    page = auditor.get(f"/snapshots/{snap_id}").get_data(as_text=True)
    assert f'action="/snapshots/{snap_id}/export/bills"' in page
    full = _job_id(auditor.post(f"/snapshots/{snap_id}/export/full", data={"encoding": "utf-8"}))
    text = auditor.get(f"/jobs/{full}/download").get_data(as_text=True)
    assert text.splitlines()[0] == "account;tier;points" and len(text.splitlines()) == len(ACCOUNTS) + 1
    assert sorted(line.split(";")[0] for line in text.splitlines()[1:]) == sorted(ACCOUNTS)
    bills = _job_id(auditor.post(f"/snapshots/{snap_id}/export/bills", data={"encoding": "cp1251"}))
    raw = auditor.get(f"/jobs/{bills}/download")
    assert raw.headers["Content-Type"].endswith("charset=cp1251"), raw.headers["Content-Type"]
    assert raw.data.decode("cp1251").splitlines()[1].split(";")[1].lower() in (
        "идеальный",
        "начинающий",
        "ответственный",
    )
    assert auditor.post(f"/snapshots/{snap_id}/export/nope").status_code == 404
    with app.app_context():
        details = [
            json.loads(e.details) for e in db.session.scalars(select(Event).where(Event.action == "snapshot.exported"))
        ]
    assert [d["kind"] for d in details] == ["full", "bills"]


def test_audit_log_export_is_verifiable_and_purged_after_retention(
    app: Flask, backend: str, logged_in: Any, runner: Any, tmp_path: Path
) -> None:
    _snapshot(app)
    page = logged_in("auditor")
    job_id = _job_id(page.post("/audit/export"))
    lines = page.get(f"/jobs/{job_id}/download").get_data(as_text=True).splitlines()
    items = [json.loads(line) for line in lines]
    assert len(items) >= 2 and all("body" in i and "hash" in i for i in items)
    report = verify_chain((i["body"], i["hash"]) for i in items)  # an auditor re-checks every link offline
    assert report.ok and report.count == len(items)
    out = tmp_path / "log.jsonl"
    assert runner.invoke(args=["audit", "export", "--out", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8").splitlines()[: len(lines)] == lines  # the CLI writes the same lines
    folder = jobs_dir(app) / "output" / str(job_id)
    old = time.time() - 8 * 86400
    os.utime(folder, (old, old))
    assert purge_files(jobs_dir(app), int(app.config["JOBS_KEEP_FILES_DAYS"])) >= 1
    assert page.get(f"/jobs/{job_id}/download").status_code == 410  # gone after the retention days
