"""The snapshot pages' forms: load a snapshot file, compute one from behaviour files, export one as a job,
run a what-if of a rules draft, publish a draft as a version."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Regexp, ValidationError

from rewards.forms import FlashForm, Form, WholeNumberField

PERIOD = Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", message=_l("Write the month as YYYY-MM."))


class UploadForm(Form):
    """A snapshot file for a period (``replace``: supersede the period's snapshot)."""

    period = StringField(_l("Period"), [DataRequired(), PERIOD], render_kw={"placeholder": "YYYY-MM"})
    file = FileField(_l("File"), [FileRequired(_l("Choose a file to upload."))])
    replace = BooleanField(_l("replace the period's snapshot (the old one is kept)"))
    future = BooleanField(_l("future month (after the current one: loaded, but not the latest until its month comes)"))


class ComputeForm(Form):
    """Behaviour files (and an optional rules file) for a period."""

    period = StringField(_l("Period"), [DataRequired(), PERIOD], render_kw={"placeholder": "YYYY-MM"})
    files = MultipleFileField(_l("Behaviour files"))
    rules = FileField(_l("Rules file (optional)"))
    replace = BooleanField(_l("replace the period's snapshot (the old one is kept)"))
    future = BooleanField(_l("future month (after the current one: loaded, but not the latest until its month comes)"))

    def validate_files(self, field: Any) -> None:
        if not [f for f in field.data or [] if f and getattr(f, "filename", "")]:
            raise ValidationError(str(_l("Choose the behaviour files.")))


class ExportForm(FlashForm):
    """The character set of an export written by a job (cp1251 for old Excel)."""

    encoding = SelectField(_l("Encoding"), choices=[("utf-8", "UTF-8"), ("cp1251", "Windows-1251")], default="utf-8")


def _record_id(label: Any) -> WholeNumberField:
    return WholeNumberField(label, [InputRequired(), NumberRange(min=1, max=2**31 - 1)])


class WhatIfForm(FlashForm):
    """A draft of the rules to try over a computed snapshot."""

    draft_id = _record_id(_l("Draft"))
    snapshot_id = _record_id(_l("Snapshot"))


class PublishForm(FlashForm):
    """A draft published as the rules of a month and the later ones (the service checks the month)."""

    draft_id = _record_id(_l("Draft"))
    effective_from = StringField(_l("From the month"), [DataRequired()])
