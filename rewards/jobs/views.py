"""Staff pages: the list of jobs with filters, one job with its progress, cancel, download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from werkzeug.wrappers import Response as WerkzeugResponse

from rewards import policy
from rewards.access import current_user
from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import NotFound
from rewards.jobs import registry, services, store
from rewards.jobs.models import STATES, Job
from rewards.jobs.runner import output_dir
from rewards.policy import staff
from rewards.web import attempt

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

# With a context: the same English words name other things' states elsewhere (a draw, an issue run).
STATE_LABELS = {
    "queued": lazy_pgettext("job state", "queued"),
    "running": lazy_pgettext("job state", "running"),
    "done": lazy_pgettext("job state", "done"),
    "failed": lazy_pgettext("job state", "failed"),
    "cancelled": lazy_pgettext("job state", "cancelled"),
}
ERROR_LABELS = {
    "interrupted": _l("the consumer running the job stopped; start it again"),
    "internal": _l("internal error"),
    "queue_unavailable": _l("the job queue was not available"),
    "unknown_kind": _l("this kind of job is not known to the consumer"),
    "bad_path": _l("the stored file is missing"),
}


def _live(job: Job) -> tuple[int, int | None] | None:
    return store.progress(current_app, job.id) if job.state == "running" else None


def _can(action: str) -> bool:
    user = current_user()
    return user is not None and policy.allowed(user.role, action)


def job_context(job: Job) -> dict[str, Any]:
    """What the job page and a feature's page showing a job need."""
    kinds = registry.kinds(current_app)
    kind = kinds.get(job.kind)
    info = services.describe(job, _live(job))
    labels = {**ERROR_LABELS, **registry.error_labels(current_app)}
    link = None
    if kind is not None and kind.done_link and job.state == "done" and info["result"]:
        endpoint, arg, key = kind.done_link
        if info["result"].get(key) is not None:
            link = url_for(endpoint, **{arg: info["result"][key]})
    file = (info["result"] or {}).get("file") if job.state == "done" else None
    return {
        "job": job,
        "info": info,
        "kind_label": kind.label if kind else job.kind,
        "state_label": STATE_LABELS.get(job.state, job.state),
        "error_label": labels.get(job.error_code or "", None),
        "error_text": services.error_text(job),
        "labels": labels,
        "link": link,
        "file": file if file and kind is not None and _can(kind.action) else None,
        "can_cancel": job.state in ("queued", "running") and _can("jobs.cancel"),
    }


@bp.route("/")
@staff("jobs.view")
def index() -> str:
    """Jobs, newest first, with filters by state, kind and starter."""
    state = services.check_state(request.args.get("state"))
    kind = request.args.get("kind") or None
    mine = request.args.get("mine") == "1"
    jobs = services.list_jobs(db.session, state=state, kind=kind, started_by=current_actor() if mine else None)
    kinds = registry.kinds(current_app)
    return render_template(
        "jobs/index.html",
        jobs=[(j, services.describe(j, _live(j))) for j in jobs],
        states=[(s, STATE_LABELS[s]) for s in STATES],
        kinds=sorted(((k.name, k.label) for k in kinds.values()), key=lambda pair: str(pair[1])),
        kind_labels={k.name: k.label for k in kinds.values()},
        state_labels=STATE_LABELS,
        state=state or "",
        kind=kind or "",
        mine=mine,
    )


def _job_or_404(job_id: int) -> Job:
    try:
        return services.get_job(db.session, job_id)
    except NotFound:
        abort(404)


@bp.route("/<int:job_id>")
@staff("jobs.view")
def detail(job_id: int) -> str:
    """One job: state, progress (the page refreshes itself while the job runs), result or error."""
    context = job_context(_job_or_404(job_id))
    return render_template("jobs/detail.html", jc=context, job=context["job"])


@bp.route("/<int:job_id>/progress")
@staff("jobs.view")
def progress(job_id: int) -> Response:
    """One job as JSON (for a page that follows it)."""
    job = _job_or_404(job_id)
    return jsonify(services.describe(job, _live(job)))


@bp.route("/<int:job_id>/cancel", methods=["POST"])
@staff("jobs.cancel")
def cancel(job_id: int) -> WerkzeugResponse:
    """Cancel a queued job, or ask a running one to stop."""
    _job_or_404(job_id)
    outcome = attempt(services.cancel, job_id, actor=current_actor(), success=None)
    if outcome == "cancelled":
        flash(_("The job is cancelled."), "info")
    elif outcome == "requested":
        store.request_cancel(current_app, job_id)
        flash(_("The job will stop at its next step; nothing it did so far is kept."), "info")
    return redirect(url_for("jobs.detail", job_id=job_id))


@bp.route("/<int:job_id>/download")
@staff("jobs.view")
def download(job_id: int) -> Response:
    """The file a finished job wrote (staff whose role may do the job kind's action)."""
    context = job_context(_job_or_404(job_id))
    if not context["file"]:
        abort(404)
    path = output_dir(current_app, job_id) / Path(context["file"]["name"]).name
    if not path.is_file():
        abort(410)
    mimetype = context["file"].get("mimetype", "text/csv")
    response = send_file(path, mimetype=mimetype, as_attachment=True,
                         download_name=context["file"].get("download_name", path.name), max_age=0)
    if context["file"].get("charset"):  # send_file would name utf-8 for any text/ type
        response.headers["Content-Type"] = f"{mimetype}; charset={context['file']['charset']}"
    return response
