"""The jobs part of the kernel on an app: policy rows, the kernel's periodic work; pages and API on the web side."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from rewards import policy
from rewards.jobs import registry

if TYPE_CHECKING:
    from rewards.httperrors import Api

ACTIONS = {"jobs.view": policy.ALL, "jobs.cancel": policy.STAFF_WRITE}
SCOPES = {"jobs:read": _l("read the state of jobs the client started")}


def init_app(app: Flask) -> None:
    """Declare the jobs' policy rows, the kernel's kind of job and its periodic work (the ``flask jobs``
    commands are added with the kernel's, ``rewards.cli``)."""
    policy.declare(actions=ACTIONS, scopes=SCOPES)
    registry.register_kind(app, "audit.export", "rewards.audit.jobs:export_job", label=_l("Event log export"),
                           action="audit.view")
    registry.register_periodic(app, "audit.checkpoint", app.config["JOBS_CHECKPOINT_CRON"], _checkpoint(app))
    registry.register_periodic(app, "jobs.purge_files", "17 3 * * *", _purge_files(app))
    # events are chained right after their commit; this catches any a failed chainer left pending
    registry.register_periodic(app, "audit.chain", "* * * * *", _chain)


def init_web(app: Flask, api: Api) -> None:
    """Register the jobs pages and API."""
    from rewards.jobs.api import blp
    from rewards.jobs.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp)


def _chain(session: Session) -> str | None:
    """Chain the event log's pending events."""
    from rewards.audit.services import any_pending, chain_pending

    bind = session.get_bind()
    if not any_pending(bind):  # type: ignore[arg-type]
        return None  # the usual case: take no chain lock at a lower priority for nothing
    done = chain_pending(bind)  # type: ignore[arg-type]
    return f"{done} pending event(s) chained" if done else None


def _checkpoint(app: Flask):  # type: ignore[no-untyped-def]
    def run(session: Session) -> str:
        """Sign the event log's head with the current signing key."""
        from rewards.audit.services import make_checkpoint
        from rewards.signing.keystore import KeyStore

        make_checkpoint(session, KeyStore(app.config["KEYS_DIR"]), actor="system:jobs")
        return "checkpoint signed"

    return run


def _purge_files(app: Flask):  # type: ignore[no-untyped-def]
    def run(_session: Session) -> str:
        """Delete stored uploads and job files older than ``JOBS_KEEP_FILES_DAYS``."""
        from rewards.jobs.runner import jobs_dir
        from rewards.jobs.start import purge_files

        return f"{purge_files(jobs_dir(app), int(app.config['JOBS_KEEP_FILES_DAYS']))} folder(s) deleted"

    return run
