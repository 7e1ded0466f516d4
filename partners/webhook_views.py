"""Staff page of a partner's webhooks: endpoints (add, rotate the secret, disable) and the delivery log
with a replay button."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from partners import webhooks as core
from partners.forms import EndpointForm, EndpointRowForm, ReplayForm
from partners.models import Partner
from partners.services import webhooks as hooks
from rewards.actor import current_actor
from rewards.db import db, utcnow
from rewards.forms import Action, posted_action
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
    action = posted_action({"add": EndpointForm, "rotate": EndpointRowForm, "disable": EndpointRowForm,
                            "replay": ReplayForm})
    if action is not None:
        _run(p, action)
    return redirect(url_for("partner_webhooks.webhooks", partner_id=partner_id))


def _run(p: Partner, action: Action) -> None:
    """One checked action on the partner's webhooks, its outcome flashed."""
    form, actor = action.form, current_actor()
    if isinstance(form, EndpointForm):
        attempt(hooks.create_endpoint, p.id, form.url.data, events=list(form.events.data or []),
                scheme=form.scheme.data or core.HMAC, description=form.description.data or "",
                allow_http=bool(current_app.config["WEBHOOK_ALLOW_LOCAL"]), actor=actor,
                success=_("Endpoint added."))
    elif isinstance(form, ReplayForm):
        attempt(hooks.replay, form.delivery.number, p.id, utcnow(), actor=actor,
                success=_("The message will be sent again."))
    elif isinstance(form, EndpointRowForm):
        endpoint = attempt(hooks.get_endpoint, form.endpoint.number, p.id, success=None)
        if endpoint is not None and action.op == "rotate":
            overlap = timedelta(hours=float(current_app.config["WEBHOOK_ROTATION_OVERLAP_HOURS"]))
            attempt(hooks.rotate_secret, endpoint, utcnow(), overlap, actor=actor,
                    success=_("New secret made; the previous one keeps signing during the overlap."))
        elif endpoint is not None:
            attempt(hooks.disable_endpoint, endpoint, actor=actor, success=_("Endpoint disabled."))
