"""The partners feature's background jobs: a bulk issue of codes, and the purge of expired
idempotency keys (periodic)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from partners.services import idempotency, issue
from rewards.db import utcnow
from rewards.jobs.runner import JobContext

ISSUE = "partners.issue"


def issue_job(ctx: JobContext) -> dict[str, Any]:
    """Drive a planned issue run (params: run_id) batch by batch, each batch committed with its event;
    a failure or a cancel marks the run failed (re-running it continues where it stopped)."""
    run = issue.drive(
        ctx.session,
        int(ctx.params["run_id"]),
        commit=ctx.commit,
        progress=lambda r: ctx.progress(r.issued, r.planned),
    )
    ctx.progress(run.issued, run.planned, force=True)
    return {"run_id": run.id, "offer_id": run.offer_id, "issued": run.issued}


def purge_idempotency(session: Session) -> str:
    """Delete idempotency records past their retention."""
    return f"{idempotency.purge(session, utcnow())} expired idempotency key(s) purged"
