"""The snapshots feature's background jobs: import an uploaded file, compute from behaviour files.

The shells store the uploads first (``rewards.jobs.start.save_upload``) and queue a job naming them;
the handler runs the same service as the command line, in the job's transaction (all or nothing),
reporting the bytes read as progress.
"""

from __future__ import annotations

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
