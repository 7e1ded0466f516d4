"""The flag pages' forms: set a staff flag, revoke one."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from rewards.flags import core
from rewards.forms import AccountField, Form

REASON_CHOICES = [(r, r) for r in core.STAFF_REASONS]  # the page shows each reason in words


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
