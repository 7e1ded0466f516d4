"""The draws feature's background jobs: freeze the entrant list, run the draw, export credits.

Each handler wraps the same service the command line runs (``draws.services``), in the job's
transaction: the draw's new state and the job's ``done`` commit together, or neither does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from draws import rounds, services, wiring
from draws.errors import DrawError
from rewards.errors import N_, DomainError
from rewards.jobs.models import FAILED, QUEUED, RUNNING, Job
from rewards.jobs.runner import JobContext
from signedjson import canonical_json

FREEZE = "draws.freeze"
RUN = "draws.run"
CREDITS = "draws.export_credits"
DRAW_KINDS = (FREEZE, RUN)
# The draw state a step starts from: a failed job of that step matters while the draw is still there.
STEP_FROM = {FREEZE: "announced", RUN: "frozen"}


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn the key store's, the secret box's, the relay's and the engine's refusals into ``DomainError``s
    (the runner records those with their message; anything else is an internal error), keeping a
    refusal's field in its details (``{"entropy": [message]}``) as the synchronous API answered it."""
    from draws.secretbox import SecretBoxError
    from rewards.signing.keystore import KeyStoreError

    try:
        yield
    except DomainError as exc:
        if exc.errors is None and exc.field:
            exc.errors = exc.error_details()
        raise
    except (KeyStoreError, SecretBoxError) as exc:
        raise DomainError(str(exc), code="keys_unavailable") from exc
    except wiring.FetchRefused as exc:
        raise DomainError(str(exc), code="fetch_refused", errors={"fetch": [str(exc)]}) from exc
    except DrawError as exc:
        raise DomainError.of(exc, code="draw_refused") from exc


def freeze_job(ctx: JobContext) -> dict[str, Any]:
    """Compute and fix a draw's entrant list (params: draw_id)."""
    ctx.progress(0, None, force=True)
    with _refusals():
        draw = services.freeze(ctx.session, ctx.params["draw_id"], actor=ctx.actor, signer=wiring.signer(),
                               box=wiring.box(), timezone=wiring.timezone())
    ctx.check_cancelled()  # a cancel asked during the freeze: nothing of it commits
    ctx.progress(draw.entrant_count or 0, draw.entrant_count or 0, force=True)
    return {"draw_id": draw.public_id, "state": draw.state, "entrants": draw.entrant_count}


def run_job(ctx: JobContext) -> dict[str, Any]:
    """Run a draw (params: draw_id and either entropy (the JSON value) or fetch (the announced drand
    round, fetched and verified here, by the consumer))."""
    p = ctx.params
    relay: dict[str, Any] | None = None
    value: Any
    ctx.progress(0, None, force=True)
    with _refusals():
        if p.get("fetch"):
            source = json.loads(services.get_draw(ctx.session, p["draw_id"]).entropy_source)
            if source.get("type") != "drand":
                raise DomainError(N_("fetching works for drand sources only"), field="fetch", code="not_drand")
            value, relay = fetched_round(ctx.session, p["draw_id"])
        else:
            value = p.get("entropy")
        draw = services.run_draw(ctx.session, p["draw_id"], value, actor=ctx.actor, signer=wiring.signer(),
                                 box=wiring.box(), relay=relay)
    ctx.check_cancelled()
    ctx.progress(1, 1, force=True)
    return {"draw_id": draw.public_id, "state": draw.state, "cancel_reason": draw.cancel_reason}


def fetched_round(session: Session, public_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The draw's drand round: the one the periodic task stored (verified again), else fetched now."""
    from draws.relay import RelayError

    draw = services.get_draw(session, public_id)
    try:
        stored = rounds.stored_value(wiring.chains(), draw)
    except RelayError as exc:
        raise wiring.FetchRefused(str(exc)) from exc
    if stored is not None:
        return stored
    source = json.loads(draw.entropy_source)
    return wiring.fetch_drand(rounds.chain_key(wiring.chains(), source) or source["chain"]["name"], source["round"])


def fetch_due_rounds(session: Session) -> str | None:
    """Periodic: fetch, verify and store the due drand round of every frozen draw (only with DRAND_FETCH)."""
    from flask import current_app

    from rewards.db import utcnow

    if not current_app.config.get("DRAND_FETCH"):
        return None
    stored, failed = rounds.fetch_due(session, wiring.chains(), utcnow(), wiring.fetch_drand)
    if not stored and not failed:
        return None
    return f"drand rounds stored for {stored}" + (f"; not fetched for {failed}" if failed else "")


def check_value(value: Any) -> None:
    """Refuse an entropy value a job's parameters cannot hold (canonical JSON: no floats)."""
    try:
        canonical_json(value)
    except ValueError as exc:
        raise DomainError(str(exc), field="entropy") from exc


def draw_params(public_id: str, **more: Any) -> dict[str, Any]:
    """A draw job's parameters: the draw first (its canonical JSON then starts with it, see ``current_job``)."""
    return {"draw_id": public_id, **more}


def current_job(session: Session, draw: Any) -> Job | None:
    """The draw's freeze or run job to show on its page: one queued or running, or the last failed one
    while the draw is still where that step starts; None otherwise."""
    prefix = json.dumps({"draw_id": draw.public_id}, separators=(",", ":"), ensure_ascii=False)[:-1]
    job = session.scalar(
        select(Job).where(Job.kind.in_(DRAW_KINDS), Job.params.startswith(prefix, autoescape=True))
        .order_by(Job.id.desc()).limit(1)
    )
    if job is None:
        return None
    if job.state in (QUEUED, RUNNING) or (job.state == FAILED and STEP_FROM.get(job.kind) == draw.state):
        return job
    return None


def credits_job(ctx: JobContext) -> dict[str, Any]:
    """Put every pending credit into a new batch (exactly once) and write its file for download.

    The file is written (and flushed to disk) before the job commits: a committed batch always has
    its file, and the batch's content is in the database too (``flask draws batch ID`` writes it
    again). A job stopped before its commit leaves every credit pending and its folder removed.
    """
    import os

    ctx.progress(0, None, force=True)
    with _refusals():
        batch = services.export_credits(ctx.session, actor=ctx.actor)
    name = f"credits-{batch.id}.csv"
    with ctx.output(name).open("w", encoding="utf-8", newline="") as fh:
        fh.write(batch.content)
        fh.flush()
        os.fsync(fh.fileno())
    ctx.check_cancelled()
    ctx.progress(batch.count, batch.count, force=True)
    return {"batch_id": batch.id, "count": batch.count, "total_kopecks": batch.total_kopecks, "digest": batch.digest,
            "file": {"name": name, "download_name": name, "mimetype": "text/csv"}}

