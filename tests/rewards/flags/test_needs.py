"""The register of needs, pure part: the declared list, the checks of an entry, the bulk reader."""

from __future__ import annotations

from datetime import date

import pytest

from rewards.flags import needs
from rewards.flags.core import FlagInputError

TODAY = date(2026, 3, 15)
CONSENT = needs.Consent(date(2026, 3, 14), "phone", "operator", True)


def _check(requests: list[needs.NeedRequest], consent: needs.Consent | None = CONSENT, **kw: object
           ) -> needs.RegisterInput:
    return needs.check_register("740000000001", requests, consent, today=TODAY, reverify_years=2, **kw)  # type: ignore[arg-type]


def test_the_shipped_list_is_versioned_and_complete() -> None:
    current = needs.current_list()
    assert current.version == 1
    for code in ("pensioner", "disability.hearing", "disability.sight", "disability.mobility", "medical_equipment",
                 "large_family", "hardship.income_loss", "young_children", "language"):
        declared = current.get(code)
        assert declared is not None
        assert declared.text("action", "ru") and declared.text("action", "en")
        assert declared.text("label", "ru") != declared.text("label", "en")
    assert current.get("hardship.income_loss").temporary  # type: ignore[union-attr]
    assert not current.get("pensioner").temporary  # type: ignore[union-attr]


def test_a_list_without_russian_texts_is_refused() -> None:
    with pytest.raises(ValueError, match="en and ru"):
        needs.parse_list({"version": 2,
                          "needs": [{"code": "x", "label": {"en": "X"}, "action": {"en": "a", "ru": "б"}}]})


def test_temporary_need_requires_an_end_date() -> None:
    with pytest.raises(FlagInputError) as exc:
        _check([needs.NeedRequest("hardship.income_loss")])
    assert exc.value.field == "ends_on"
    entry = _check([needs.NeedRequest("hardship.income_loss", ends_on=date(2026, 9, 30))])
    assert entry.needs[0].ends_on == date(2026, 9, 30) and entry.needs[0].verify_by is None


def test_permanent_need_takes_no_end_date_and_changeable_ones_get_a_reverification_date() -> None:
    with pytest.raises(FlagInputError) as exc:
        _check([needs.NeedRequest("pensioner", ends_on=date(2026, 9, 30))])
    assert exc.value.field == "ends_on"
    entry = _check([needs.NeedRequest("disability.hearing"), needs.NeedRequest("pensioner")])
    by_code = {n.code: n for n in entry.needs}
    assert by_code["disability.hearing"].verify_by == date(2028, 3, 15)
    assert by_code["pensioner"].verify_by is None
    entry = needs.check_register("1", [needs.NeedRequest("disability.sight")], CONSENT, today=TODAY, reverify_years=3)
    assert entry.needs[0].verify_by == date(2029, 3, 15)


def test_leap_day_plus_years() -> None:
    assert needs.add_years(date(2028, 2, 29), 2) == date(2030, 2, 28)


@pytest.mark.parametrize(
    ("on", "channel", "by", "field"),
    [(None, "phone", "op", "consent_on"), (date(2026, 3, 16), "phone", "op", "consent_on"),
     (TODAY, "fax", "op", "consent_channel"), (TODAY, "phone", " ", "consent_by")],
)
def test_consent_is_checked_first_and_names_the_field(on: date | None, channel: str, by: str, field: str) -> None:
    with pytest.raises(FlagInputError) as exc:
        needs.check_consent(on, channel, by, False, today=TODAY)
    assert exc.value.field == field


def test_no_consent_no_entry() -> None:
    with pytest.raises(FlagInputError) as exc:
        _check([needs.NeedRequest("pensioner")], consent=None)
    assert exc.value.field == "consent_on"


@pytest.mark.parametrize(
    ("requests", "kw", "field"),
    [([], {}, "needs"), ([needs.NeedRequest("astronaut")], {}, "needs"),
     ([needs.NeedRequest("pensioner"), needs.NeedRequest("pensioner")], {}, "needs"),
     ([needs.NeedRequest("pensioner")], {"nominee_phone": "+7 912 000-00-00"}, "nominee_name"),
     ([needs.NeedRequest("pensioner")], {"nominee_name": "Иван", "nominee_phone": "call me"}, "nominee_phone"),
     ([needs.NeedRequest("pensioner")], {"password": "abc"}, "password")],
)
def test_bad_entries_name_the_field(requests: list[needs.NeedRequest], kw: dict[str, object], field: str) -> None:
    with pytest.raises(FlagInputError) as exc:
        _check(requests, **kw)
    assert exc.value.field == field


def test_requests_of_codes_give_dates_only_where_they_belong() -> None:
    reqs = needs.requests_of("pensioner, hardship.income_loss,disability.hearing", date(2026, 6, 1), date(2027, 1, 1))
    assert [(r.code, r.ends_on, r.verify_by) for r in reqs] == [
        ("pensioner", None, None), ("hardship.income_loss", date(2026, 6, 1), None),
        ("disability.hearing", None, date(2027, 1, 1))]


def test_due_reason() -> None:
    assert needs.due_reason(date(2026, 4, 1), None, today=TODAY, within_days=30) == "ends"
    assert needs.due_reason(None, date(2026, 4, 30), today=TODAY, within_days=30) is None
    assert needs.due_reason(None, date(2026, 4, 1), today=TODAY, within_days=30) == "reverify"


def test_bulk_reports_every_bad_line_with_its_field() -> None:
    data = (
        "account;needs;ends_on;consent_on;consent_channel;share\n"
        "740000000001;pensioner;;2026-03-01;phone;yes\n"
        "740000000002;hardship.income_loss;;2026-03-01;phone;no\n"
        "740000000003;pensioner;;;phone;no\n"
        "740000000004;pensioner;;2026-03-01;phone;maybe\n"
        "740000000001;language;;2026-03-01;phone;no\n"
        "740000000005;hardship.income_loss;30.09.2026;01.03.2026;office;да\n"
    ).encode()
    report = needs.read_bulk(data, today=TODAY, reverify_years=2, actor="op")
    assert [line.account for line in report.lines] == ["740000000001", "740000000005"]
    problems = {(e.line, e.field, e.kind) for e in report.log.details}
    assert problems == {(3, "ends_on", "bad_value"), (4, "consent_on", "bad_value"), (5, "share", "bad_value"),
                        (6, None, "duplicate_line")}
    entry = report.lines[1].entry
    assert entry is not None and entry.consent.share and entry.consent.by == "op"
    assert entry.needs[0].ends_on == date(2026, 9, 30)


def test_bulk_revoke_line_needs_a_reason_and_russian_headers_work() -> None:
    data = "лс;потребности;действие;примечание\n740000000001;;снять;переехал\n740000000002;;снять;\n".encode()
    report = needs.read_bulk(data, today=TODAY, reverify_years=2, actor="op")
    assert [(line.account, line.why) for line in report.lines] == [("740000000001", "переехал")]
    assert [(e.line, e.field) for e in report.log.details] == [(3, "reason")]
