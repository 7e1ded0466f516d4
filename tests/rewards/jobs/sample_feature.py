"""A small feature with jobs, for the job tests (loaded through ``FEATURES`` like any feature)."""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask
from sqlalchemy import text

from rewards.audit.services import record_event
from rewards.errors import DomainError
from rewards.jobs.registry import add_error_labels, register_kind
from rewards.jobs.runner import JobContext


def count(ctx: JobContext) -> dict[str, Any]:
    """Record one event per item, in the job's transaction; optionally slow, or failing at the end."""
    n = int(ctx.params["n"])
    for i in range(n):
        record_event(ctx.session, ctx.actor, "sample.item", "sample", str(i), {"job": ctx.job_id})
        ctx.session.flush()
        ctx.progress(i + 1, n)
        if ctx.params.get("sleep"):
            time.sleep(float(ctx.params["sleep"]))
    if ctx.params.get("fail"):
        raise DomainError("the sample refused", code="sample_refused", errors={"total": 1, "by_kind": {"bad": 1},
                          "shown": [{"line": 3, "kind": "bad", "message": "line three is bad", "source": "x.csv"}]})
    if ctx.params.get("crash"):
        raise RuntimeError("boom")
    with ctx.output("out.txt").open("w") as fh:
        fh.write(f"{n} items by pid {os.getpid()}\n")
    return {"items": n, "pid": os.getpid(), "file": {"name": "out.txt", "download_name": "sample.txt",
                                                     "mimetype": "text/plain"}}


def paced(ctx: JobContext) -> dict[str, Any]:
    """Chunks of ``step`` seconds with a progress report after each, holding no database lock (what a
    streamed read does); returns how often the job yielded, and its database session's OS priority."""
    from rewards import pacing
    from rewards.jobs.dbpriority import extension_schema

    schema = extension_schema(ctx.session.get_bind())  # type: ignore[arg-type]
    nice = None
    if schema is not None:
        nice = ctx.session.scalar(text(f'SELECT "{schema}".get_backend_priority(pg_backend_pid())'))
    ctx.session.rollback()  # no SQLite write lock while it works: a job pauses only where it holds none
    n, step = int(ctx.params["n"]), int(ctx.params["step_ms"]) / 1000
    for i in range(n):
        time.sleep(step)
        ctx.progress(i + 1, n)
    pacer = pacing.current()
    return {"pauses": pacer.pauses if pacer else None, "paused": pacer.paused if pacer else None,
            "backend_nice": nice, "pid": os.getpid()}


def init_app(app: Flask) -> None:
    """Register the sample job kinds."""
    register_kind(app, "sample.count", count, label="Sample count", action="jobs.view")
    register_kind(app, "sample.paced", paced, label="Sample paced", action="jobs.view")
    add_error_labels(app, {"sample_refused": "the sample said no", "bad": "a bad line"})
