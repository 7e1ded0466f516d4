"""The administration pages' forms: a new staff user, a new API client."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from rewards.auth.models import ROLES
from rewards.forms import Form


class UserForm(Form):
    """A new staff user with a role."""

    username = StringField(_l("User name"), [DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), [DataRequired()], render_kw={"autocomplete": "new-password"})
    role = SelectField(_l("Role"), choices=[(r, r) for r in ROLES])


class ClientForm(Form):
    """A new API client and its scopes (the key is shown once on the answer page)."""

    name = StringField(_l("Name"), [DataRequired(), Length(max=64)])
    scopes = SelectMultipleField(_l("Scopes"), choices=[], validate_choice=False)

    def validate_scopes(self, field: Any) -> None:
        if not field.data:
            raise ValidationError(str(_l("Choose at least one scope.")))
