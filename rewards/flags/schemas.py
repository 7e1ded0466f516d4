"""Marshmallow schemas of the flags API: separate input and output schemas."""

from __future__ import annotations

import marshmallow as ma

from rewards.flags.core import NOTE_MAX, REVOKE_REASON_MAX, STAFF_REASONS
from rewards.flags.needs import (
    CHANNELS,
    CONSENT_BY_MAX,
    NOMINEE_NAME_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    PHONE_RE,
    current_list,
)

# At least one character that is not white space (the services strip, then refuse an empty text).
NOT_BLANK = r"^\s*\S"


class ActiveReasonSchema(ma.Schema):
    flag_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True, metadata={"description": "a staff reason, or tier:<tier>"})
    source = ma.fields.String(required=True, metadata={"description": "staff or tier"})
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(required=True, allow_none=True,
                              metadata={"description": "last valid day; null: open-ended"})


class TextsSchema(ma.Schema):
    en = ma.fields.String(required=True)
    ru = ma.fields.String(required=True)


class NeedAnswerSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "a code of the declared need list"})
    label = ma.fields.Nested(TextsSchema, required=True)
    action = ma.fields.Nested(TextsSchema, required=True, metadata={"description": "what the call centre should do"})
    temporary = ma.fields.Boolean(required=True)
    ends_on = ma.fields.Date(required=True, allow_none=True, metadata={"description": "last day of a temporary need"})
    verify_by = ma.fields.Date(required=True, allow_none=True, metadata={"description": "re-verification date"})
    lapsed = ma.fields.Boolean(required=True,
                               metadata={"description": "past its end date, within the grace period before it ends"})


class PrioritySchema(ma.Schema):
    account = ma.fields.String(required=True)
    priority = ma.fields.Boolean(required=True, metadata={"description": "whether the account has priority now"})
    as_of = ma.fields.Date(required=True, metadata={"description": "today, in the retailer's time zone"})
    reasons = ma.fields.List(ma.fields.Nested(ActiveReasonSchema), required=True)
    tier = ma.fields.String(required=True, allow_none=True, metadata={"description": "tier in the latest snapshot"})
    tier_period = ma.fields.String(required=True, allow_none=True,
                                   metadata={"description": "the latest snapshot's period"})
    tier_reason = ma.fields.String(required=True, allow_none=True,
                                   metadata={"description": "tier:<tier> when the tier gives priority now"})
    needs = ma.fields.List(ma.fields.Nested(NeedAnswerSchema), required=True,
                           metadata={"description": "the needs of the account's register entry"})
    nominee = ma.fields.Boolean(required=True, metadata={"description": "whether a nominee may be spoken to"})
    password_set = ma.fields.Boolean(required=True,
                                     metadata={"description": "whether the caller must give a call-centre password"})


class NeedInSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.OneOf(list(current_list().needs)),
                            metadata={"description": "a code of the declared list (GET /api/v1/flags/needs)"})
    ends_on = ma.fields.Date(load_default=None, metadata={"description": "required for a temporary need"})
    verify_by = ma.fields.Date(load_default=None, metadata={"description": "default: today + PRIORITY_REVERIFY_YEARS"})


class SetNeedsSchema(ma.Schema):
    needs = ma.fields.List(ma.fields.Nested(NeedInSchema), required=True, validate=ma.validate.Length(min=1, max=20))
    consent_on = ma.fields.Date(required=True, metadata={"description": "the day the customer consented"})
    consent_channel = ma.fields.String(required=True, validate=ma.validate.OneOf(CHANNELS))
    consent_by = ma.fields.String(load_default=None, validate=ma.validate.Length(max=CONSENT_BY_MAX),
                                  metadata={"description": "staff member who took the consent; default: the caller"})
    share = ma.fields.Boolean(load_default=False,
                              metadata={"description": "the customer agreed to share the entry with partners"})
    nominee_name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=NOMINEE_NAME_MAX))
    nominee_phone = ma.fields.String(load_default=None, validate=ma.validate.Regexp(PHONE_RE.pattern),
                                     metadata={"description": "digits, spaces, ( ) -, an optional leading +"})
    password = ma.fields.String(load_default=None, load_only=True,
                                validate=ma.validate.Length(min=PASSWORD_MIN, max=PASSWORD_MAX),
                                metadata={"description": "call-centre password; stored hashed, never returned"})
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=NOTE_MAX))


class PasswordCheckSchema(ma.Schema):
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=PASSWORD_MAX))


class PasswordAnswerSchema(ma.Schema):
    match = ma.fields.Boolean(required=True)


class NeedDeclSchema(ma.Schema):
    code = ma.fields.String(required=True)
    temporary = ma.fields.Boolean(required=True)
    reverify = ma.fields.Boolean(required=True)
    label = ma.fields.Nested(TextsSchema, required=True)
    action = ma.fields.Nested(TextsSchema, required=True)


class NeedListSchema(ma.Schema):
    version = ma.fields.Integer(required=True)
    needs = ma.fields.List(ma.fields.Nested(NeedDeclSchema), required=True)


class SetFlagSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(STAFF_REASONS))
    valid_from = ma.fields.Date(load_default=None, metadata={"description": "default: today"})
    valid_to = ma.fields.Date(load_default=None, metadata={"description": "last valid day; omit for open-ended"})
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=NOTE_MAX),
                            metadata={"description": "required for reason 'other'"})


class RevokeSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=[ma.validate.Length(max=REVOKE_REASON_MAX), ma.validate.Regexp(
        NOT_BLANK, error="give a reason for the revocation")], metadata={"description": "why the flag is revoked"})


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
