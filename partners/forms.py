"""The partner pages' forms: a partner, an offer (a fixed discount typed in rubles), a bulk issue, the
actions on a partner (link a client, suspend, resume) and on its webhooks (add, rotate, disable, replay)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from partners.models import FIXED
from rewards.forms import FlashForm, Form, RublesField, WholeNumberField, options
from rewards.tiers import TIERS

MAX_FIXED_KOPECKS = 100_000_000  # a million rubles: a typing slip, not a discount


class PartnerForm(Form):
    """A new partner."""

    name = StringField(_l("Name"), [DataRequired(), Length(max=128)])
    prefix = StringField(_l("Code prefix"), [DataRequired(), Regexp(
        r"^[A-HJKMNP-TV-Za-hjkmnp-tv-z][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{1,5}$",
        message=_l("2 to 6 letters and digits, no I, L, O, U, starting with a letter"))])


class MultiCheckboxField(SelectMultipleField):  # type: ignore[misc]
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class OfferForm(Form):
    """A new offer: dates are local days, the last one inclusive; a fixed discount in rubles."""

    title = StringField(_l("Title"), [DataRequired(), Length(max=200)])
    kind = SelectField(_l("Discount"), choices=options([("percent", _l("percent")), (FIXED, _l("fixed, rubles"))]),
                       default="percent")
    percent = StringField(_l("Discount, percent"), render_kw={"inputmode": "numeric"})
    amount = RublesField(_l("Discount, rubles"), maximum_kopecks=MAX_FIXED_KOPECKS)
    tiers = MultiCheckboxField(_l("Qualifying tiers"), choices=options((t, t) for t in TIERS),
                               default=["responsible", "ideal"])
    first = DateField(_l("First day (local)"), [InputRequired()])
    last = DateField(_l("Last day (local, inclusive)"), [InputRequired()])
    budget = IntegerField(_l("Budget: maximum number of codes (optional)"), [Optional(), NumberRange(min=1)])

    @property
    def value(self) -> int:
        """The discount for the service: a percent, or integer kopecks."""
        if self.kind.data == FIXED:
            return int(self.amount.data or 0)
        return int((self.percent.data or "0").strip())

    def validate_percent(self, field: Any) -> None:
        text = (field.data or "").strip()
        if self.kind.data != FIXED and not (text.isascii() and text.isdigit() and 1 <= int(text) <= 100):
            raise ValidationError(str(_l("A percent discount is a whole number from 1 to 100.")))

    def validate_amount(self, field: Any) -> None:
        if self.kind.data == FIXED and field.data is None and not field.errors:
            raise ValidationError(str(_l("Enter the discount in rubles.")))

    def validate_tiers(self, field: Any) -> None:
        if not field.data:
            raise ValidationError(str(_l("Choose at least one qualifying tier.")))

    def validate_last(self, field: Any) -> None:
        if self.first.data and field.data and field.data < self.first.data:
            raise ValidationError(str(_l("The last day comes after the first.")))


class IssueForm(FlashForm):
    """A bulk issue from a snapshot (empty: the latest)."""

    period = StringField(_l("Snapshot"), [Optional()])


class LinkClientForm(FlashForm):
    """An API client to act for the partner (the service refuses an unknown or taken one, by name)."""

    client = StringField(_l("API client"), [DataRequired(), Length(max=64)])
    sandbox = BooleanField(_l("sandbox key: test codes only"))


class ButtonForm(FlashForm):
    """A button with no field of its own (suspend, resume, withdraw)."""


class EndpointForm(FlashForm):
    """A new webhook endpoint; the service checks the address, the events and the scheme."""

    url = StringField(_l("Address"), [DataRequired(), Length(max=500)])
    description = StringField(_l("Description"), [Length(max=200)])
    events = SelectMultipleField(_l("Events"), choices=[], validate_choice=False)
    scheme = StringField(_l("Signature"), default="hmac")


class EndpointRowForm(FlashForm):
    """One endpoint of the list (rotate its secret, disable it)."""

    endpoint = WholeNumberField(_l("Endpoint"), [InputRequired(), NumberRange(min=1, max=2**31 - 1)])


class ReplayForm(FlashForm):
    """One delivery of the log, sent again."""

    delivery = WholeNumberField(_l("Delivery"), [InputRequired(), NumberRange(min=1, max=2**31 - 1)])
