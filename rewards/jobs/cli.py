"""``flask jobs ...``: the consumer, and the job list, one job, cancel, the stale check.

``flask jobs --help`` imports this module alone: each command imports the services and models it uses
when it runs (``rewards.lazycli``).
"""

from __future__ import annotations

import json
import logging
import os

import click
from flask import current_app
from flask.cli import AppGroup

from rewards.actor import current_actor
from rewards.cli import fail, run_service
from rewards.db import db
from rewards.errors import DomainError

jobs_cli = AppGroup("jobs", help="Background jobs: the consumer that runs them, their list and state.")


@jobs_cli.command("consumer")
@click.option("--workers", "-w", type=int, default=2, show_default=True, help="Jobs run at once (threads).")
@click.option("--periodic/--no-periodic", default=True, show_default=True,
              help="Also run the periodic work (enable it on exactly one consumer).")
@click.option("--nice", "niceness", type=click.IntRange(0, 19), default=None,
              help="Lower the consumer's OS priority by this much (default: the JOBS_NICE setting, 19).")
def consumer_command(workers: int, periodic: bool, niceness: int | None) -> None:
    """Run jobs from the queue until stopped (SIGTERM/Ctrl+C: the running jobs finish first)."""
    from rewards import livetraffic
    from rewards.audit.services import defer_chaining
    from rewards.jobs import dbpriority, queue, store

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["JOBS_URL"] == "memory://":
        fail("JOBS_URL is memory://: jobs run inside the caller, there is nothing to consume")
    niceness = int(app.config["JOBS_NICE"]) if niceness is None else niceness
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)  # the jobs' threads inherit it; web workers keep the CPU first
    # and the database server's processes of the jobs' sessions too, where the server lets them ask
    lowered = dbpriority.lower_backend_priority(db.engine, int(app.config["JOBS_DATABASE_NICE"]))
    # at that priority, holding the event log's chain lock would stall the web's chaining: leave it to them
    defer_chaining(livetraffic.signal(app).seen)
    logging.getLogger("huey").setLevel(logging.INFO)
    huey = queue.huey_for(app)
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic,
                                    check_worker_health=True, scheduler_interval=1)
    click.echo(
        f"consumer {store.worker_name()}: {workers} worker(s), queue "
        f"{app.config['JOBS_URL'] or 'instance/jobs.sqlite3'}"
        + (f"; database sessions at nice {app.config['JOBS_DATABASE_NICE']}" if lowered else ""),
        err=True,
    )
    consumer.run()


@jobs_cli.command("list")
@click.option("--state", type=click.Choice(["queued", "running", "done", "failed", "cancelled"]))
@click.option("--kind")
@click.option("--limit", type=int, default=50, show_default=True)
def list_command(state: str | None, kind: str | None, limit: int) -> None:
    """Jobs, newest first."""
    from rewards.jobs import services

    for job in services.list_jobs(db.session, state=state, kind=kind, limit=limit):
        click.echo(f"{job.id}\t{job.kind}\t{job.state}\t{job.progress_done}/{job.progress_total or '?'}\t"
                   f"{job.started_by}\t{job.created_at:%Y-%m-%d %H:%M}\t{job.title}")


@jobs_cli.command("show")
@click.argument("job_id", type=int)
def show_command(job_id: int) -> None:
    """One job as JSON."""
    from rewards.jobs import services, store

    try:
        job = services.get_job(db.session, job_id)
    except DomainError as exc:
        fail(exc.message)
        return
    live = store.progress(current_app, job_id) if job.state == "running" else None
    click.echo(json.dumps(services.describe(job, live), default=str, indent=2, ensure_ascii=False))


@jobs_cli.command("cancel")
@click.argument("job_id", type=int)
def cancel_command(job_id: int) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    from rewards.jobs import services, store

    outcome = run_service(services.cancel, job_id, actor=current_actor())
    if outcome == "requested":
        store.request_cancel(current_app, job_id)
    click.echo(f"job {job_id}: {outcome}")


@jobs_cli.command("stale")
def stale_command() -> None:
    """Mark failed the running jobs whose consumer stopped (the consumer does this every minute)."""
    from rewards.jobs import runner

    closed = runner.close_stale(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"closed {len(closed)} job(s) {closed}" if closed else "no stale jobs")


def wait_and_report(job_id: int) -> None:
    """For ``--background`` options: print the job's number and where to follow it."""
    click.echo(f"queued job {job_id}: follow it with 'flask jobs show {job_id}' or on /jobs/{job_id}")
