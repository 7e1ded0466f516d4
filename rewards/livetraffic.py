"""A shared "live traffic was served in the last second or so" signal, for long jobs to yield to.

Features mark the requests that count as live (the partner API does, ``note(current_app)``); the job
runner asks ``seen(app)`` between a job's chunks (``rewards.pacing``). The kernel imports no feature.

Guarantees:

- **Cheap on the hot path.** ``note`` costs one clock read and a comparison; a process writes to the
  shared store at most once per ``WRITE_EVERY`` (1 s), whatever its request rate: a Redis
  ``SET <JOBS_QUEUE>:live-traffic 1 PX 2000`` when ``JOBS_URL`` is Redis (the store that web servers
  and consumers on any machine already share), else the modification time of ``live-traffic`` in the
  jobs folder (``JOBS_DIR``, by default ``instance/jobs``; a file of zero bytes).
- **What "recently" means.** After a request noted at time t, ``seen`` answers True until at least
  ``t + TTL - WRITE_EVERY`` (t + 1 s), and False from ``t + TTL`` (t + 2 s) on if nothing was noted
  since (on the file store, by the reader's clock against the file's time: one machine, or clocks kept
  in step).
- **Never in the way.** A write that fails (Redis down, a read-only folder) is skipped and logged at
  most once a minute per process, and that process tries again only ``BACKOFF`` (30 s) later: while
  Redis is unreachable one request per process per 30 s waits up to its 0.25 s timeout, the others
  nothing. A read that fails answers False: the job runs at full speed rather than stall.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

WRITE_EVERY = 1.0  # seconds between two shared writes of one process
TTL = 2.0  # seconds a write keeps the signal on
FILE_NAME = "live-traffic"
_EXT = "rewards.livetraffic"
_LOG_EVERY = 60.0
BACKOFF = 30.0  # seconds without a write attempt after one failed


class Signal:
    """The signal on one store: a Redis URL and key, or a file path."""

    def __init__(
        self,
        *,
        redis_url: str = "",
        key: str = "",
        path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key, self.path, self._clock = key, path, clock
        self._redis: Any = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
        self._last = -WRITE_EVERY  # monotonic time of the last write attempt
        self._last_logged = -_LOG_EVERY
        self._lock = threading.Lock()  # threaded workers: one write per second per process, not per thread

    def note(self) -> None:
        """Live traffic is being served (at most one shared write per second per process)."""
        now = self._clock()
        if now - self._last < WRITE_EVERY:
            return
        with self._lock:
            if now - self._last < WRITE_EVERY:
                return
            self._last = now
        try:
            self._write()
        except Exception:  # noqa: BLE001 - the signal is advisory; the request must not fail for it
            self._last = now + BACKOFF - WRITE_EVERY  # no request waits on a dead store again for a while
            if now - self._last_logged >= _LOG_EVERY:
                self._last_logged = now
                log.warning("live-traffic signal not written", exc_info=True)

    def _write(self) -> None:
        if self._redis is not None:
            self._redis.set(self.key, b"1", px=int(TTL * 1000))
            return
        assert self.path is not None
        try:
            os.utime(self.path)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()

    def seen(self) -> bool:
        """Whether live traffic was noted within the last ``TTL`` seconds (False when the store fails)."""
        try:
            if self._redis is not None:
                return bool(self._redis.exists(self.key))
            assert self.path is not None
            return time.time() - self.path.stat().st_mtime < TTL
        except FileNotFoundError:
            return False
        except Exception:  # noqa: BLE001 - a job that cannot tell runs at full speed
            log.warning("live-traffic signal not read", exc_info=True)
            return False


def signal(app: Flask) -> Signal:
    """The app's signal (built on first use from ``JOBS_URL``, ``JOBS_QUEUE`` and ``JOBS_DIR``)."""
    found: Signal | None = app.extensions.get(_EXT)
    if found is None:
        url = str(app.config.get("JOBS_URL") or "")
        if url.startswith(("redis://", "rediss://", "unix://")):
            found = Signal(redis_url=url, key=f"{app.config.get('JOBS_QUEUE') or 'rewards'}:live-traffic")
        else:
            folder = Path(app.config.get("JOBS_DIR") or Path(app.instance_path) / "jobs")
            found = Signal(path=folder / FILE_NAME)
        app.extensions[_EXT] = found
    return found


def note(app: Flask) -> None:
    """Mark that ``app`` is serving live traffic now (call it from the requests that count)."""
    signal(app).note()


def seen(app: Flask) -> bool:
    """Whether any process of the installation served live traffic within the last two seconds."""
    return signal(app).seen()
