"""Exports as jobs: a handler writes its lines into the job's output folder, downloaded from the job page.

The file is flushed to disk before the job commits its ``done`` (and the export's event); a job that
fails or is stopped has its folder removed by the runner, and the daily purge deletes finished ones
after ``JOBS_KEEP_FILES_DAYS``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from flask import redirect, url_for
from werkzeug.wrappers import Response

from rewards.jobs.runner import JobContext

PROGRESS_EVERY = 10_000  # lines between progress reports (each is a write to the queue's store)


def write_lines(
    ctx: JobContext,
    name: str,
    lines: Iterable[str],
    *,
    total: int | None,
    encoding: str = "utf-8",
    download_name: str | None = None,
    mimetype: str = "text/csv",
) -> dict[str, Any]:
    """Write ``lines`` (each ending in a newline; a chunk of several lines counts each) to the job's file
    ``name``, reporting lines written of ``total``; returns the job result's ``file`` entry."""
    path = ctx.output(name)
    done = reported = 0
    ctx.progress(0, total, force=True)
    with path.open("w", encoding=encoding, newline="") as fh:
        for chunk in lines:
            fh.write(chunk)
            done += chunk.count("\n")
            if done - reported >= PROGRESS_EVERY:
                reported = done
                ctx.progress(done, total)
        fh.flush()
        os.fsync(fh.fileno())  # on disk before the job (and the export's event) commits
    ctx.progress(done, total if total is not None else done, force=True)
    return {"name": name, "download_name": download_name or name, "mimetype": mimetype, "charset": encoding,
            "lines": done, "bytes": path.stat().st_size}


def follow(job_id: int) -> Response:
    """Send the browser to the job's page (its progress, then the download link)."""
    return redirect(url_for("jobs.detail", job_id=job_id))
