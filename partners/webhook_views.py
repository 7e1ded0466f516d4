"""Staff page of a partner's webhooks: endpoints (add, rotate the secret, disable) and the delivery log
with a replay button."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from partners import webhooks as core
from partners.models import Partner
from partners.services import webhooks as hooks
from rewards.actor import current_actor
from rewards.db import db, utcnow
from rewards.policy import staff
from rewards.web import attempt

bp = Blueprint("partner_webhooks", __name__, url_prefix="/partners", template_folder="templates")


@bp.route("/<int:partner_id>/webhooks")
@staff("partners.view")
def webhooks(partner_id: int) -> str:
    """The partner's endpoints and its latest deliveries."""
    p = db.get_or_404(Partner, partner_id)
    now = utcnow()
    found = hooks.deliveries(db.session, p.id, limit=100)
    return render_template(
        "partners/webhooks.html", partner=p, now=now, events=core.EVENTS,
        endpoints=[hooks.endpoint_view(e, now) for e in hooks.endpoints_of(db.session, p.id)],
        deliveries=[hooks.delivery_view(d, hooks.attempts_of(db.session, d.id)) for d in found],
    )


@bp.route("/<int:partner_id>/webhooks", methods=["POST"])
@staff("partners.manage")
def webhooks_change(partner_id: int) -> Response:
    """Add an endpoint, rotate a secret, disable an endpoint, or replay a delivery."""
    p = db.get_or_404(Partner, partner_id)
    form, actor = request.form, current_actor()
    op = form.get("op")
    if op == "add":
        attempt(hooks.create_endpoint, p.id, form.get("url", ""), events=form.getlist("events"),
                scheme=form.get("scheme") or core.HMAC, description=form.get("description", ""),
                allow_http=bool(current_app.config["WEBHOOK_ALLOW_LOCAL"]), actor=actor,
                success=_("Endpoint added."))
    elif op in {"rotate", "disable"}:
        endpoint = attempt(hooks.get_endpoint, _int(form.get("endpoint")), p.id, success=None)
        if endpoint is not None and op == "rotate":
            overlap = timedelta(hours=float(current_app.config["WEBHOOK_ROTATION_OVERLAP_HOURS"]))
            attempt(hooks.rotate_secret, endpoint, utcnow(), overlap, actor=actor,
                    success=_("New secret made; the previous one keeps signing during the overlap."))
        elif endpoint is not None:
            attempt(hooks.disable_endpoint, endpoint, actor=actor, success=_("Endpoint disabled."))
    elif op == "replay":
        attempt(hooks.replay, _int(form.get("delivery")), p.id, utcnow(), actor=actor,
                success=_("The message will be sent again."))
    else:
        flash(_("Unknown operation."), "error")
    return redirect(url_for("partner_webhooks.webhooks", partner_id=partner_id))


def _int(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        return 0
