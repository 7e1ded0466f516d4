"""Marshmallow schemas of the draws API: separate input and output schemas."""

from __future__ import annotations

import marshmallow as ma


class PrizeSchema(ma.Schema):
    amount_kopecks = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 400_000),
                                       metadata={"description": "1..400000 (draws.engine.MAX_PRIZE_KOPECKS)"})
    count = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1))


# A public reason: at least one character that is not white space (the services refuse a blank one).
REASON = ma.validate.Regexp(r"^\s*\S", error="give the reason (it is public)")


class WitnessSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    kid = ma.fields.String(required=True, metadata={"description": "first 16 hex digits of SHA-256 of the public key"})
    public_key = ma.fields.String(required=True, metadata={"description": "unpadded base64url raw Ed25519 key"})


class DraftInSchema(ma.Schema):
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "quarterly or semi-annual"})
    snapshot_period = ma.fields.String(load_default=None, metadata={"description": "YYYY-MM; default the latest"})
    tier_weights = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(), required=True)
    prizes = ma.fields.List(ma.fields.Nested(PrizeSchema), required=True)
    reserves = ma.fields.Integer(required=True, strict=True)
    freeze_at = ma.fields.AwareDateTime(required=True)
    algorithm = ma.fields.String(load_default="weighted-hmac-sha256-fenwick/1")
    entropy = ma.fields.Dict(required=True, metadata={"description": '{"type": "drand", "chain": "quicknet", '
                                                      '"delay_seconds": 3600} or {"type": "rfc3797", "sources": [...], '
                                                      '"available_after": "YYYY-MM-DDTHH:MM:SSZ"}'})
    exclusions = ma.fields.List(ma.fields.String(), load_default=list)
    witnesses = ma.fields.List(ma.fields.Nested(WitnessSchema), load_default=list, metadata={
        "description": "independent parties who cosign the freeze (python -m draws.witness keygen prints an entry)"})
    quorum = ma.fields.Integer(strict=True, load_default=0, validate=ma.validate.Range(0, 16),
                               metadata={"description": "cosignatures needed before the draw may run"})
    unwitnessed = ma.fields.Boolean(load_default=False, metadata={"description": "must be true when quorum is 0"})


class DrawOutSchema(ma.Schema):
    draw_id = ma.fields.String(attribute="public_id", required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    algorithm = ma.fields.String(required=True)
    snapshot_period = ma.fields.String(required=True)
    tier_weights = ma.fields.Method("_weights")
    prizes = ma.fields.Method("_prizes")
    reserves = ma.fields.Integer(required=True)
    freeze_at = ma.fields.DateTime(required=True)
    entropy_source = ma.fields.Method("_entropy")
    commitment = ma.fields.String(allow_none=True)
    entrant_count = ma.fields.Integer(allow_none=True)
    exclusions_count = ma.fields.Integer()
    announced_at = ma.fields.DateTime(allow_none=True)
    frozen_at = ma.fields.DateTime(allow_none=True)
    drawn_at = ma.fields.DateTime(allow_none=True)
    published_at = ma.fields.DateTime(allow_none=True)
    cancelled_at = ma.fields.DateTime(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)
    witnesses = ma.fields.Method("_witnesses")

    def _witnesses(self, draw: object) -> object:
        import json

        return json.loads(draw.witnesses) if draw.witnesses else None  # type: ignore[attr-defined]

    def _weights(self, draw: object) -> object:
        import json

        return json.loads(draw.tier_weights)  # type: ignore[attr-defined]

    def _prizes(self, draw: object) -> object:
        import json

        return json.loads(draw.prizes)  # type: ignore[attr-defined]

    def _entropy(self, draw: object) -> object:
        import json

        return json.loads(draw.entropy_source)  # type: ignore[attr-defined]


class ExclusionsInSchema(ma.Schema):
    accounts = ma.fields.List(ma.fields.String(), required=True)


class ExclusionsOutSchema(ma.Schema):
    count = ma.fields.Integer(required=True)


class EntropyInSchema(ma.Schema):
    entropy = ma.fields.Dict(load_default=None, metadata={"description": "the drand round object or "
                                                          '{"type": "rfc3797", "sources": [[...], ...]}'})
    numbers = ma.fields.String(load_default=None,
                               metadata={"description": "RFC 3797 public numbers, one source per line"})
    fetch = ma.fields.Boolean(load_default=False, metadata={"description": "fetch the drand round (DRAND_FETCH)"})


class ReasonInSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=REASON)


class DisqualifyInSchema(ma.Schema):
    prize_index = ma.fields.Integer(required=True, strict=True)
    reason = ma.fields.String(required=True, validate=REASON)


class DisqualificationOutSchema(ma.Schema):
    sequence = ma.fields.Integer(required=True)
    prize_index = ma.fields.Integer(required=True)
    replaced = ma.fields.Boolean(required=True)
    envelope = ma.fields.Raw(required=True)


class RecordSchema(ma.Schema):
    """A public record or auditor bundle (format loyalty-draw-bundle/1, see docs/draw-algorithm.md)."""

    format = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    keyset = ma.fields.Raw(required=True)
    announcement = ma.fields.Raw(required=True)
    # A cancelled draw's record has no result (and a freeze only if it was frozen): then `cancellation`.
    freeze = ma.fields.Raw(metadata={"description": "absent on a draw cancelled before its freeze"})
    result = ma.fields.Raw(metadata={"description": "absent on a cancelled draw's record"})
    disqualifications = ma.fields.List(ma.fields.Raw(), metadata={
        "description": "the signed disqualifications in sequence order; absent on a cancelled draw's record"})
    head = ma.fields.Raw(metadata={"description": "the signed head: how many disqualifications exist (protocol 2)"})
    cancellation = ma.fields.Raw()
    weights = ma.fields.Raw()
    entrants = ma.fields.Raw()
    salt_key = ma.fields.String()
    exclusions = ma.fields.Raw()


class CheckSchema(ma.Schema):
    name = ma.fields.String(required=True)
    section = ma.fields.String(required=True, metadata={"description": "the section of docs/draw-algorithm.md"})
    status = ma.fields.String(required=True, metadata={"description": "PASS, FAIL, SKIP or WARN"})
    reason = ma.fields.String(required=True)


class FreezePackageSchema(ma.Schema):
    """What a witness cosigns (format loyalty-draw-freeze/2): ``python -m draws.witness cosign``."""

    format = ma.fields.String(required=True)
    keyset = ma.fields.Raw(required=True)
    announcement = ma.fields.Raw(required=True)
    freeze = ma.fields.Raw(required=True)


class CosignatureInSchema(ma.Schema):
    cosignature = ma.fields.Dict(required=True,
                                 metadata={"description": "the envelope python -m draws.witness cosign printed"})


class QuorumOutSchema(ma.Schema):
    witness = ma.fields.String(required=True)
    cosigned_at = ma.fields.DateTime(required=True)
    counted = ma.fields.Integer(required=True, metadata={"description": "valid, timely cosignatures so far"})
    quorum = ma.fields.Integer(required=True)


class CheckCodeSchema(ma.Schema):
    draw_id = ma.fields.String(required=True)
    account = ma.fields.String(required=True)
    check_code = ma.fields.String(required=True, metadata={"description": "XXXXX-XXXXX, for the public check"})


class VerificationSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    checks = ma.fields.List(ma.fields.Nested(CheckSchema), required=True)


class ProofSchema(ma.Schema):
    draw_id = ma.fields.String(required=True)
    account = ma.fields.String(required=True)
    weight = ma.fields.Integer(required=True)
    salt = ma.fields.String(required=True)
    leaf_index = ma.fields.Integer(required=True)
    tree_size = ma.fields.Integer(required=True)
    path = ma.fields.List(ma.fields.String(), required=True)


class BatchOutSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    count = ma.fields.Integer(required=True)
    total_kopecks = ma.fields.Integer(required=True)
    digest = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)


class ConfirmationInSchema(ma.Schema):
    content = ma.fields.String(required=True, metadata={"description": "CSV: credit_id,account,amount_kopecks,status"})


class ConfirmationOutSchema(ma.Schema):
    posted = ma.fields.Integer(required=True)
    already_posted = ma.fields.Integer(required=True)
