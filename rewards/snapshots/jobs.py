"""The snapshots feature's background jobs: import an uploaded file, compute from behaviour files.

The shells store the uploads first (``rewards.jobs.start.save_upload``) and queue a job naming them;
the handler runs the same service as the command line, in the job's transaction (all or nothing),
reporting the bytes read as progress.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from rewards.jobs.runner import JobContext
from rewards.snapshots import services

IMPORT = "snapshots.import"
COMPUTE = "snapshots.compute"


class _Progress:
    """Passes reads through and reports the bytes read so far as the job's progress."""

    def __init__(self, stream: BinaryIO, ctx: JobContext, offset: int = 0) -> None:
        self._stream, self._ctx, self._offset, self.read_bytes = stream, ctx, offset, 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.read_bytes += len(data)
        self._ctx.progress(self._offset + self.read_bytes)
        return data

    def seekable(self) -> bool:
        return self._stream.seekable()

    def tell(self) -> int:
        return self._stream.tell()

    def seek(self, position: int) -> int:
        """Go back to ``position`` (a rejected import reads its file again): progress counts from there."""
        self.read_bytes = 0
        return self._stream.seek(position)

    def __iter__(self) -> Any:  # readers that iterate lines
        for line in self._stream:
            self.read_bytes += len(line)
            self._ctx.progress(self._offset + self.read_bytes)
            yield line


def _result(outcome: services.Outcome) -> dict[str, Any]:
    snap = outcome.snapshot
    return {"snapshot_id": snap.id, "period": snap.period, "rows": snap.row_count,
            "replaced": outcome.replaced.id if outcome.replaced else None}


def import_job(ctx: JobContext) -> dict[str, Any]:
    """Load a stored snapshot upload (params: file, name, period, format, replace)."""
    p = ctx.params
    path: Path = ctx.stored(p["file"])
    ctx.progress(0, path.stat().st_size, force=True)
    with path.open("rb") as stream:
        outcome = services.import_snapshot(
            ctx.session, _Progress(stream, ctx),  # type: ignore[arg-type]
            period=p["period"], source_name=p["name"], actor=ctx.actor, fmt=p["format"],
            replace=bool(p["replace"]), announce=True, future=bool(p.get("future")),
        )
    ctx.progress(ctx.total or 0, force=True)
    return _result(outcome)


def compute_job(ctx: JobContext) -> dict[str, Any]:
    """Compute a snapshot from stored behaviour files (params: files [[path, name]], rules, period, replace)."""
    p = ctx.params
    paths = [(ctx.stored(rel), name) for rel, name in p["files"]]
    ctx.progress(0, sum(path.stat().st_size for path, _ in paths), force=True)
    streams = []
    offset = 0
    try:
        for path, name in paths:
            stream = path.open("rb")
            streams.append((_Progress(stream, ctx, offset), name, stream))  # type: ignore[arg-type]
            offset += path.stat().st_size
        outcome = services.compute_snapshot(
            ctx.session, [(s, name) for s, name, _ in streams],  # type: ignore[misc]
            period=p["period"], actor=ctx.actor,
            rules_bytes=ctx.stored(p["rules"]).read_bytes() if p.get("rules") else None,
            replace=bool(p["replace"]), announce=True, future=bool(p.get("future")),
        )
    finally:
        for _, _, stream in streams:
            stream.close()
    ctx.progress(ctx.total or 0, force=True)
    return _result(outcome)


EXPORT = "snapshots.export"


def export_job(ctx: JobContext) -> dict[str, Any]:
    """Write a snapshot's export to a file for download (params: snapshot_id, kind (bills or full),
    encoding); the export's event commits with the job, after the file is on disk."""
    from rewards.jobs.exports import write_lines

    p = ctx.params
    snapshot = services.get_snapshot(ctx.session, int(p["snapshot_id"]))
    kind, encoding = p["kind"], p.get("encoding", "utf-8")
    lines = services.export_lines(ctx.session, snapshot, kind)  # refuses an unknown kind
    name = f"snapshot-{snapshot.period}-{kind}.csv"
    file = write_lines(ctx, name, lines, total=snapshot.row_count + 1, encoding=encoding)
    services.record_export(ctx.session, snapshot, kind, ctx.actor)
    rows = file["lines"] - 1  # the header is not a row
    return {"snapshot_id": snapshot.id, "period": snapshot.period, "kind": kind, "rows": rows, "file": file}


WHAT_IF = "snapshots.what_if"
CHANGED_FILE = "changed-accounts.csv"


def what_if_job(ctx: JobContext) -> dict[str, Any]:
    """Rate a computed snapshot's stored facts with draft rules (params: snapshot_id, rules (the text),
    label, draft_id or None). Reads on a connection of its own that takes no write lock; writes nothing
    but its result: the summary (the job's record) and the changed accounts (a CSV file to download)."""
    import os

    from sqlalchemy.orm import Session

    from rewards.db import db, reset_read_only, set_read_only
    from rewards.snapshots import whatif

    p = ctx.params
    # The job's own transaction has only read its record so far; on SQLite it began IMMEDIATE and would hold
    # the write lock for the whole pass. End it: the runner's "done" begins a new one.
    ctx.session.rollback()
    path = ctx.output(CHANGED_FILE)
    lines = 0
    token = set_read_only(True)  # on SQLite: a deferred read, no write lock for the whole pass
    try:
        with Session(db.engine) as reader, path.open("w", encoding="utf-8", newline="") as fh:
            snapshot = services.get_snapshot(reader, int(p["snapshot_id"]))
            snapshot_id, row_count, period = snapshot.id, snapshot.row_count, snapshot.period
            ctx.progress(0, row_count, force=True)
            fh.write(whatif.CHANGED_HEADER + "\n")
            write = fh.write

            def changed(account: str, old: str, new: str, old_points: int | None, new_points: int) -> None:
                nonlocal lines
                lines += 1
                write(f"{account};{old};{new};{'' if old_points is None else old_points};{new_points}\n")

            result = whatif.what_if(reader, snapshot_id, p["rules"].encode("utf-8"), changed=changed,
                                    progress=lambda done, total: ctx.progress(done, total))
            reader.rollback()
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        reset_read_only(token)
    ctx.progress(row_count, force=True)
    result.update({
        "job_id": ctx.job_id, "snapshot_id": snapshot_id, "label": p.get("label") or "",
        "draft_id": p.get("draft_id"), "changed_accounts": lines,
        "file": {"name": CHANGED_FILE, "download_name": f"what-if-{period}-changed.csv",
                 "mimetype": "text/csv", "charset": "utf-8", "lines": lines + 1, "bytes": path.stat().st_size},
    })
    return result


def changed_rows(folder: Path, query: str = "", move: str = "") -> Iterator[dict[str, Any]]:
    """The changed accounts of a what-if (its job's output ``folder``), in account order, filtered by account
    number (contains ``query``) and movement (``up``, ``down`` or ``old>new``)."""
    from rewards.tiers import TIER_RANK

    path = folder / CHANGED_FILE
    if not path.is_file():
        return
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader, None)
        for account, old, new, old_points, new_points in reader:
            if query and query not in account:
                continue
            up = TIER_RANK[new] > TIER_RANK[old]
            if (move == "up" and not up) or (move == "down" and up) or (
                    move not in ("", "up", "down") and move != f"{old}>{new}"):
                continue
            yield {"account": account, "old_tier": old, "new_tier": new,
                   "old_points": int(old_points) if old_points else None, "new_points": int(new_points)}
