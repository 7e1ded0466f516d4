"""The partners JSON API: partner sites (validate, redeem, roll back, their offers and reports), the
personal cabinet (an account's codes), and internal readers of every report.

Partner calls are authenticated by the foundation's API keys; the key's client must be linked to a
partner (``flask partners link-client``). Bodies are JSON of at most ``API_MAX_JSON_BYTES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn, cast

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest import abort as smorest_abort
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from partners import codes as codecore
from partners import ratelimit, schemas
from partners.models import Offer, Partner
from partners.services import catalog, idempotency, issue, redemption, reports
from partners.services.redemption import PartnerRef, Refused
from rewards import livetraffic
from rewards.actor import current_actor
from rewards.db import db, read_only_view, utcnow
from rewards.errors import N_, DomainError
from rewards.httperrors import error_body
from rewards.ops.metrics import counter
from rewards.policy import api, api_any
from signedjson import utc_timestamp

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
abort = cast("Callable[..., NoReturn]", smorest_abort)  # it always raises; flask-smorest ships no types
# Results are "valid"/"redeemed" or a refusal reason (a fixed set), never a code or a partner; every
# call with a test code (a sandbox key) is counted under "sandbox" only, apart from the live figures.
VALIDATIONS = counter("rewards_partner_validations_total", "Partner code validations by result", ["result"])
REDEMPTIONS = counter("rewards_partner_redemptions_total", "Partner redemptions by result", ["result"])
IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Unique per redemption attempt; a retry with the same key and body gets the first "
    "answer byte for byte (kept 24 hours at least).",
}

blp = Blueprint(
    "partner_api",
    __name__,
    url_prefix="/api/v1/partner",
    description="For partner sites: validate a customer's code, redeem it exactly once, roll back a redemption.",
)
cabinet_blp = Blueprint(
    "account_codes", __name__, url_prefix="/api/v1/accounts",
    description="For the personal cabinet: an account's codes."
)
staff_blp = Blueprint(
    "partners_read", __name__, url_prefix="/api/v1/partners",
    description="Internal: every partner's offers and reports."
)


def _live() -> None:
    # partner sites and the cabinet wait for these answers: long jobs pause while they come (rewards.pacing)
    livetraffic.note(current_app)


blp.before_request(_live)
cabinet_blp.before_request(_live)
blp.after_request(ratelimit.add_headers)  # RateLimit / RateLimit-Policy on every partner answer


# One encoder for every answer (json.dumps with any option builds a new one on each call); the bytes
# are what idempotent replays store and send again, so its options never change.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _dumps(payload: Any) -> bytes:
    return _ENCODER.encode(payload).encode("utf-8")


def _json(payload: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(payload), status=status, mimetype="application/json", headers=headers)


def current_partner() -> PartnerRef:
    """The partner the calling key acts for (403 when none or suspended)."""
    partner = catalog.partner_ref_of_client(db.engine, g.caller.client_id)
    if partner is None:
        abort(403, message="This API key is not linked to a partner.")
    if not partner.active:
        abort(403, message="This partner is suspended.")
    return PartnerRef(partner.id, partner.prefix, bool(partner.sandbox))


def counted_partner() -> PartnerRef:
    """:func:`current_partner`, the call counted against the key's general rate limit (429 past it)."""
    partner = current_partner()
    ratelimit.hit_general(_key_id())
    return partner


def _key_id() -> str:
    return str(g.caller.key_id)


_VALIDATE_IN = schemas.ValidateIn()


def _json_args(schema: Schema) -> dict[str, Any]:
    """The JSON body loaded by ``schema``, with webargs' error answers (400 for a body that is not
    JSON, 422 with the field errors under ``json``): what ``blp.arguments`` does, without its
    per-request cost, for the busiest call."""
    data = g.get("json_body") if request.is_json else {}  # the kernel's input guard parsed it (requesthooks)
    if data is None:
        data = request.get_json(silent=True)  # an empty body (the guard had nothing to parse): None
    if data is None:
        abort(400, messages={"json": ["the body is not valid JSON"]})  # as the kernel guard says it
    try:
        return schema.load(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        abort(422, messages={"json": exc.messages})
        raise  # abort raised already


# Validate parses its body with ValidateIn and answers JSON that ValidateOut documents, without
# flask-smorest's argument and response wrappers (about 100 µs a call, a fifth of a validate);
# one blp.doc documents both, and the 429, exactly as those wrappers would (the OpenAPI test compares
# them): every such decorator adds a wrapper that runs on each call.
@blp.route("/codes/validate")
class Validate(MethodView):
    @api("codes:validate")
    @read_only_view
    @blp.doc(
        security=BEARER,
        requestBody={"required": True, "content": {"application/json": {"schema": schemas.ValidateIn}}},
        responses={
            "200": {"description": "OK", "content": {"application/json": {"schema": schemas.ValidateOut}}},
            "422": {"$ref": "#/components/responses/UNPROCESSABLE_ENTITY"},
            "429": {"description": "Too many requests (see Retry-After)"},  # as blp.alt_response writes it
        },
    )
    def post(self) -> Response:
        """Whether a code can be used now, with its offer.

        ``valid`` is false with a ``reason``: ``not_found`` (also for another partner's code),
        ``malformed`` (a typing mistake the check symbol caught), ``expired``, ``not_yet_valid``,
        ``already_redeemed``, ``revoked``. Failed look-ups (``not_found``) have their own, tighter
        rate limit per key.
        """
        args = _json_args(_VALIDATE_IN)
        # One direct read finds the key's partner and the code together; a key without an active
        # partner is refused (403) whatever it sent, as every partner call does (current_partner).
        caller = g.caller
        try:
            ratelimit.admit(_key_id())
        except HTTPException:  # over a limit: a key without an active partner still hears 403 first
            current_partner()
            raise
        try:
            answer = redemption.validate(db.engine, caller.client_id, args["code"], utcnow())
            VALIDATIONS.labels("sandbox" if answer["code"].startswith(codecore.TEST_MARK)
                               else answer["reason"] or "valid").inc()
            return _json(answer, 200)
        except redemption.NoActivePartner:
            current_partner()  # 403 with the reason
            abort(403, message="This partner is suspended.")  # (re-activated between the two reads)
        except Refused as exc:
            canonical = None
            if exc.code == redemption.NOT_FOUND:
                ratelimit.charge_failed(_key_id())
                canonical = redemption.canonical(args["code"])
            else:
                current_partner()
            VALIDATIONS.labels("sandbox" if (canonical or "").startswith(codecore.TEST_MARK) else exc.code).inc()
            return _json({"code": canonical, "valid": False, "reason": exc.code, "offer": None}, 200)


@blp.route("/redemptions")
class Redemptions(MethodView):
    @api("codes:redeem")
    @blp.arguments(schemas.RedeemIn())
    @blp.response(201, schemas.RedemptionOut)
    @blp.alt_response(404, description="not_found: no such code for this partner")
    @blp.alt_response(409, description="already_redeemed, expired, not_yet_valid, revoked, idempotency_in_flight")
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER, parameters=[IDEMPOTENCY_HEADER])
    def post(self, args: dict[str, Any]) -> Response:
        """Redeem a code for an order, exactly once.

        The first redemption wins; every other gets 409 ``already_redeemed``. Send an
        ``Idempotency-Key``: a retry with the same key and body returns the first response byte for byte
        (header ``Idempotent-Replayed: true``); the same key with another body is 422
        ``idempotency_key_reused``; a retry while the first is running is 409 ``idempotency_in_flight``.
        """
        partner = current_partner()
        ratelimit.admit(_key_id())
        key = idempotency.check_key(request.headers.get("Idempotency-Key"))
        response = _idempotent(partner, key, "redeem", args, lambda: _do_redeem(partner, args))
        REDEMPTIONS.labels("sandbox" if partner.sandbox else _redemption_result(response)).inc()
        return response


def _redemption_result(response: Response) -> str:
    """The metric label of a redeem answer: redeemed, replayed, or the refusal reason."""
    if response.headers.get("Idempotent-Replayed") == "true":
        return "replayed"
    if response.status_code == 201:
        return "redeemed"
    try:
        return str(json.loads(response.get_data())["status"])[:40]
    except (ValueError, KeyError, TypeError):
        return str(response.status_code)


def _do_redeem(partner: PartnerRef, args: dict[str, Any]) -> idempotency.Answer:
    event, offer, parsed = redemption.redeem(
        db.session,
        partner,
        args["code"],
        order_ref=args["order_ref"],
        amount_kopecks=args.get("amount_kopecks"),
        client_id=g.caller.client_id,
        now=utcnow(),
        actor=current_actor(),
    )
    return _answer(201, redemption.redemption_view(event, offer, redemption.printed(parsed, partner.sandbox)))


def _answer(status: int, payload: Any) -> idempotency.Answer:
    return idempotency.Answer(status, "application/json", _dumps(payload))


def _refusal(exc: DomainError) -> idempotency.Answer:
    """A refusal in the error shape; a ``not_found`` is counted in the key's failed budget first (over
    it: the 429 instead, and the idempotency key is freed, so a retry is not served a stored refusal)."""
    if exc.code == redemption.NOT_FOUND:
        ratelimit.charge_failed(_key_id())
    return _answer(exc.status, error_body(exc.status, exc.code, exc.message, exc.error_details()))


def _idempotent(partner: PartnerRef, key: str | None, endpoint: str, args: dict[str, Any],
                work: Callable[[], idempotency.Answer]) -> Response:
    """``work`` once per idempotency key (``partners.services.idempotency.run_once``), as a response."""
    try:
        answer = idempotency.run_once(db.session, db.session, partner.id, key, endpoint, args, utcnow(),
                                      work, _refusal)
    except idempotency.InFlight as exc:
        return _json(error_body(409, exc.code, exc.message), 409, {"Retry-After": "1"})
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(answer.body, status=answer.status, content_type=answer.content_type, headers=headers)


@blp.route("/redemptions/<string:redemption_id>/rollback")
class Rollback(MethodView):
    @api("redemptions:rollback")
    @blp.arguments(schemas.RollbackIn())
    @blp.response(200, schemas.RollbackOut)
    @blp.alt_response(404, description="not_found: no such redemption for this partner")
    @blp.alt_response(409, description="already_rolled_back")
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER, parameters=[{**IDEMPOTENCY_HEADER, "required": False}])
    def post(self, args: dict[str, Any], redemption_id: str) -> Response:
        """Undo a redemption (the order was cancelled): the code can be used again.

        A second rollback of the same redemption gets 409 ``already_rolled_back``. An optional
        ``Idempotency-Key`` makes a retry return the first answer.
        """
        partner = counted_partner()
        key = request.headers.get("Idempotency-Key")
        if key is not None:
            key = idempotency.check_key(key)

        def work() -> idempotency.Answer:
            original, event = redemption.rollback(
                db.session,
                partner,
                redemption_id[:64],
                reason=args.get("reason"),
                client_id=g.caller.client_id,
                now=utcnow(),
                actor=current_actor(),
            )
            return _answer(200, redemption.rollback_view(original, event))

        return _idempotent(partner, key, f"rollback:{redemption_id[:64]}", args, work)


def _offer_item(offer: Offer) -> dict[str, Any]:
    return {
        **redemption.offer_view(offer),
        "tiers": offer.tier_list,
        "budget": offer.budget,
        "withdrawn": offer.withdrawn_at is not None,
        "partner_id": offer.partner_id,
    }


@blp.route("/offers")
class PartnerOffers(MethodView):
    @api_any
    @blp.response(200, schemas.OfferListItem(many=True))
    @blp.doc(security=BEARER)
    def get(self) -> list[dict[str, Any]]:
        """The calling partner's offers."""
        from sqlalchemy import select

        partner = counted_partner()
        offers = db.session.scalars(select(Offer).where(Offer.partner_id == partner.id).order_by(Offer.id)).all()
        return [_offer_item(o) for o in offers]


@blp.route("/offers/<int:offer_id>/report")
class PartnerReport(MethodView):
    @api_any
    @blp.response(200, schemas.ReportOut)
    @blp.doc(security=BEARER)
    def get(self, offer_id: int) -> dict[str, Any]:
        """Codes issued, redeemed and rolled back for one of the calling partner's offers, by day and tier."""
        partner = counted_partner()
        offer = catalog.get_offer(db.session, offer_id, partner_id=partner.id)
        return reports.offer_report(db.session, offer, current_app.config["TIMEZONE"], test=partner.sandbox)


# --- personal cabinet -------------------------------------------------------------------------


def _account(account: str) -> str:
    if not 1 <= len(account) <= 32 or not account.isprintable():
        raise DomainError(N_("an account number has 1 to 32 printable characters"), field="account")
    return account


def _account_code(code: Any, offer: Offer, printed: str) -> dict[str, Any]:
    return {
        "code": printed,
        "state": code.state,
        "tier": code.tier,
        "issued_at": utc_timestamp(code.issued_at),
        "offer": redemption.offer_view(offer),
    }


@cabinet_blp.route("/<account:account>/codes")
class AccountCodes(MethodView):
    @api("cabinet:read")
    @cabinet_blp.response(200, schemas.AccountCodesOut)
    @cabinet_blp.doc(security=BEARER)
    def get(self, account: str) -> dict[str, Any]:
        """Every code issued to the account, with its offer and state."""
        account = _account(account)
        return {
            "account": account,
            "codes": [_account_code(c, o, p) for c, o, p in issue.codes_of_account(db.session, account)],
        }


@cabinet_blp.route("/<account:account>/offers/<int:offer_id>/code")
class AccountOfferCode(MethodView):
    @api("cabinet:write")
    @cabinet_blp.response(200, schemas.AccountCodeOut, description="the code issued earlier")
    @cabinet_blp.alt_response(201, schema=schemas.AccountCodeOut, description="a new code")
    @cabinet_blp.alt_response(403, description="not_qualified: not in a qualifying tier in the latest snapshot")
    @cabinet_blp.alt_response(409, description="budget_exhausted, offer_ended, offer_withdrawn")
    @cabinet_blp.doc(security=BEARER)
    def post(self, account: str, offer_id: int) -> Any:
        """The account's code for the offer: issued on the first call if the account qualifies in the
        latest snapshot; the same code on every later call."""
        account = _account(account)
        offer = catalog.get_offer(db.session, offer_id)
        code, created = issue.code_for_account(db.session, offer, account, actor=current_actor())
        db.session.commit()
        partner = db.session.get(Partner, offer.partner_id)
        assert partner is not None
        return _account_code(code, offer, issue.display(partner.prefix, code)), 201 if created else 200


# --- internal readers -------------------------------------------------------------------------


@staff_blp.route("/offers")
class AllOffers(MethodView):
    @api("partners:read")
    @staff_blp.response(200, schemas.OfferListItem(many=True))
    @staff_blp.doc(security=BEARER)
    def get(self) -> list[dict[str, Any]]:
        """Every partner's offers."""
        from sqlalchemy import select

        return [_offer_item(o) for o in db.session.scalars(select(Offer).order_by(Offer.id))]


@staff_blp.route("/offers/<int:offer_id>/report")
class AnyReport(MethodView):
    @api("partners:read")
    @staff_blp.response(200, schemas.ReportOut)
    @staff_blp.doc(security=BEARER)
    def get(self, offer_id: int) -> dict[str, Any]:
        """The report of any offer."""
        offer = catalog.get_offer(db.session, offer_id)
        return reports.offer_report(db.session, offer, current_app.config["TIMEZONE"])
