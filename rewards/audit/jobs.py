"""The event log's export as a job: every event as a JSON line, in a file downloaded from the job page."""

from __future__ import annotations

from typing import Any

from rewards.audit import services
from rewards.jobs.exports import write_lines
from rewards.jobs.runner import JobContext

EXPORT = "audit.export"


def export_job(ctx: JobContext) -> dict[str, Any]:
    """Write the whole log (``services.export_lines``); the export is itself logged, after the file is on disk."""
    total = services.event_count(ctx.session)
    file = write_lines(ctx, "audit-log.jsonl", services.export_lines(ctx.session), total=total,
                       mimetype="application/x-ndjson")
    services.record_event(ctx.session, ctx.actor, "audit.exported", "audit_log", "-", {"events": file["lines"]})
    return {"events": file["lines"], "file": file}
