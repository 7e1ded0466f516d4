"""Snapshot file readers: every encoding, delimiter, header and line-ending variant; every bad row."""

from __future__ import annotations

import io

import pytest

from rewards.snapshots import csvfile
from rewards.snapshots.csvfile import SnapshotReport, read_snapshot, read_snapshot_csv, read_snapshot_jsonl

ROWS = [("0012345", "ideal", 41), ("7", "beginner", 0), ("00000000000000000001", "responsible", 30)]


def _read(data: bytes, fmt: str = "csv") -> tuple[list, SnapshotReport]:
    report = SnapshotReport()
    rows = list(read_snapshot(io.BytesIO(data), fmt, report, "upload.csv"))
    return rows, report


def _kinds(report: SnapshotReport) -> list[tuple[int, str]]:
    return [(e.line, e.kind) for e in report.errors.details]


HEADERS = {
    "en": ("account", "tier", "points"),
    "ru": ("Лицевой счет", "Рейтинг", "Баллы"),
    "ru-yo-upper": ("ЛИЦЕВОЙ СЧЁТ", "РЕЙТИНГ", "БАЛЛЫ"),
    "en-caps": ("Account", "Tier", "Points"),
}
TIER_TEXT = {
    "code": {"ideal": "ideal", "beginner": "beginner", "responsible": "responsible"},
    "ru": {"ideal": "Идеальный", "beginner": "начинающий", "responsible": "ОТВЕТСТВЕННЫЙ"},
}


@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("cp1251", False)])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("header", sorted(HEADERS))
@pytest.mark.parametrize("tiers", sorted(TIER_TEXT))
def test_variants_read_the_same_rows(encoding, bom, delimiter, newline, header, tiers):
    lines = [delimiter.join(HEADERS[header])]
    lines += [delimiter.join((a, TIER_TEXT[tiers][t], str(p))) for a, t, p in ROWS]
    data = (newline.join(lines) + newline).encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    rows, report = _read(data)
    assert report.ok, report.errors.as_dict()
    assert rows == ROWS
    assert report.delimiter == delimiter
    want = "cp1251" if encoding == "cp1251" and (header.startswith("ru") or tiers == "ru") else "utf-8"
    assert report.encoding == want
    assert report.tier_counts == {"beginner": 1, "promising": 0, "responsible": 1, "ideal": 1}


def test_points_column_is_optional_and_leading_zeros_are_kept():
    rows, report = _read("Лицевой счёт;Рейтинг\n000123;перспективный\n123;идеальный\n".encode("cp1251"))
    assert report.ok and not report.has_points
    assert rows == [("000123", "promising", None), ("123", "ideal", None)]


def test_columns_in_any_order_and_empty_points_mean_none():
    rows, report = _read(b"points;tier;account\n;ideal;01\n5;beginner;02\n")
    assert report.ok
    assert rows == [("01", "ideal", None), ("02", "beginner", 5)]


def test_quoted_fields_and_blank_lines():
    data = b'account,tier,points\n"001","ideal","3"\n\n002,"begin\nner",1\n,,\n003,ideal,"4"\n'
    rows, report = _read(data)
    # The quoted tier spanning two lines is unknown; the line reported is where its row starts.
    assert rows == [("001", "ideal", 3), ("003", "ideal", 4)]
    assert _kinds(report) == [(4, "unknown_tier")]


def test_every_bad_row_kind_is_named_with_its_line():
    data = (
        "\n".join(
            [
                "Лицевой счет;Рейтинг;Баллы",
                "001;ideal;1",  # 2 ok
                "002;gold;1",  # 3 unknown tier
                ";ideal;1",  # 4 empty account
                "12a;ideal;1",  # 5 malformed account
                "123456789012345678901;ideal;1",  # 6 too long
                "001;beginner;2",  # 7 duplicate
                "003;ideal;-4",  # 8 negative points
                "004;ideal;1.5",  # 9 not an integer
                "005;ideal",  # 10 wrong column count
                "006;ideal;1;x",  # 11 wrong column count
                '007;"ideal"x;1',  # 12 malformed quoting
                "008;ideal;3",  # 13 ok
            ]
        ).encode()
        + b"\n009;\xff\xfe;1\n"
    )  # 14 undecodable (UTF-8 by its header)
    rows, report = _read(data)
    assert rows == [("001", "ideal", 1), ("008", "ideal", 3)]
    assert _kinds(report) == [
        (3, "unknown_tier"),
        (4, "empty_account"),
        (5, "malformed_account"),
        (6, "malformed_account"),
        (7, "duplicate_account"),
        (8, "bad_points"),
        (9, "bad_points"),
        (10, "wrong_column_count"),
        (11, "wrong_column_count"),
        (12, "malformed_row"),
        (14, "undecodable"),
    ]
    assert report.errors.total == 11
    assert all(e.source == "upload.csv" for e in report.errors.details)


@pytest.mark.parametrize(
    "data,kind",
    [
        (b"", "empty_file"),
        (b"\n\n", "empty_file"),
        (b"account;tier;points\n", "empty_file"),
        (b"account;tier;points\r\n\r\n", "empty_file"),
        (b"\xef\xbb\xbf", "empty_file"),
        (b"account;rank\n1;ideal\n", "bad_header"),
        (b"account;tier;tier\n1;ideal;ideal\n", "bad_header"),
        (b"\xff\xfea\x00c\x00", "bad_header"),
    ],
)
def test_file_level_errors(data, kind):
    rows, report = _read(data)
    assert rows == [] and not report.ok
    assert report.errors.details[0].kind == kind


def test_only_the_first_hundred_errors_in_detail_but_all_counted():
    data = b"account,tier\n" + b"".join(b"%d,gold\n" % i for i in range(250))
    rows, report = _read(data)
    assert rows == []
    assert report.errors.total == 250 and len(report.errors.details) == 100
    assert report.errors.details[-1].line == 101
    assert report.as_dict()["errors"]["by_kind"] == {"unknown_tier": 250}


def test_cp1251_decided_after_a_long_ascii_prefix(monkeypatch):
    monkeypatch.setattr(csvfile.LineSource, "SNIFF_CHUNK", 64)
    body = "".join(f"{i:06d};ideal\n" for i in range(50)) + "999999;Идеальный\n"
    rows, report = _read(("account;tier\n" + body).encode("cp1251"))
    assert report.ok and report.encoding == "cp1251"
    assert rows[-1] == ("999999", "ideal", None)


def test_utf8_then_invalid_bytes_later_reports_those_lines(monkeypatch):
    monkeypatch.setattr(csvfile.LineSource, "SNIFF_CHUNK", 64)
    head = "Лицевой счет;Рейтинг\n".encode()
    body = b"".join(b"%06d;ideal\n" % i for i in range(2000))
    bad = "777777;Идеальный\n".encode("cp1251")
    rows, report = _read(head + body + bad + b"888888;ideal\n")
    assert report.encoding == "utf-8"
    assert _kinds(report) == [(2002, "undecodable")]
    assert len(rows) == 2001


def test_cp1251_undefined_byte_is_undecodable():
    data = "Лицевой счет;Рейтинг\n1;идеальный\n".encode("cp1251") + b"2;\x98\n3;ideal\n"
    rows, report = _read(data)
    assert report.encoding == "cp1251"
    assert _kinds(report) == [(3, "undecodable")]
    assert [r[0] for r in rows] == ["1", "3"]


def test_jsonl_rows_and_errors():
    data = (
        b"\n".join(
            [
                b'{"account": "0012", "tier": "ideal", "points": 12}',
                '{"account": "0013", "tier": "идеальный"}'.encode(),
                b"",
                b'{"account": 14, "tier": "ideal"}',
                b'{"account": "15", "tier": "gold"}',
                b'{"account": "16", "tier": "ideal", "points": -1}',
                b'{"account": "17", "tier": "ideal", "points": 1.5}',
                b'{"account": "0012", "tier": "ideal"}',
                b'{"account": "18", "tier": "ideal", "extra": 1}',
                b"not json",
                b'{"account": "", "tier": "ideal"}',
                b'{"account": "19", "tier": "ideal", "points": null}',
                b'{"account": "20", "tier": "\xff"}',
            ]
        )
        + b"\n"
    )
    rows, report = _read(data, "jsonl")
    assert rows == [("0012", "ideal", 12), ("0013", "ideal", None), ("19", "ideal", None)]
    assert _kinds(report) == [
        (4, "malformed_account"),
        (5, "unknown_tier"),
        (6, "bad_points"),
        (7, "bad_points"),
        (8, "duplicate_account"),
        (9, "malformed_row"),
        (10, "malformed_row"),
        (11, "empty_account"),
        (13, "undecodable"),
    ]


def test_jsonl_empty_is_an_error():
    rows, report = _read(b"\n\n", "jsonl")
    assert rows == [] and [e.kind for e in report.errors.details] == ["empty_file"]


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        read_snapshot(io.BytesIO(b""), "xml")


def test_readers_stream():
    """The reader pulls the file as it goes: the first row is out before the stream is read whole."""
    body = "Лицевой счет;Рейтинг\n".encode() + b"".join(b"%07d;ideal\n" % i for i in range(300_000))
    stream = io.BytesIO(body)
    rows = read_snapshot_csv(stream)
    assert next(rows) == ("0000000", "ideal", None)
    assert stream.tell() <= csvfile.CHUNK_SIZE + (1 << 16) < len(body)
    assert next(read_snapshot_jsonl(io.BytesIO(b'{"account":"1","tier":"ideal"}\n'))) == ("1", "ideal", None)


def test_line_numbers_across_the_plain_and_careful_runs():
    """Plain lines are split fast; from the first quoted line on, the csv path takes over."""
    lines = ["account;tier"] + [f"{i:05d};ideal" for i in range(5000)]
    lines[3000] = '"02999";"ideal"'  # quoted, still a good row
    lines[3500] = "03499;gold"  # unknown tier (line 3502 after the insert below)
    lines[4000] = ""  # blank, skipped
    lines.insert(200, "")  # line 201: blank in the plain run
    data = ("\r\n".join(lines) + "\r\n").encode()
    rows, report = _read(data)
    assert len(rows) == 4998
    assert rows[2999] == ("02999", "ideal", None)
    assert _kinds(report) == [(3502, "unknown_tier")]


def test_lone_cr_and_lines_split_by_csv_rules():
    rows, report = _read(b"account;tier\n1;ideal\r2;beginner\n3;ideal\n")
    assert rows == [("1", "ideal", None), ("2", "beginner", None), ("3", "ideal", None)]
    assert report.ok


def test_undecodable_byte_in_a_long_plain_run(monkeypatch):
    monkeypatch.setattr(csvfile, "CHUNK_SIZE", 128)
    head = "Лицевой счет;Рейтинг\n".encode()
    body = [b"%06d;ideal\n" % i for i in range(300)]
    body[250] = b"000250;\xc3\x28\n"
    rows, report = _read(head + b"".join(body))
    assert _kinds(report) == [(252, "undecodable")]
    assert len(rows) == 299


def test_last_line_without_newline():
    rows, report = _read(b"account,tier\n1,ideal\n2,ideal")
    assert rows == [("1", "ideal", None), ("2", "ideal", None)] and report.ok
