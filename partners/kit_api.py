"""The partner's own report of redemptions by day and offer (JSON and CSV), and test codes for its
sandbox key. A sandbox key sees the sandbox's figures only; a live key the live ones only."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate as v

from partners import ratelimit
from partners.api import BEARER, abort, counted_partner
from partners.schemas import StrictIn
from partners.services import catalog, issue, reports
from partners.services.redemption import PartnerRef
from rewards.actor import current_actor
from rewards.db import db, utcnow
from rewards.policy import api_any

blp = Blueprint(
    "partner_kit", __name__, url_prefix="/api/v1/partner",
    description="For partner sites: their redemptions by day and offer, and test codes for a sandbox key.",
)
blp.after_request(ratelimit.add_headers)


class RangeArgs(StrictIn):
    from_ = ma.fields.Date(data_key="from", load_default=None,
                           metadata={"description": "first local day (default: 30 days before 'to')"})
    to = ma.fields.Date(load_default=None, metadata={"description": "last local day, included (default: today)"})


class DayOfferOut(ma.Schema):
    day = ma.fields.String(required=True, metadata={"description": "local day YYYY-MM-DD"})
    offer_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    redeemed = ma.fields.Integer(required=True)
    rolled_back = ma.fields.Integer(required=True)
    net_redeemed = ma.fields.Integer(required=True)


class RedemptionReportOut(ma.Schema):
    partner_id = ma.fields.Integer(required=True)
    sandbox = ma.fields.Boolean(required=True, metadata={"description": "figures of test codes (a sandbox key)"})
    from_ = ma.fields.String(data_key="from", required=True)
    to = ma.fields.String(required=True)
    rows = ma.fields.List(ma.fields.Nested(DayOfferOut), required=True)


class TestCodesIn(StrictIn):
    count = ma.fields.Integer(required=True, strict=True, validate=v.Range(min=1, max=issue.MAX_TEST_CODES))


class TestCodesOut(ma.Schema):
    offer_id = ma.fields.Integer(required=True)
    codes = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "TEST-... codes"})


def _report(args: dict[str, Any]) -> tuple[PartnerRef, dict[str, Any]]:
    partner = counted_partner()
    tz = current_app.config["TIMEZONE"]
    today = utcnow().astimezone(ZoneInfo(tz)).date()
    end: date = args.get("to") or today
    start: date = args.get("from_") or end - timedelta(days=30)
    rows = reports.redemptions_by_day(db.session, partner.id, tz, start, end, test=partner.sandbox)
    return partner, {"partner_id": partner.id, "sandbox": partner.sandbox, "from_": start.isoformat(),
                     "to": end.isoformat(), "rows": rows}


@blp.route("/reports/redemptions")
class RedemptionReport(MethodView):
    @api_any
    @blp.arguments(RangeArgs(), location="query")
    @blp.response(200, RedemptionReportOut)
    @blp.alt_response(422, description="a bad range (to before from, more than 366 days)")
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The calling partner's redemptions and rollbacks by local day and offer (days without any are
        left out); a sandbox key gets its test codes' figures."""
        return _report(args)[1]


@blp.route("/reports/redemptions.csv")
class RedemptionReportCsv(MethodView):
    @api_any
    @blp.arguments(RangeArgs(), location="query")
    @blp.response(200, description="CSV: day;offer_id;title;redeemed;rolled_back;net_redeemed",
                  content_type="text/csv")
    @blp.alt_response(422, description="a bad range (to before from, more than 366 days)")
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Response:
        """The same report as CSV (``;``-separated, header line first)."""
        partner, data = _report(args)
        name = f"redemptions-{'sandbox-' if partner.sandbox else ''}{data['from_']}-{data['to']}.csv"
        return Response(reports.csv_lines(data["rows"]), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.route("/offers/<int:offer_id>/test-codes")
class TestCodes(MethodView):
    @api_any
    @blp.arguments(TestCodesIn())
    @blp.response(201, TestCodesOut)
    @blp.alt_response(403, description="not a sandbox key")
    @blp.alt_response(404, description="no such offer of this partner")
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.doc(security=BEARER)
    def post(self, args: dict[str, Any], offer_id: int) -> dict[str, Any]:
        """Issue test codes of one of the partner's offers (a sandbox key only; at most 100 per offer).
        They work with the sandbox key only and count in no live figure."""
        partner = counted_partner()
        if not partner.sandbox:
            abort(403, message="Test codes are issued to a sandbox key only.")
        offer = catalog.get_offer(db.session, offer_id, partner_id=partner.id)
        codes = issue.issue_test_codes(db.session, offer, args["count"], actor=current_actor())
        db.session.commit()
        return {"offer_id": offer_id, "codes": codes}
