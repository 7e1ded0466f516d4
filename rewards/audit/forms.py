"""The audit log page's form: a signed checkpoint to verify the chain against (optional)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField

from rewards.forms import Form


class VerifyForm(Form):
    """Walk the chain; with a checkpoint file, also check the chain still holds what it signed."""

    checkpoint = FileField(_l("checkpoint (optional)"))
