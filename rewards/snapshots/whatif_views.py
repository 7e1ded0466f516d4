"""Staff pages of the rating rules: drafts (a form by field, and the JSON for experts), what-ifs and
their results, one account old vs new, two what-ifs side by side, publishing a version from a month.

The routes hang on the snapshots blueprint (``views.bp``), so their endpoints are ``snapshots.*``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WerkzeugResponse

from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import DomainError, NotFound
from rewards.forms import flash_errors
from rewards.i18n import label_of
from rewards.jobs import services as jobs
from rewards.jobs.models import Job
from rewards.jobs.runner import output_dir
from rewards.jobs.start import start
from rewards.jobs.views import STATE_LABELS
from rewards.policy import staff
from rewards.rating.rules import CHANNELS, CRITERIA, PAYMENT_CRITERIA, PLANS, default_rules_bytes
from rewards.snapshots import jobs as snapshot_jobs
from rewards.snapshots import services, whatif
from rewards.snapshots.forms import PublishForm, RulesDraftForm, WhatIfForm
from rewards.snapshots.views import bp
from rewards.tiers import TIERS

MEASURES = {
    "entrants": _l("draw entrants"),
    "total_weight": _l("total draw weight"),
    "qualifying": _l("accounts qualifying for the offer"),
}
SOURCES = {"draws": _l("Draw"), "partners": _l("Partner offer")}
PAGE_ROWS = 50


bp.add_app_template_global(label_of(MEASURES), "cost_measure_label")
bp.add_app_template_global(label_of(SOURCES), "cost_source_label")


def _int_or_text(value: str) -> Any:
    """An integer field as typed: a number when it is one, else the text (the check names the field)."""
    text = (value or "").strip()
    try:
        return int(text)
    except ValueError:
        return text


def document_from_form(form: RulesDraftForm, base: dict[str, Any]) -> dict[str, Any]:
    """The rules JSON from the structured form, on top of ``base`` (fields the form does not show stay)."""
    doc = json.loads(json.dumps(base))
    doc["version"] = (form.version.data or "").strip()
    doc["title"] = (form.title.data or "").strip()
    doc["window_months"] = _int_or_text(form.window_months.data)
    doc["channels"] = {"reading": [c for c in CHANNELS if c in form.reading_channels.data],
                       "payment": [c for c in CHANNELS if c in form.payment_channels.data]}
    doc["deadlines"] = {"reading_day": _int_or_text(form.reading_day.data),
                        "payment_day_next_month": _int_or_text(form.payment_day.data)}
    doc["points"] = {c: _int_or_text(form.points(c)) for c in CRITERIA}
    doc["hardship"] = {"plans": [p for p in PLANS if p in form.plans.data],
                       "kept_plan_credits": [c for c in CRITERIA if c in form.kept_plan_credits.data]}
    doc["tiers"] = {
        t: {"min_points": _int_or_text(form.min_points(t)),
            "every_month": [c for c in CRITERIA if c in form.every_month(t)]}
        for t in TIERS[1:]
    }
    return doc


def _editor(draft: Any, doc: dict[str, Any], name: str, status: int = 200, field: str | None = None,
            text: str | None = None) -> tuple[str, int]:
    return render_template(
        "snapshots/rules_draft.html", draft=draft, doc=doc, name=name, field=field,
        json_text=text if text is not None else json.dumps(doc, indent=2, ensure_ascii=False),
        channels=CHANNELS, criteria=CRITERIA, plans=PLANS, payment_criteria=sorted(PAYMENT_CRITERIA),
        tiers=TIERS[1:],
    ), status


def _form_doc(data: bytes, base: dict[str, Any]) -> dict[str, Any]:
    """What the form shows after a refusal: the refused rules when their shape fits the form, else ``base``."""
    try:
        doc = json.loads(data)
        ok = isinstance(doc, dict) and all(isinstance(doc.get(k), type(v)) for k, v in base.items() if k != "title")
        ok = ok and all(isinstance(doc["tiers"].get(t), dict) for t in TIERS[1:])
        ok = ok and all(isinstance(doc[k], dict) and set(base[k]) <= set(doc[k]) for k in ("channels", "deadlines",
                                                                                         "points"))
    except (ValueError, KeyError, AttributeError, TypeError):
        return base
    return doc if ok else base


@bp.route("/rules")
@staff("snapshots.view")
def rules_index() -> str:
    """Drafts, published versions, what-ifs run so far, and the forms to run and publish."""
    computed = [s for s in services.list_snapshots(db.session) if s.source == "computed"]
    runs = jobs.list_jobs(db.session, kind=snapshot_jobs.WHAT_IF, limit=50)
    return render_template("snapshots/rules.html", drafts=whatif.list_drafts(db.session),
                           versions=whatif.list_versions(db.session), snapshots=computed, runs=runs,
                           state_labels=STATE_LABELS)


@bp.route("/rules/drafts/new", methods=["GET", "POST"])
@bp.route("/rules/drafts/<int:draft_id>", methods=["GET", "POST"])
@staff("snapshots.rules")
def rules_draft(draft_id: int | None = None) -> Any:
    """Edit a draft by field, or as JSON, or upload a rules file; saved only when valid."""
    draft = None
    if draft_id is not None:
        try:
            draft = whatif.get_draft(db.session, draft_id)
        except NotFound:
            abort(404)
    base = json.loads(draft.content) if draft else json.loads(default_rules_bytes())
    if request.method == "GET":
        return _editor(draft, base, draft.name if draft else "")
    form = RulesDraftForm()
    name = form.name.data or ""
    upload = form.file.data
    text = None
    if upload and upload.filename:
        data = upload.read()
    elif form.mode.data == "json":
        text = form.json.data or ""
        data = text.encode("utf-8")
    else:
        doc = document_from_form(form, base)
        data = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
    try:
        saved = whatif.save_draft(db.session, data, name=name, actor=current_actor(), draft_id=draft_id)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _editor(draft, _form_doc(data, base), name, exc.status, exc.field,
                       text if text is not None else data.decode("utf-8", "replace"))
    db.session.commit()
    flash(_("Draft saved."), "ok")
    return redirect(url_for("snapshots.rules_draft", draft_id=saved.id))


@bp.route("/rules/what-if", methods=["POST"])
@staff("snapshots.rules")
def rules_what_if() -> WerkzeugResponse:
    """Queue a what-if of a draft over a computed snapshot; its page shows the result."""
    form = WhatIfForm()
    if not form.validate():
        flash_errors(form)
        return redirect(url_for("snapshots.rules_index"))
    try:
        draft = whatif.get_draft(db.session, form.draft_id.number)
        snapshot = whatif.computed_snapshot(db.session, form.snapshot_id.number)
        job = start(snapshot_jobs.WHAT_IF, {"snapshot_id": snapshot.id, "rules": draft.content,
                                            "label": draft.name, "draft_id": draft.id},
                    title=f"{snapshot.period}: {draft.name}"[:200])
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("snapshots.rules_index"))
    if job.state == "done":
        return redirect(url_for("snapshots.what_if_result", job_id=job.id))
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/rules/publish", methods=["POST"])
@staff("snapshots.rules")
def rules_publish() -> WerkzeugResponse:
    """Publish a draft as the rules of a month and the later ones."""
    form = PublishForm()
    if not form.validate():
        flash_errors(form)
        return redirect(url_for("snapshots.rules_index"))
    try:
        draft = whatif.get_draft(db.session, form.draft_id.number)
        version = whatif.publish_version(db.session, draft.content.encode("utf-8"),
                                         effective_from=form.effective_from.data, actor=current_actor())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("snapshots.rules_index"))
    db.session.commit()
    flash(_("Rules %(version)s published from %(period)s.", version=version.version, period=version.effective_from),
          "ok")
    return redirect(url_for("snapshots.rules_index"))


def _finished_what_if(job_id: int) -> tuple[Job, dict[str, Any]]:
    try:
        job = jobs.get_job(db.session, job_id)
    except NotFound:
        abort(404)
    if job.kind != snapshot_jobs.WHAT_IF or job.state != "done" or not job.result:
        abort(404)
    return job, json.loads(job.result)


def _bars(result: dict[str, Any]) -> list[dict[str, Any]]:
    top = max([*result["before"].values(), *result["after"].values(), 1])
    return [{"tier": t, "before": result["before"][t], "after": result["after"][t],
             "before_pct": round(100 * result["before"][t] / top, 1),
             "after_pct": round(100 * result["after"][t] / top, 1)} for t in TIERS]


@bp.route("/rules/what-if/<int:job_id>")
@staff("snapshots.view")
def what_if_result(job_id: int) -> str:
    """A what-if's result: counts before/after, movement, costs, and the changed accounts (searchable)."""
    job, result = _finished_what_if(job_id)
    query = request.args.get("q", "").strip()
    move = request.args.get("move", "").strip()
    rows: list[dict[str, Any]] = []
    matched = 0
    for row in snapshot_jobs.changed_rows(output_dir(current_app, job.id), query, move):
        matched += 1
        if len(rows) < PAGE_ROWS:
            rows.append(row)
    moves = [f"{a}>{b}" for a in TIERS for b in TIERS if a != b and result["matrix"][a][b]]
    return render_template("snapshots/what_if.html", job=job, result=result, rows=rows, matched=matched,
                           query=query, move=move, moves=moves, tiers=TIERS, bars=_bars(result),
                           page_rows=PAGE_ROWS, others=[j for j in jobs.list_jobs(
                               db.session, kind=snapshot_jobs.WHAT_IF, state="done", limit=50) if j.id != job.id])


@bp.route("/rules/what-if/<int:job_id>/account")
@staff("snapshots.view")
def what_if_account(job_id: int) -> tuple[str, int]:
    """One account of a what-if: the explanation under the old and the new rules side by side."""
    job, result = _finished_what_if(job_id)
    number = request.args.get("account", "").strip()
    doc = None
    status = 200
    if number:
        try:
            doc = whatif.explain_difference(db.session, int(result["snapshot_id"]),
                                            json.loads(job.params)["rules"].encode("utf-8"), number,
                                            str(get_locale()))
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
    return render_template("snapshots/what_if_account.html", job=job, result=result, number=number,
                           doc=doc), status


@bp.route("/rules/what-if/compare")
@staff("snapshots.view")
def what_if_compare() -> str:
    """Two what-ifs side by side (drafts compared on their counts, movement and costs)."""
    try:
        a_id, b_id = int(request.args.get("a", "0")), int(request.args.get("b", "0"))
    except ValueError:
        abort(404)
    (job_a, a), (job_b, b) = _finished_what_if(a_id), _finished_what_if(b_id)
    costs = []
    for i, cost in enumerate(a["costs"]):
        other = next((c for c in b["costs"] if (c["source"], c["item"], c["measure"]) ==
                      (cost["source"], cost["item"], cost["measure"])), None)
        costs.append({**cost, "b_after": other["after"] if other else None, "index": i})
    return render_template("snapshots/what_if_compare.html", job_a=job_a, job_b=job_b, a=a, b=b, tiers=TIERS,
                           costs=costs)
