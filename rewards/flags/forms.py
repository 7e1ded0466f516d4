"""The flag pages' forms: set a staff flag, revoke one, record a register entry of needs."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional

from rewards.flags import core
from rewards.forms import AccountField, Form, options

REASON_CHOICES = options((r, r) for r in core.STAFF_REASONS)  # the page shows each reason in words


class FlagForm(Form):
    """A staff flag for an account (dates are local days; an empty end is open-ended)."""

    account = AccountField(_l("Account"), [DataRequired()])
    reason = SelectField(_l("Reason"), choices=REASON_CHOICES)
    valid_from = DateField(_l("Valid from"), [Optional()])
    valid_to = DateField(_l("Valid to (empty: open-ended)"), [Optional()])
    note = StringField(_l("Note (required for “other”)"), [Optional(), Length(max=500)])


class RevokeForm(Form):
    """Revoke a flag now, saying why."""

    account = AccountField(_l("Account"), [Optional()])
    why = StringField(_l("why"), [DataRequired(), Length(max=500)])


class NeedsForm(Form):
    """A register entry: the customer's consent, the needs (codes of the declared list) with their dates,
    optional contacts. The service checks the needs, dates and consent and names the field it refuses."""

    account = AccountField(_l("Account"), [DataRequired()])
    consent_on = DateField(_l("Consent date"), [Optional()])
    consent_channel = StringField(_l("Channel"), [Optional(), Length(max=32)])
    consent_by = StringField(_l("Taken by (empty: you)"), [Optional(), Length(max=128)])
    share = BooleanField(_l("The customer agrees to share it with partner organisations"))
    need = SelectMultipleField(_l("Needs"), choices=[], validate_choice=False)  # the service knows the list
    ends_on = DateField(_l("End date of the temporary needs"), [Optional()])
    verify_by = DateField(_l("Re-verify by (empty: the default period)"), [Optional()])
    nominee_name = StringField(_l("Nominee's name"), [Optional(), Length(max=200)])
    nominee_phone = StringField(_l("Nominee's phone"), [Optional(), Length(max=32)])
    password = PasswordField(_l("Call-centre password (empty: keep)"), [Optional(), Length(max=64)])
    note = StringField(_l("Note"), [Optional(), Length(max=500)])
