"""rewards/forms.py: rubles typed by people, account numbers with spaces and dashes, local times,
refusals put beside their field; the money and time filters of the pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from rewards.accounts import normalize_account
from rewards.errors import N_, DomainError
from rewards.forms import (
    AccountField,
    AmountError,
    Form,
    LocalDateTimeField,
    RublesField,
    check_account_text,
    format_rubles,
    parse_rubles,
    refuse,
)

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("text", "kopecks"),
    [
        ("4000", 400_000),
        ("4 000", 400_000),
        (f"4{NBSP}000", 400_000),
        ("4\u202f000", 400_000),
        ("4 000,50", 400_050),
        ("4000.50", 400_050),
        ("4000,5", 400_050),
        ("  12,07 ", 1_207),
        ("0,01", 1),
        ("4 000 ₽", 400_000),
        ("1 500,00 руб.", 150_000),
        ("007", 700),
    ],
)
def test_rubles_as_people_type_them(app: Flask, text: str, kopecks: int) -> None:
    with app.test_request_context("/?lang=en"):
        assert parse_rubles(text) == kopecks


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("4000,505", "two digits"),
        ("4000.999", "two digits"),
        ("-5", "negative"),
        ("- 5", "negative"),
        ("", "Enter an amount"),
        ("four", "e.g. 4 000"),
        ("4,000.50", "e.g. 4 000"),
        ("1e3", "e.g. 4 000"),
        ("4000,", None),  # a trailing comma is read as whole rubles
    ],
)
def test_bad_amounts_are_refused_with_a_reason(app: Flask, text: str, says: str | None) -> None:
    with app.test_request_context("/?lang=en"):
        if says is None:
            assert parse_rubles(text) == 400_000
            return
        with pytest.raises(AmountError) as info:
            parse_rubles(text)
        assert says in str(info.value.args[0])


def test_maximum_and_zero(app: Flask) -> None:
    with app.test_request_context("/?lang=en"):
        assert parse_rubles("4 000", maximum_kopecks=400_000) == 400_000
        with pytest.raises(AmountError) as info:
            parse_rubles("4 000,01", maximum_kopecks=400_000)
        assert str(info.value.args[0]) == "At most 4,000.00\u00a0₽."
        assert parse_rubles("0") == 0
        with pytest.raises(AmountError) as zero:
            parse_rubles("0,00", allow_zero=False)
        assert str(zero.value.args[0]) == "The amount must be more than zero."
    with app.test_request_context("/?lang=ru"):
        with pytest.raises(AmountError) as info:
            parse_rubles("4 000,01", maximum_kopecks=400_000)
        assert str(info.value.args[0]) == f"Не больше 4{NBSP}000,00{NBSP}₽."


def test_rubles_are_shown_by_babel_in_the_page_language(app: Flask) -> None:
    with app.test_request_context("/?lang=ru"):
        assert format_rubles(400_000) == f"4{NBSP}000,00{NBSP}₽"
        assert format_rubles(5) == f"0,05{NBSP}₽"
        assert format_rubles(123_456_789, sign=False) == f"1{NBSP}234{NBSP}567,89"
        rendered = app.jinja_env.from_string("{{ 400000|rubles }}|{{ none|rubles }}").render()
        assert rendered == f"4{NBSP}000,00{NBSP}₽|"
    with app.test_request_context("/?lang=en"):
        assert format_rubles(400_050) == f"4,000.50{NBSP}₽"


class MoneyForm(Form):
    prize = RublesField("Prize", maximum_kopecks=400_000)
    account = AccountField("Account")
    at = LocalDateTimeField("At")


def _form(app: Flask, **data: str) -> MoneyForm:
    return MoneyForm(formdata=MultiDict(data))


def test_the_fields_give_the_services_kopecks_digits_and_aware_times(app: Flask) -> None:
    with app.test_request_context("/?lang=en", method="POST"):
        form = _form(app, prize="3 999,99", account=" 12 3456-7890 ", at="2026-12-07T14:05")
        assert form.validate(), form.errors
        assert form.prize.data == 399_999 and isinstance(form.prize.data, int)
        assert form.account.data == "1234567890"
        assert form.at.data == datetime(2026, 12, 7, 9, 5, tzinfo=UTC)  # Asia/Yekaterinburg is UTC+5
        assert form.at.data.utcoffset().total_seconds() == 5 * 3600  # type: ignore[union-attr]


def test_every_bad_field_is_reported_at_once_and_what_was_typed_is_kept(app: Flask) -> None:
    with app.test_request_context("/?lang=en", method="POST"):
        form = _form(app, prize="4 000,001", account="12-ab", at="7 December")
        assert not form.validate()
        assert set(form.errors) == {"prize", "account", "at"}
        assert "two digits" in form.errors["prize"][0]
        assert "1 to 20 digits" in form.errors["account"][0]
        assert form.errors["at"] == ["Enter a date and time."]
        assert form.prize._value() == "4 000,001" and form.account._value() == "12-ab"
        assert 'value="7 December"' in form.at()


def test_stored_values_are_shown_in_rubles_and_local_time(app: Flask) -> None:
    with app.test_request_context("/?lang=ru"):
        form = MoneyForm(formdata=None, data={"prize": 150_050, "at": datetime(2026, 12, 7, 9, 5, tzinfo=UTC)})
        assert form.prize._value() == f"1{NBSP}500,50"
        assert form.at._value() == "2026-12-07T14:05:00"


@pytest.mark.parametrize(
    ("typed", "digits"),
    [("0012 3456", "00123456"), ("12-34-56", "123456"), (f"1{NBSP}2\u20133", "123"), ("  ", ""), (None, "")],
)
def test_account_numbers_lose_spaces_and_dashes_and_keep_leading_zeros(typed: str | None, digits: str) -> None:
    assert normalize_account(typed) == digits


def test_account_check(app: Flask) -> None:
    with app.test_request_context("/?lang=en"):
        assert check_account_text("00-12 34") == "001234"
        for bad in ("", "12a4", "1" * 21, "+7 123"):
            with pytest.raises(ValueError, match="digits"):
                check_account_text(bad)


def test_a_refusal_lands_beside_its_field_or_above_the_form(app: Flask) -> None:
    with app.test_request_context("/?lang=en", method="POST"):
        form = _form(app, prize="1", account="1", at="2026-12-07T14:05")
        assert form.validate()
        refuse(form, DomainError(N_("no such prize %(n)s"), field="prize_amount", n=3), {"prize_amount": "prize"})
        refuse(form, DomainError(N_("weights"), field="tier_weights"))
        refuse(form, DomainError(N_("the list has bad lines"), errors={"line 2": ["not an account"]}))
        assert form.errors_of("prize") == ["no such prize 3"]
        assert form.errors_of("tier_weights") == ["weights"]
        assert form.form_errors == ["the list has bad lines (line 2: not an account)"]
        assert [name for name, _message in form.all_errors] == ["prize", "tier_weights", ""]


def test_local_times_name_their_zone_in_one_format(app: Flask) -> None:
    moment = datetime(2026, 12, 7, 9, 5, tzinfo=UTC)
    for lang in ("ru", "en"):
        with app.test_request_context(f"/?lang={lang}"):
            text = app.jinja_env.from_string("{{ moment|localtime }}").render(moment=moment)
            assert text == "07.12.2026 14:05 (Asia/Yekaterinburg)"
            stamp = app.jinja_env.from_string("{{ '2026-12-07T09:05:00Z'|stamp_local }}").render()
            assert stamp == "07.12.2026 14:05 (Asia/Yekaterinburg) · 2026-12-07T09:05:00Z"
            assert app.jinja_env.from_string("{{ d|day }}").render(d=moment.date()) == "07.12.2026"
