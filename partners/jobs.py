"""The partners feature's background jobs: a bulk issue of codes, and the purge of expired
idempotency keys (periodic)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from partners.models import Offer
from partners.services import idempotency, issue
from rewards.audit.services import record_event
from rewards.db import utcnow
from rewards.errors import N_, NotFound
from rewards.jobs.runner import JobContext

ISSUE = issue.JOB_KIND
EXPORT = "partners.export_codes"


def issue_job(ctx: JobContext) -> dict[str, Any]:
    """Drive a planned issue run (params: run_id) batch by batch, each batch committed with its event;
    a failure or a cancel marks the run failed (re-running it continues where it stopped)."""
    run = issue.drive(
        ctx.session,
        int(ctx.params["run_id"]),
        commit=ctx.commit,
        progress=lambda r: ctx.progress(r.issued, r.planned),
        batch_size=int(ctx.app.config["PARTNER_ISSUE_BATCH"]),
    )
    ctx.progress(run.issued, run.planned, force=True)
    return {"run_id": run.id, "offer_id": run.offer_id, "issued": run.issued}


def purge_idempotency(session: Session) -> str:
    """Delete idempotency records past their retention."""
    return f"{idempotency.purge(session, utcnow())} expired idempotency key(s) purged"


def export_job(ctx: JobContext) -> dict[str, Any]:
    """Write an offer's codes (CSV for the mailing system) to a file for download (params: offer_id);
    who exported them is logged in the job's transaction, after the file is on disk."""
    from rewards.jobs.exports import write_lines

    offer = ctx.session.get(Offer, int(ctx.params["offer_id"]))
    if offer is None:
        raise NotFound(N_("no offer %(offer_id)s"), offer_id=ctx.params["offer_id"])
    codes = issue.issued_count(ctx.session, offer.id)
    name = f"codes-offer-{offer.id}.csv"
    file = write_lines(ctx, name, issue.export_lines(ctx.session, offer), total=codes + 1)
    record_event(ctx.session, ctx.actor, "codes.exported", "offer", str(offer.id), {"codes": codes})
    return {"offer_id": offer.id, "codes": file["lines"] - 1, "file": file}


def close_interrupted_runs(session: Session) -> str | None:
    """Mark failed the runs whose job was closed as interrupted (their consumer was killed), so that no
    run shows running for longer than the stale check takes."""
    closed = issue.close_interrupted(session, None, utcnow())
    return f"closed interrupted run(s) {closed}" if closed else None
