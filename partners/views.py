"""Staff pages: partners and their keys, offers, bulk issue with progress, CSV export, reports."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from partners import dates, snapshots
from partners.models import FIXED, PERCENT, IssueRun, Offer, Partner
from partners.services import catalog, issue, reports
from rewards.access import current_user
from rewards.apikeys.models import ApiClient
from rewards.db import db, utcnow
from rewards.errors import DomainError
from rewards.policy import staff
from rewards.tiers import TIERS
from rewards.web import NAV

log = logging.getLogger("partners.views")
bp = Blueprint("partners", __name__, url_prefix="/partners", template_folder="templates")

RUN_STATES = {"running": _l("running"), "done": _l("done"), "failed": _l("failed")}


@bp.app_template_global("issue_run_state")
def _issue_run_state(state: str) -> str:
    return str(RUN_STATES.get(state, state))
NAV.append(("partners.index", _l("Partners"), "partners.view"))


def _actor() -> str:
    user = current_user()
    assert user is not None
    return user.username


def _partner_or_404(partner_id: int) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        from flask import abort

        abort(404)
    return partner


@bp.route("/")
@staff("partners.view")
def index() -> str:
    """Every partner."""
    rows = db.session.scalars(select(Partner).order_by(Partner.name)).all()
    return render_template("partners/index.html", partners=rows)


@bp.route("/", methods=["POST"])
@staff("partners.manage")
def create() -> Response | tuple[str, int]:
    """Create a partner."""
    try:
        partner = catalog.create_partner(db.session, request.form.get("name", ""), request.form.get("prefix", ""),
                                         actor=_actor())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return render_template("partners/index.html", partners=db.session.scalars(select(Partner)).all()), 422
    db.session.commit()
    flash(_("Partner created."), "info")
    return redirect(url_for("partners.partner", partner_id=partner.id))


@bp.route("/<int:partner_id>")
@staff("partners.view")
def partner(partner_id: int) -> str:
    """A partner: its offers and API clients."""
    p = _partner_or_404(partner_id)
    linked = {c.api_client_id for c in p.clients}
    clients = db.session.scalars(select(ApiClient).where(ApiClient.id.in_(linked))).all() if linked else []
    candidates = db.session.scalars(select(ApiClient).where(ApiClient.active.is_(True)).order_by(ApiClient.name)).all()
    return render_template(
        "partners/partner.html",
        partner=p,
        clients=clients,
        candidates=[c for c in candidates if c.id not in linked and c.scope_set & set(catalog.PARTNER_SCOPES)],
        tiers=TIERS,
        counts={o.id: issue.issued_count(db.session, o.id) for o in p.offers},
        now=utcnow(),
    )


@bp.route("/<int:partner_id>", methods=["POST"])
@staff("partners.manage")
def partner_change(partner_id: int) -> Response:
    """Link an API client, suspend/resume, or create an offer."""
    p = _partner_or_404(partner_id)
    form = request.form
    op = form.get("op")
    try:
        if op == "link":
            catalog.link_client(db.session, p, form.get("client", ""), actor=_actor())
        elif op in {"suspend", "resume"}:
            catalog.set_partner_active(db.session, p, op == "resume", actor=_actor())
        elif op == "offer":
            try:
                start, end = dates.validity(
                    dates.parse_day(form.get("first", "")), dates.parse_day(form.get("last", "")),
                    current_app.config["TIMEZONE"],
                )
                value = int(form.get("value", ""))
                budget = int(form["budget"]) if form.get("budget", "").strip() else None
            except ValueError as exc:
                raise DomainError(_("Check the dates and numbers: %(error)s", error=str(exc))) from exc
            kind = form.get("kind")
            catalog.create_offer(
                db.session, p, title=form.get("title", ""), discount_kind=kind or "",
                discount_value=value if kind == PERCENT else value,
                tiers=form.getlist("tiers"), valid_from=start, valid_to=end, budget=budget, actor=_actor(),
            )
        else:
            raise DomainError(_("Unknown operation."))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("partners.partner", partner_id=p.id))
    db.session.commit()
    flash(_("Saved."), "info")
    return redirect(url_for("partners.partner", partner_id=p.id))


@bp.route("/offers/<int:offer_id>")
@staff("partners.view")
def offer(offer_id: int) -> str:
    """An offer: its report, its issue runs, the issue form and the export."""
    try:
        o = catalog.get_offer(db.session, offer_id)
    except DomainError:
        from flask import abort

        abort(404)
    runs = db.session.scalars(select(IssueRun).where(IssueRun.offer_id == o.id).order_by(IssueRun.id.desc())).all()
    return render_template(
        "partners/offer.html",
        offer=o,
        report=reports.offer_report(db.session, o, current_app.config["TIMEZONE"]),
        runs=runs,
        snapshots=snapshots.recent(db.session),
        fixed=FIXED,
    )


@bp.route("/offers/<int:offer_id>", methods=["POST"])
@staff("partners.manage")
def offer_change(offer_id: int) -> Response:
    """Start a bulk issue, or withdraw the offer."""
    o = catalog.get_offer(db.session, offer_id)
    op = request.form.get("op")
    try:
        if op == "withdraw":
            catalog.withdraw_offer(db.session, o, actor=_actor())
            db.session.commit()
            flash(_("Offer withdrawn."), "info")
            return redirect(url_for("partners.offer", offer_id=o.id))
        if op == "issue":
            period = request.form.get("period", "")
            snap = snapshots.by_period(db.session, period) if period else snapshots.latest(db.session)
            if snap is None:
                raise DomainError(_("No such snapshot."))
            run = issue.start_run(db.session, o, snap, actor=_actor())
            db.session.commit()
            _start_in_background(current_app._get_current_object(), run.id)  # type: ignore[attr-defined]
            return redirect(url_for("partners.run", run_id=run.id))
        raise DomainError(_("Unknown operation."))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("partners.offer", offer_id=o.id))


def _drive(app: Flask, run_id: int) -> None:
    with app.app_context():
        try:
            for _run in issue.run_batches(db.session, run_id):
                db.session.commit()
        except Exception:  # noqa: BLE001 - recorded on the run for the page, logged in full
            log.exception("issue run %s failed", run_id)
            db.session.rollback()
            failed = db.session.get(IssueRun, run_id)
            if failed is not None:
                failed.state = "failed"
                failed.message = "failed; re-run the issue: it continues where this one stopped"
                failed.finished_at = utcnow()
                db.session.commit()
        finally:
            db.session.remove()


def _start_in_background(app: Flask, run_id: int) -> None:
    """Run the batches after the response (inline under tests, for determinism)."""
    if app.testing:
        _drive(app, run_id)
        return
    threading.Thread(target=_drive, args=(app, run_id), name=f"issue-run-{run_id}", daemon=True).start()


def _run_json(run: IssueRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "offer_id": run.offer_id,
        "state": run.state,
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
    r = db.session.get(IssueRun, run_id)
    if r is None:
        from flask import abort

        abort(404)
    return render_template("partners/run.html", run=r, progress=_run_json(r))


@bp.route("/runs/<int:run_id>/progress")
@staff("partners.view")
def run_progress(run_id: int) -> Response:
    """Progress of a bulk issue as JSON."""
    r = db.session.get(IssueRun, run_id)
    if r is None:
        from flask import abort

        abort(404)
    return jsonify(_run_json(r))


@bp.route("/offers/<int:offer_id>/codes.csv")
@staff("partners.manage")
def export(offer_id: int) -> Response:
    """The offer's codes as CSV for the mailing system (account numbers in full: staff who manage only)."""
    o = catalog.get_offer(db.session, offer_id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def stream() -> Any:
        with app.app_context():
            offer_obj = db.session.get(Offer, offer_id)
            for chunk in issue.export_lines(db.session, offer_obj):
                yield chunk.encode("utf-8")

    from rewards.audit.services import record_event

    record_event(db.session, _actor(), "codes.exported", "offer", str(o.id), {})
    db.session.commit()
    return Response(
        stream(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=offer-{o.id}-codes.csv"},
    )
