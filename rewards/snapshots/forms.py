"""The snapshot pages' forms: load a snapshot file, compute one from behaviour files, export one as a job,
edit a rules draft (by field, as JSON, or a file), run a what-if of a draft, publish a draft as a version."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Regexp, ValidationError

from rewards.forms import FlashForm, Form, WholeNumberField, options
from rewards.rating.rules import CHANNELS, CRITERIA, PLANS
from rewards.tiers import TIERS

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

    encoding = SelectField(_l("Encoding"), default="utf-8",
                           choices=options([("utf-8", "UTF-8"), ("cp1251", "Windows-1251")]))


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


def _choices(values: Any) -> SelectMultipleField:
    # The rules' own check names a value that is not allowed: the form keeps what was ticked.
    return SelectMultipleField(choices=options((v, v) for v in values), validate_choice=False)


class RulesDraftForm(Form):
    """A rules draft: its name, and the rules by field (``mode=form``), as JSON (``mode=json``) or as an
    uploaded file. Numbers stay text here: the rules' own check refuses a bad one naming its place in
    the rules (``rules.points.paperless``), as it does for JSON and files."""

    name = StringField(_l("Draft name"))  # the service checks it
    mode = StringField(default="form")
    json = TextAreaField()
    file = FileField(_l("or a rules file"))
    version = StringField(_l("Version"))
    title = StringField(_l("Title"))
    window_months = StringField(_l("Window, months"))
    reading_day = StringField(_l("Readings by the day"))
    payment_day = StringField(_l("Payment by the day of the next month"))
    reading_channels = _choices(CHANNELS)
    payment_channels = _choices(CHANNELS)
    plans = _choices(PLANS)
    kept_plan_credits = _choices(CRITERIA)

    def points(self, criterion: str) -> str:
        """The points typed for ``criterion``."""
        return str(self[f"points_{criterion}"].data or "")

    def min_points(self, tier: str) -> str:
        """The minimum typed for ``tier``."""
        return str(self[f"min_points_{tier}"].data or "")

    def every_month(self, tier: str) -> list[str]:
        """The criteria ``tier`` needs every month."""
        return list(self[f"every_month_{tier}"].data or [])


# One field per criterion and per tier, named as the page names its inputs ("points.paperless").
for _criterion in CRITERIA:
    setattr(RulesDraftForm, f"points_{_criterion}", StringField(name=f"points.{_criterion}"))
for _tier in TIERS[1:]:
    setattr(RulesDraftForm, f"min_points_{_tier}", StringField(name=f"tiers.{_tier}.min_points"))
    setattr(RulesDraftForm, f"every_month_{_tier}", SelectMultipleField(
        name=f"tiers.{_tier}.every_month", choices=options((c, c) for c in CRITERIA), validate_choice=False))
