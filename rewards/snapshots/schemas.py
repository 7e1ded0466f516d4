"""Marshmallow schemas of the snapshots API (separate input and output schemas)."""

from __future__ import annotations

import marshmallow as ma

from rewards.tiers import TIERS

# What services.check_period accepts: ASCII digits, years 1000..9999, months 01..12.
PERIOD = ma.validate.Regexp(r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$", error="a month YYYY-MM")


class TierCountsSchema(ma.Schema):
    beginner = ma.fields.Integer(required=True)
    promising = ma.fields.Integer(required=True)
    responsible = ma.fields.Integer(required=True)
    ideal = ma.fields.Integer(required=True)


class SnapshotSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    period = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"description": "active or superseded"})
    source = ma.fields.String(required=True, metadata={"description": "import or computed"})
    source_name = ma.fields.String(required=True)
    file_sha256 = ma.fields.String(allow_none=True, required=True)
    format = ma.fields.String(allow_none=True, required=True)
    loaded_by = ma.fields.String(required=True)
    loaded_at = ma.fields.DateTime(required=True)
    row_count = ma.fields.Integer(required=True)
    tier_counts = ma.fields.Nested(TierCountsSchema, required=True)
    has_points = ma.fields.Boolean(required=True)
    digest = ma.fields.String(required=True, metadata={"description": "SHA-256 of the canonical content"})
    rules_version = ma.fields.String(allow_none=True, required=True)
    rules_sha256 = ma.fields.String(allow_none=True, required=True)
    superseded_at = ma.fields.DateTime(allow_none=True, required=True)
    superseded_by = ma.fields.Integer(allow_none=True, required=True)
    superseded_by_actor = ma.fields.String(allow_none=True, required=True)


class SnapshotListSchema(ma.Schema):
    snapshots = ma.fields.List(ma.fields.Nested(SnapshotSchema), required=True)


class ImportArgsSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=PERIOD)
    replace = ma.fields.Boolean(load_default=False)
    future = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Confirm a period after the current local month (else 422 `future_period`); "
                  "such a snapshot is never the latest until its month comes"},
    )
    format = ma.fields.String(load_default="csv", validate=ma.validate.OneOf(["csv", "jsonl"]))
    filename = ma.fields.String(load_default="api-upload", validate=ma.validate.Length(max=200))


class ImportResultSchema(ma.Schema):
    snapshot = ma.fields.Nested(SnapshotSchema, required=True)
    replaced = ma.fields.Integer(allow_none=True, required=True)


class ComputeArgsSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=PERIOD)
    replace = ma.fields.Boolean(load_default=False)
    future = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Confirm a period after the current local month (else 422 `future_period`); "
                  "such a snapshot is never the latest until its month comes"},
    )


class CompareArgsSchema(ma.Schema):
    from_period = ma.fields.String(required=True, data_key="from", validate=PERIOD)
    to_period = ma.fields.String(required=True, data_key="to", validate=PERIOD)


class MatrixRowSchema(ma.Schema):
    beginner = ma.fields.Integer(required=True)
    promising = ma.fields.Integer(required=True)
    responsible = ma.fields.Integer(required=True)
    ideal = ma.fields.Integer(required=True)


class CompareSchema(ma.Schema):
    from_ = ma.fields.Nested(SnapshotSchema, required=True, data_key="from")
    to = ma.fields.Nested(SnapshotSchema, required=True)
    tiers = ma.fields.List(ma.fields.String(), required=True)
    matrix = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(TIERS)),
        values=ma.fields.Nested(MatrixRowSchema),
        required=True,
        metadata={"description": "matrix[from_tier][to_tier] = accounts"},
    )
    left = ma.fields.Nested(TierCountsSchema, required=True, metadata={"description": "only in the first"})
    joined = ma.fields.Nested(TierCountsSchema, required=True, metadata={"description": "only in the second"})
    moved_up = ma.fields.Integer(required=True)
    moved_down = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)


class ExportArgsSchema(ma.Schema):
    kind = ma.fields.String(load_default="full", validate=ma.validate.OneOf(["full", "bills"]))
    encoding = ma.fields.String(load_default="utf-8", validate=ma.validate.OneOf(["utf-8", "cp1251"]))


class TierArgsSchema(ma.Schema):
    period = ma.fields.String(load_default=None, validate=PERIOD)
    lang = ma.fields.String(
        load_default="en",
        validate=ma.validate.OneOf(["en", "ru"]),
        metadata={"description": "language of the reasons and advice"},
    )


class CriterionSchema(ma.Schema):
    criterion = ma.fields.String(required=True)
    met = ma.fields.Boolean(required=True)
    points = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)


class MonthSchema(ma.Schema):
    month = ma.fields.String(required=True)
    data = ma.fields.Boolean(required=True, metadata={"description": "false: no behaviour row that month"})
    points = ma.fields.Integer(required=True)
    criteria = ma.fields.List(ma.fields.Nested(CriterionSchema), required=True)


class MissingSchema(ma.Schema):
    criterion = ma.fields.String(required=True)
    months = ma.fields.List(ma.fields.String(), required=True)
    clears_with_period = ma.fields.String(required=True)


class AdviceSchema(ma.Schema):
    criterion = ma.fields.String(required=True)
    points_per_month = ma.fields.Integer(required=True)
    text = ma.fields.String(required=True)


class NextTierSchema(ma.Schema):
    tier = ma.fields.String(required=True)
    tier_label = ma.fields.String(required=True)
    min_points = ma.fields.Integer(required=True)
    points_missing = ma.fields.Integer(required=True)
    every_month = ma.fields.List(ma.fields.String(), required=True)
    requirements_missing = ma.fields.List(ma.fields.Nested(MissingSchema), required=True)
    advice = ma.fields.List(ma.fields.Nested(AdviceSchema), required=True)


class TierHistorySchema(ma.Schema):
    period = ma.fields.String(required=True)
    snapshot_id = ma.fields.Integer(required=True)
    tier = ma.fields.String(required=True)
    tier_label = ma.fields.String(required=True)
    points = ma.fields.Integer(allow_none=True, required=True)


class AccountTierSchema(ma.Schema):
    account = ma.fields.String(required=True)
    period = ma.fields.String(required=True)
    snapshot_id = ma.fields.Integer(required=True)
    tier = ma.fields.String(required=True)
    tier_label = ma.fields.String(required=True, metadata={"description": "Russian, as printed on bills"})
    points = ma.fields.Integer(allow_none=True, required=True)
    source = ma.fields.String(required=True)
    explained = ma.fields.Boolean(
        required=True,
        metadata={"description": "false for a snapshot imported from billing: no month-by-month detail"},
    )
    rules_version = ma.fields.String(allow_none=True, required=True)
    rules_sha256 = ma.fields.String(allow_none=True, required=True)
    max_points = ma.fields.Integer()
    window = ma.fields.List(ma.fields.String())
    months = ma.fields.List(ma.fields.Nested(MonthSchema), required=True)
    next_tier = ma.fields.Nested(NextTierSchema, allow_none=True, required=True)
    note = ma.fields.String()
    history = ma.fields.List(ma.fields.Nested(TierHistorySchema), required=True)
