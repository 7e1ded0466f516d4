"""The partner's own webhook settings through the API (scope ``webhooks:manage``): endpoints, secret
rotation, the delivery log and replays. A partner sees only its own endpoints and deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate as v

from partners import ratelimit
from partners import webhooks as core
from partners.api import BEARER, counted_partner
from partners.schemas import StrictIn
from partners.services import webhooks as hooks
from rewards.actor import current_actor
from rewards.db import db, utcnow
from rewards.policy import api

SCOPE = "webhooks:manage"

blp = Blueprint(
    "partner_webhooks_api", __name__, url_prefix="/api/v1/partner/webhooks",
    description="For partner sites: endpoints that receive signed event messages (Standard Webhooks), "
    "their secrets, the delivery log and replays.",
)

blp.after_request(ratelimit.add_headers)


class EndpointIn(StrictIn):
    url = ma.fields.String(required=True, validate=v.Length(min=1, max=500))
    events = ma.fields.List(ma.fields.String(validate=v.OneOf(core.EVENTS)), load_default=list,
                            validate=v.Length(max=len(core.EVENTS)),
                            metadata={"description": "event types to receive; empty: all"})
    scheme = ma.fields.String(load_default=core.HMAC, validate=v.OneOf(core.SCHEMES),
                              metadata={"description": "hmac (v1, whsec_ secret) or ed25519 (v1a, whpk_ key)"})
    description = ma.fields.String(load_default="", validate=v.Length(max=200))


class EndpointOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.String(), required=True)
    scheme = ma.fields.String(required=True)
    secret = ma.fields.String(required=True, metadata={"description": "whsec_ secret or whpk_ public key"})
    previous_secret = ma.fields.String(allow_none=True, metadata={"description": "still signing until previous_until"})
    previous_until = ma.fields.String(allow_none=True)
    created_at = ma.fields.String(required=True)


class AttemptOut(ma.Schema):
    at = ma.fields.String(required=True)
    status_code = ma.fields.Integer(allow_none=True)
    latency_ms = ma.fields.Integer(required=True)
    error = ma.fields.String(allow_none=True)
    replay = ma.fields.Boolean(required=True)


class DeliveryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    message_id = ma.fields.String(required=True, metadata={"description": "the webhook-id"})
    event_type = ma.fields.String(required=True)
    endpoint_id = ma.fields.Integer(required=True)
    state = ma.fields.String(required=True, metadata={"description": "pending | delivered | failed"})
    attempts = ma.fields.Integer(required=True)
    last_status = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    next_attempt_at = ma.fields.String(allow_none=True)
    delivered_at = ma.fields.String(allow_none=True)
    created_at = ma.fields.String(required=True)
    log = ma.fields.List(ma.fields.Nested(AttemptOut))


class DeliveriesArgs(StrictIn):
    before = ma.fields.Integer(load_default=None, validate=v.Range(min=1, max=2**62))
    limit = ma.fields.Integer(load_default=100, validate=v.Range(min=1, max=500))


def _partner_id() -> int:
    partner = counted_partner()
    return partner.id


@blp.route("/endpoints")
class Endpoints(MethodView):
    @api(SCOPE)
    @blp.response(200, EndpointOut(many=True))
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER)
    def get(self) -> list[dict[str, Any]]:
        """The calling partner's endpoints, with the key each verifies with."""
        now = utcnow()
        return [hooks.endpoint_view(e, now) for e in hooks.endpoints_of(db.session, _partner_id())]

    @api(SCOPE)
    @blp.arguments(EndpointIn())
    @blp.response(201, EndpointOut)
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Add an endpoint; the answer holds its secret (``whsec_...``) or public key (``whpk_...``)."""
        endpoint = hooks.create_endpoint(
            db.session, _partner_id(), args["url"], events=args["events"], scheme=args["scheme"],
            description=args["description"], allow_http=bool(current_app.config["WEBHOOK_ALLOW_LOCAL"]),
            actor=current_actor(),
        )
        db.session.commit()
        return hooks.endpoint_view(endpoint, utcnow())


@blp.route("/endpoints/<int:endpoint_id>")
class Endpoint(MethodView):
    @api(SCOPE)
    @blp.response(204)
    @blp.alt_response(404, description="no such endpoint of this partner")
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER)
    def delete(self, endpoint_id: int) -> None:
        """Stop sending to the endpoint."""
        endpoint = hooks.get_endpoint(db.session, endpoint_id, _partner_id())
        hooks.disable_endpoint(db.session, endpoint, actor=current_actor())
        db.session.commit()


@blp.route("/endpoints/<int:endpoint_id>/rotate")
class Rotate(MethodView):
    @api(SCOPE)
    @blp.response(200, EndpointOut)
    @blp.alt_response(404, description="no such endpoint of this partner")
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER)
    def post(self, endpoint_id: int) -> dict[str, Any]:
        """A new secret; the previous one keeps signing (both signatures are sent) for
        ``WEBHOOK_ROTATION_OVERLAP_HOURS`` (24 h by default)."""
        endpoint = hooks.get_endpoint(db.session, endpoint_id, _partner_id())
        now = utcnow()
        overlap = timedelta(hours=float(current_app.config["WEBHOOK_ROTATION_OVERLAP_HOURS"]))
        hooks.rotate_secret(db.session, endpoint, now, overlap, actor=current_actor())
        db.session.commit()
        return hooks.endpoint_view(endpoint, now)


@blp.route("/deliveries")
class Deliveries(MethodView):
    @api(SCOPE)
    @blp.arguments(DeliveriesArgs(), location="query")
    @blp.response(200, DeliveryOut(many=True))
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """The delivery log, newest first (``before``: the id of the last one seen, to page on)."""
        found = hooks.deliveries(db.session, _partner_id(), limit=args["limit"], before=args["before"])
        return [hooks.delivery_view(d, hooks.attempts_of(db.session, d.id)) for d in found]


@blp.route("/deliveries/<int:delivery_id>/replay")
class Replay(MethodView):
    @api(SCOPE)
    @blp.response(202, DeliveryOut)
    @blp.alt_response(404, description="no such delivery of this partner")
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER)
    def post(self, delivery_id: int) -> dict[str, Any]:
        """Send the message again (the same ``webhook-id``) as soon as a sender runs."""
        partner_id = _partner_id()
        hooks.replay(db.session, delivery_id, partner_id, utcnow(), actor=current_actor())
        db.session.commit()
        found = hooks.deliveries(db.session, partner_id, before=delivery_id + 1, limit=1)
        return hooks.delivery_view(found[0])
