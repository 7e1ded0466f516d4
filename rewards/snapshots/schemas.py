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


# -- rating rules: drafts, what-ifs, versions ----------------------------------------------------

RULES_DOC = "A rules document (`loyalty-rating-rules/1`, see docs/snapshots.md); refused with the field named."


class _DraftOrRules(ma.Schema):
    """A schema that takes its rules from a stored draft (``draft_id``) or as ``rules``, never both."""

    @ma.validates_schema
    def _one_source(self, data: dict[str, object], **_: object) -> None:
        if ("draft_id" in data) == ("rules" in data):
            raise ma.ValidationError("give either draft_id or rules", field_name="draft_id")


class RulesDraftInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    rules = ma.fields.Dict(required=True, metadata={"description": RULES_DOC})


class RulesDraftSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    sha256 = ma.fields.String(required=True)
    created_by = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    updated_by = ma.fields.String(required=True)
    updated_at = ma.fields.DateTime(required=True)
    rules = ma.fields.Dict(required=True)


class RulesDraftListSchema(ma.Schema):
    drafts = ma.fields.List(ma.fields.Nested(RulesDraftSchema), required=True)


class RulesWhatIfInSchema(_DraftOrRules):
    snapshot_id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1),
                                    metadata={"description": "A computed snapshot (an imported one has none)"})
    draft_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1),
                                 metadata={"description": "A stored draft; or give `rules`"})
    rules = ma.fields.Dict(metadata={"description": RULES_DOC})


class RulesCostSchema(ma.Schema):
    source = ma.fields.String(required=True, metadata={"description": "the feature that answered: draws, partners"})
    item = ma.fields.String(required=True, metadata={"description": "the draw or the partner's offer"})
    measure = ma.fields.String(required=True, metadata={"description": "entrants, total_weight or qualifying"})
    before = ma.fields.Integer(required=True)
    after = ma.fields.Integer(required=True)


class RulesWhatIfSchema(ma.Schema):
    job_id = ma.fields.Integer(required=True)
    snapshot_id = ma.fields.Integer(required=True)
    period = ma.fields.String(required=True)
    label = ma.fields.String(required=True)
    draft_id = ma.fields.Integer(allow_none=True, required=True)
    accounts = ma.fields.Integer(required=True)
    tiers = ma.fields.List(ma.fields.String(), required=True)
    before = ma.fields.Nested(TierCountsSchema, required=True)
    after = ma.fields.Nested(TierCountsSchema, required=True)
    matrix = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(TierCountsSchema), required=True,
                            metadata={"description": "matrix[now][with the draft]: accounts"})
    moved_up = ma.fields.Integer(required=True)
    moved_down = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)
    changed_accounts = ma.fields.Integer(required=True)
    old_rules = ma.fields.Dict(required=True)
    new_rules = ma.fields.Dict(required=True)
    missing_months = ma.fields.List(ma.fields.String(), required=True)
    changes = ma.fields.List(ma.fields.Dict(), required=True, metadata={"description": "[{field, old, new}]"})
    costs = ma.fields.List(ma.fields.Nested(RulesCostSchema), required=True)


class RulesChangedArgsSchema(ma.Schema):
    q = ma.fields.String(load_default="", validate=ma.validate.Regexp(r"^[0-9]{0,32}$"),
                         metadata={"description": "account number contains"})
    limit = ma.fields.Integer(load_default=200, validate=ma.validate.Range(min=1, max=5000))


class RulesChangedSchema(ma.Schema):
    account = ma.fields.String(required=True)
    old_tier = ma.fields.String(required=True)
    new_tier = ma.fields.String(required=True)
    old_points = ma.fields.Integer(allow_none=True, required=True)
    new_points = ma.fields.Integer(required=True)


class RulesChangedListSchema(ma.Schema):
    matched = ma.fields.Integer(required=True)
    accounts = ma.fields.List(ma.fields.Nested(RulesChangedSchema), required=True)


class RulesDifferenceArgsSchema(ma.Schema):
    lang = ma.fields.String(load_default="en", validate=ma.validate.OneOf(["en", "ru"]))


class RulesDifferenceSchema(ma.Schema):
    account = ma.fields.String(required=True)
    period = ma.fields.String(required=True)
    snapshot_id = ma.fields.Integer(required=True)
    moved = ma.fields.Integer(required=True, metadata={"description": "tier steps: >0 up, <0 down"})
    old = ma.fields.Dict(required=True, metadata={"description": "the explanation under the snapshot's rules"})
    new = ma.fields.Dict(required=True, metadata={"description": "the explanation under the draft"})
    old_label = ma.fields.String(required=True)
    new_label = ma.fields.String(required=True)
    missing_months = ma.fields.List(ma.fields.String(), required=True)


class RulesVersionInSchema(_DraftOrRules):
    effective_from = ma.fields.String(required=True, validate=PERIOD)
    draft_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))
    rules = ma.fields.Dict(metadata={"description": RULES_DOC})


class RulesVersionSchema(ma.Schema):
    effective_from = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    sha256 = ma.fields.String(required=True)
    published_by = ma.fields.String(required=True)
    published_at = ma.fields.DateTime(required=True)


class RulesVersionListSchema(ma.Schema):
    versions = ma.fields.List(ma.fields.Nested(RulesVersionSchema), required=True)
