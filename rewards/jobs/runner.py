"""Running one job in a consumer: claim it, run its handler, commit its work with its ``done``.

The protocol, for an auditor:

1. ``claim``: the job moves queued -> running in a transaction of its own (a job whose message
   arrives twice, or that was cancelled while queued, is not run).
2. The handler runs with the session; it never commits unless it works in steps (``ctx.commit()``,
   a bulk issue), and each step is whole and idempotent. Meanwhile a thread writes a heartbeat to
   the queue's store every few seconds, and the handler's progress goes there too, so neither waits
   for a database lock the job's own transaction may hold.
3. On success the job moves running -> done **in the handler's transaction**: the work and its
   ``done`` commit together. If the job is no longer running (a stale check closed it), the work
   is rolled back. On an error, the work is rolled back and the job moves to failed with a code
   and the error's message and details (e.g. the per-line errors of a file); on a cancel request,
   to cancelled. A consumer killed at any point leaves its transaction uncommitted: the database
   rolls it back, the heartbeat stops, and the next stale check marks the job failed.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session, scoped_session

from rewards import livetraffic
from rewards.db import db, reset_read_only, set_read_only
from rewards.errors import N_, DomainError
from rewards.jobs import registry, services, store
from rewards.jobs.models import Job
from rewards.pacing import Pacer, pacing, pause_point

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Someone asked the job to stop."""


def jobs_dir(app: Flask) -> Path:
    """Where uploads wait for their job and jobs write files for download."""
    return Path(app.config.get("JOBS_DIR") or Path(app.instance_path) / "jobs")


def output_dir(app: Flask, job_id: int) -> Path:
    """The folder of the files a job writes for download."""
    return jobs_dir(app) / "output" / str(job_id)


@dataclass
class JobContext:
    """What a handler gets: the session, the job's input, and ways to report progress."""

    app: Flask
    session: Session
    job_id: int
    kind: str
    params: dict[str, Any]
    actor: str
    done: int = 0
    total: int | None = None
    _last_put: float = field(default=0.0, repr=False)

    def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Report ``done`` of ``total`` items; stops the job here when someone cancelled it."""
        self.done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if force or now - self._last_put >= 0.5:  # progress is for people: twice a second is plenty
            self._last_put = now
            store.put_progress(self.app, self.job_id, self.done, self.total)
            self.check_cancelled()
        pause_point()  # a progress report ends a chunk: yield to live traffic here (rewards.pacing)

    def check_cancelled(self) -> None:
        """Raise ``JobCancelled`` when someone asked the job to stop."""
        if store.cancel_requested(self.app, self.job_id):
            raise JobCancelled()

    def commit(self) -> None:
        """Commit a step of a job that works in steps (each step whole and idempotent)."""
        self.session.commit()
        pause_point()  # between two steps no lock is held (on SQLite, the only place such a job pauses)

    def stored(self, relative: str) -> Path:
        """The absolute path of an upload stored for this job (``rewards.jobs.start.save_upload``)."""
        base = jobs_dir(self.app).resolve()
        path = (base / relative).resolve()
        if base not in path.parents:
            raise DomainError(N_("the stored file is not in the jobs folder"), code="bad_path")
        return path

    def output(self, name: str) -> Path:
        """A path for a file the job writes for download (its folder is created)."""
        folder = output_dir(self.app, self.job_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name


class _Heartbeat(threading.Thread):
    def __init__(self, app: Flask, job_id: int) -> None:
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.app, self.job_id, self.stop = app, job_id, threading.Event()

    def run(self) -> None:
        every = max(0.5, float(self.app.config["JOBS_STALE_SECONDS"]) / 6)
        while not self.stop.wait(every):
            try:
                store.beat(self.app, self.job_id)
            except Exception:  # noqa: BLE001 - a missed beat is survivable; the next one may pass
                log.warning("job %s: heartbeat not written", self.job_id, exc_info=True)


def execute(app: Flask, job_id: int) -> str | None:
    """Run the job if it is still queued; returns its final state (None if not claimed here)."""
    with app.app_context():
        token = set_read_only(False)  # a job writes; under memory:// it may run inside a GET's context
        try:
            return _execute(app, db.session, job_id)
        finally:
            db.session.remove()
            reset_read_only(token)


def _execute(app: Flask, session: Session, job_id: int) -> str | None:
    if not services.claim(session, job_id, store.worker_name()):
        session.rollback()
        return None
    session.commit()
    job = session.get(Job, job_id)
    assert job is not None
    kind = registry.kinds(app).get(job.kind)
    ctx = JobContext(app, session, job_id, job.kind, json.loads(job.params), job.started_by, total=job.progress_total)
    store.beat(app, job_id)
    heartbeat = _Heartbeat(app, job_id)
    heartbeat.start()
    pacer = job_pacer(app, session)
    try:
        if kind is None:
            raise DomainError(N_("unknown kind of job %(kind)s"), code="unknown_kind", kind=repr(job.kind))
        with pacing(pacer):
            result = kind.handler(ctx)
        if pacer is not None and pacer.pauses:
            log.info("job %s yielded %.1f s to live traffic in %s pause(s)", job_id, pacer.paused, pacer.pauses)
        if not services.finish(session, job_id, result, ctx.done, ctx.total):
            session.rollback()  # closed as stale meanwhile: its work must not land
            log.warning("job %s was closed while it ran; its work is rolled back", job_id)
            return None
        session.commit()
        return "done"
    except JobCancelled:
        _settle(app, session, job_id, lambda: services.mark_cancelled(session, job_id, ctx.done))
        return "cancelled"
    except DomainError as exc:
        code, message, errors, status = exc.code, exc.message, exc.errors, exc.status
        template, params = exc.template, {k: str(v) for k, v in exc.params.items()}  # lazy words: English here
        _settle(app, session, job_id, lambda: services.fail(session, job_id, code, message, errors, status=status,
                                                            template=template, params=params))
        return "failed"
    except Exception as exc:  # noqa: BLE001 - any failure is the job's failure; logged in full
        log.exception("job %s (%s) failed", job_id, job.kind)
        text = f"{type(exc).__name__}: the error is in the consumer's log"
        _settle(app, session, job_id, lambda: services.fail(session, job_id, "internal", text))
        return "failed"
    finally:
        heartbeat.stop.set()
        store.forget(app, job_id)


def job_pacer(app: Flask, session: Session) -> Pacer | None:
    """The duty cycle of a job (``JOBS_YIELD_RATIO``; None when 0): it pauses between chunks while the
    partner API serves requests (``rewards.livetraffic``), never inside a SQLite write transaction."""
    ratio = float(app.config["JOBS_YIELD_RATIO"])
    if ratio <= 0:
        return None
    live = livetraffic.signal(app)
    sqlite = session.get_bind().dialect.name == "sqlite"
    real = session() if isinstance(session, scoped_session) else session  # the job's thread's own session

    def busy() -> bool:
        if sqlite and real.in_transaction():
            return False  # the job holds SQLite's one write lock: sleeping would make every writer wait longer
        return live.seen()

    return Pacer(ratio, busy)


def _settle(app: Flask, session: Session, job_id: int, move: Any) -> None:
    """Roll back the job's work, drop its files, and record its end in a transaction of its own."""
    session.rollback()
    shutil.rmtree(output_dir(app, job_id), ignore_errors=True)
    try:
        move()
        session.commit()
    except Exception:  # noqa: BLE001 - the database may be gone; the stale check closes the job later
        session.rollback()
        log.exception("job %s: its end could not be recorded", job_id)


def close_stale(app: Flask) -> list[int]:
    """Mark failed the running jobs whose consumer died (a periodic task, and when a consumer starts)."""
    with app.app_context():
        token = set_read_only(False)
        try:
            closed = services.close_stale(
                db.session,
                lambda job_id: store.last_beat(app, job_id),
                stale_after=timedelta(seconds=float(app.config["JOBS_STALE_SECONDS"])),
            )
            db.session.commit()
            for job_id in closed:
                shutil.rmtree(output_dir(app, job_id), ignore_errors=True)
                log.warning("job %s: its consumer stopped; marked failed", job_id)
            return closed
        finally:
            db.session.remove()
            reset_read_only(token)


def run_periodic(app: Flask, work: registry.Periodic) -> None:
    """Run one piece of periodic work in its own transaction."""
    with app.app_context():
        token = set_read_only(False)
        try:
            line = work.fn(db.session)
            db.session.commit()
            if line:
                log.info("%s: %s", work.name, line)
        except Exception:  # noqa: BLE001 - logged; the next run tries again
            db.session.rollback()
            log.exception("periodic %s failed", work.name)
        finally:
            db.session.remove()
            reset_read_only(token)
