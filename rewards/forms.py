"""Page forms: the base form, the fields every feature's forms share, and refusals put beside their field.

Every staff page that takes a POST declares a ``Form`` in the ``forms.py`` beside its ``views.py``;
the view validates it (every field at once), hands the typed values to a service, and on a refusal
re-renders the page with the values kept and each error beside its field (``refuse``).

Money is typed in rubles (``RublesField``: ``4000``, ``4 000``, ``4 000,50``, ``4000.50``) and given
to the services as integer kopecks; account numbers are typed with any spaces and dashes
(``AccountField``, through ``rewards.accounts.normalize_account``); times are typed as the retailer's
local time (``LocalDateTimeField`` gives an aware ``datetime`` in the ``TIMEZONE`` setting).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, StringField
from wtforms.fields import DateTimeLocalField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from rewards.accounts import normalize_account
from rewards.csvread import ACCOUNT_MAX_DIGITS

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_AMOUNT = re.compile(r"(?P<rubles>\d+)(?:[.,](?P<kopecks>\d*))?")
_ACCOUNT = re.compile(f"[0-9]{{1,{ACCOUNT_MAX_DIGITS}}}")


def options(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    """A select field's choices from (value, label) pairs (WTForms 3.3 deprecates plain tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


class Form(FlaskForm):  # type: ignore[misc]
    """A page form. The CSRF token is checked by ``rewards.access`` for every page POST before the view
    runs (the templates carry ``csrf_token()``), so the form does not check it a second time."""

    class Meta:
        csrf = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.other_errors: dict[str, list[str]] = {}  # a service's field that this form shows in a group

    def validate(self, extra_validators: Any = None) -> bool:
        """Every field checked (all errors at once); a value that could not even be read ("x" for a
        number) says only that, not also what its validators think of the empty value left."""
        valid = bool(super().validate(extra_validators))
        for field in self._fields.values():
            if field.process_errors and field.errors:  # (an Optional() field left empty has none left)
                field.errors = list(field.process_errors)
        return valid

    def errors_of(self, name: str) -> list[str]:
        """Errors to show at ``name``: a field's, or a group's (e.g. the tier weights)."""
        field = self._fields.get(name)
        return [*(field.errors if field is not None else ()), *self.other_errors.get(name, ())]

    @property
    def all_errors(self) -> list[tuple[str, str]]:
        """Every error as ``(field name, message)``: the summary above the form."""
        found = [(name, str(e)) for name, field in self._fields.items() for e in field.errors]
        found += [(name, str(e)) for name, errors in self.other_errors.items() for e in errors]
        return found + [("", str(e)) for e in self.form_errors]


class FileForm(Form):
    """One uploaded file (exclusions, a cosignature, a billing confirmation, a flag file)."""

    file = FileField(_l("File"), [FileRequired(_l("Choose a file."))])

    def flash_errors(self) -> None:
        """For a form on a page that redirects back: its errors as messages."""
        flash_errors(self)


def flash_errors(form: Form) -> None:
    """Every error of ``form`` flashed, each after its field's label (forms on pages that redirect back)."""
    for name, message in form.all_errors:
        label = str(form[name].label.text) if name in form else ""
        flash(f"{label}: {message}" if label else message, "error")


def refusal_text(exc: Any) -> str:
    """A refusal's message in the page's language, its details by line after it."""
    from rewards.i18n import page_details

    message = str(exc.message)
    errors = exc.errors if isinstance(exc.errors, dict) else {}
    if errors:
        details = page_details(exc, {_detail_key(k): v for k, v in errors.items()})
        if details:
            message = f"{message} ({details})"
    return message


def refuse(form: Form, exc: Any, aliases: dict[str, str] | None = None) -> None:
    """Put a service's refusal (a ``DomainError``) beside the field it names (``exc.field``, through
    ``aliases`` when the form calls it otherwise); a refusal of no field goes above the form. Details by
    line (a pasted list) follow the message."""
    message = refusal_text(exc)
    name = (aliases or {}).get(exc.field or "", exc.field or "")
    if name and name in form._fields:
        field = form._fields[name]
        field.errors = [*field.errors, message]
    elif name:
        form.other_errors.setdefault(name, []).append(message)
    else:
        form.form_errors.append(message)


def _detail_key(key: object) -> str:
    text = str(key)
    if text.startswith("line ") and text[5:].isdigit():
        return str(_l("line %(number)s", number=text[5:]))
    return str(_l("file")) if text == "file" else text


# ------------------------------------------------------------------------------------------ money
class AmountError(ValueError):
    """An amount of rubles that cannot be read; ``str()`` is the message for the page."""


def parse_rubles(text: str, *, maximum_kopecks: int | None = None, allow_zero: bool = True) -> int:
    """Rubles as people type them, in integer kopecks: ``4000``, ``4 000``, ``4 000,50``, ``4000.50``
    (any spaces, non-breaking ones included; a comma or a point before the kopecks; an optional ``₽``).
    Refuses more than two digits of kopecks, a negative amount, and more than ``maximum_kopecks``."""
    cleaned = _SPACES.sub("", text or "").removesuffix("₽").removesuffix("руб.").removesuffix("руб")
    if not cleaned:
        raise AmountError(_l("Enter an amount in rubles."))
    if cleaned.startswith("-"):
        raise AmountError(_l("The amount cannot be negative."))
    match = _AMOUNT.fullmatch(cleaned.removeprefix("+"))
    if match is None:
        raise AmountError(_l("Enter an amount in rubles, e.g. 4 000 or 4 000,50."))
    kopecks_text = match.group("kopecks") or ""
    if len(kopecks_text) > 2:
        raise AmountError(_l("At most two digits after the comma: kopecks."))
    kopecks = int(match.group("rubles")) * 100 + int(kopecks_text.ljust(2, "0") or "0")
    if maximum_kopecks is not None and kopecks > maximum_kopecks:
        raise AmountError(_l("At most %(maximum)s.", maximum=format_rubles(maximum_kopecks)))
    if not allow_zero and kopecks == 0:
        raise AmountError(_l("The amount must be more than zero."))
    return kopecks


def format_rubles(kopecks: int, *, sign: bool = True) -> str:
    """Kopecks as the page's language writes rubles: ``4 000,00 ₽`` in Russian (Babel's grouping)."""
    value = format_decimal(Decimal(int(kopecks)) / 100, format="#,##0.00")
    return f"{value}\u00a0₽" if sign else str(value)


class RublesField(StringField):  # type: ignore[misc]
    """An amount typed in rubles; ``data`` is integer kopecks (None when left empty and optional)."""

    def __init__(self, label: Any = None, validators: Sequence[Any] | None = None, *,
                 maximum_kopecks: int | None = None, allow_zero: bool = False, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.maximum_kopecks = maximum_kopecks
        self.allow_zero = allow_zero

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = None
        if not valuelist or not valuelist[0].strip():
            return
        try:
            self.data = parse_rubles(valuelist[0], maximum_kopecks=self.maximum_kopecks, allow_zero=self.allow_zero)
        except AmountError as exc:
            raise ValueError(str(exc.args[0])) from exc

    def process_data(self, value: Any) -> None:
        self.data = value

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return format_rubles(self.data, sign=False) if isinstance(self.data, int) else ""


# --------------------------------------------------------------------------------------- accounts
def check_account_text(text: str) -> str:
    """The digits of an account number typed with spaces or dashes; ValueError when no account."""
    account = normalize_account(text)
    if not _ACCOUNT.fullmatch(account):
        raise ValueError(str(_l("An account number is 1 to %(n)s digits (spaces and dashes are ignored).",
                                n=ACCOUNT_MAX_DIGITS)))
    return account


class AccountField(StringField):  # type: ignore[misc]
    """An account number: spaces and dashes dropped, leading zeros kept; ``data`` is the digits."""

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = valuelist[0] if valuelist else ""
        self.data = normalize_account(raw)

    def pre_validate(self, form: Any) -> None:
        if self.data:
            try:
                check_account_text(self.data)
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc

    def _value(self) -> str:
        return str(self.raw_data[0]) if self.raw_data else (self.data or "")


# ------------------------------------------------------------------------------------ row actions
class WholeNumberField(IntegerField):  # type: ignore[misc]
    """A whole number typed in ASCII digits, no sign, at most 10 digits (``int()`` alone would take
    Arabic-Indic digits and a number of 400 digits); ``data`` is None when left empty."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = None
        text = valuelist[0].strip() if valuelist else ""
        if not text:
            return
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            raise ValueError(str(_l("Enter a whole number.")))
        self.data = int(text)

    @property
    def number(self) -> int:
        """The number typed (0 when empty: a required field is never empty once the form is valid)."""
        return int(self.data or 0)


class FlashForm(Form):
    """A form whose page has no place for its errors (a button on a list's row: disable, rotate,
    revoke; a form on a page that redirects back): ``posted_action`` flashes them, each after its
    field's label."""


class _OpForm(Form):
    op = StringField()


@dataclass(frozen=True)
class Action:
    """The action a page's button posted (its ``op``) and its form, checked (``valid``)."""

    op: str
    form: Form
    valid: bool


def posted_action(forms: Mapping[str, type[Form]]) -> Action | None:
    """The action posted by one of a page's buttons (they share one ``op`` field) with its form, every
    field checked. None for an unknown ``op`` or a ``FlashForm`` whose fields fail: both are flashed (the
    caller answers the page with status 422). A page form that fails comes back with ``valid`` false,
    for the page to show its errors beside its fields."""
    op = str(_OpForm().op.data or "")
    form_class = forms.get(op)
    if form_class is None:
        flash(str(_l("Unknown operation.")), "error")
        return None
    form = form_class()
    valid = form.validate()
    if not valid and isinstance(form, FlashForm):
        flash_errors(form)
        return None
    return Action(op, form, valid)


# ------------------------------------------------------------------------------------------ times
def timezone() -> ZoneInfo:
    """The retailer's time zone (the ``TIMEZONE`` setting)."""
    return ZoneInfo(current_app.config["TIMEZONE"])


class LocalDateTimeField(DateTimeLocalField):  # type: ignore[misc]
    """A date and time typed as the retailer's local time (``<input type=datetime-local>``, minutes or
    seconds); ``data`` is an aware ``datetime`` in that zone."""

    def __init__(self, label: Any = None, validators: Sequence[Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"])
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip()
        for fmt in self.strptime_format:
            try:
                self.data = datetime.strptime(text, fmt).replace(tzinfo=timezone())
                return
            except ValueError:
                continue
        self.data = None
        raise ValueError(str(_l("Enter a date and time.")))

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, datetime):
            return self.data.astimezone(timezone()).strftime("%Y-%m-%dT%H:%M:%S")
        return ""


__all__ = [
    "AccountField",
    "Action",
    "AmountError",
    "FileForm",
    "Form",
    "LocalDateTimeField",
    "FlashForm",
    "RublesField",
    "WholeNumberField",
    "check_account_text",
    "flash_errors",
    "format_rubles",
    "parse_rubles",
    "posted_action",
    "refusal_text",
    "refuse",
]
