"""The pure part: validity dates, input checks and the bulk file reader."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from rewards.flags import core

TODAY = date(2026, 3, 15)


def test_core_is_pure() -> None:
    code = (
        "import sys, rewards.flags.core\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'sqlalchemy'})))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == ""


@pytest.mark.parametrize(
    ("period", "grace", "expected"),
    [
        ("2026-01", 1, (date(2026, 1, 1), date(2026, 3, 31))),
        ("2026-01", 0, (date(2026, 1, 1), date(2026, 2, 28))),
        ("2026-11", 1, (date(2026, 11, 1), date(2027, 1, 31))),
        ("2027-12", 2, (date(2027, 12, 1), date(2028, 3, 31))),
        ("2028-01", 0, (date(2028, 1, 1), date(2028, 2, 29))),
    ],
)
def test_tier_validity(period: str, grace: int, expected: tuple[date, date]) -> None:
    assert core.tier_validity(period, grace) == expected


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "26-01", "", "2026/01"])
def test_bad_periods(period: str) -> None:
    with pytest.raises(core.FlagInputError):
        core.tier_validity(period, 1)


def test_staff_flag_checks() -> None:
    ok = core.check_staff_flag(" 007 ", "pensioner", None, None, "  ", today=TODAY)
    assert ok == core.StaffFlagInput("007", "pensioner", TODAY, None, None)
    for args, field in [
        (("12a", "pensioner", None, None, None), "account"),
        (("1", "vip", None, None, None), "reason"),
        (("1", "tier:ideal", None, None, None), "reason"),
        (("1", "other", None, None, ""), "note"),
        (("1", "hardship", date(2026, 3, 10), date(2026, 3, 9), None), "valid_to"),
        (("1", "hardship", None, date(2026, 3, 14), None), "valid_to"),
    ]:
        with pytest.raises(core.FlagInputError) as err:
            core.check_staff_flag(*args, today=TODAY)
        assert err.value.field == field, args


def test_dates() -> None:
    assert core.parse_date("2026-03-01", "d") == date(2026, 3, 1)
    assert core.parse_date("01.03.2026", "d") == date(2026, 3, 1)
    assert core.parse_date(" ", "d") is None
    for bad in ("2026-02-30", "1.3.2026", "tomorrow"):
        with pytest.raises(core.FlagInputError):
            core.parse_date(bad, "d")


RU_FILE = ("Лицевой счёт;Причина;Действует с;Действует "
           "по;Примечание\r\n0001;pensioner;;;\r\n0002;other;01.03.2026;31.12.2026;многодетная опека\r\n")


@pytest.mark.parametrize(
    "data",
    [
        RU_FILE.encode("utf-8"),
        b"\xef\xbb\xbf" + RU_FILE.encode("utf-8"),
        RU_FILE.encode("cp1251"),
        RU_FILE.replace(";", ",").encode("cp1251"),
    ],
)
def test_bulk_encodings_and_delimiters(data: bytes) -> None:
    report = core.read_bulk(data, today=TODAY)
    assert report.errors == []
    assert [(x.account, x.reason, x.valid_from, x.valid_to, x.note) for x in report.lines] == [
        ("0001", "pensioner", TODAY, None, None),
        ("0002", "other", date(2026, 3, 1), date(2026, 12, 31), "многодетная опека"),
    ]


def test_bulk_errors_by_line() -> None:
    data = (
        b"account,reason,valid_from,valid_to,note,action\n"
        b"1,pensioner,,,,\n"
        b"2,vip,,,,\n"
        b"3,hardship,2026-04-01,2026-03-01,,\n"
        b"\n"
        b"1,pensioner,,,,\n"
        b"4,pensioner,,,,revoke\n"
        b"5,pensioner,,,\n"
        b"6,pensioner,,,,burn\n"
    )
    report = core.read_bulk(data, today=TODAY)
    assert [line for line, _m in report.errors] == [3, 4, 6, 7, 8, 9]
    assert "vip" in report.errors_by_line()["line 3"][0]
    assert "already on line 2" in report.errors_by_line()["line 6"][0]


def test_bulk_file_level_errors() -> None:
    assert core.read_bulk(b"", today=TODAY).errors == [(0, "the file is empty")]
    assert core.read_bulk(b"account;reason\n", today=TODAY).errors == [(0, "the file has a header but no lines")]
    assert "missing column(s): reason" in core.read_bulk(b"account;why\n1;x\n", today=TODAY).errors[0][1]
    assert "UTF-16" in core.read_bulk("account;reason".encode("utf-16"), today=TODAY).errors[0][1]
