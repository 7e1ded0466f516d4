"""The codes export as a job: the offer page starts it, the job page offers the file to those who manage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from rewards.audit.models import Event
from rewards.db import db

pytestmark = pytest.mark.usefixtures("backend")

ROWS = [(f"74{i:08d}", t) for i, t in enumerate(["beginner", "promising", "responsible", "ideal"] * 5)]


def test_codes_export_job_writes_the_file_and_logs_who(app: Flask, logged_in, make_partner, make_offer, add_snapshot,
                                                       issue_codes, runner: Any, tmp_path: Path) -> None:
    offer_id = make_offer(make_partner()["id"])
    codes = issue_codes(offer_id, add_snapshot("2026-10", ROWS))
    c = logged_in("marketing")
    answer = c.post(f"/partners/offers/{offer_id}/export")
    assert answer.status_code == 302 and "/jobs/" in answer.headers["Location"]
    job_id = int(answer.headers["Location"].rstrip("/").split("/")[-1])
    assert 'id="job-download"' in c.get(f"/jobs/{job_id}").get_data(as_text=True)
    file = c.get(f"/jobs/{job_id}/download")
    assert file.status_code == 200 and file.mimetype == "text/csv"
    lines = file.get_data(as_text=True).split("\r\n")
    assert lines[0] == "account;tier;code;issued_at;state"
    assert sorted(line.split(";")[2] for line in lines[1:-1]) == sorted(codes)
    with app.app_context():
        [event] = db.session.scalars(select(Event).where(Event.action == "codes.exported")).all()
        assert json.loads(event.details) == {"codes": len(codes)}
    assert logged_in("auditor").get(f"/jobs/{job_id}/download").status_code == 404  # full accounts: managers only
    assert c.post("/partners/offers/999/export").status_code == 404
    out = tmp_path / "codes.csv"
    written = runner.invoke(args=["partners", "export", str(offer_id), "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_bytes() == file.data  # the command line writes the same file, in the foreground
    queued = runner.invoke(args=["partners", "export", str(offer_id), "--background"])
    assert queued.exit_code == 0 and "done" in queued.output, queued.output  # memory://: ran at once
