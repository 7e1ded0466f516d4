"""Streaming readers for the files that billing systems send: tier snapshots (CSV and JSON lines).

The generic part (decoding, dialect, header, error log) is shared with the behaviour reader in
``rewards.rating.behaviour``; the snapshot-specific part checks ``account, tier, points`` rows.

Decoding, while streaming (the file is never held whole):

- A UTF-8 byte-order mark fixes the encoding to UTF-8 (and is dropped). A UTF-16 mark is refused with
  a clear message (Excel's "Unicode text"; save the file as UTF-8 or Windows-1251 instead).
- Otherwise the reader sniffs: it reads ahead (1 MiB at a time, at most 8 MiB, kept to be replayed)
  until it meets a byte above 0x7F. The block containing it decides: UTF-8 if its lines are valid
  UTF-8 (or at least half of its non-ASCII lines are), otherwise Windows-1251. Real Cyrillic text in
  Windows-1251 is practically never valid UTF-8 (a letter byte 0xC0-0xFF would have to be followed
  by continuation bytes 0x80-0xBF), so one line is enough. A file whose first 8 MiB are pure ASCII
  is read as UTF-8.
- The rest is decoded by ``io.TextIOWrapper`` (as fast as the csv module's own floor) with
  ``surrogateescape``, while a thin raw-stream wrapper checks each chunk that is not pure ASCII. Once
  a chunk fails, every following row is checked, and a row with bytes that do not decode is reported
  as ``undecodable`` with its line number and skipped. (Windows-1251 leaves one byte, 0x98,
  undefined, so a Windows-1251 file can have undecodable lines too.)

Lines are ``\\n``-terminated (LF or CRLF). Line numbers count physical lines from 1 (the header is
line 1); an error in a quoted field that spans lines is reported at the line where its row starts.

The dialect: the delimiter is whichever of ``;``, ``,`` or TAB occurs most often in the header line;
quoting is the usual ``"`` doubling (csv module, strict mode).

A row whose fields are all blank (``;;`` from a spreadsheet) is skipped, as are blank lines.

Snapshot files: see :func:`read_snapshot` and ``docs/snapshots.md``.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

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


_LONE_CR = re.compile(rb"\r(?!\n)")


class _Bytes:
    """The sniffed prefix replayed, then the rest of the stream; plus bytes handed back (``carry``)."""

    def __init__(self, stream: BinaryIO, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix
        self._pos = 0
        self.carry = b""

    def read(self, size: int) -> bytes:
        if self.carry:
            data, self.carry = self.carry[:size], self.carry[size:]
            return data
        if self._pos < len(self._prefix):
            data = self._prefix[self._pos : self._pos + size]
            self._pos += len(data)
            if self._pos >= len(self._prefix):
                self._prefix, self._pos = b"", 0
            return data
        return self._stream.read(size)


class _RestRaw(io.RawIOBase):
    """The bytes after the plain lines as a raw stream; ``dirty`` once a chunk does not decode."""

    def __init__(self, source: _Bytes, encoding: str) -> None:
        super().__init__()
        self._source = source
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self.dirty = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if not self.dirty and not data.isascii():
            try:
                self._decoder.decode(data, final=not data)
            except UnicodeDecodeError:
                self.dirty = True
        return n


class LineSource:
    """The decoded lines of a binary stream, with the encoding decided by sniffing.

    ``encodings`` is ``("utf-8", "cp1251")`` for billing CSV files, ``("utf-8",)`` for JSON lines.
    ``encoding`` is the encoding used (``"utf-8"`` also for pure ASCII), ``bom`` tells whether a
    UTF-8 BOM was present, ``refused`` a reason to refuse the whole file (UTF-16).

    Two phases, so that the common case runs at C speed:

    1. With ``plain=True``, :meth:`plain_lines` yields lines (without their LF or CRLF) for as long
       as they are *plain*: no quote character, no lone CR, and every byte decodes. Each 1 MiB block
       is checked and decoded once; the lines come from ``str.split("\n")``. At the first line that
       is not plain, phase 1 ends (``plain`` turns false) and that line's bytes are handed back.
    2. :meth:`rest` is a ``TextIOWrapper`` over the remaining bytes (``surrogateescape``): lines
       are untranslated, as csv needs; once ``dirty`` is true (a chunk did not decode), callers
       check each line with :meth:`clean`.
    """

    SNIFF_CHUNK = CHUNK_SIZE
    SNIFF_LIMIT = 8 * CHUNK_SIZE

    def __init__(
        self, stream: BinaryIO, encodings: Sequence[str] = ("utf-8", "cp1251"), plain: bool = False
    ) -> None:
        self._encodings = tuple(encodings)
        self.bom = False
        self.refused: str | None = None
        prefix, self.encoding = self._sniff(stream)
        self._bytes = _Bytes(stream, prefix)
        self._raw = _RestRaw(self._bytes, self.encoding)
        self._rest: io.TextIOWrapper | None = None
        self.plain = plain
        self._plain_iter: Iterator[str] = (
            itertools.chain.from_iterable(self._plain_blocks()) if plain else iter(())
        )

    @property
    def dirty(self) -> bool:
        return self._raw.dirty

    def plain_lines(self) -> Iterator[str]:
        """Phase 1: the plain lines, without terminators (one iterator, shared)."""
        return self._plain_iter

    def _plain_blocks(self) -> Iterator[list[str]]:
        read = self._bytes.read
        encoding = self.encoding
        carry = b""
        while self.plain:
            block = carry
            while True:
                data = read(CHUNK_SIZE)
                block = block + data if block else data
                if not data:
                    cut = len(block)
                    break
                cut = block.rfind(b"\n") + 1
                if cut:
                    break
            if not block:
                return
            lines, carry = block[:cut], block[cut:]
            stop = lines.find(b'"')
            if b"\r" in lines:
                found = _LONE_CR.search(lines)
                if found and (stop < 0 or found.start() < stop):
                    stop = found.start()
            text = None
            if stop < 0:
                try:
                    text = lines.decode(encoding)
                except UnicodeDecodeError as exc:
                    stop = exc.start
            if stop >= 0:
                start = lines.rfind(b"\n", 0, stop) + 1
                self._bytes.carry = lines[start:] + carry
                self.plain = False
                text = lines[:start].decode(encoding)
            assert text is not None
            if "\r" in text:  # only as part of CRLF: a lone CR ended phase 1 above
                text = text.replace("\r\n", "\n")
            parts = text.split("\n")
            if parts[-1] == "":
                parts.pop()
            yield parts

    def rest(self) -> io.TextIOWrapper:
        """Phase 2: the text after the plain lines (all of it when not reading plain)."""
        if self._rest is None:
            self.plain = False
            self._rest = io.TextIOWrapper(
                io.BufferedReader(self._raw, buffer_size=1 << 16),
                encoding=self.encoding,
                errors="surrogateescape",
                newline="",
            )
        return self._rest

    def readline(self) -> str:
        """The next line (phase 1 lines come without their terminator)."""
        if self._rest is None:
            line = next(self._plain_iter, None)
            if line is not None:
                return line + "\n"
        return self.rest().readline()

    def clean(self, text: str) -> bool:
        """True when ``text`` came from bytes that decode (no escaped bytes in it)."""
        try:
            text.encode(self.encoding)
            return True
        except UnicodeEncodeError:
            return False

    def __iter__(self) -> Iterator[str]:
        """Every line, across the two phases (phase 1 lines without their terminator)."""
        if self._rest is None:
            yield from self._plain_iter
        yield from self.rest()

    def _sniff(self, stream: BinaryIO) -> tuple[bytes, str]:
        data = stream.read(self.SNIFF_CHUNK)
        if data.startswith(b"\xef\xbb\xbf"):
            self.bom = True
            return data[3:], "utf-8"
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            self.refused = "the file is UTF-16; save it as UTF-8 or Windows-1251"
            return b"", "utf-8"
        if len(self._encodings) == 1:
            return data, self._encodings[0]
        chunks = [data]
        total = len(data)
        while data and data.isascii() and total < self.SNIFF_LIMIT:
            data = stream.read(self.SNIFF_CHUNK)
            chunks.append(data)
            total += len(data)
        prefix = b"".join(chunks)
        if data.isascii():
            return prefix, "utf-8"
        return prefix, self._decide(data)

    def _decide(self, block: bytes) -> str:
        """UTF-8 when the block's non-ASCII lines are (mostly) valid UTF-8, else the fallback."""
        cut = block.rfind(b"\n")
        if cut > 0:
            block = block[:cut]
        good = bad = 0
        for raw in block.split(b"\n"):
            if raw.isascii():
                continue
            try:
                raw.decode("utf-8")
                good += 1
            except UnicodeDecodeError:
                bad += 1
        return "utf-8" if good >= bad else self._encodings[1]


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
    """A delimited text file with a header, read row by row (``rows()``; ``line`` is the current line).

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
        self.lines = LineSource(stream, encodings, plain=True)
        self.columns = columns
        self.index: dict[str, int] = {}
        self.delimiter = ","
        self.width = 0
        self.header_line = 0
        self.line = 0
        self._reader: Any = None
        self._open()

    def _error(self, line: int, kind: str, message: str) -> None:
        self.errors.add(line, kind, message, self.source)

    def _open(self) -> None:
        if self.lines.refused:
            self._error(0, BAD_HEADER, self.lines.refused)
            return
        readline = self.lines.readline
        number = 0
        header = ""
        while True:
            header = readline()
            if not header:
                self._error(0, EMPTY_FILE, "the file is empty")
                return
            number += 1
            if header.strip():
                break
        self.header_line = number
        if not self.lines.clean(header):
            self._error(number, UNDECODABLE, f"the header line is not valid {self.lines.encoding}")
            return
        counts = {d: header.count(d) for d in (";", ",", "\t")}
        self.delimiter = max(counts, key=lambda d: counts[d])
        if counts[self.delimiter] == 0:
            self.delimiter = ","
        try:
            names = next(csv.reader([header], delimiter=self.delimiter, quotechar='"', strict=True))
        except csv.Error as exc:
            self._error(number, BAD_HEADER, f"cannot read the header: {exc}")
            return
        problems = self._map_header(names)
        if problems:
            for message in problems:
                self._error(number, BAD_HEADER, message)
            return
        self.width = len(names)
        self._offset = number  # the physical line number of the header
        self._quoted_header = '"' in header
        self._reader = True

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

    def segments(self, maxsplit: int = -1) -> Iterator[tuple[Iterator[list[str]], bool]]:
        """The data rows in at most two runs, each ``(rows, counted)``.

        In a counted run (the plain lines, see :class:`LineSource`) each row is exactly one line,
        split on the delimiter at C speed (at most ``maxsplit`` times: a reader may take the last
        columns as one string): the consumer counts lines from ``header_line``, checks the width
        itself (a blank line gives ``[""]``) and, when the run ends, sets ``line`` to the last line it
        counted. In the other run, rows come through :meth:`rows`, fully split and checked, and
        ``line`` is each row's line.
        """
        if not self.ok:
            return
        lines = self.lines
        if lines._rest is None:
            yield (
                map(
                    str.split,
                    lines.plain_lines(),
                    itertools.repeat(self.delimiter),
                    itertools.repeat(maxsplit),
                ),
                True,
            )
        if not lines.plain:
            yield self.rows(max(self.line, self.header_line)), False

    def rows(self, offset: int | None = None) -> Iterator[list[str]]:
        """Yield the fields of each data row with the header's column count; ``self.line`` is its line.

        ``offset`` is the number of lines consumed before (default: the header's). A line without a
        quote character is split on the delimiter (the same fields as the csv module gives, at a third
        of the cost); a line with one goes through the csv module, which may read further lines for a
        quoted field that spans lines. A file whose header is quoted, or with many quoted rows, is read
        by the csv module throughout.
        """
        if not self.ok:
            return
        offset = self.header_line if offset is None else offset
        if self._quoted_header:
            yield from self._csv_rows(offset)
            return
        text = self.lines.rest()
        delimiter = self.delimiter
        width = self.width
        source = self.lines
        raw = source._raw
        error = self._error
        line = offset
        quoted = 0
        for physical in text:
            line += 1
            start = line
            if '"' in physical:
                quoted += 1
                if quoted > 1000:
                    yield from self._csv_rows(line - 1, first=physical)
                    return
                reader = csv.reader(
                    itertools.chain((physical,), text), delimiter=delimiter, quotechar='"', strict=True
                )
                try:
                    row = next(reader)
                except csv.Error as exc:
                    line += reader.line_num - 1
                    error(start, MALFORMED_ROW, f"cannot read the row: {exc}")
                    continue
                line += reader.line_num - 1
            else:
                row = physical.rstrip("\r\n").split(delimiter)
            if raw.dirty and not source.clean("".join(row)):
                error(start, UNDECODABLE, f"the line contains bytes that are not valid {source.encoding}")
                continue
            if len(row) != width:
                if is_blank(row):
                    continue
                error(start, WRONG_COLUMN_COUNT, f"{len(row)} columns, the header has {width}")
                continue
            self.line = start
            yield row

    def _csv_rows(self, offset: int, first: str | None = None) -> Iterator[list[str]]:
        """The csv module over the rest of the file; ``offset`` is the last line already consumed."""
        text = self.lines.rest()
        lines: Iterator[str] = text if first is None else itertools.chain((first,), text)
        reader = csv.reader(lines, delimiter=self.delimiter, quotechar='"', strict=True)
        width = self.width
        source = self.lines
        raw = source._raw
        error = self._error
        previous = 0
        while True:
            try:
                for row in reader:
                    line = previous + 1 + offset
                    previous = reader.line_num
                    if raw.dirty and not source.clean("".join(row)):
                        error(
                            line, UNDECODABLE, f"the line contains bytes that are not valid {source.encoding}"
                        )
                        continue
                    if len(row) != width:
                        if is_blank(row):
                            continue
                        error(line, WRONG_COLUMN_COUNT, f"{len(row)} columns, the header has {width}")
                        continue
                    self.line = line
                    yield row
                break
            except csv.Error as exc:
                line = previous + 1 + offset
                previous = reader.line_num
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
    width = table.width
    line = table.header_line
    for run, counted in table.segments():
        for row in run:
            if counted:
                line += 1
                if len(row) != width:
                    if not is_blank(row):
                        error(line, WRONG_COLUMN_COUNT, f"{len(row)} columns, the header has {width}")
                    continue
            else:
                line = table.line
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
        table.line = line  # where a following run starts (see Table.segments)
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
    raw = lines._raw
    for line, text in enumerate(lines, start=1):
        if raw.dirty and not lines.clean(text):
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
