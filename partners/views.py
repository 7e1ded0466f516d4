"""Staff pages: partners and their keys, offers, bulk issue with progress, CSV export, reports."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import LazyString, get_locale, lazy_pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from partners import codes as codecore
from partners import dates, snapshots
from partners import jobs as partner_jobs
from partners.forms import ButtonForm, IssueForm, LinkClientForm, OfferForm, PartnerForm
from partners.models import FIXED, ISSUED, REDEEMED, REVOKED, Code, IssueRun, Offer, Partner
from partners.services import catalog, issue, reports
from rewards.actor import current_actor
from rewards.apikeys.models import ApiClient
from rewards.audit.services import record_event
from rewards.db import db, read_only, utcnow
from rewards.errors import DomainError
from rewards.forms import check_account_text, posted_action, refuse
from rewards.i18n import label_of
from rewards.jobs.start import start
from rewards.listing import Filter, listing, search
from rewards.policy import staff
from rewards.tiers import RUSSIAN_NAMES, TIERS
from rewards.web import attempt

log = logging.getLogger("partners.views")
bp = Blueprint("partners", __name__, url_prefix="/partners", template_folder="templates")

RUN_STATES = {  # with a context: the same English words name a job's or a draw's state elsewhere
    "running": lazy_pgettext("issue run state", "running"),
    "done": lazy_pgettext("issue run state", "done"),
    "failed": lazy_pgettext("issue run state", "failed"),
    issue.INTERRUPTED: lazy_pgettext("issue run state", "interrupted"),
}


bp.add_app_template_global(label_of(RUN_STATES), "run_state_label")  # a bulk issue run's state


@bp.app_template_global()
def run_state(run: IssueRun) -> str:
    """The state a page shows for a run (``interrupted`` when its process stopped)."""
    return issue.shown_state(run, utcnow())


def _partner_filters() -> list[Filter]:
    return [
        search(Partner.name, Partner.prefix, label=_l("name or code prefix")),
        Filter("state", _l("State"), "choice", choices=[("active", _l("active")), ("suspended", _l("suspended"))],
               apply=lambda q, v: q.where(Partner.active.is_(v == "active"))),
    ]


def _partners_page(form: PartnerForm, status: int = 200) -> tuple[str, int]:
    page = listing(db.session, select(Partner).order_by(Partner.name), _partner_filters())
    return (render_template("partners/index.html", partners=page.items, listing=page, form=form),
            max(status, page.status))


@bp.route("/")
@staff("partners.view")
def index() -> tuple[str, int]:
    """Partners: search, filters, pages."""
    return _partners_page(PartnerForm(formdata=None))


def _offer_state(query: Any, value: str) -> Any:
    now = utcnow()
    if value == "withdrawn":
        return query.where(Offer.withdrawn_at.is_not(None))
    if value == "expired":
        return query.where(Offer.withdrawn_at.is_(None), Offer.valid_to <= now)
    if value == "upcoming":
        return query.where(Offer.withdrawn_at.is_(None), Offer.valid_from > now)
    return query.where(Offer.withdrawn_at.is_(None), Offer.valid_from <= now, Offer.valid_to > now)


def _tier_word(tier: str) -> str:
    return RUSSIAN_NAMES[tier] if str(get_locale()) == "ru" else tier


OFFER_STATES = [("open", _l("open")), ("upcoming", _l("upcoming")), ("expired", _l("expired")),
                ("withdrawn", _l("withdrawn"))]


@bp.route("/offers")
@staff("partners.view")
def offers() -> tuple[str, int]:
    """Every partner's offers: search by title or partner, filter by partner, state and tier."""
    filters = [
        search(Offer.title, Partner.name, label=_l("offer or partner")),
        Filter("partner", _l("Partner"), "choice",
               choices=[(str(p.id), p.name) for p in db.session.scalars(select(Partner).order_by(Partner.name))],
               apply=lambda q, v: q.where(Offer.partner_id == int(v))),
        Filter("state", _l("State"), "choice", choices=OFFER_STATES, apply=_offer_state),
        Filter("tier", _l("Tier"), "choice", choices=[(t, LazyString(_tier_word, t)) for t in TIERS],
               apply=lambda q, v: q.where(Offer.tiers.contains(v))),
    ]
    query = select(Offer).join(Partner, Partner.id == Offer.partner_id).order_by(Offer.id.desc())
    page = listing(db.session, query, filters)
    return render_template("partners/offers.html", offers=page.items, listing=page, now=utcnow(),
                           counts={o.id: issue.issued_count(db.session, o.id) for o in page.items}), page.status


def _code_value(text: str) -> int:
    try:
        return codecore.parse(text).value
    except codecore.MalformedCode as exc:
        raise ValueError(str(exc)) from None


CODE_STATES = [(ISSUED, lazy_pgettext("code state", "issued")), (REDEEMED, lazy_pgettext("code state", "redeemed")),
               (REVOKED, lazy_pgettext("code state", "revoked"))]


@bp.route("/codes")
@staff("partners.view")
def codes() -> tuple[str, int]:
    """Issued codes: find one by its text or an account's; filter by state, offer, partner."""
    filters = [
        Filter("code", _l("Code"), convert=_code_value, apply=lambda q, v: q.where(Code.value == v)),
        Filter("account", _l("Account"), convert=check_account_text, apply=lambda q, v: q.where(Code.account == v)),
        Filter("state", _l("State"), "choice", choices=CODE_STATES, apply=lambda q, v: q.where(Code.state == v)),
        Filter("offer", _l("Offer number"), "int", apply=lambda q, v: q.where(Code.offer_id == v)),
        Filter("partner", _l("Partner"), "choice",
               choices=[(str(p.id), p.name) for p in db.session.scalars(select(Partner).order_by(Partner.name))],
               apply=lambda q, v: q.where(Offer.partner_id == int(v))),
    ]
    query = (select(Code, Offer, Partner).join(Offer, Offer.id == Code.offer_id)
             .join(Partner, Partner.id == Offer.partner_id).order_by(Code.id.desc()))
    page = listing(db.session, query, filters, entities=False)
    rows = [(code, o, p, codecore.format_code(p.prefix, code.value)) for code, o, p in page.items]
    return render_template("partners/codes.html", rows=rows, listing=page,
                           state_labels=dict(CODE_STATES)), page.status


@bp.route("/", methods=["POST"])
@staff("partners.manage")
def create() -> Response | tuple[str, int]:
    """Create a partner."""
    form = PartnerForm()
    if not form.validate():
        return _partners_page(form, 422)
    try:
        partner = catalog.create_partner(db.session, form.name.data, form.prefix.data, actor=current_actor())
    except DomainError as exc:
        db.session.rollback()
        refuse(form, exc)
        return _partners_page(form, exc.status)
    db.session.commit()
    flash(_("Partner created."), "info")
    return redirect(url_for("partners.partner", partner_id=partner.id))


def _partner_page(p: Partner, offer_form: OfferForm | None = None, status: int = 200) -> tuple[str, int]:
    linked = {c.api_client_id for c in p.clients}
    clients = db.session.scalars(select(ApiClient).where(ApiClient.id.in_(linked))).all() if linked else []
    candidates = db.session.scalars(select(ApiClient).where(ApiClient.active.is_(True)).order_by(ApiClient.name)).all()
    return render_template(
        "partners/partner.html",
        partner=p,
        clients=clients,
        sandbox={c.api_client_id for c in p.clients if c.sandbox},
        candidates=[c for c in candidates if c.id not in linked and c.scope_set & set(catalog.PARTNER_SCOPES)],
        tiers=TIERS,
        counts={o.id: issue.issued_count(db.session, o.id) for o in p.offers},
        now=utcnow(),
        form=offer_form or OfferForm(formdata=None),
    ), status


@bp.route("/<int:partner_id>")
@staff("partners.view")
def partner(partner_id: int) -> tuple[str, int]:
    """A partner: its offers and API clients."""
    return _partner_page(db.get_or_404(Partner, partner_id))


def _create_offer(p: Partner, form: OfferForm) -> Response | tuple[str, int]:
    """The new-offer form (checked, every field at once): the service's refusal beside its field."""
    start, end = dates.validity(form.first.data, form.last.data, current_app.config["TIMEZONE"])
    try:
        catalog.create_offer(
            db.session, p, title=form.title.data, discount_kind=form.kind.data, discount_value=form.value,
            tiers=list(form.tiers.data), valid_from=start, valid_to=end, budget=form.budget.data, actor=current_actor(),
        )
    except DomainError as exc:
        db.session.rollback()
        refuse(form, exc, {**OFFER_FIELDS, "discount_value": "amount" if form.kind.data == FIXED else "percent"})
        return _partner_page(p, form, exc.status)
    db.session.commit()
    flash(_("Offer created."), "info")
    return redirect(url_for("partners.partner", partner_id=p.id))


# The service's field names -> the form's.
OFFER_FIELDS = {"discount_kind": "kind", "valid_from": "first", "valid_to": "last"}


@bp.route("/<int:partner_id>", methods=["POST"])
@staff("partners.manage")
def partner_change(partner_id: int) -> Response | tuple[str, int]:
    """Link an API client, suspend/resume, or create an offer."""
    p = db.get_or_404(Partner, partner_id)
    action = posted_action({"link": LinkClientForm, "suspend": ButtonForm, "resume": ButtonForm, "offer": OfferForm})
    if action is None:
        return redirect(url_for("partners.partner", partner_id=partner_id))
    form = action.form
    if isinstance(form, OfferForm):
        return _create_offer(p, form) if action.valid else _partner_page(p, form, 422)
    if isinstance(form, LinkClientForm):
        attempt(catalog.link_client, p, form.client.data, actor=current_actor(),
                sandbox=bool(form.sandbox.data), success=_("API client linked."))
    else:
        resume = action.op == "resume"
        attempt(catalog.set_partner_active, p, resume, actor=current_actor(),
                success=_("Partner resumed.") if resume else _("Partner suspended."))
    return redirect(url_for("partners.partner", partner_id=partner_id))


@bp.route("/offers/<int:offer_id>")
@staff("partners.view")
def offer(offer_id: int) -> str:
    """An offer: its report, its issue runs, the issue form and the export."""
    o = db.get_or_404(Offer, offer_id)
    runs = db.session.scalars(select(IssueRun).where(IssueRun.offer_id == o.id).order_by(IssueRun.id.desc())).all()
    return render_template(
        "partners/offer.html",
        offer=o,
        report=reports.offer_report(db.session, o, current_app.config["TIMEZONE"]),
        runs=runs,
        snapshots=snapshots.recent(db.session),
        fixed=FIXED,
    )


def _start_run(session: Session, o: Offer, period: str, *, actor: str) -> int:
    """Plan a bulk issue; its id (read before the commit: after it, reading the run would begin a new
    transaction in this request while the batches run)."""
    snap = snapshots.by_period(session, period) if period else snapshots.latest(session)
    if snap is None:
        raise DomainError(_("No such snapshot."), field="period")
    return issue.start_run(session, o, snap, actor=actor).id


@bp.route("/offers/<int:offer_id>", methods=["POST"])
@staff("partners.manage")
def offer_change(offer_id: int) -> Response:
    """Start a bulk issue, or withdraw the offer."""
    o = db.get_or_404(Offer, offer_id)
    action = posted_action({"withdraw": ButtonForm, "issue": IssueForm})
    if action is not None and isinstance(action.form, IssueForm):
        run_id = attempt(_start_run, o, action.form.period.data or "", actor=current_actor(), success=None)
        if run_id is not None:
            _start_in_background(run_id, f"{o.title} (run {run_id})")
            return redirect(url_for("partners.run", run_id=run_id))
    elif action is not None:
        attempt(catalog.withdraw_offer, o, actor=current_actor(), success=_("Offer withdrawn."))
    return redirect(url_for("partners.offer", offer_id=offer_id))


def _start_in_background(run_id: int, title: str) -> None:
    """Queue the run's batches as a job (the consumer drives them; under memory:// they run now)."""
    try:
        start(partner_jobs.ISSUE, {"run_id": run_id}, title=title)
    except DomainError as exc:
        flash(exc.message, "error")


def _run_json(run: IssueRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "offer_id": run.offer_id,
        "state": run_state(run),
        "planned": run.planned,
        "issued": run.issued,
        "skipped_budget": run.skipped_budget,
        "percent": 100 if run.planned == 0 else min(100, run.issued * 100 // run.planned),
        "message": run.message,
    }


@bp.route("/runs/<int:run_id>")
@staff("partners.view")
def run(run_id: int) -> str:
    """Progress of a bulk issue (the page refreshes itself while it runs)."""
    r = db.get_or_404(IssueRun, run_id)
    return render_template("partners/run.html", run=r, progress=_run_json(r))


@bp.route("/runs/<int:run_id>/progress")
@staff("partners.view")
def run_progress(run_id: int) -> Response:
    """Progress of a bulk issue as JSON."""
    return jsonify(_run_json(db.get_or_404(IssueRun, run_id)))


@bp.route("/offers/<int:offer_id>/export", methods=["POST"])
@staff("partners.manage")
def export_job(offer_id: int) -> Response:
    """Write the offer's codes to a file as a job; the job's page offers it for download when ready."""
    o = db.get_or_404(Offer, offer_id)
    try:
        job = start(partner_jobs.EXPORT, {"offer_id": o.id}, title=f"offer {o.id} (codes)")
    except DomainError as exc:  # the queue is down
        flash(exc.message, "error")
        return redirect(url_for("partners.offer", offer_id=offer_id))
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/offers/<int:offer_id>/codes.csv", methods=["POST"])
@staff("partners.manage")
def export(offer_id: int) -> Response:
    """The offer's codes as CSV for the mailing system (account numbers in full: staff who manage only).

    A POST (a form with its CSRF token): the export is recorded in the event log (who, which offer,
    when) and committed first; the rows are then streamed in a read-only transaction of their own.
    """
    o = db.get_or_404(Offer, offer_id)
    codes = issue.issued_count(db.session, o.id)
    record_event(db.session, current_actor(), "codes.exported", "offer", str(o.id), {"codes": codes})
    db.session.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def stream() -> Iterator[bytes]:
        with app.app_context(), read_only():
            try:
                offer_obj = db.session.get(Offer, offer_id)
                assert offer_obj is not None
                for chunk in issue.export_lines(db.session, offer_obj):
                    yield chunk.encode("utf-8")
            finally:
                db.session.remove()

    return Response(
        stream(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=offer-{o.id}-codes.csv", "Cache-Control": "no-store"},
    )


def dashboard_panel() -> dict[str, Any]:
    """Offers with their issued and redeemed counts (derived from the codes and the ledger)."""
    issued = func.count(Code.id)
    redeemed = func.sum(case((Code.state == REDEEMED, 1), else_=0))
    rows = db.session.execute(
        select(Offer.id, Offer.title, Partner.name, issued, redeemed)
        .join(Partner, Partner.id == Offer.partner_id)
        .outerjoin(Code, (Code.offer_id == Offer.id) & Code.test.is_(False))
        .group_by(Offer.id, Offer.title, Partner.name)
        .order_by(Offer.id.desc())
        .limit(8)
    ).all()
    return {"offers": [{"id": r[0], "title": r[1], "partner": r[2], "issued": r[3],
                        "redeemed": r[4] or 0} for r in rows]}

