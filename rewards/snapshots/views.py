"""Staff pages: upload and compute snapshots, the error report by line, list, detail, compare, one account."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from rewards.accounts import normalize_account
from rewards.actor import current_actor
from rewards.csvexport import csv_download
from rewards.db import db, stream_reading, writing
from rewards.errors import DomainError, NotFound
from rewards.forms import flash_errors
from rewards.i18n import label_of
from rewards.jobs import services as jobs
from rewards.jobs.models import Job
from rewards.jobs.start import save_upload, start
from rewards.listing import Filter, listing, search
from rewards.policy import staff
from rewards.snapshots import jobs as snapshot_jobs
from rewards.snapshots import pictures, services
from rewards.snapshots.forms import ComputeForm, ExportForm, UploadForm
from rewards.snapshots.models import Snapshot
from rewards.snapshots.queries import current_period, latest_snapshot
from rewards.tiers import TIERS

bp = Blueprint("snapshots", __name__, url_prefix="/snapshots", template_folder="templates")

# The error kinds of rewards.snapshots.csvfile and rewards.rating.behaviour, for people (the code stays shown).
ERROR_KINDS = {
    "empty_file": _l("empty file"),
    "bad_header": _l("wrong header line"),
    "undecodable": _l("unreadable characters (encoding)"),
    "wrong_column_count": _l("wrong number of columns"),
    "malformed_row": _l("malformed row"),
    "empty_account": _l("no account number"),
    "malformed_account": _l("malformed account number"),
    "duplicate_account": _l("account listed twice"),
    "unknown_tier": _l("unknown tier"),
    "bad_points": _l("bad points"),
    "bad_month": _l("bad month"),
    "bad_date": _l("bad date"),
    "bad_channel": _l("unknown channel"),
    "bad_flag": _l("bad yes/no value"),
    "bad_plan": _l("bad deferral or instalment value"),
    "duplicate_month": _l("month listed twice"),
    "unsorted": _l("rows not sorted by account"),
}


bp.add_app_template_global(label_of(ERROR_KINDS), "snapshot_error_label")


# The rating criteria in words (tier explanations name them, not their codes).
CRITERIA = {
    "reading_on_time": _l("meter reading on time"),
    "payment_on_time": _l("payment on time"),
    "payment_early": _l("payment early"),
    "registered": _l("registered in the personal account"),
    "paperless": _l("paperless bills"),
}


bp.add_app_template_global(label_of(CRITERIA), "criterion_label")


def dashboard_panel() -> dict[str, Any]:
    """The latest month's tiers and the month before, from the stored counts (no scan of the rows)."""
    snapshot = latest_snapshot(db.session)
    if snapshot is None:
        return {"snapshot": None}
    counts = services.tier_counts(snapshot)
    previous = next(
        (
            s
            for s in services.list_snapshots(db.session, include_superseded=False, limit=24)
            if s.period < snapshot.period
        ),
        None,
    )
    before = services.tier_counts(previous) if previous is not None else None
    top = max([*counts.values(), *(before or {}).values(), 1])
    bars = [
        {"tier": t, "now": counts[t], "before": before[t] if before else None,
         "now_pct": round(100 * counts[t] / top, 1), "before_pct": round(100 * before[t] / top, 1) if before else 0}
        for t in TIERS
    ]
    return {"snapshot": snapshot, "counts": counts, "previous": previous, "bars": bars,
            "trend": pictures.tier_trend(db.session)}



def _filters() -> list[Filter]:
    return [
        search(Snapshot.period, Snapshot.source_name, Snapshot.loaded_by,
               label=_l("period, file or who loaded it")),
        Filter("status", _l("Status"), "choice", choices=[("active", _l("active")), ("superseded", _l("superseded"))],
               apply=lambda q, v: q.where(Snapshot.status == v)),
        Filter("source", _l("Source"), "choice", choices=[("import", _l("import")), ("computed", _l("computed"))],
               apply=lambda q, v: q.where(Snapshot.source == v)),
    ]


def _index(status: int = 200, **extra: Any) -> tuple[str, int]:
    extra.setdefault("upload_form", UploadForm(formdata=None))
    extra.setdefault("compute_form", ComputeForm(formdata=None))
    page = listing(db.session, select(Snapshot).order_by(Snapshot.period.desc(), Snapshot.id.desc()), _filters())
    snapshots = page.items
    return render_template(
        "snapshots/index.html",
        snapshots=snapshots,
        listing=page,
        current=current_period(),
        tiers=TIERS,
        counts={s.id: services.tier_counts(s) for s in snapshots},
        **extra,
    ), status if status != 200 else page.status


@bp.route("/")
@staff("snapshots.view")
def index() -> tuple[str, int]:
    """Every snapshot, the upload and compute forms."""
    return _index()


def _rejected(exc: DomainError, what: str) -> tuple[str, int]:
    db.session.rollback()
    return render_template("snapshots/errors.html", message=exc.message, errors=exc.errors, what=what), 422


def _finished_or_followed(job: Job, what: str) -> Any:
    """A job that already finished (the queue ran it at once) answers as the work did; otherwise the
    page follows the job (its page shows the progress, then the snapshot or the errors by line)."""
    if job.state == "done":
        result = json.loads(job.result or "{}")
        flash(_("Loaded %(rows)s accounts for %(period)s.", rows=result["rows"], period=result["period"]), "info")
        return redirect(url_for("snapshots.detail", snapshot_id=result["snapshot_id"]))
    refusal = jobs.refusal(job)
    if refusal is None:
        flash(_("The file is stored; the job runs in the background."), "info")
        return redirect(url_for("jobs.detail", job_id=job.id))
    if refusal.code == services.FileRejected.code:
        return _rejected(refusal, what)
    if refusal.code == "period_taken":
        flash(refusal.message + ". " + _("Tick 'replace' to load it anyway (the old one is kept)."), "error")
        return _index(409)
    flash(refusal.message, "error")
    return _index(refusal.status if 400 <= refusal.status < 500 else 422)


def _future_refused(period: str, future: bool) -> tuple[str, int] | None:
    """The page again with the refusal when ``period`` is after the current month and not confirmed
    (before the upload is stored: the job would refuse it too)."""
    try:
        services.check_not_future(period, future)
    except DomainError as exc:
        flash(exc.message + ". " + _("Tick 'future month' to load it anyway; it is not the latest until then."),
              "error")
        return _index(exc.status)
    return None


@bp.route("/upload", methods=["POST"])
@staff("snapshots.import")
def upload() -> Any:
    """Store the uploaded snapshot file and queue its import; problems are shown by line, nothing loaded."""
    form = UploadForm()
    if not form.validate():
        return _index(400, upload_form=form)
    upload, period, replace = form.file.data, form.period.data.strip(), bool(form.replace.data)
    future = bool(form.future.data)
    refused = _future_refused(period, future)
    if refused is not None:
        return refused
    name = upload.filename
    fmt = "jsonl" if name.lower().endswith((".jsonl", ".ndjson")) else "csv"
    stored = save_upload(upload.stream, name)
    try:
        job = start(snapshot_jobs.IMPORT, {"file": stored, "name": name, "period": period, "format": fmt,
                                           "replace": replace, "future": future}, title=f"{period} ({name})")
    except DomainError as exc:
        flash(exc.message, "error")
        return _index(exc.status)
    return _finished_or_followed(job, name)


@bp.route("/compute", methods=["POST"])
@staff("snapshots.import")
def compute() -> Any:
    """Store the behaviour files and queue the computation of a period's snapshot."""
    form = ComputeForm()
    if not form.validate():
        return _index(400, compute_form=form)
    files = [f for f in form.files.data if f and f.filename]
    rules = form.rules.data
    period = form.period.data.strip()
    future = bool(form.future.data)
    refused = _future_refused(period, future)
    if refused is not None:
        return refused
    stored = [[save_upload(f.stream, f.filename or ""), f.filename or ""] for f in files]
    params = {
        "files": stored,
        "rules": save_upload(rules.stream, rules.filename) if rules and rules.filename else None,
        "period": period,
        "replace": bool(form.replace.data),
        "future": future,
    }
    names = ", ".join(name for _, name in stored)
    try:
        job = start(snapshot_jobs.COMPUTE, params, title=f"{period} ({names})")
    except DomainError as exc:
        flash(exc.message, "error")
        return _index(exc.status)
    return _finished_or_followed(job, names)


@bp.route("/<int:snapshot_id>")
@staff("snapshots.view")
def detail(snapshot_id: int) -> str:
    """A snapshot's provenance, counts per tier, and exports."""
    try:
        snapshot = services.get_snapshot(db.session, snapshot_id)
    except NotFound:
        abort(404)
    info = services.describe(snapshot)
    return render_template(
        "snapshots/detail.html",
        snapshot=snapshot,
        info=info,
        counts=info["tier_counts"],
        total=max(snapshot.row_count, 1),
    )


@bp.route("/<int:snapshot_id>/export/<kind>")
@staff("snapshots.export")
def export(snapshot_id: int, kind: str) -> Response:
    """Download a snapshot: ``full`` (account;tier;points) or ``bills`` (account;Russian label)."""
    if kind not in ("full", "bills"):
        abort(404)
    encoding = request.args.get("encoding", "utf-8")
    if encoding not in ("utf-8", "cp1251"):
        abort(400)
    with writing():  # the export's event in a short writing transaction; the rows stream in a reading one
        try:
            snapshot = services.get_snapshot(db.session, snapshot_id)
        except NotFound:
            abort(404)
        services.record_export(db.session, snapshot, kind, current_actor())
        db.session.commit()
    lines = services.export_lines(db.session, snapshot, kind)
    name = f"snapshot-{snapshot.period}-{kind}.csv"
    return Response(
        stream_reading(line.encode(encoding) for line in lines),
        headers={
            "Content-Disposition": f"attachment; filename={name}",
            "Content-Type": f"text/csv; charset={encoding}",
        },
    )


@bp.route("/<int:snapshot_id>/export/<kind>", methods=["POST"])
@staff("snapshots.export")
def export_job(snapshot_id: int, kind: str) -> WerkzeugResponse:
    """Write an export to a file as a job; the job's page offers it for download when it is ready."""
    if kind not in ("full", "bills"):
        abort(404)
    form = ExportForm()
    if not form.validate():
        flash_errors(form)
        return redirect(url_for("snapshots.detail", snapshot_id=snapshot_id))
    encoding = form.encoding.data
    try:
        snapshot = services.get_snapshot(db.session, snapshot_id)
        job = start(snapshot_jobs.EXPORT, {"snapshot_id": snapshot.id, "kind": kind, "encoding": encoding},
                    title=f"{snapshot.period} {kind} ({encoding})")
    except NotFound:
        abort(404)
    except DomainError as exc:  # the queue is down
        flash(exc.message, "error")
        return redirect(url_for("snapshots.detail", snapshot_id=snapshot_id))
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/compare")
@staff("snapshots.view")
def compare() -> tuple[str, int]:
    """The tier transition matrix between two periods."""
    periods = sorted(
        {s.period for s in services.list_snapshots(db.session, include_superseded=False)}, reverse=True
    )
    shown = [p for p in periods if p <= current_period()]  # a future month is not compared by default
    a = request.args.get("from") or (shown[1] if len(shown) > 1 else "")
    b = request.args.get("to") or (shown[0] if shown else "")
    result = None
    status = 200
    if a and b:
        try:
            result = services.compare(db.session, a, b)
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
    return render_template(
        "snapshots/compare.html", periods=periods, a=a, b=b, result=result, tiers=TIERS,
        movement=pictures.movement(result) if result else None,
    ), status


def matrix_rows(result: dict[str, Any], tier_word: Any) -> list[list[Any]]:
    """The movement matrix as the page shows it: a row per tier of the first period (its counts into
    each tier of the second, those gone, its total), then the new accounts per tier and the totals."""
    tiers = result["tiers"]
    rows: list[list[Any]] = [
        [tier_word(x), *(result["matrix"][x][y] for y in tiers), result["left"][x], result["counts"]["from"][x]]
        for x in tiers
    ]
    rows.append([_("new"), *(result["joined"][y] for y in tiers), "", ""])
    rows.append([_("total"), *(result["counts"]["to"][y] for y in tiers), "", ""])
    return rows


@bp.route("/compare.csv")
@staff("snapshots.view")
def compare_csv() -> Any:
    """The movement matrix between two periods as CSV for Excel (UTF-8 with BOM, ';')."""
    a, b = request.args.get("from", "").strip(), request.args.get("to", "").strip()
    try:
        result = services.compare(db.session, a, b)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("snapshots.compare"))
    tier_word = current_app.jinja_env.globals["tier_label"]
    header = [f"{a} \\ {b}", *(tier_word(t) for t in result["tiers"]), _("gone"), _("total")]  # type: ignore[operator]
    return csv_download(f"tiers-{a}-{b}.csv", header, matrix_rows(result, tier_word))


@bp.route("/account")
@staff("snapshots.view")
def account() -> tuple[str, int]:
    """One account's tier, why, what would raise it, and its history."""
    number = normalize_account(request.args.get("account"))
    period = request.args.get("period", "").strip() or None
    doc = None
    history: list[dict[str, Any]] = []
    status = 200
    if number:
        history = services.account_history(db.session, number)
        try:
            doc = services.account_tier(db.session, number, period, str(get_locale()))
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
    return render_template(
        "snapshots/account.html",
        number=number,
        period=period or "",
        doc=doc,
        history=history,
    ), status
