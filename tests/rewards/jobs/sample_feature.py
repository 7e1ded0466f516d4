"""A small feature with jobs, for the job tests (loaded through ``FEATURES`` like any feature)."""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask

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


def init_app(app: Flask) -> None:
    """Register the sample job kind."""
    register_kind(app, "sample.count", count, label="Sample count", action="jobs.view")
    add_error_labels(app, {"sample_refused": "the sample said no", "bad": "a bad line"})
