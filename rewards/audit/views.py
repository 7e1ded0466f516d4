"""The event log page with filters, log verification and checkpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select, String, select, type_coerce

from rewards.access import current_user
from rewards.audit import services, words
from rewards.audit.models import Event
from rewards.db import db
from rewards.policy import staff
from rewards.signing.keystore import KeyStore, KeyStoreError

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.add_app_template_global(words.action_label, "audit_action_label")
bp.add_app_template_global(words.object_label, "audit_object_label")
bp.add_app_template_global(words.details, "audit_details")

PAGE = 100


def _listing() -> Select[Any]:
    """The page's columns, the time as stored: a row edited behind the service's back may hold a time
    that is no time (SQLite keeps any text), and the page must still list it (the walk reports it)."""
    return select(Event.id, Event.seq, type_coerce(Event.at, String).label("at"), Event.actor, Event.action,
                  Event.object_type, Event.object_id, Event.details, Event.hash)


def _shown(rows: Any) -> list[dict[str, Any]]:
    """Rows for the template: ``at`` an aware datetime, or the stored text when it is not a time."""
    shown = []
    for row in rows:
        event = row._asdict()
        if isinstance(event["at"], str):
            try:
                at = datetime.fromisoformat(event["at"])
                event["at"] = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
            except ValueError:
                pass  # shown as stored
        shown.append(event)
    return shown


@bp.route("/")
@staff("audit.view")
def log() -> str:
    """Events, newest stored first, filtered by actor, action or object."""
    query = _listing().order_by(Event.id.desc())
    filters = {k: request.args.get(k, "").strip() for k in ("actor", "action", "object_id")}
    if filters["actor"]:
        query = query.where(Event.actor == filters["actor"])
    if filters["action"]:
        query = query.where(Event.action.startswith(filters["action"]))
    if filters["object_id"]:
        query = query.where(Event.object_id == filters["object_id"])
    before = request.args.get("before", type=int)
    if before:
        query = query.where(Event.id < before)
    events = _shown(db.session.execute(query.limit(PAGE)))
    return render_template("audit/log.html", events=events, filters=filters, report=None, page=PAGE)


@bp.route("/export", methods=["POST"])
@staff("audit.view")
def export() -> Response:
    """Write the whole log to a file as a job; the job's page offers it for download when ready."""
    from rewards.audit.jobs import EXPORT
    from rewards.errors import DomainError
    from rewards.jobs.start import start

    try:
        job = start(EXPORT, {}, title="audit log")
    except DomainError as exc:  # the queue is down
        flash(exc.message, "error")
        return redirect(url_for("audit.log"))  # type: ignore[return-value]
    return redirect(url_for("jobs.detail", job_id=job.id))  # type: ignore[return-value]


@bp.route("/verify", methods=["POST"])
@staff("audit.verify")
def verify() -> str:
    """Walk the whole chain and show the result."""
    checkpoint = None
    raw = request.files.get("checkpoint")
    if raw is not None and raw.filename:
        try:
            envelope = json.load(raw.stream)
            from signedjson import SignatureError, verify_envelope

            checkpoint = verify_envelope(envelope, KeyStore(current_app.config["KEYS_DIR"]).keyset())
        except (ValueError, SignatureError) as exc:
            flash(_("The checkpoint file is not valid: %(error)s", error=str(exc)), "error")
            return render_template("audit/log.html", events=[], filters={}, report=None, page=PAGE)
    report = services.verify_log(db.session, checkpoint)
    events = _shown(db.session.execute(_listing().order_by(Event.id.desc()).limit(PAGE)))
    return render_template("audit/log.html", events=events, filters={}, report=report, page=PAGE)


@bp.route("/checkpoint", methods=["POST"])
@staff("audit.checkpoint")
def checkpoint() -> Response:
    """Sign the current head and download the checkpoint."""
    user = current_user()
    assert user is not None
    try:
        envelope = services.make_checkpoint(
            db.session, KeyStore(current_app.config["KEYS_DIR"]), actor=user.username
        )
    except KeyStoreError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("audit.log"))  # type: ignore[return-value]
    db.session.commit()
    body = json.dumps(envelope, ensure_ascii=False, indent=2)
    name = f"checkpoint-{envelope['payload']['seq']}.json"
    return Response(body, mimetype="application/json", headers={"Content-Disposition": f"attachment; filename={name}"})
