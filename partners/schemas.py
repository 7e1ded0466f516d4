"""marshmallow schemas of the partners API: separate input and output schemas.

Inputs refuse unknown fields (marshmallow's RAISE), so ``status`` or ``partner_id`` smuggled into a
body is a 422, and types are strict (an amount given as ``"100"`` or ``100.5`` is refused).
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from rewards.tiers import TIERS


class StrictIn(ma.Schema):
    """An input schema that refuses unknown fields (a 422 naming them)."""

    class Meta:
        unknown = ma.RAISE


class ValidateIn(StrictIn):
    code = ma.fields.String(required=True, validate=v.Length(max=200), metadata={"example": "GSRV-7K2M-Q9XA-4HNT-$"})


class RedeemIn(StrictIn):
    code = ma.fields.String(required=True, validate=v.Length(max=200))
    order_ref = ma.fields.String(
        required=True, validate=v.Length(min=1, max=128), metadata={"description": "the partner's order number"}
    )
    amount_kopecks = ma.fields.Integer(
        strict=True, allow_none=True, load_default=None, validate=v.Range(min=0, max=10**12),
        metadata={"description": "order amount in kopecks (optional): the answer then gives the discount"},
    )


class RollbackIn(StrictIn):
    reason = ma.fields.String(load_default=None, allow_none=True, validate=v.Length(max=200))


class DiscountOut(ma.Schema):
    kind = ma.fields.String(required=True, metadata={"description": "percent | fixed"})
    value = ma.fields.Integer(required=True, metadata={"description": "percent (1-100) or kopecks"})


class OfferOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    discount = ma.fields.Nested(DiscountOut, required=True)
    valid_from = ma.fields.String(required=True, metadata={"description": "UTC, ISO 8601"})
    expires_at = ma.fields.String(required=True, metadata={"description": "UTC, ISO 8601 (exclusive)"})


class ValidateOut(ma.Schema):
    code = ma.fields.String(required=True, allow_none=True, metadata={"description": "normalised code"})
    valid = ma.fields.Boolean(required=True)
    reason = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "not_found | malformed | expired | not_yet_valid | already_redeemed | revoked"},
    )
    offer = ma.fields.Nested(OfferOut, required=True, allow_none=True)


class RedemptionOut(ma.Schema):
    redemption_id = ma.fields.String(required=True)
    code = ma.fields.String(required=True)
    offer = ma.fields.Nested(OfferOut, required=True)
    order_ref = ma.fields.String(required=True)
    amount_kopecks = ma.fields.Integer(required=True, allow_none=True)
    discount_kopecks = ma.fields.Integer(required=True, allow_none=True)
    redeemed_at = ma.fields.String(required=True)


class RollbackOut(ma.Schema):
    redemption_id = ma.fields.String(required=True)
    rollback_id = ma.fields.String(required=True)
    rolled_back_at = ma.fields.String(required=True)


class OfferListItem(OfferOut):
    tiers = ma.fields.List(ma.fields.String(validate=v.OneOf(TIERS)), required=True)
    budget = ma.fields.Integer(required=True, allow_none=True)
    withdrawn = ma.fields.Boolean(required=True)
    partner_id = ma.fields.Integer(required=True)


class CountsOut(ma.Schema):
    issued = ma.fields.Integer(required=True)
    redeemed = ma.fields.Integer(required=True)
    rolled_back = ma.fields.Integer(required=True)


class TotalsOut(CountsOut):
    net_redeemed = ma.fields.Integer(required=True)


class DayOut(CountsOut):
    day = ma.fields.String(required=True, metadata={"description": "local date, YYYY-MM-DD"})


class TierOut(CountsOut):
    tier = ma.fields.String(required=True)


class ReportOut(ma.Schema):
    offer_id = ma.fields.Integer(required=True)
    partner_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    totals = ma.fields.Nested(TotalsOut, required=True)
    by_day = ma.fields.List(ma.fields.Nested(DayOut), required=True)
    by_tier = ma.fields.List(ma.fields.Nested(TierOut), required=True)


class AccountCodeOut(ma.Schema):
    code = ma.fields.String(required=True)
    state = ma.fields.String(required=True, metadata={"description": "issued | redeemed | revoked"})
    tier = ma.fields.String(required=True, metadata={"description": "the tier it was issued for"})
    issued_at = ma.fields.String(required=True)
    offer = ma.fields.Nested(OfferOut, required=True)


class AccountCodesOut(ma.Schema):
    account = ma.fields.String(required=True)
    codes = ma.fields.List(ma.fields.Nested(AccountCodeOut), required=True)
