"""The one CSV reader: encodings, BOM, delimiters, header aliases, every error kind, the limits."""

from __future__ import annotations

import io

import pytest

from rewards.csvread import Column, ErrorLog, Kind, Limits, Table

COLUMNS = (
    Column.of("account", "лицевой счет", "лс"),
    Column.of("reason", "причина"),
    Column.of("note", "примечание", required=False),
)


def _read(data: bytes, **kwargs: object) -> tuple[Table, list[tuple[int, dict[str, str]]], ErrorLog]:
    log = ErrorLog()
    table = Table(io.BytesIO(data), COLUMNS, log, "f.csv", **kwargs)  # type: ignore[arg-type]
    return table, list(table.records()), log


def _kinds(log: ErrorLog) -> list[tuple[int, str, str | None]]:
    return [(e.line, e.kind, e.field) for e in log.details]


RU = "Лицевой счёт;Причина;Примечание\n001;пенсионер;многодетная семья\n002;other;\n"


@pytest.mark.parametrize(
    ("data", "encoding", "bom"),
    [
        (RU.encode("utf-8"), "utf-8", False),
        (b"\xef\xbb\xbf" + RU.encode("utf-8"), "utf-8", True),
        (RU.encode("cp1251"), "cp1251", False),
        (RU.replace("\n", "\r\n").encode("cp1251"), "cp1251", False),
    ],
)
def test_encodings_and_bom(data: bytes, encoding: str, bom: bool) -> None:
    table, rows, log = _read(data)
    assert not log and (table.lines.encoding, table.lines.bom) == (encoding, bom)
    assert rows == [
        (2, {"account": "001", "reason": "пенсионер", "note": "многодетная семья"}),
        (3, {"account": "002", "reason": "other", "note": ""}),
    ]


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_delimiter_detected(delimiter: str) -> None:
    data = delimiter.join(["account", "reason"]) + "\n" + delimiter.join(["7", '"a, b; c"']) + "\n"
    table, rows, log = _read(data.encode())
    assert not log and table.delimiter == delimiter
    assert rows == [(2, {"account": "7", "reason": "a, b; c"})]


def test_declared_delimiter_wins_over_the_header_count() -> None:
    table, rows, log = _read(b"account,reason;x\n7,a;b\n", delimiter=",")
    assert log.details[0].kind == Kind.BAD_HEADER  # "reason;x" is not a column when "," is declared
    table, rows, log = _read(b"account;reason\n7;a,b\n", delimiter=";")
    assert not log and rows == [(2, {"account": "7", "reason": "a,b"})]


@pytest.mark.parametrize("header", ["ACCOUNT;Reason", "лс;причина", "Лицевой_Счёт;ПРИЧИНА", " account ; reason "])
def test_header_aliases_in_english_and_russian(header: str) -> None:
    table, rows, log = _read(f"{header}\n7;x\n".encode())
    assert not log and table.index == {"account": 0, "reason": 1}


def test_header_problems_each_reported() -> None:
    _, _, log = _read(b"account;account;colour\n")
    messages = [e.message for e in log.details]
    assert all(e.kind == Kind.BAD_HEADER and e.line == 1 for e in log.details)
    assert any("unknown column 'colour'" in m for m in messages)
    assert any("appears twice" in m for m in messages)
    assert any("missing column 'reason'" in m for m in messages)


def test_file_level_kinds() -> None:
    assert _kinds(_read(b"")[2]) == [(0, Kind.EMPTY_FILE, None)]
    assert _kinds(_read(b"\n\n  \n")[2]) == [(0, Kind.EMPTY_FILE, None)]
    utf16 = _read("account;reason\n".encode("utf-16"))[2]
    assert _kinds(utf16) == [(0, Kind.BAD_HEADER, None)] and "UTF-16" in utf16.details[0].message


def test_hints_for_utf16_without_a_mark_and_koi8r() -> None:
    log = _read("account;reason\n7;x\n".encode("utf-16-le"))[2]
    assert "UTF-16" in log.details[0].message
    log = _read("Лицевой счет;Причина\n7;пенсионер\n".encode("koi8-r"))[2]
    assert [e.kind for e in log.details] == [Kind.BAD_HEADER]
    assert "KOI8-R" in log.details[0].message


def test_row_kinds_with_lines_and_fields() -> None:
    data = (
        b"account;reason\n"
        b"1;ok\n"
        b"2;a;b\n"  # wrong column count
        b'3;"unterminated\n'  # malformed quoting (reported at its start)
    )
    _, rows, log = _read(data)
    assert rows == [(2, {"account": "1", "reason": "ok"})]
    assert [(e.line, e.kind) for e in log.details] == [(3, Kind.WRONG_COLUMN_COUNT), (4, Kind.MALFORMED_ROW)]


def test_undecodable_line_after_utf8_is_reported_and_skipped() -> None:
    data = "account;reason\n1;причина\n".encode() + "2;причина\n".encode("cp1251") + b"3;ok\n"
    _, rows, log = _read(data)
    assert [line for line, _ in rows] == [2, 4]
    assert _kinds(log) == [(3, Kind.UNDECODABLE, None)]


def test_blank_lines_and_blank_rows_are_skipped() -> None:
    _, rows, log = _read(b"\naccount;reason\n\n;\n1;x\n")
    assert not log and rows == [(5, {"account": "1", "reason": "x"})]


def test_field_limit_names_the_field() -> None:
    limits = Limits(max_field_chars=10)
    data = b"account;reason\n1;short\n2;" + b"x" * 11 + b"\n3;fine\n"
    _, rows, log = _read(data, limits=limits)
    assert [line for line, _ in rows] == [2, 4]
    assert _kinds(log) == [(3, Kind.FIELD_TOO_LONG, "reason")]


def test_line_limit_stops_the_file() -> None:
    limits = Limits(max_lines=3)
    _, rows, log = _read(b"account;reason\n1;a\n2;b\n3;c\n4;d\n", limits=limits)
    assert [line for line, _ in rows] == [2, 3]
    assert _kinds(log) == [(4, Kind.TOO_MANY_LINES, None)]
    # The same limit when the rows go through the csv module (quoted fields).
    _, rows, log = _read(b'account;reason\n1;"a"\n2;"b"\n3;"c"\n', limits=limits)
    assert [line for line, _ in rows] == [2, 3]
    assert _kinds(log) == [(4, Kind.TOO_MANY_LINES, None)]


def test_errors_shown_are_limited_but_all_counted() -> None:
    data = b"account;reason\n" + b"".join(b"%d;a;b\n" % i for i in range(150))
    log = ErrorLog(limit=Limits().max_errors_shown)
    table = Table(io.BytesIO(data), COLUMNS, log)
    assert list(table.records()) == []
    assert log.total == 150 and len(log.details) == 100
    assert log.as_dict()["by_kind"] == {"wrong_column_count": 150}
    by_line = log.by_line()
    assert list(by_line)[:2] == ["line 2", "line 3"] and len(by_line) == 100


def test_error_shape() -> None:
    log = ErrorLog()
    log.add(0, Kind.EMPTY_FILE, "the file is empty", "f.csv")
    log.add(7, "bad_value", "no", None, "reason")
    assert log.as_dict()["shown"] == [
        {"line": 0, "kind": "empty_file", "message": "the file is empty", "source": "f.csv"},
        {"line": 7, "kind": "bad_value", "message": "no", "field": "reason"},
    ]
    assert log.by_line() == {"file": ["the file is empty"], "line 7": ["no"]}


@pytest.mark.parametrize(
    ("encoding", "name"), [("koi8-r", "KOI8-R"), ("cp866", "DOS 866"), ("iso8859-5", "ISO 8859-5")]
)
def test_other_cyrillic_encodings_get_the_wrong_encoding_hint(encoding: str, name: str) -> None:
    """An ASCII header over rows in another Cyrillic encoding: one whole-file refusal naming it, like UTF-16."""
    data = "account;reason\n7;пенсионер по старости\n8;многодетная семья\n9;инвалид\n".encode(encoding)
    table, rows, log = _read(data)
    assert rows == [] and _kinds(log) == [(0, Kind.BAD_HEADER, None)]
    assert log.details[0].message == f"the file is in {name}; save it as UTF-8 or Windows-1251"
    assert log.details[0].params == {"encoding": name}
    utf16 = _read("account;reason\n".encode("utf-16"))[2]
    assert utf16.details[0].template == log.details[0].template  # the same hint as UTF-16


@pytest.mark.parametrize("text", ["ЗОЛОТО СЕРЕБРО БРОНЗА ПЛАТИНА", "золото, серебро и бронза", "Лицевой счёт Причина"])
def test_windows_1251_text_is_not_mistaken_for_another_encoding(text: str) -> None:
    table, rows, log = _read(f"account;reason\n7;{text}\n".encode("cp1251"))
    assert not log and table.lines.encoding == "cp1251" and len(rows) == 1
