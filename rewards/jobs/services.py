"""Use cases of the job record: submit, claim, finish, fail, cancel, close stale ones, list.

Every change of state is one conditional ``UPDATE ... WHERE state = ...`` checked for one row, so
two consumers given the same job (a message delivered twice, a stale check racing a finish) never
both win: a job runs at most once, and only the runner that claimed it can finish it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rewards.audit.services import record_event
from rewards.db import rowcount, utcnow
from rewards.errors import N_, Conflict, DomainError, NotFound
from rewards.jobs.models import CANCELLED, DONE, FAILED, FINISHED, QUEUED, RUNNING, STATES, Job
from signedjson import canonical_json

# A running job's consumer says it is alive every few seconds; one silent for ``JOBS_STALE_SECONDS``
# (default 30) is dead (killed, its machine lost), and the next stale check (each minute, and when a
# consumer starts) marks the job failed.
STALE_AFTER = timedelta(seconds=30)
INTERRUPTED = "interrupted"


def submit(
    session: Session, kind: str, params: dict[str, Any], *, title: str, actor: str, total: int | None = None
) -> Job:
    """Record a queued job (the shell commits, then puts it on the queue)."""
    job = Job(
        kind=kind,
        title=title[:200],
        params=canonical_json(params).decode("utf-8"),
        state=QUEUED,
        started_by=actor,
        created_at=utcnow(),
        progress_done=0,
        progress_total=total,
    )
    session.add(job)
    session.flush()
    record_event(session, actor, "job.queued", "job", str(job.id), {"kind": kind, "title": job.title})
    return job


def get_job(session: Session, job_id: int) -> Job:
    """The job, or ``NotFound``."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(N_("no job %(job)s"), code="no_job", job=job_id)
    return job


def list_jobs(
    session: Session,
    *,
    state: str | None = None,
    kind: str | None = None,
    started_by: str | None = None,
    limit: int = 200,
) -> list[Job]:
    """Jobs, newest first, optionally of one state, kind or starter."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if state:
        query = query.where(Job.state == state)
    if kind:
        query = query.where(Job.kind == kind)
    if started_by:
        query = query.where(Job.started_by == started_by)
    return list(session.scalars(query))


def _move(session: Session, job_id: int, from_state: str, **values: Any) -> bool:
    """One conditional update; True when it moved the job."""
    result = session.execute(
        update(Job).where(Job.id == job_id, Job.state == from_state).values(state=values.pop("state"), **values)
    )
    return rowcount(result) == 1


def claim(session: Session, job_id: int, worker: str) -> bool:
    """queued -> running for this worker; False if someone else has it or it was cancelled."""
    return _move(session, job_id, QUEUED, state=RUNNING, started_at=utcnow(), worker=worker[:128])


def finish(session: Session, job_id: int, result: dict[str, Any] | None, done: int, total: int | None) -> bool:
    """running -> done with its result, in the transaction of the job's work (both or neither commit)."""
    text = json.dumps(result or {}, ensure_ascii=False, sort_keys=True, default=str)
    return _move(
        session, job_id, RUNNING, state=DONE, finished_at=utcnow(), result=text,
        progress_done=done, progress_total=total,
    )


def fail(
    session: Session,
    job_id: int,
    code: str,
    message: str,
    details: Any = None,
    *,
    status: int = 500,
    from_state: str = RUNNING,
    template: str | None = None,
    params: dict[str, Any] | None = None,
) -> bool:
    """running -> failed with an error code (labelled in the page's language), HTTP status, message
    and details (e.g. per-line errors); a refusal's ``template`` and ``params`` let a page say it in
    its own language."""
    return _move(
        session, job_id, from_state, state=FAILED, finished_at=utcnow(), error_code=code[:64], error_status=status,
        error_message=message, error_details=json.dumps(details, ensure_ascii=False, default=str)
        if details is not None else None,
        error_template=template,
        error_params=json.dumps(params, ensure_ascii=False, default=str) if params else None,
    )


def error_text(job: Job) -> str | None:
    """A failed job's message in the page's language (its stored English text when it has no template)."""
    if job.error_template:
        from rewards.errors import render_message

        params = json.loads(job.error_params) if job.error_params else {}
        try:
            return render_message(job.error_template, params)
        except (KeyError, TypeError, ValueError):
            return job.error_message
    return job.error_message


def mark_cancelled(session: Session, job_id: int, done: int) -> bool:
    """running -> cancelled (the runner, after rolling back the job's work)."""
    return _move(session, job_id, RUNNING, state=CANCELLED, finished_at=utcnow(), progress_done=done)


def cancel(session: Session, job_id: int, *, actor: str) -> str:
    """Cancel a job: a queued one at once (returns ``"cancelled"``); a running one is asked to stop
    (``"requested"``: the shell tells the consumer through the queue). A finished job: ``Conflict``."""
    job = get_job(session, job_id)
    if job.state == QUEUED and _move(session, job_id, QUEUED, state=CANCELLED, finished_at=utcnow()):
        record_event(session, actor, "job.cancelled", "job", str(job_id), {"kind": job.kind})
        return "cancelled"
    session.refresh(job)
    if job.state == RUNNING:
        record_event(session, actor, "job.cancel_requested", "job", str(job_id), {"kind": job.kind})
        return "requested"
    raise Conflict(N_("the job has already finished"), code="job_finished")


def close_stale(
    session: Session,
    last_beat: Callable[[int], float | None],
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> list[int]:
    """Mark failed every running job whose consumer has been silent for ``stale_after``; their ids.

    The job's work was never committed (it commits with the job's ``done``), so nothing is left half
    done; a job that commits in steps (a bulk issue) continues where it stopped when run again.
    """
    now = now or utcnow()
    closed = []
    for job in session.scalars(select(Job).where(Job.state == RUNNING)):
        beat = last_beat(job.id)
        seen = max(beat or 0.0, job.started_at.timestamp() if job.started_at else 0.0)
        if now.timestamp() - seen < stale_after.total_seconds():
            continue
        message = f"the consumer running it stopped (last sign of life {int(now.timestamp() - seen)} s ago)"
        if fail(session, job.id, INTERRUPTED, message):
            record_event(session, "system", "job.interrupted", "job", str(job.id),
                         {"kind": job.kind, "worker": job.worker})
            closed.append(job.id)
    return closed


def describe(job: Job, live: tuple[int, int | None] | None = None) -> dict[str, Any]:
    """The job as the API and the progress endpoint answer it (``live``: progress from the queue)."""
    done, total = live if live is not None and job.state == RUNNING else (job.progress_done, job.progress_total)
    return {
        "id": job.id,
        "kind": job.kind,
        "title": job.title,
        "state": job.state,
        "started_by": job.started_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "progress": {"done": done, "total": total,
                     "percent": (min(100, done * 100 // total) if total else (100 if job.state == DONE else None))},
        "result": json.loads(job.result) if job.result else None,
        "error": (
            {"code": job.error_code, "status": job.error_status, "message": job.error_message,
             "details": json.loads(job.error_details) if job.error_details else None}
            if job.state == FAILED else None
        ),
        "finished": job.state in FINISHED,
    }


def refusal(job: Job) -> DomainError | None:
    """A failed job's error as the ``DomainError`` a shell answers with (same status, code, details)."""
    if job.state != FAILED:
        return None
    errors = json.loads(job.error_details) if job.error_details else None
    if job.error_template:  # said again in the asker's language (English in the API)
        params = json.loads(job.error_params) if job.error_params else {}
        exc = DomainError(job.error_template, code=job.error_code or "failed", errors=errors, **params)
    else:
        exc = DomainError(job.error_message or "", code=job.error_code or "failed", errors=errors)
    exc.status = job.error_status or 500
    return exc


def check_state(state: str | None) -> str | None:
    """A state filter from a query string: a known state, or None."""
    return state if state in STATES else None
