"""Staff pages for draws (``/draws``) and the public draw pages (``/public/draws``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.wrappers import Response as WerkzeugResponse

from draws import jobs as draw_jobs
from draws import plain, services, wiring, words
from draws.entrants import mask_account
from draws.forms import CancelForm, DisqualifyForm, DraftForm, PublicCheckForm, RunForm
from draws.models import CreditBatch, Draw, DrawCredit, DrawDisqualification, DrawWinner
from draws.rfc3797 import parse_public_numbers
from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import DomainError, NotFound
from rewards.forms import FileForm, flash_errors, refuse
from rewards.i18n import label_of, page_details
from rewards.jobs import services as jobs
from rewards.jobs.models import Job
from rewards.jobs.start import QueueUnavailable, start
from rewards.jobs.views import job_context
from rewards.listing import Filter, listing, search
from rewards.policy import public, staff
from rewards.throttle import limit
from rewards.tiers import TIERS

bp = Blueprint("draws", __name__, url_prefix="/draws", template_folder="templates")
public_bp = Blueprint("public_draws", __name__, url_prefix="/public/draws", template_folder="templates")

PUBLIC_STATES = services.PUBLIC_STATES
STEPS = ("draft", "announced", "frozen", "drawn", "published")
STATE_LABELS = words.STATES  # one table of the state words, shared with the refusals
# What each step fixes for good: shown in the guided flow of the draw page.
STEP_FIXES = {
    "draft": _l("Everything can still change: name, prizes, weights, freeze time, source of randomness, exclusions."),
    "announced": _l("Fixed and public: prizes, weights, freeze time, the commitment to the secret and the source of randomness."),
    "frozen": _l("Fixed: the entrant list; its size, digest and Merkle root are signed and public."),
    "drawn": _l("Fixed: winners and reserves, computed from the revealed secret and the public randomness. No re-roll."),
    "published": _l("Public: the result with masked accounts; each prize becomes a credit order for billing."),
}
KIND_LABELS = {"quarterly": _l("quarterly"), "semi-annual": _l("semi-annual")}
ROLE_LABELS = {"winner": _l("winner"), "reserve": _l("reserve")}
STATUS_LABELS = {
    "holder": _l("holds the prize"),
    "disqualified": _l("disqualified"),
    "waiting": _l("waiting"),
    "promoted": _l("received a prize"),
}
RECORD_LABELS = {
    "announcement": _l("announcement"),
    "freeze": _l("frozen entrant list"),
    "result": _l("result"),
    "cancellation": _l("cancellation"),
    "head": _l("head: the count of disqualifications"),
}


for _name, _labels in (("draw_status_label", STATUS_LABELS), ("draw_record_label", RECORD_LABELS),
                       ("draw_state_label", STATE_LABELS), ("draw_kind_label", KIND_LABELS),
                       ("draw_role_label", ROLE_LABELS)):
    bp.add_app_template_global(label_of(_labels), _name)


def _attempt(fn: Callable[..., Any], *args: Any, success: str | None, **kwargs: Any) -> Any:
    """Run a service; commit and flash ``success``, or roll back and flash the refusal."""
    try:
        value = fn(db.session, *args, **kwargs)
    except DomainError as exc:
        db.session.rollback()
        details = page_details(exc, exc.error_details() or {})
        flash(exc.message + (f" ({details})" if details else ""), "error")
        return None
    except Exception as exc:
        if type(exc).__name__ in {"KeyStoreError", "SecretBoxError", "FetchRefused"}:
            db.session.rollback()
            flash(str(exc), "error")
            return None
        raise
    db.session.commit()
    if success is not None:
        flash(success, "info")
    return value


def _exclusion_upload(form: DraftForm) -> list[str] | None:
    """The accounts of the form's exclusion file ([] when none was chosen); None, with the error beside
    the field, when the file cannot be read."""
    upload = form.exclusions.data
    if upload is None or not getattr(upload, "filename", ""):
        return []
    try:
        return services.parse_exclusions(upload.read().decode("utf-8-sig"))
    except UnicodeDecodeError:
        form.exclusions.errors = [*form.exclusions.errors, _("The exclusion file is not UTF-8 text.")]
    except DomainError as exc:
        refuse(form, exc, {"": "exclusions", "exclusions": "exclusions"} if exc.field is None else None)
    return None


def _draft_page(form: DraftForm, draw: Any = None, status: int = 200) -> tuple[str, int]:
    return render_template("draws/new.html", form=form, draw=draw, tiers=TIERS), status


def _save_draft(form: DraftForm, save: Callable[[services.DraftInput], Any], draw: Any = None) -> Any:
    """Validate every field at once; hand the draft to ``save``; on any refusal re-render with the
    values kept and each error beside its field (nothing written)."""
    valid = form.validate()
    exclusions = _exclusion_upload(form)
    if not valid or exclusions is None:
        return _draft_page(form, draw, 422)
    draft = form.draft(exclusions)
    try:
        saved = save(draft)
    except DomainError as exc:
        db.session.rollback()
        refuse(form, exc, DRAFT_FIELDS)
        return _draft_page(form, draw, exc.status)
    db.session.commit()
    return saved


# A service's field name -> where the draft form shows it (weights and randomness are groups of fields).
DRAFT_FIELDS = {"tier_weights": "tier_weights", "entropy": "entropy"}


def _period_text(text: str) -> str:
    """A month ``YYYY-MM`` as typed in the list's filter, else ValueError."""
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", text):
        raise ValueError(text)
    return text


def _list_filters() -> list[Filter]:
    return [
        search(Draw.name, Draw.public_id, label=_l("name or draw number")),
        Filter("state", _l("State"), "choice", choices=list(words.STATES.items()),
               apply=lambda q, v: q.where(Draw.state == v)),
        Filter("kind", _l("Kind"), "choice", choices=list(KIND_LABELS.items()),
               apply=lambda q, v: q.where(Draw.kind == v)),
        Filter("period", _l("Snapshot period"), convert=_period_text,
               apply=lambda q, v: q.where(Draw.snapshot_period == v)),
    ]


@bp.route("/")
@staff("draws.view")
def index() -> tuple[str, int]:
    """Draws, newest first: search, filters, pages."""
    page = listing(db.session, select(Draw).order_by(Draw.id.desc()), _list_filters())
    return render_template("draws/list.html", draws=page.items, listing=page), page.status


@bp.route("/new", methods=["GET", "POST"])
@staff("draws.manage")
def new() -> Any:
    """A draft: name, kind, snapshot, weights, prizes, reserves, deadline; randomness under "advanced"."""
    form = DraftForm(chains=wiring.chains())
    if request.method == "GET":
        return _draft_page(form)
    saved = _save_draft(form, lambda draft: services.create_draft(
        db.session, draft, actor=current_actor(), chains=wiring.chains(), yearly_cap_kopecks=wiring.yearly_cap()))
    if isinstance(saved, tuple):
        return saved
    flash(_("Draft created."), "info")
    return redirect(url_for("draws.detail", draw_id=saved.public_id))


@bp.route("/<draw_id>/edit", methods=["GET", "POST"])
@staff("draws.manage")
def edit(draw_id: str) -> Any:
    """Change a draft (refused once it is announced)."""
    draw = services.get_draw(db.session, draw_id)
    if draw.state != "draft":
        flash(_("Only a draft can be changed; this draw is %(state)s.", state=words.state(draw.state)), "error")
        return _back(draw_id)
    if request.method == "GET":
        return _draft_page(DraftForm(data=DraftForm.data_of(draw), chains=wiring.chains()), draw)
    form = DraftForm(chains=wiring.chains())
    saved = _save_draft(form, lambda draft: services.update_draft(
        db.session, draw_id, draft, actor=current_actor(), chains=wiring.chains()), draw)
    if isinstance(saved, tuple):
        return saved
    flash(_("Draft saved."), "info")
    return _back(draw_id)


def _people(draw: Any) -> tuple[list[DrawWinner], list[DrawDisqualification]]:
    people = list(db.session.scalars(select(DrawWinner).where(DrawWinner.draw_id == draw.id).order_by(DrawWinner.role.desc(), DrawWinner.position)))
    dqs = list(db.session.scalars(select(DrawDisqualification).where(DrawDisqualification.draw_id == draw.id).order_by(DrawDisqualification.sequence)))
    return people, dqs


@bp.route("/<draw_id>")
@staff("draws.view")
def detail(draw_id: str) -> str:
    """A draw: parameters, records, winners and reserves (full accounts: staff only), actions."""
    draw = services.get_draw(db.session, draw_id)
    people, dqs = _people(draw)
    records = services.envelopes(draw)
    job = draw_jobs.current_job(db.session, draw)
    return render_template("draws/detail.html", draw=draw, records=records, people=people, dqs=dqs,
                           jc=job_context(job) if job is not None else None,
                           weights=json.loads(draw.tier_weights), prizes=json.loads(draw.prizes),
                           source=json.loads(draw.entropy_source), mask=mask_account, step_fixes=STEP_FIXES,
                           witnesses=json.loads(draw.witnesses) if draw.witnesses else None,
                           quorum=services.quorum_status(db.session, draw) if services.protocol_version(draw) >= 2 else None)


def _back(draw_id: str) -> WerkzeugResponse:
    return redirect(url_for("draws.detail", draw_id=draw_id))


@bp.route("/<draw_id>/exclusions", methods=["POST"])
@staff("draws.manage")
def exclusions(draw_id: str) -> WerkzeugResponse:
    """Upload the exclusion list of a draft (one account per line)."""
    form = FileForm()
    if not form.validate():
        form.flash_errors()
        return _back(draw_id)
    try:
        accounts = services.parse_exclusions(form.file.data.read().decode("utf-8-sig"))
    except (DomainError, UnicodeDecodeError) as exc:
        flash(getattr(exc, "message", None) or _("The exclusion file is not UTF-8 text."), "error")
        return _back(draw_id)
    _attempt(services.set_exclusions, draw_id, accounts, actor=current_actor(), success=_("Exclusion list replaced."))
    return _back(draw_id)


@bp.route("/<draw_id>/announce", methods=["POST"])
@staff("draws.manage")
def announce(draw_id: str) -> WerkzeugResponse:
    """Commit to the secret and publish the announcement."""
    _attempt(services.announce, draw_id, actor=current_actor(), signer=wiring.signer(), box=wiring.box(),
             chains=wiring.chains(), success=_("Announced."))
    return _back(draw_id)


def _flash_refusal(exc: DomainError) -> None:
    details = page_details(exc, exc.error_details() or {})
    flash(exc.message + (f" ({details})" if details else ""), "error")


def _draw_job(kind: str, draw_id: str, **more: Any) -> Job | None:
    """Start a draw step as a job; None (with the refusal flashed) when it could not start or failed at once."""
    try:
        title = f"{draw_id} {services.get_draw(db.session, draw_id).name}"
        job = start(kind, draw_jobs.draw_params(draw_id, **more), title=title)
    except (QueueUnavailable, NotFound) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return None
    refusal = jobs.refusal(job)
    if refusal is not None:
        _flash_refusal(refusal)
        return None
    if job.state != "done":
        flash(_("The job runs in the background; this page shows its progress."), "info")
    return job


@bp.route("/<draw_id>/freeze", methods=["POST"])
@staff("draws.manage")
def freeze(draw_id: str) -> WerkzeugResponse:
    """Fix the entrant list (a job; the draw page follows it)."""
    job = _draw_job(draw_jobs.FREEZE, draw_id)
    if job is not None and job.state == "done":
        flash(_("Entrant list frozen."), "info")
    return _back(draw_id)


@bp.route("/<draw_id>/cosign", methods=["POST"])
@staff("draws.manage")
def cosign(draw_id: str) -> WerkzeugResponse:
    """Add a witness's cosignature of the freeze (an uploaded file)."""
    form = FileForm()
    if not form.validate():
        form.flash_errors()
        return _back(draw_id)
    try:
        envelope = json.loads(form.file.data.read().decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        envelope = None
    if envelope is None:
        flash(_("The cosignature file is not JSON text."), "error")
        return _back(draw_id)
    _attempt(services.add_cosignature, draw_id, envelope, actor=current_actor(), success=_("Cosignature added."))
    return _back(draw_id)


@bp.route("/<draw_id>/draw", methods=["POST"])
@staff("draws.manage")
def run(draw_id: str) -> WerkzeugResponse:
    """Enter the entropy and run the draw (once)."""
    value: Any = None  # None: the job fetches the announced drand round
    form = RunForm()
    form.validate()
    try:
        if (form.numbers.data or "").strip():
            value = {"type": "rfc3797", "sources": parse_public_numbers(form.numbers.data)}
        elif not form.fetch.data:
            value = json.loads(form.entropy.data or "")
            draw_jobs.check_value(value)
    except (ValueError, DomainError, KeyError) as exc:
        flash(_("The entropy value is not valid: %(error)s", error=getattr(exc, "message", str(exc))), "error")
        return _back(draw_id)
    job = _draw_job(draw_jobs.RUN, draw_id, **({"fetch": True} if value is None else {"entropy": value}))
    if job is not None and job.state == "done":
        if json.loads(job.result or "{}").get("state") == "cancelled":
            flash(_("Not drawn: the witnesses' quorum was not reached before the randomness existed, so the draw was "
                    "cancelled publicly."), "error")
        else:
            flash(_("Drawn."), "info")
    return _back(draw_id)


@bp.route("/<draw_id>/publish", methods=["POST"])
@staff("draws.manage")
def publish(draw_id: str) -> WerkzeugResponse:
    """Publish the result; prizes become credit orders."""
    _attempt(services.publish, draw_id, actor=current_actor(), timezone=wiring.timezone(), success=_("Published."))
    return _back(draw_id)


@bp.route("/<draw_id>/cancel", methods=["POST"])
@staff("draws.manage")
def cancel(draw_id: str) -> WerkzeugResponse:
    """Cancel (publicly once announced)."""
    form = CancelForm()
    if not form.validate():
        flash_errors(form)
        return _back(draw_id)
    _attempt(services.cancel, draw_id, form.reason.data, actor=current_actor(), signer=wiring.signer(),
             success=_("Cancelled."))
    return _back(draw_id)


@bp.route("/<draw_id>/disqualify", methods=["POST"])
@staff("draws.manage")
def disqualify(draw_id: str) -> WerkzeugResponse:
    """Disqualify a prize's holder; the prize passes to the next reserve."""
    form = DisqualifyForm()
    if not form.validate():
        flash_errors(form)
        return _back(draw_id)
    _attempt(services.disqualify, draw_id, form.prize.data - 1, form.reason.data, actor=current_actor(),
             signer=wiring.signer(), success=_("Disqualified; the prize passed to the next reserve."))
    return _back(draw_id)


def _json_download(data: Any, name: str) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.route("/<draw_id>/bundle.json")
@staff("draws.bundle")
def bundle(draw_id: str) -> Response:
    """Download the auditor bundle (personal data: the full entrant list)."""
    draw = services.get_draw(db.session, draw_id)
    return _json_download(services.auditor_bundle_of(db.session, draw, wiring.signer().keyset(), wiring.box()), f"draw-{draw.public_id}-bundle.json")


@bp.route("/<draw_id>/verify")
@staff("draws.verify")
def verify(draw_id: str) -> str:
    """Run the standalone verifier's checks on this draw's auditor bundle."""
    draw = services.get_draw(db.session, draw_id)
    try:
        keyset = wiring.signer().keyset()
        checks = services.verification(services.auditor_bundle_of(db.session, draw, keyset, wiring.box()), keyset, wiring.chains())
    except DomainError as exc:
        flash(exc.message, "error")
        checks = []
    return render_template("draws/verify.html", draw=draw, checks=checks)


@bp.route("/credits")
@staff("draws.view")
def credits() -> str:
    """Credit orders: pending count, batches, confirmation import."""
    counts = dict(db.session.execute(select(DrawCredit.state, func.count()).group_by(DrawCredit.state)).tuples().all())
    batches = db.session.scalars(select(CreditBatch).order_by(CreditBatch.id.desc()).limit(50)).all()
    return render_template("draws/credits.html", counts=counts, batches=batches)


@bp.route("/credits/export", methods=["POST"])
@staff("draws.manage")
def export() -> WerkzeugResponse:
    """Export pending credits into a new batch (exactly once), as a job; its page offers the file."""
    try:
        job = start(draw_jobs.CREDITS, {}, title="credits")
    except QueueUnavailable as exc:
        flash(exc.message, "error")
        return redirect(url_for("draws.credits"))
    refusal = jobs.refusal(job)
    if refusal is not None:
        _flash_refusal(refusal)
    elif job.state == "done":
        flash(_("Batch created."), "info")
        flash(_("Download the batch file and send it to billing."), "info")
    else:
        flash(_("The job runs in the background; this page shows its progress."), "info")
        return redirect(url_for("jobs.detail", job_id=job.id))
    return redirect(url_for("draws.credits"))


@bp.route("/credits/<int:batch_id>.csv")
@staff("draws.view")
def batch_file(batch_id: int) -> Response:
    """A batch file, byte-identical at every download."""
    batch = services.get_batch(db.session, batch_id)
    return Response(batch.content, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename=credits-{batch.id}.csv"})


@bp.route("/credits/confirm", methods=["POST"])
@staff("draws.manage")
def confirm() -> WerkzeugResponse:
    """Import billing's confirmation file."""
    form = FileForm()
    if not form.validate():
        form.flash_errors()
        return redirect(url_for("draws.credits"))
    summary = _attempt(services.import_confirmation, form.file.data.read().decode("utf-8-sig", errors="replace"),
                       actor=current_actor(),
                       success=_("Confirmation imported."))
    if summary:
        flash(_("%(posted)s credits posted, %(again)s were already posted.", posted=summary["posted"], again=summary["already_posted"]), "info")
    return redirect(url_for("draws.credits"))


# ------------------------------------------------------------------------------------------- public
@public_bp.route("/")
@public
def public_index() -> str:
    """Announced and past draws."""
    draws = [d for d in services.list_draws(db.session, PUBLIC_STATES) if d.announcement]
    return render_template("draws/public_list.html", draws=draws)


@public_bp.route("/<draw_id>")
@public
def public_detail(draw_id: str) -> str:
    """A draw's public page: commitment, entropy source, freeze facts, masked winners, how to verify."""
    return _public_page(draw_id)


def _lookup_limit() -> str:
    return str(current_app.config["DRAW_LOOKUP_LIMIT"])


@public_bp.route("/<draw_id>/check", methods=["POST"])
@public
@limit(_lookup_limit, lambda: request.remote_addr or "unknown", scope="draw-check")
def public_check(draw_id: str) -> tuple[str, int]:
    """A customer checks their own entry with their account number and personal check code. Any other
    combination (a wrong code, a non-entrant) gets one and the same answer, so nothing is learnt about
    an account without its code (``services.public_check``). Rate-limited per address."""
    draw = services.get_draw(db.session, draw_id)
    form = PublicCheckForm()
    account, code = form.account.data or "", form.code.data or ""
    answer = services.public_check(db.session, draw, account, code, wiring.box())
    check: dict[str, Any] = {"account": account}
    if answer.refusal == "not_frozen":
        check["error"] = _("The entrant list of this draw is not frozen.")
    elif answer.refusal is not None:
        check["error"] = _("Enter your account number and the check code from your bill or personal cabinet.")
    else:
        check["found"] = answer.entry is not None
        if answer.entry is not None:
            check.update(masked=mask_account(account), entry=answer.entry,
                         proof_json=json.dumps(answer.entry.proof, ensure_ascii=False, indent=1))
    return _public_page(draw_id, check=check), answer.status


@public_bp.route("/<draw_id>/freeze.json")
@public
def public_freeze_package(draw_id: str) -> Response:
    """What the witnesses cosign (``python -m draws.witness cosign freeze.json --key ...``)."""
    draw = services.get_draw(db.session, draw_id)
    return _json_download(services.freeze_package_of(draw, wiring.signer().keyset()), f"draw-{draw.public_id}-freeze.json")


def _public_page(draw_id: str, check: dict[str, Any] | None = None) -> str:
    page = services.public_draw(db.session, draw_id)
    if page is None:
        raise NotFound(_("No such draw."))
    announcement = page.payloads.get("announcement") or {}
    result = page.payloads.get("result") if page.show_result else None
    used = plain.entropy_used(announcement.get("entropy_source") or {}, (result or {}).get("entropy"), wiring.chains())
    return render_template("draws/public_detail.html", draw=page.draw, p=page.payloads, check=check,
                           show_result=page.show_result, dqs=page.disqualifications,
                           late_cancel=page.late_cancel, quorum=page.quorum,
                           used=used, passed_on=plain.passed_on(result, page.disqualifications))


@public_bp.route("/<draw_id>/record.json")
@public
def public_record(draw_id: str) -> Response:
    """The public record to feed to ``python -m draws.verify``."""
    draw = services.get_draw(db.session, draw_id)
    return _json_download(services.public_record_of(db.session, draw, wiring.signer().keyset()), f"draw-{draw.public_id}-record.json")


# The next step of an open draw, for the dashboard.
NEXT_STEP = {
    "draft": _l("announce it"),
    "announced": _l("freeze the entrants after the freeze time"),
    "frozen": _l("enter the public randomness and draw"),
    "drawn": _l("publish the result"),
}


def dashboard_panel() -> dict[str, Any]:
    """Draws by state, the open ones with their next step, credits waiting for billing."""
    counts = dict(
        db.session.execute(select(services.Draw.state, func.count()).group_by(services.Draw.state)).tuples().all()
    )
    pending = db.session.scalar(select(func.count()).select_from(DrawCredit).where(DrawCredit.state == "pending")) or 0
    open_draws = [
        {"id": d.public_id, "name": d.name, "state": d.state, "next": NEXT_STEP[d.state], "freeze_at": d.freeze_at}
        for d in services.list_draws(db.session, states=tuple(NEXT_STEP))
    ]
    return {"counts": counts, "pending": pending, "open": open_draws[:8]}


@bp.app_template_global()
def draw_kopecks(value: int) -> str:
    """Kopecks as rubles for pages (the rubles filter of rewards.web)."""
    return current_app.jinja_env.filters["rubles"](value)
