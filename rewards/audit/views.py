"""The event log page with filters, log verification and checkpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, String, select, type_coerce

from rewards.access import current_user
from rewards.actor import current_actor
from rewards.audit import services, words
from rewards.audit.forms import VerifyForm
from rewards.audit.models import Event
from rewards.csvexport import csv_download
from rewards.db import db, writing
from rewards.listing import Filter, filtered, listing, parse_filters
from rewards.policy import staff
from rewards.signing.keystore import KeyStore, KeyStoreError
from rewards.web import local

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.add_app_template_global(words.action_label, "audit_action_label")
bp.add_app_template_global(words.object_label, "audit_object_label")
bp.add_app_template_global(words.details, "audit_details")

PAGE = 50


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


def _filters() -> list[Filter]:
    return [
        Filter("action", _l("action (or its beginning)"), apply=lambda q, v: q.where(Event.action.startswith(v))),
        Filter("actor", _l("actor"), apply=lambda q, v: q.where(Event.actor == v)),
        Filter("object_type", _l("object type"), apply=lambda q, v: q.where(Event.object_type == v)),
        Filter("object_id", _l("object"), apply=lambda q, v: q.where(Event.object_id == v)),
        Filter("from", _l("from"), "date_from", apply=lambda q, v: q.where(Event.at >= v)),
        Filter("to", _l("to"), "date_to", apply=lambda q, v: q.where(Event.at < v)),
    ]


@bp.route("/")
@staff("audit.view")
def log() -> tuple[str, int]:
    """Events, newest stored first, filtered by action, actor, object and local dates, a page at a time."""
    page = listing(db.session, _listing().order_by(Event.id.desc()), _filters(), per_page=PAGE, entities=False)
    page.items = _shown(page.items)
    return render_template("audit/log.html", events=page.items, listing=page, report=None), page.status


@bp.route("/export.csv")
@staff("audit.view")
def export_csv() -> Response:
    """The filtered events as CSV for Excel (the same filters as the page), streamed; the export is logged."""
    chosen, given, errors = parse_filters(_filters())
    if errors:
        flash(errors[0].message, "error")
        return redirect(url_for("audit.log"))  # type: ignore[return-value]
    with writing():  # the export's own event first, in a short writing transaction
        services.record_event(db.session, current_actor(), "audit.exported", "audit_log", "-",
                              {"filters": given, "format": "csv"})
        db.session.commit()
    query = filtered(_listing(), chosen).order_by(Event.id.desc())

    def rows() -> Iterator[list[Any]]:
        for event in _shown(db.session.execute(query.execution_options(yield_per=1000))):
            at = event["at"]
            when = at if isinstance(at, str) else local(at).isoformat(timespec="seconds")  # type: ignore[union-attr]
            details = "; ".join(f"{label or key}: {value}" for key, label, value, _code in words.details(event["details"]))
            yield [event["seq"], when, event["actor"], event["action"], words.action_label(event["action"]) or "",
                   event["object_type"], event["object_id"], details, event["hash"]]

    header = [_("No."), _("Time"), _("Actor"), _("Action"), _("Action in words"), _("Object type"), _("Object"),
              _("Details"), _("Hash")]
    return csv_download("audit-log.csv", header, rows())


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
    raw = VerifyForm().checkpoint.data
    if raw is not None and raw.filename:
        try:
            envelope = json.load(raw.stream)
            from signedjson import SignatureError, verify_envelope

            checkpoint = verify_envelope(envelope, KeyStore(current_app.config["KEYS_DIR"]).keyset())
        except (ValueError, SignatureError) as exc:
            flash(_("The checkpoint file is not valid: %(error)s", error=str(exc)), "error")
            return render_template("audit/log.html", events=[], listing=None, report=None)
    report = services.verify_log(db.session, checkpoint)
    events = _shown(db.session.execute(_listing().order_by(Event.id.desc()).limit(PAGE)))
    return render_template("audit/log.html", events=events, listing=None, report=report)


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
