"""Starting jobs from a shell (a page, the API, a command): record, commit, enqueue; and uploads.

An upload is stored under ``JOBS_DIR/files/`` before its job is queued (the request returns as soon
as the file is on disk), and the job's parameters name it by its path relative to ``JOBS_DIR``.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from flask import current_app, jsonify

from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import N_, DomainError
from rewards.jobs import queue, services
from rewards.jobs.models import DONE, Job
from rewards.jobs.runner import jobs_dir

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class QueueUnavailable(DomainError):
    """The queue could not take the job (its storage is down)."""

    status = 503
    code = "queue_unavailable"


def start(kind: str, params: dict[str, Any], *, title: str, actor: str | None = None, total: int | None = None) -> Job:
    """Record a queued job, commit, and put it on the queue; returns the job (under ``memory://``,
    already finished). If the queue refuses it, the job is marked failed and ``QueueUnavailable`` raised."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    job = services.submit(db.session, kind, params, title=title, actor=actor or current_actor(), total=total)
    job_id = job.id  # read before the commit: reading it after would open a transaction (on SQLite, the
    db.session.commit()  # write lock) that a job run at once (memory://) would then wait for
    try:
        queue.enqueue(app, job_id)
    except Exception as exc:  # noqa: BLE001 - Redis down, a full disk: the job must not stay queued
        log.exception("job %s could not be queued", job_id)
        services.fail(db.session, job_id, QueueUnavailable.code, type(exc).__name__, status=503, from_state="queued")
        db.session.commit()
        raise QueueUnavailable(N_("the job queue is not available; try again later")) from exc
    db.session.expire_all()
    found = db.session.get(Job, job_id)
    assert found is not None
    return found


def answer(job: Job, done: Callable[[Job], Any]) -> Any:
    """An API's answer to a job it started: ``done(job)`` if it already finished (the queue ran it at
    once), its refusal raised with the same status and details if it failed, else 202 with the job to
    follow at ``/api/v1/jobs/<id>``."""
    if job.state == DONE:
        return done(job)
    refusal = services.refusal(job)
    if refusal is not None:
        raise refusal
    body = services.describe(job, None)
    response = jsonify({"job": {**body, "created_at": job.created_at.isoformat()}, "url": f"/api/v1/jobs/{job.id}"})
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return response


def save_upload(stream: IO[bytes], filename: str) -> str:
    """Store an uploaded file under ``JOBS_DIR/files/``; returns its path relative to ``JOBS_DIR``."""
    base = jobs_dir(current_app)
    folder = base / "files" / f"{time.strftime('%Y%m%d')}-{secrets.token_hex(8)}"
    folder.mkdir(parents=True, exist_ok=True)
    name = _SAFE.sub("_", os.path.basename(filename or "upload"))[:100] or "upload"
    path = folder / name
    with path.open("wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)
    return str(path.relative_to(base))


def stored_path(relative: str) -> Path:
    """The absolute path of a stored upload (refusing anything outside ``JOBS_DIR``)."""
    base = jobs_dir(current_app).resolve()
    path = (base / relative).resolve()
    if base not in path.parents:
        raise DomainError(N_("the stored file is not in the jobs folder"), code="bad_path")
    return path


def purge_files(base: Path, older_than_days: int) -> int:
    """Delete stored uploads and job output folders older than the given days; how many went."""
    cutoff = time.time() - older_than_days * 86400
    gone = 0
    for sub in ("files", "output"):
        root = base / sub
        if not root.is_dir():
            continue
        for folder in root.iterdir():
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
    return gone
