"""Streaming readers for the files that billing systems send: tier snapshots (CSV and JSON lines).

The generic part (decoding, dialect, header, error log) is shared with the behaviour reader in
``rewards.rating.behaviour``; the snapshot-specific part checks ``account, tier, points`` rows.

Decoding, while streaming (the file is never held whole):

- The file is read in binary chunks of 1 MiB, cut at the last ``\\n`` of each chunk (no UTF-8 or
  Windows-1251 character contains the byte 0x0A, so a cut there never splits a character).
- A UTF-8 byte-order mark fixes the encoding to UTF-8 (and is dropped). A UTF-16 mark is refused with
  a clear message (Excel's "Unicode text"; save the file as UTF-8 or Windows-1251 instead).
- Otherwise the encoding stays undecided while the chunks are pure ASCII. The first chunk with a
  byte above 0x7F decides: UTF-8 if that chunk is valid UTF-8, or if most of its non-ASCII lines are;
  otherwise Windows-1251. Real Cyrillic text in Windows-1251 is practically never valid UTF-8 (a
  letter byte 0xC0-0xFF would have to be followed by continuation bytes 0x80-0xBF), so the decision
  is safe even on one line.
- After the decision, a chunk that does not decode is decoded line by line: each line that does not
  decode is reported as ``undecodable`` with its line number and skipped. Windows-1251 leaves one
  byte (0x98) undefined, so a Windows-1251 file can have undecodable lines too.

Lines are ``\\n``-terminated (LF or CRLF). Line numbers count physical lines from 1 (the header is
line 1); an error in a quoted field that spans lines is reported at the line where its row starts.

The dialect: the delimiter is whichever of ``;``, ``,`` or TAB occurs most often in the header line;
quoting is the usual ``"`` doubling (csv module, strict mode).

A row whose fields are all blank (``;;`` from a spreadsheet) is skipped, as are blank lines.

Snapshot files: see :func:`read_snapshot` and ``docs/snapshots.md``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from rewards.tiers import RUSSIAN_NAMES, TIERS, parse_tier

CHUNK_SIZE = 1 << 20
DETAIL_LIMIT = 100
ACCOUNT_MAX_DIGITS = 20
POINTS_MAX = 2_147_483_647  # fits a 32-bit signed integer column

# Error kinds: stable codes that pages and the API show (with a message in English).
EMPTY_FILE = "empty_file"
BAD_HEADER = "bad_header"
UNDECODABLE = "undecodable"
WRONG_COLUMN_COUNT = "wrong_column_count"
MALFORMED_ROW = "malformed_row"
EMPTY_ACCOUNT = "empty_account"
MALFORMED_ACCOUNT = "malformed_account"
DUPLICATE_ACCOUNT = "duplicate_account"
UNKNOWN_TIER = "unknown_tier"
BAD_POINTS = "bad_points"


@dataclass(frozen=True)
class RowError:
    """One problem in an input file. ``line`` is 1-based; 0 means the file as a whole."""

    line: int
    kind: str
    message: str
    source: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"line": self.line, "kind": self.kind, "message": self.message}
        if self.source is not None:
            out["source"] = self.source
        return out


@dataclass
class ErrorLog:
    """Errors by line: the first ``limit`` in detail, all of them counted (in total and by kind)."""

    limit: int = DETAIL_LIMIT
    details: list[RowError] = field(default_factory=list)
    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    def add(self, line: int, kind: str, message: str, source: str | None = None) -> None:
        self.total += 1
        self.by_kind[kind] += 1
        if len(self.details) < self.limit:
            self.details.append(RowError(line, kind, message, source))

    def __bool__(self) -> bool:
        return self.total > 0

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "by_kind": dict(sorted(self.by_kind.items())),
            "shown": [e.as_dict() for e in self.details],
        }


class LineSource:
    """Decoded lines of a binary stream, one string per physical line, decided encoding.

    ``encodings`` is ``("utf-8", "cp1251")`` for billing CSV files, ``("utf-8",)`` for JSON lines.
    After iteration, ``encoding`` is the encoding used (``"utf-8"`` also for pure ASCII),
    ``bom`` tells whether a UTF-8 BOM was present, and ``undecodable`` holds the line numbers
    that could not be decoded (they are yielded decoded with replacement characters, so that the
    csv module keeps counting lines; the reader skips them).
    """

    def __init__(
        self,
        stream: BinaryIO,
        encodings: Sequence[str] = ("utf-8", "cp1251"),
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self._stream = stream
        self._encodings = tuple(encodings)
        self._chunk_size = chunk_size
        self._decided: str | None = None
        self.bom = False
        self.undecodable: set[int] = set()
        self.refused: str | None = None  # a file-level reason to refuse the whole file

    @property
    def encoding(self) -> str:
        return self._decided or "utf-8"

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[Iterable[str]]:
        lines_before = 0
        carry = b""
        first = True
        read = self._stream.read
        size = self._chunk_size
        while True:
            data = read(size)
            if first:
                first = False
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
                    self.bom = True
                    self._decided = "utf-8"
                elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
                    self.refused = "the file is UTF-16; save it as UTF-8 or Windows-1251"
                    return
            if not data:
                if carry:
                    yield self._decode(carry, lines_before)
                return
            buf = carry + data if carry else data
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                carry = buf
                continue
            if cut == len(buf):
                block, carry = buf, b""
            else:
                block, carry = buf[:cut], buf[cut:]
            yield self._decode(block, lines_before)
            lines_before += block.count(b"\n")

    def _decode(self, block: bytes, lines_before: int) -> Iterable[str]:
        if self._decided is None:
            if block.isascii():
                return io.StringIO(block.decode("ascii"), newline="\n")
            self._decided = self._decide(block)
        try:
            return io.StringIO(block.decode(self._decided), newline="\n")
        except UnicodeDecodeError:
            return self._decode_lines(block, lines_before)

    def _decide(self, block: bytes) -> str:
        if len(self._encodings) == 1:
            return self._encodings[0]
        try:
            block.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError:
            pass
        good = bad = 0
        for raw in block.split(b"\n"):
            if raw.isascii():
                continue
            try:
                raw.decode("utf-8")
                good += 1
            except UnicodeDecodeError:
                bad += 1
        return "utf-8" if good > bad else self._encodings[1]

    def _decode_lines(self, block: bytes, lines_before: int) -> list[str]:
        parts = block.split(b"\n")
        last = parts.pop()
        out: list[str] = []
        encoding = self.encoding
        for number, raw in enumerate(parts, start=lines_before + 1):
            out.append(self._decode_one(raw + b"\n", number, encoding))
        if last:
            out.append(self._decode_one(last, lines_before + len(parts) + 1, encoding))
        return out

    def _decode_one(self, raw: bytes, number: int, encoding: str) -> str:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            self.undecodable.add(number)
            return raw.decode(encoding, errors="replace")


def normalise_name(text: str) -> str:
    """A header name or a vocabulary word compared loosely: case, ``ё``, ``_``/``-`` and spacing."""
    text = text.replace("\ufeff", "").strip().strip('"').lower().replace("ё", "е")
    return " ".join(text.replace("_", " ").replace("-", " ").split())


@dataclass(frozen=True)
class Column:
    """A column a reader knows, by its key and every accepted header name (normalised)."""

    key: str
    names: frozenset[str]
    required: bool = True

    @classmethod
    def of(cls, key: str, *names: str, required: bool = True) -> Column:
        return cls(key, frozenset(normalise_name(n) for n in (key, *names)), required)


class Table:
    """A delimited text file with a header, read as ``(line, fields)`` rows.

    Builds on :class:`LineSource`; records file-level problems (empty file, bad header) and row
    problems common to every table (undecodable line, wrong column count, malformed quoting) in
    ``errors``. ``index`` maps each known column key to its position.
    """

    def __init__(
        self,
        stream: BinaryIO,
        columns: Sequence[Column],
        errors: ErrorLog,
        source: str | None = None,
        encodings: Sequence[str] = ("utf-8", "cp1251"),
    ) -> None:
        self.errors = errors
        self.source = source
        self.lines = LineSource(stream, encodings)
        self.columns = columns
        self.index: dict[str, int] = {}
        self.delimiter = ","
        self.width = 0
        self.header_line = 0
        self.data_rows = 0
        self._iter = iter(self.lines)
        self._reader: Iterator[list[str]] | None = None
        self._open()

    def _error(self, line: int, kind: str, message: str) -> None:
        self.errors.add(line, kind, message, self.source)

    def _open(self) -> None:
        lines = self._iter
        number = 0
        header: str | None = None
        for text in lines:
            number += 1
            if text.strip():
                header = text
                break
        if self.lines.refused:
            self._error(0, BAD_HEADER, self.lines.refused)
            return
        if header is None:
            self._error(0, EMPTY_FILE, "the file is empty")
            return
        self.header_line = number
        counts = {d: header.count(d) for d in (";", ",", "\t")}
        self.delimiter = max(counts, key=lambda d: counts[d])
        if counts[self.delimiter] == 0:
            self.delimiter = ","
        reader = csv.reader(
            itertools.chain((header,), lines), delimiter=self.delimiter, quotechar='"', strict=True
        )
        # csv counts lines from the header on; keep line numbers physical.
        self._offset = number - 1
        try:
            names = next(reader)
        except (csv.Error, StopIteration) as exc:
            self._error(number, BAD_HEADER, f"cannot read the header: {exc}")
            return
        self._reader_obj = reader
        if number in self.lines.undecodable:
            self._error(number, UNDECODABLE, "the header line is not valid text")
            return
        problems = self._map_header(names)
        if problems:
            for message in problems:
                self._error(number, BAD_HEADER, message)
            return
        self.width = len(names)
        self._reader = reader

    def _map_header(self, names: list[str]) -> list[str]:
        problems: list[str] = []
        by_name = {name: col for col in self.columns for name in col.names}
        for position, raw in enumerate(names):
            name = normalise_name(raw)
            if not name:
                continue  # an unnamed column (a trailing delimiter) is ignored
            col = by_name.get(name)
            if col is None:
                problems.append(f"unknown column {raw.strip()!r} (column {position + 1})")
            elif col.key in self.index:
                problems.append(f"column {raw.strip()!r} appears twice")
            else:
                self.index[col.key] = position
        for col in self.columns:
            if col.required and col.key not in self.index:
                accepted = ", ".join(sorted(col.names))
                problems.append(f"missing column {col.key!r} (accepted names: {accepted})")
        return problems

    @property
    def ok(self) -> bool:
        """True when the header was read; rows can be iterated."""
        return self._reader is not None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(line, fields)`` for each data row with the header's column count."""
        reader = self._reader
        if reader is None:
            return
        reader_obj = self._reader_obj
        offset = self._offset
        width = self.width
        undecodable = self.lines.undecodable
        error = self._error
        previous = reader_obj.line_num
        while True:
            try:
                for row in reader:
                    line = previous + 1 + offset
                    previous = reader_obj.line_num
                    if undecodable and line in undecodable:
                        error(line, UNDECODABLE, "the line contains bytes that are not valid "
                              f"{self.lines.encoding}")
                        continue
                    if len(row) != width:
                        if is_blank(row):
                            continue
                        error(line, WRONG_COLUMN_COUNT, f"{len(row)} columns, the header has {width}")
                        continue
                    self.data_rows += 1
                    yield line, row
                break
            except csv.Error as exc:
                line = previous + 1 + offset
                previous = reader_obj.line_num
                error(line, MALFORMED_ROW, f"cannot read the row: {exc}")


def is_blank(row: list[str]) -> bool:
    """True for a row whose fields are all blank (skipped, like a blank line)."""
    return not any(f.strip() for f in row)


def _account_problem(account: str) -> tuple[str, str]:
    if not account:
        return EMPTY_ACCOUNT, "the account number is empty"
    return (
        MALFORMED_ACCOUNT,
        f"account {account[:40]!r} is not 1 to {ACCOUNT_MAX_DIGITS} digits",
    )


def account_ok(account: str) -> bool:
    """A well-formed account number: 1 to 20 ASCII digits (leading zeros are significant)."""
    return account.isdigit() and account.isascii() and len(account) <= ACCOUNT_MAX_DIGITS


def account_key(account: str) -> int:
    """An int that identifies a well-formed account exactly (``"007"`` and ``"7"`` differ)."""
    return int("1" + account)


# Exact spellings seen in real files, looked up before the slower normalisation.
_TIER_FAST: dict[str, str] = {}
for _code, _ru in RUSSIAN_NAMES.items():
    for _variant in (_code, _ru, _ru.capitalize(), _ru.upper(), _code.capitalize(), _code.upper()):
        _TIER_FAST[_variant] = _code


def tier_of(text: str) -> str | None:
    """The tier code for a code or Russian name in any case, else None."""
    return _TIER_FAST.get(text) or parse_tier(text)


SNAPSHOT_COLUMNS: tuple[Column, ...] = (
    Column.of("account", "лицевой счет", "лицевой счёт", "номер лицевого счета", "лс", "л/с"),
    Column.of("tier", "рейтинг", "уровень"),
    Column.of("points", "баллы", "балл", required=False),
)

SnapshotRow = tuple[str, str, "int | None"]


@dataclass
class SnapshotReport:
    """What a snapshot reader saw: counts, dialect and errors."""

    errors: ErrorLog = field(default_factory=ErrorLog)
    rows: int = 0
    tier_counts: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TIERS})
    has_points: bool = False
    encoding: str = "utf-8"
    delimiter: str = ","
    format: str = "csv"

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "tier_counts": dict(self.tier_counts),
            "has_points": self.has_points,
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "errors": self.errors.as_dict(),
        }


class _RowChecker:
    """Checks one snapshot row; shared by the CSV and JSON-lines readers."""

    def __init__(self, report: SnapshotReport, source: str | None) -> None:
        self.report = report
        self.source = source
        self.seen: set[int] = set()
        self.first_line: dict[int, int] = {}

    def error(self, line: int, kind: str, message: str) -> None:
        self.report.errors.add(line, kind, message, self.source)

    def points(self, line: int, text: str) -> tuple[bool, int | None]:
        text = text.strip()
        if not text:
            return True, None
        if text.isascii() and text.isdigit():
            value = int(text)
            if value <= POINTS_MAX:
                return True, value
            self.error(line, BAD_POINTS, f"points {text[:20]!r} are too large")
            return False, None
        if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
            self.error(line, BAD_POINTS, f"points {text!r} are negative")
        else:
            self.error(line, BAD_POINTS, f"points {text[:40]!r} are not a whole number")
        return False, None

    def duplicate(self, line: int, account: str) -> bool:
        key = int("1" + account)
        seen = self.seen
        if key in seen:
            self.error(line, DUPLICATE_ACCOUNT, f"account {account} appears more than once")
            return True
        seen.add(key)
        return False


def read_snapshot_csv(
    stream: BinaryIO, report: SnapshotReport | None = None, source: str | None = None
) -> Iterator[tuple[str, str, int | None]]:
    """Yield the good ``(account, tier_code, points_or_None)`` rows of a snapshot CSV file.

    Every problem goes to ``report.errors`` (by line). The caller must check ``report.ok`` after
    the iteration ends: a file with any error must load nothing. Duplicate accounts are detected
    with a set of ints (about 75 bytes per account: ~110 MB for 1.5 million accounts).
    """
    report = report if report is not None else SnapshotReport()
    table = Table(stream, SNAPSHOT_COLUMNS, report.errors, source)
    report.format = "csv"
    report.delimiter = table.delimiter
    if not table.ok:
        report.encoding = table.lines.encoding
        return
    ai = table.index["account"]
    ti = table.index["tier"]
    pi = table.index.get("points")
    report.has_points = pi is not None
    check = _RowChecker(report, source)
    error = check.error
    seen = check.seen
    counts = report.tier_counts
    tier_fast = _TIER_FAST
    maxlen = ACCOUNT_MAX_DIGITS
    rows = 0
    for line, row in table.rows():
        account = row[ai]
        if not (account.isdigit() and account.isascii() and len(account) <= maxlen):
            account = account.strip()
            if not account_ok(account):
                if not account and is_blank(row):
                    continue
                error(line, *_account_problem(account))
                continue
        raw_tier = row[ti]
        tier = tier_fast.get(raw_tier) or parse_tier(raw_tier)
        if tier is None:
            error(line, UNKNOWN_TIER, f"unknown tier {raw_tier.strip()[:40]!r}")
            continue
        points = None
        if pi is not None:
            raw_points = row[pi]
            if raw_points.isdigit() and raw_points.isascii() and len(raw_points) < 10:
                points = int(raw_points)
            else:
                good, points = check.points(line, raw_points)
                if not good:
                    continue
        key = int("1" + account)
        if key in seen:
            error(line, DUPLICATE_ACCOUNT, f"account {account} appears more than once")
            continue
        seen.add(key)
        rows += 1
        counts[tier] += 1
        yield account, tier, points
    report.rows = rows
    report.encoding = table.lines.encoding
    if rows == 0 and not report.errors:
        error(table.header_line + 1, EMPTY_FILE, "the file has a header but no rows")


_JSON_KEYS = frozenset({"account", "tier", "points"})


def read_snapshot_jsonl(
    stream: BinaryIO, report: SnapshotReport | None = None, source: str | None = None
) -> Iterator[tuple[str, str, int | None]]:
    """Yield the good rows of a JSON-lines snapshot: ``{"account": "...", "tier": "...", "points": 12}``.

    UTF-8 only (a BOM is allowed). ``account`` must be a JSON string (a number would lose leading
    zeros); ``points`` is optional, a non-negative integer or null; other keys are refused.
    Blank lines are skipped. Same error kinds and rules as the CSV reader.
    """
    report = report if report is not None else SnapshotReport()
    report.format = "jsonl"
    report.delimiter = ""
    lines = LineSource(stream, ("utf-8",))
    check = _RowChecker(report, source)
    error = check.error
    counts = report.tier_counts
    rows = 0
    any_line = False
    loads = json.loads
    for line, text in enumerate(lines, start=1):
        if line in lines.undecodable:
            error(line, UNDECODABLE, "the line contains bytes that are not valid UTF-8")
            any_line = True
            continue
        if not text.strip():
            continue
        any_line = True
        try:
            obj = loads(text)
        except ValueError as exc:
            error(line, MALFORMED_ROW, f"not a JSON value: {exc}")
            continue
        if not isinstance(obj, dict):
            error(line, MALFORMED_ROW, "each line must be a JSON object")
            continue
        extra = obj.keys() - _JSON_KEYS
        if extra:
            error(line, MALFORMED_ROW, f"unknown field(s): {', '.join(sorted(extra))}")
            continue
        account = obj.get("account")
        if account is None or account == "":
            error(line, EMPTY_ACCOUNT, "the account number is empty")
            continue
        if not isinstance(account, str):
            error(line, MALFORMED_ACCOUNT, "account must be a JSON string (leading zeros matter)")
            continue
        account = account.strip()
        if not account_ok(account):
            error(line, *_account_problem(account))
            continue
        raw_tier = obj.get("tier")
        tier = tier_of(raw_tier) if isinstance(raw_tier, str) else None
        if tier is None:
            error(line, UNKNOWN_TIER, f"unknown tier {raw_tier!r}"[:60])
            continue
        points = obj.get("points")
        if points is not None:
            if isinstance(points, bool) or not isinstance(points, int):
                error(line, BAD_POINTS, f"points {points!r} are not a whole number"[:80])
                continue
            if points < 0:
                error(line, BAD_POINTS, f"points {points} are negative")
                continue
            if points > POINTS_MAX:
                error(line, BAD_POINTS, f"points {points} are too large")
                continue
            report.has_points = True
        if check.duplicate(line, account):
            continue
        rows += 1
        counts[tier] += 1
        yield account, tier, points
    report.rows = rows
    report.encoding = lines.encoding
    if lines.refused:
        error(0, BAD_HEADER, lines.refused)
    elif not any_line:
        error(0, EMPTY_FILE, "the file is empty")


def read_snapshot(
    stream: BinaryIO, fmt: str = "csv", report: SnapshotReport | None = None, source: str | None = None
) -> Iterator[tuple[str, str, int | None]]:
    """Dispatch on ``fmt`` (``"csv"`` or ``"jsonl"``)."""
    readers: dict[str, Callable[..., Iterator[tuple[str, str, int | None]]]] = {
        "csv": read_snapshot_csv,
        "jsonl": read_snapshot_jsonl,
    }
    if fmt not in readers:
        raise ValueError(f"unknown snapshot format {fmt!r} (csv or jsonl)")
    return readers[fmt](stream, report, source)
