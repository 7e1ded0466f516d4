"""What kinds of job the service knows: each feature registers its own in its ``init_app``.

The kernel knows no feature's jobs: a kind is a name (``"<feature>.<what>"``), a handler taking a
:class:`rewards.jobs.runner.JobContext` and returning a JSON-able result, a label for people and
the staff action that may see the job's result file. Periodic work registers the same way, with a
cron line; labels for the error codes of a feature's jobs (shown on the job page in its language)
too.
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


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its handler, its label, the staff action that may download its result file, and
    optionally where to send people once it is done (an endpoint and the result key holding its id)."""

    name: str
    handler: Handler
    label: object
    action: str
    done_link: tuple[str, str, str] | None = None  # (endpoint, url argument, result key)


@dataclass(frozen=True)
class Periodic:
    """Work the consumer runs on a schedule: ``cron`` is "minute hour day month weekday" (UTC)."""

    name: str
    cron: str
    fn: PeriodicFn


def register_kind(
    app: Flask,
    name: str,
    handler: Handler,
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


def register_periodic(app: Flask, name: str, cron: str, fn: PeriodicFn) -> None:
    """Run ``fn(session)`` on the schedule ``cron``; the kernel commits after it (an empty cron: off)."""
    if not cron:
        return
    parse_cron(cron)
    app.extensions.setdefault(_PERIODIC, []).append(Periodic(name, cron, fn))


def periodic(app: Flask) -> list[Periodic]:
    """The periodic work of ``app``."""
    return list(app.extensions.get(_PERIODIC, ()))


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
