"""The login and password forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from rewards.forms import Form


class LoginForm(Form):
    """User name and password (the user name is kept on a refusal, the password never)."""

    username = StringField(_l("User name"), [DataRequired()], render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), [DataRequired()], render_kw={"autocomplete": "current-password"})


class PasswordForm(Form):
    """Change one's own password."""

    current = PasswordField(_l("Current password"), [DataRequired()], render_kw={"autocomplete": "current-password"})
    new = PasswordField(_l("New password"), [DataRequired()], render_kw={"autocomplete": "new-password"})
