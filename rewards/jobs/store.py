"""The app's Huey instance, built from ``JOBS_URL``, and its key-value side.

The queue's own key-value store (the same SQLite file or Redis as the queue) holds what changes
often and must not wait for the database's locks: each running job's progress and heartbeat, and
cancellation requests. The tasks are bound to the instance by ``rewards.jobs.queue``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from flask import Flask
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

_HUEY = "rewards.jobs.huey"
QUEUE_NAME = "rewards"


def build_huey(url: str, instance_path: str, name: str = QUEUE_NAME) -> Huey:
    """A Huey for ``url``: "" (SQLite in the instance folder), ``sqlite:///path``, ``redis://...``,
    or ``memory://`` (each job runs at once in the caller: tests)."""
    if url == "memory://":
        return MemoryHuey(name, immediate=True, utc=True)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, utc=True)
    if not url or url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :] if url else os.path.join(instance_path, "jobs.sqlite3")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=path, utc=True)
    raise ValueError(f"JOBS_URL: use '', sqlite:///path, redis://host:port/db or memory://, not {url!r}")


def instance(app: Flask) -> Huey:
    """The app's Huey (built on first use; ``rewards.jobs.queue.huey_for`` also binds the tasks)."""
    huey = app.extensions.get(_HUEY)
    if huey is None:
        huey = app.extensions[_HUEY] = build_huey(app.config["JOBS_URL"], app.instance_path, app.config["JOBS_QUEUE"])
    return huey



def _put(app: Flask, key: str, value: Any) -> None:
    instance(app).put(key, json.dumps(value))


def _peek(app: Flask, key: str) -> Any:
    raw = instance(app).get(key, peek=True)
    return json.loads(raw) if raw is not None else None


def put_progress(app: Flask, job_id: int, done: int, total: int | None) -> None:
    """Record a running job's progress (and that it is alive)."""
    _put(app, f"job:{job_id}:progress", [done, total, time.time()])


def progress(app: Flask, job_id: int) -> tuple[int, int | None] | None:
    """The last progress a running job recorded, or None."""
    value = _peek(app, f"job:{job_id}:progress")
    return (int(value[0]), value[1]) if value else None


def beat(app: Flask, job_id: int) -> None:
    """A running job's consumer is alive."""
    _put(app, f"job:{job_id}:beat", time.time())


def last_beat(app: Flask, job_id: int) -> float | None:
    """When the job's consumer last said it was alive (epoch seconds), or None."""
    value = _peek(app, f"job:{job_id}:beat")
    return float(value) if value is not None else None


def request_cancel(app: Flask, job_id: int) -> None:
    """Ask the consumer running the job to stop at its next progress point."""
    _put(app, f"job:{job_id}:cancel", True)


def cancel_requested(app: Flask, job_id: int) -> bool:
    """Whether someone asked the job to stop."""
    return bool(_peek(app, f"job:{job_id}:cancel"))


def forget(app: Flask, job_id: int) -> None:
    """Drop a finished job's key-value records."""
    huey = instance(app)
    for what in ("progress", "beat", "cancel"):
        huey.delete(f"job:{job_id}:{what}")


def worker_name() -> str:
    """host:pid of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"
