"""The administration pages' forms: a new staff user, a new API client, and the actions on a row of
the users' and clients' lists (change a role, disable, rotate a key, revoke)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from rewards.apikeys.services import MAX_GRACE_DAYS
from rewards.auth.models import ROLES
from rewards.forms import FlashForm, Form, WholeNumberField, options


class UserForm(Form):
    """A new staff user with a role."""

    username = StringField(_l("User name"), [DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), [DataRequired()], render_kw={"autocomplete": "new-password"})
    role = SelectField(_l("Role"), choices=options((r, r) for r in ROLES))


class ClientForm(Form):
    """A new API client and its scopes (the key is shown once on the answer page)."""

    name = StringField(_l("Name"), [DataRequired(), Length(max=64)])
    scopes = SelectMultipleField(_l("Scopes"), choices=[], validate_choice=False)

    def validate_scopes(self, field: Any) -> None:
        if not field.data:
            raise ValidationError(str(_l("Choose at least one scope.")))


class UserRowForm(FlashForm):
    """A user of the list (disable, enable)."""

    username = StringField(_l("User name"), [DataRequired(), Length(max=64)])


class RoleForm(UserRowForm):
    """A user's new role (the service refuses a role it does not know, by name)."""

    role = StringField(_l("Role"), [DataRequired(), Length(max=32)])


class ClientRowForm(FlashForm):
    """An API client of the list (revoke)."""

    name = StringField(_l("Name"), [DataRequired(), Length(max=64)])


class RotateForm(ClientRowForm):
    """A new key for a client; the old one stays valid for the days given."""

    grace_days = WholeNumberField(_l("old key valid for, days"),
                                  [Optional(), NumberRange(min=0, max=MAX_GRACE_DAYS)], default=7)


class RevokeKeyForm(FlashForm):
    """One key of a client."""

    key_id = WholeNumberField(_l("Key"), [InputRequired(), NumberRange(min=1, max=2**31 - 1)])
