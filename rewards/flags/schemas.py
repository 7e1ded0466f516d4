"""Marshmallow schemas of the flags API: separate input and output schemas."""

from __future__ import annotations

import marshmallow as ma

from rewards.flags.core import STAFF_REASONS


class ActiveReasonSchema(ma.Schema):
    flag_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True, metadata={"description": "a staff reason, or tier:<tier>"})
    source = ma.fields.String(required=True, metadata={"description": "staff or tier"})
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(required=True, allow_none=True,
                              metadata={"description": "last valid day; null: open-ended"})


class PrioritySchema(ma.Schema):
    account = ma.fields.String(required=True)
    priority = ma.fields.Boolean(required=True, metadata={"description": "whether the account has priority now"})
    as_of = ma.fields.Date(required=True, metadata={"description": "today, in the retailer's time zone"})
    reasons = ma.fields.List(ma.fields.Nested(ActiveReasonSchema), required=True)
    tier = ma.fields.String(required=True, allow_none=True, metadata={"description": "tier in the latest snapshot"})
    tier_period = ma.fields.String(required=True, allow_none=True,
                                   metadata={"description": "the latest snapshot's period"})


class SetFlagSchema(ma.Schema):
    reason = ma.fields.String(required=True, metadata={"description": " | ".join(STAFF_REASONS)})
    valid_from = ma.fields.Date(load_default=None, metadata={"description": "default: today"})
    valid_to = ma.fields.Date(load_default=None, metadata={"description": "last valid day; omit for open-ended"})
    note = ma.fields.String(load_default=None, metadata={"description": "required for reason 'other'"})


class RevokeSchema(ma.Schema):
    reason = ma.fields.String(required=True, metadata={"description": "why the flag is revoked"})


class ChangeSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "created | replaced | unchanged | revoked"})
    account = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    flag_id = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "the new or current flag"})
    closed_id = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "the flag this closed"})


class HistoryRowSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    source = ma.fields.String(required=True)
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(required=True, allow_none=True)
    note = ma.fields.String(required=True, allow_none=True)
    period = ma.fields.String(required=True, allow_none=True)
    replaces_id = ma.fields.Integer(required=True, allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    created_by = ma.fields.String(required=True)
    state = ma.fields.String(required=True, metadata={"description": "active | future | ended | closed"})
    closed_kind = ma.fields.String(required=True, allow_none=True,
                                   metadata={"description": "revoked | replaced | recomputed"})
    closed_reason = ma.fields.String(required=True, allow_none=True)
    closed_at = ma.fields.DateTime(required=True, allow_none=True)
    closed_by = ma.fields.String(required=True, allow_none=True)


class FlagHistorySchema(ma.Schema):
    account = ma.fields.String(required=True)
    flags = ma.fields.List(ma.fields.Nested(HistoryRowSchema), required=True)


class BulkResultSchema(ma.Schema):
    lines = ma.fields.Integer(required=True)
    created = ma.fields.Integer(required=True)
    replaced = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)
    revoked = ma.fields.Integer(required=True)
    encoding = ma.fields.String(required=True)
