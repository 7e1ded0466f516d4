"""What kinds of job the service knows: each feature registers its own in its ``init_app``.

The kernel knows no feature's jobs: a kind is a name (``"<feature>.<what>"``), a handler taking a
:class:`rewards.jobs.runner.JobContext` and returning a JSON-able result, a label for people and
the staff action that may see the job's result file. Periodic work registers the same way, with a
cron line; labels for the error codes of a feature's jobs (shown on the job page in its language)
too. A handler may be given by import path (``"draws.jobs:freeze_job"``): it is imported when a job
of that kind first runs, so registering costs nothing to a command that runs none (``rewards.lazycli``).
Work a feature adds to the queue itself (its own Huey tasks) registers with :func:`on_queue`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from rewards.jobs.runner import JobContext

Handler = Callable[["JobContext"], dict[str, Any] | None]
PeriodicFn = Callable[["Session"], str | None]  # returns a line for the log, or None

_KINDS = "rewards.jobs.kinds"
_PERIODIC = "rewards.jobs.periodic"
_ERRORS = "rewards.jobs.error_labels"
_BINDERS = "rewards.jobs.queue_binders"


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its handler, its label, the staff action that may download its result file, and
    optionally where to send people once it is done (an endpoint and the result key holding its id)."""

    name: str
    target: Handler | str  # the handler, or its import path ("package.module:function")
    label: object
    action: str
    done_link: tuple[str, str, str] | None = None  # (endpoint, url argument, result key)

    @property
    def handler(self) -> Handler:
        """The handler (imported on first use when registered by import path)."""
        return _resolve(self.target)  # type: ignore[return-value]


@dataclass(frozen=True)
class Periodic:
    """Work the consumer runs on a schedule: ``cron`` is "minute hour day month weekday" (UTC)."""

    name: str
    cron: str
    target: PeriodicFn | str  # the function, or its import path

    @property
    def fn(self) -> PeriodicFn:
        """The function (imported on first use when registered by import path)."""
        return _resolve(self.target)  # type: ignore[return-value]


def _resolve(target: object) -> object:
    if isinstance(target, str):
        from rewards.lazycli import import_target

        return import_target(target)
    return target


def register_kind(
    app: Flask,
    name: str,
    handler: Handler | str,
    *,
    label: object,
    action: str,
    done_link: tuple[str, str, str] | None = None,
) -> None:
    """Make ``name`` a kind of job of ``app`` (a feature calls this from its ``init_app``)."""
    kinds: dict[str, JobKind] = app.extensions.setdefault(_KINDS, {})
    if name in kinds:
        raise ValueError(f"job kind {name!r} is registered twice")
    kinds[name] = JobKind(name, handler, label, action, done_link)


def kinds(app: Flask) -> Mapping[str, JobKind]:
    """Every kind of job ``app`` knows, by name."""
    return app.extensions.get(_KINDS, {})


def register_periodic(app: Flask, name: str, cron: str, fn: PeriodicFn | str) -> None:
    """Run ``fn(session)`` on the schedule ``cron``; the kernel commits after it (an empty cron: off)."""
    if not cron:
        return
    parse_cron(cron)
    app.extensions.setdefault(_PERIODIC, []).append(Periodic(name, cron, fn))


def periodic(app: Flask) -> list[Periodic]:
    """The periodic work of ``app``."""
    return list(app.extensions.get(_PERIODIC, ()))


def on_queue(app: Flask, bind: Callable[[Flask, Any], None]) -> None:
    """Call ``bind(app, huey)`` when the app's queue is first built with its tasks (a consumer, or a
    process queueing a job): a feature adds its own Huey tasks there."""
    app.extensions.setdefault(_BINDERS, []).append(bind)


def queue_binders(app: Flask) -> list[Callable[[Flask, Any], None]]:
    """Every :func:`on_queue` function of ``app``, in order."""
    return list(app.extensions.get(_BINDERS, ()))


def add_error_labels(app: Flask, labels: Mapping[str, object]) -> None:
    """Labels (lazy translations) for error codes and per-line error kinds of a feature's jobs."""
    app.extensions.setdefault(_ERRORS, {}).update(labels)


def error_labels(app: Flask) -> Mapping[str, object]:
    """Every label for an error code or kind."""
    return app.extensions.get(_ERRORS, {})


def parse_cron(cron: str) -> tuple[str, str, str, str, str]:
    """The five fields of a cron line; ``ValueError`` for anything else."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"a schedule has five fields (minute hour day month weekday), not {cron!r}")
    return fields[0], fields[1], fields[2], fields[3], fields[4]
