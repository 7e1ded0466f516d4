"""The kernel's tasks on the app's Huey: one task runs every job, plus the periodic work.

One Huey task runs every job (``rewards.jobs.run``, argument: the job's id); the job's kind decides
the handler (``rewards.jobs.registry``), so a new kind of job needs no new task.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from huey import Huey, crontab

from rewards.jobs import registry, runner, store

RUN_TASK = "rewards.jobs.run"
STALE_TASK = "rewards.jobs.stale"
_BOUND = "rewards.jobs.run_task"


def huey_for(app: Flask) -> Huey:
    """The app's Huey with the kernel's tasks bound (bound on first use, after every feature loaded)."""
    huey = store.instance(app)
    if _BOUND not in app.extensions:
        _bind(app, huey)
    return huey


def _bind(app: Flask, huey: Huey) -> None:
    @huey.task(name=RUN_TASK)
    def run_job(job_id: int) -> None:
        runner.execute(app, job_id)

    @huey.periodic_task(crontab(minute="*"), name=STALE_TASK)
    def stale_jobs() -> None:
        runner.close_stale(app)

    for work in registry.periodic(app):
        minute, hour, day, month, weekday = registry.parse_cron(work.cron)
        schedule = crontab(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday)
        huey.periodic_task(schedule, name=f"rewards.periodic.{work.name}")(_periodic_runner(app, work))

    for bind in registry.queue_binders(app):
        bind(app, huey)

    @huey.on_startup()
    def _startup() -> None:
        runner.close_stale(app)

    app.extensions[_BOUND] = run_job


def _periodic_runner(app: Flask, work: registry.Periodic) -> Any:
    def run() -> None:
        runner.run_periodic(app, work)

    run.__name__ = f"periodic_{work.name.replace('.', '_')}"
    return run


def enqueue(app: Flask, job_id: int) -> None:
    """Put the job on the queue (under ``memory://`` it runs now, before this returns)."""
    huey_for(app)
    app.extensions[_BOUND](job_id)
