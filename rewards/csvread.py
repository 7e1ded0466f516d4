"""One reader for every delimited text file the service imports (pure: no Flask, no SQLAlchemy).

Snapshots (``rewards.snapshots.csvfile``), behaviour files (``rewards.rating.behaviour``), bulk
priority flags (``rewards.flags.core``) and billing's credit confirmations
(``draws.services.import_confirmation``) all read through :class:`Table`, so they decode, find the
delimiter, map headers and report problems the same way, within the same :class:`Limits`.

Decoding, while streaming (the file is never held whole):

- A UTF-8 byte-order mark fixes the encoding to UTF-8 (and is dropped). A UTF-16 mark is refused with
  a clear message (Excel's "Unicode text"; save the file as UTF-8 or Windows-1251 instead).
- Otherwise the reader sniffs: it reads ahead (1 MiB at a time, at most 8 MiB, kept to be replayed)
  until it meets a byte above 0x7F. The block containing it decides: UTF-8 if its lines are valid
  UTF-8 (or at least half of its non-ASCII lines are), otherwise Windows-1251. Real Cyrillic text in
  Windows-1251 is practically never valid UTF-8 (a letter byte 0xC0-0xFF would have to be followed
  by continuation bytes 0x80-0xBF), so one line is enough. A file whose first 8 MiB are pure ASCII
  is read as UTF-8.
- A header that does not match but would in KOI8-R, or that holds NUL bytes (UTF-16 without a mark),
  is refused with a hint that says so. So is a file whose first non-ASCII block reads as Russian
  text in another Cyrillic encoding (KOI8-R, DOS 866, ISO 8859-5) rather than in Windows-1251: a
  frequency score of its letters decides (:func:`cyrillic_encoding`), so that an ASCII header over
  KOI8-R rows gets the same "wrong encoding" hint as UTF-16, not one "unknown value" per line.
- The rest is decoded by ``io.TextIOWrapper`` (as fast as the csv module's own floor) with
  ``surrogateescape``, while a thin raw-stream wrapper checks each chunk that is not pure ASCII. Once
  a chunk fails, every following row is checked, and a row with bytes that do not decode is reported
  as ``undecodable`` with its line number and skipped. (Windows-1251 leaves one byte, 0x98,
  undefined, so a Windows-1251 file can have undecodable lines too.)

Lines are ``\\n``-terminated (LF or CRLF). Line numbers count physical lines from 1 (the header is
line 1 unless blank lines precede it); an error in a quoted field that spans lines is reported at
the line where its row starts.

The dialect: the delimiter is declared by the importer or is whichever of ``;``, ``,`` or TAB occurs
most often in the header line; quoting is the usual ``"`` doubling (csv module, strict mode).

A row whose fields are all blank (``;;`` from a spreadsheet) is skipped, as are blank lines.

Every problem is a :class:`RowError`: line, kind (a short stable code, :class:`Kind` for the
problems every file can have, importer-specific codes otherwise), message, and the column (``field``)
when one is to blame. The message is an English template with ``%(name)s`` parameters (marked
``N_`` for the catalogues): ``message`` is the English text, ``template`` and ``params`` let a page
show it in its own language. :class:`ErrorLog` collects them with one limit on the details kept and two
renderings: a summary (``as_dict``: totals by kind and the first errors) and a mapping by line
(``by_line``: ``{"line 3": [...]}``, the ``errors`` member of the API error shape).

Compiled by mypyc when the package is built (``setup.py``, ``[tool.rewards] compiled``): plain typed
Python that follows mypyc's rules (``docs/contributing.md``, "Compiled modules"); reinstall after editing.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, BinaryIO, ClassVar

CHUNK_SIZE = 1 << 20


def N_(text: str) -> str:
    """Mark a message template for the catalogues (babel's ``N_`` keyword); pages translate it."""
    return text

ACCOUNT_MAX_DIGITS = 20


class Kind(StrEnum):
    """Problems any imported file can have (importers add their own codes for their values)."""

    EMPTY_FILE = "empty_file"
    BAD_HEADER = "bad_header"
    UNDECODABLE = "undecodable"
    WRONG_COLUMN_COUNT = "wrong_column_count"
    MALFORMED_ROW = "malformed_row"
    TOO_MANY_LINES = "too_many_lines"
    FIELD_TOO_LONG = "field_too_long"
    EMPTY_ACCOUNT = "empty_account"
    MALFORMED_ACCOUNT = "malformed_account"


@dataclass(frozen=True)
class Limits:
    """The limits every import shares: lines per file, characters per field, errors shown in detail."""

    max_lines: int = 50_000_000
    max_field_chars: int = 10_000
    max_errors_shown: int = 100


LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in an input file. ``line`` is 1-based; 0 means the file as a whole."""

    line: int
    kind: str
    message: str
    source: str | None = None
    field: str | None = None
    template: str | None = None  # the message before its parameters were filled in (None: the message)
    params: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"line": self.line, "kind": str(self.kind), "message": self.message}
        if self.source is not None:
            out["source"] = self.source
        if self.field is not None:
            out["field"] = self.field
        if self.params:  # what a page needs to say it in its own language
            out["template"] = self.template
            out["params"] = self.params
        return out


@dataclass
class ErrorLog:
    """Errors by line: the first ``limit`` in detail, all of them counted (in total and by kind)."""

    limit: int = LIMITS.max_errors_shown
    details: list[RowError] = field(default_factory=list)
    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    def add(
        self, line: int, kind: str, message: str, source: str | None = None, field: str | None = None, **params: Any
    ) -> None:
        """Count a problem; keep its details while fewer than ``limit`` are kept.

        ``message`` is a template when ``params`` are given (``%(name)s``), else the text itself.
        """
        self.total += 1
        self.by_kind[kind] += 1
        if len(self.details) < self.limit:
            text = message % params if params else message
            self.details.append(RowError(line, kind, text, source, field, message if params else None, params or None))

    def __bool__(self) -> bool:
        return self.total > 0

    def as_dict(self) -> dict[str, object]:
        """The summary: ``{"total", "by_kind", "shown": [...]}``."""
        return {
            "total": self.total,
            "by_kind": {str(k): n for k, n in sorted(self.by_kind.items())},
            "shown": [e.as_dict() for e in self.details],
        }

    def by_line(self) -> dict[str, list[str]]:
        """``{"file": [...], "line 3": [...]}`` in line order: the messages kept in detail."""
        out: dict[str, list[str]] = {}
        for error in sorted(self.details, key=lambda e: e.line):
            out.setdefault(f"line {error.line}" if error.line else "file", []).append(error.message)
        return out


_LONE_CR = re.compile(rb"\r(?!\n)")


class _Bytes:
    """The sniffed prefix replayed, then the rest of the stream; plus bytes handed back (``carry``)."""

    def __init__(self, stream: BinaryIO, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix
        self._pos = 0
        self.carry = b""
        self.closed = False

    def read(self, size: int) -> bytes:
        if self.closed:
            return b""
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


def _plain_stop(lines: bytes, encoding: str) -> tuple[int, str | None]:
    """Where a block of whole lines stops being plain (-1: never) and its text when it is all plain."""
    stop = lines.find(b'"')
    if b"\r" in lines:
        found = _LONE_CR.search(lines)
        if found and (stop < 0 or found.start() < stop):
            stop = found.start()
    if stop >= 0:
        return stop, None
    try:
        return -1, lines.decode(encoding)
    except UnicodeDecodeError as exc:
        return exc.start, None


class LineSource:
    """The decoded lines of a binary stream, with the encoding decided by sniffing.

    ``encodings`` is ``("utf-8", "cp1251")`` for billing CSV files, ``("utf-8",)`` for JSON lines.
    ``encoding`` is the encoding used (``"utf-8"`` also for pure ASCII), ``bom`` tells whether a
    UTF-8 BOM was present, ``refused`` a reason to refuse the whole file (UTF-16).

    Two phases, so that the common case runs at C speed:

    1. With ``plain=True``, :meth:`plain_lines` yields lines (without their LF or CRLF) for as long
       as they are *plain*: no quote character, no lone CR, no line longer than the field limit, and
       every byte decodes. Each 1 MiB block is checked and decoded once; the lines come from
       ``str.split("\n")``. At the first line that is not plain, phase 1 ends (``plain`` turns
       false) and that line's bytes are handed back.
    2. :meth:`rest` is a ``TextIOWrapper`` over the remaining bytes (``surrogateescape``): lines
       are untranslated, as csv needs; once ``dirty`` is true (a chunk did not decode), callers
       check each line with :meth:`clean`.

    Phase 1 counts its lines (``plain_count``); past ``limits.max_lines`` it stops and sets
    ``over_limit`` (the rest of the file is not read).
    """

    SNIFF_CHUNK: ClassVar[int] = CHUNK_SIZE
    SNIFF_LIMIT: ClassVar[int] = 8 * CHUNK_SIZE

    def __init__(
        self,
        stream: BinaryIO,
        encodings: Sequence[str] = ("utf-8", "cp1251"),
        plain: bool = False,
        limits: Limits = LIMITS,
    ) -> None:
        self._encodings = tuple(encodings)
        self.limits = limits
        self.bom = False
        self.refused: str | None = None
        self.refused_params: dict[str, Any] = {}
        prefix, self.encoding = self._sniff(stream)
        self._bytes = _Bytes(stream, prefix)
        self._raw = _RestRaw(self._bytes, self.encoding)
        self._rest: io.TextIOWrapper | None = None
        self.plain = plain
        self.plain_count = 0
        self.over_limit = False
        self._plain_iter: Iterator[str] = (
            itertools.chain.from_iterable(self._plain_blocks()) if plain else iter(())
        )

    @property
    def dirty(self) -> bool:
        return self._raw.dirty

    def plain_lines(self) -> Iterator[str]:
        """Phase 1: the plain lines, without terminators (one iterator, shared)."""
        return self._plain_iter

    def _next_block(self, carry: bytes) -> tuple[bytes, bytes]:
        """``(whole lines, carry)``: the next block cut after its last LF (or at the end)."""
        read = self._bytes.read
        block = carry
        while True:
            data = read(CHUNK_SIZE)
            block = block + data if block else data
            if not data:
                return block, b""
            cut = block.rfind(b"\n") + 1
            if cut:
                return block[:cut], block[cut:]

    def _plain_blocks(self) -> Iterator[list[str]]:
        encoding = self.encoding
        carry = b""
        while self.plain:
            lines, carry = self._next_block(carry)
            if not lines:
                return
            stop, text = _plain_stop(lines, encoding)
            if stop >= 0:
                start = lines.rfind(b"\n", 0, stop) + 1
                carry = lines[start:] + carry
                self.plain = False
                text = lines[:start].decode(encoding)
            assert text is not None
            if "\r" in text:  # only as part of CRLF: a lone CR ended phase 1 above
                text = text.replace("\r\n", "\n")
            parts = text.split("\n")
            if parts[-1] == "":
                parts.pop()
            parts, back = self._cut_long(parts)
            if back:
                carry = back + carry
                self.plain = False
            if not self.plain:
                self._bytes.carry = carry
            yield self._cap(parts)

    def _cut_long(self, parts: list[str]) -> tuple[list[str], bytes]:
        """``parts`` up to the first line longer than the field limit, and that line onwards as bytes."""
        limit = self.limits.max_field_chars
        if not parts or max(map(len, parts)) <= limit:
            return parts, b""
        cut = next(i for i, p in enumerate(parts) if len(p) > limit)
        # Plain text decoded cleanly, so encoding it again gives the same bytes (LF for CRLF).
        return parts[:cut], ("\n".join(parts[cut:]) + "\n").encode(self.encoding)

    def _cap(self, parts: list[str]) -> list[str]:
        """``parts`` within the line limit; past it, phase 1 ends and nothing more is read."""
        room = self.limits.max_lines - self.plain_count
        if len(parts) > room:
            parts = parts[: max(room, 0)]
            self.over_limit = True
            self.plain = False
            self._bytes.closed = True
        self.plain_count += len(parts)
        return parts

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

    def raw_bytes(self, text: str) -> bytes:
        """The bytes ``text`` was decoded from (escaped bytes included)."""
        return text.encode(self.encoding, "surrogateescape")

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
            self._refuse("UTF-16")
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
        encoding = self._decide(data)
        if encoding == "cp1251":
            other = cyrillic_encoding(data)
            if other != "cp1251":
                self._refuse(ENCODING_NAMES[other])
                return b"", "utf-8"
        return prefix, encoding

    def _refuse(self, encoding: str) -> None:
        """Refuse the whole file: it is in an encoding the service does not read."""
        self.refused = WRONG_ENCODING
        self.refused_params = {"encoding": encoding}

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


WRONG_ENCODING = N_("the file is in %(encoding)s; save it as UTF-8 or Windows-1251")
ENCODING_NAMES = {"koi8_r": "KOI8-R", "cp866": "DOS 866", "iso8859_5": "ISO 8859-5", "cp1251": "Windows-1251"}

# Russian letter frequencies, per cent (Lyashevskaya & Sharov's corpus counts, rounded).
_FREQUENCY = dict(zip(
    "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
    (10.97, 8.45, 8.01, 7.35, 6.70, 6.26, 5.47, 4.73, 4.54, 4.40, 3.49, 3.21, 2.98, 2.81, 2.62, 2.01, 1.90,
     1.74, 1.70, 1.65, 1.59, 1.44, 1.21, 0.97, 0.94, 0.73, 0.64, 0.48, 0.36, 0.32, 0.26, 0.04, 0.04),
    strict=True,
))
_CYRILLIC_CANDIDATES = ("cp1251", "koi8_r", "cp866", "iso8859_5")
_MIN_LETTERS = 12  # fewer non-ASCII letters than this: too little to tell, Windows-1251 is kept


def _russian_score(text: str) -> float:
    """How much ``text`` reads like Russian: mean letter frequency, less a penalty for "пРИВЕТ" case."""
    letters = [c for c in text if not c.isascii()]
    if not letters:
        return 0.0
    frequency = sum(_FREQUENCY.get(c.lower(), 0.0) for c in letters) / len(letters)
    # An upper-case letter right after a lower-case one: what KOI8-R text looks like read as 1251.
    flips = sum(1 for a, b in itertools.pairwise(text) if a.islower() and b.isupper() and not b.isascii())
    return frequency - 20.0 * flips / len(letters)


def cyrillic_encoding(block: bytes) -> str:
    """Which 8-bit Cyrillic encoding ``block`` (not UTF-8) reads best in: ``cp1251`` unless another
    one reads clearly more like Russian text (then its codec name, e.g. ``koi8_r``)."""
    sample = block[:65536]
    if sum(1 for b in sample if b >= 0x80) < _MIN_LETTERS:
        return "cp1251"
    scores = {enc: _russian_score(sample.decode(enc, errors="replace")) for enc in _CYRILLIC_CANDIDATES}
    best = max(scores, key=scores.__getitem__)
    return best if best != "cp1251" and scores[best] > scores["cp1251"] + 1.0 else "cp1251"


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


@dataclass
class HeaderProblems:
    """What is wrong with a header line: columns missing, names not known, names given twice."""

    missing: list[Column] = field(default_factory=list)
    unknown: list[tuple[int, str]] = field(default_factory=list)
    twice: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unknown or self.twice)


HeaderMessage = str | tuple[str, dict[str, Any]]  # a text, or a template and its parameters


def describe_header(problems: HeaderProblems) -> list[HeaderMessage]:
    """One message per header problem (the default wording)."""
    out: list[HeaderMessage] = [
        (N_("unknown column %(name)s (column %(column)s)"), {"name": repr(raw), "column": position + 1})
        for position, raw in problems.unknown
    ]
    out += [(N_("column %(name)s appears twice"), {"name": repr(raw)}) for raw in problems.twice]
    out += [
        (N_("missing column %(name)s (accepted names: %(names)s)"),
         {"name": repr(col.key), "names": ", ".join(sorted(col.names))})
        for col in problems.missing
    ]
    return out


def map_header(names: Sequence[str], columns: Sequence[Column]) -> tuple[dict[str, int], HeaderProblems]:
    """Each known column's position by key, and what does not fit. Unnamed columns are ignored."""
    index: dict[str, int] = {}
    problems = HeaderProblems()
    by_name = {name: col for col in columns for name in col.names}
    for position, raw in enumerate(names):
        name = normalise_name(raw)
        if not name:
            continue  # an unnamed column (a trailing delimiter) is ignored
        col = by_name.get(name)
        if col is None:
            problems.unknown.append((position, raw.strip()))
        elif col.key in index:
            problems.twice.append(raw.strip())
        else:
            index[col.key] = position
    problems.missing = [col for col in columns if col.required and col.key not in index]
    return index, problems


def _header_hint(header_bytes: bytes, columns: Sequence[Column], encoding: str) -> str | None:
    """The encoding a header that does not match is probably in: UTF-16 without a mark, or KOI8-R."""
    if b"\x00" in header_bytes:
        return "UTF-16"
    if encoding != "utf-8" and not header_bytes.isascii():
        text = header_bytes.decode("koi8-r", errors="replace")
        try:
            names = next(csv.reader([text], delimiter=detect_delimiter(text)))
        except csv.Error:
            return None
        index, problems = map_header(names, columns)
        if index and not problems.unknown:
            return "KOI8-R"
    return None


def detect_delimiter(header: str) -> str:
    """Whichever of ``;``, ``,`` or TAB occurs most often in the header line (``,`` when none does)."""
    counts = {d: header.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def is_blank(row: list[str]) -> bool:
    """True for a row whose fields are all blank (skipped, like a blank line)."""
    return not any(f.strip() for f in row)


def account_ok(account: str) -> bool:
    """A well-formed account number: 1 to 20 ASCII digits (leading zeros are significant)."""
    return account.isdigit() and account.isascii() and len(account) <= ACCOUNT_MAX_DIGITS


def account_problem(account: str) -> tuple[str, str, dict[str, Any]]:
    """``(kind, message template, parameters)`` for an account number that is not :func:`account_ok` (stripped)."""
    if not account:
        return Kind.EMPTY_ACCOUNT, N_("the account number is empty"), {}
    return (
        Kind.MALFORMED_ACCOUNT,
        N_("account %(account)s is not 1 to %(digits)s digits"),
        {"account": repr(account[:40]), "digits": ACCOUNT_MAX_DIGITS},
    )


class Table:
    """A delimited text file with a header, read row by row (``rows()``; ``line`` is the current line).

    Builds on :class:`LineSource`; records file-level problems (empty file, bad header, too many
    lines) and row problems common to every table (undecodable line, wrong column count, malformed
    quoting, a field over the limit) in ``errors``. ``index`` maps each known column key to its
    position. ``delimiter`` is declared, or detected from the header line when None.
    ``header_messages`` words the header's problems (default: :func:`describe_header`).
    """

    def __init__(
        self,
        stream: BinaryIO,
        columns: Sequence[Column],
        errors: ErrorLog,
        source: str | None = None,
        encodings: Sequence[str] = ("utf-8", "cp1251"),
        *,
        delimiter: str | None = None,
        limits: Limits = LIMITS,
        header_messages: Callable[[HeaderProblems], list[HeaderMessage]] = describe_header,
    ) -> None:
        self.errors = errors
        self.source = source
        self.limits = limits
        self.lines = LineSource(stream, encodings, plain=True, limits=limits)
        self.columns = columns
        self.index: dict[str, int] = {}
        self.delimiter = delimiter or ","
        self._declared = delimiter
        self.width = 0
        self.header_line = 0
        self.line = 0
        self._header_messages = header_messages
        self._reader: Any = None
        self._quoted_header = False
        self._open()

    def _error(self, line: int, kind: str, message: str, field: str | None = None, **params: Any) -> None:
        self.errors.add(line, kind, message, self.source, field, **params)

    def _read_header(self) -> tuple[int, str] | None:
        """``(line number, text)`` of the first non-blank line; None (after logging) for an empty file."""
        if self.lines.refused:
            self._error(0, Kind.BAD_HEADER, self.lines.refused, **self.lines.refused_params)
            return None
        number = 0
        while True:
            header = self.lines.readline()
            if not header:
                self._error(0, Kind.EMPTY_FILE, N_("the file is empty"))
                return None
            number += 1
            if header.strip():
                return number, header

    def _open(self) -> None:
        found = self._read_header()
        if found is None:
            return
        number, header = found
        self.header_line = number
        if not self.lines.clean(header):
            hint = _header_hint(self.lines.raw_bytes(header), self.columns, self.lines.encoding)
            if hint:
                self._error(number, Kind.UNDECODABLE, WRONG_ENCODING, encoding=hint)
            else:
                self._error(number, Kind.UNDECODABLE, N_("the header line is not valid %(encoding)s"),
                            encoding=ENCODING_NAMES.get(self.lines.encoding, self.lines.encoding))
            return
        self.delimiter = self._declared or detect_delimiter(header)
        try:
            names = next(csv.reader([header], delimiter=self.delimiter, quotechar='"', strict=True))
        except csv.Error as exc:
            self._error(number, Kind.BAD_HEADER, N_("cannot read the header: %(problem)s"), problem=str(exc))
            return
        self.index, problems = map_header(names, self.columns)
        if problems:
            hint = _header_hint(self.lines.raw_bytes(header), self.columns, self.lines.encoding)
            if hint:
                self._error(number, Kind.BAD_HEADER, WRONG_ENCODING, encoding=hint)
                return
            for message in self._header_messages(problems):
                if isinstance(message, tuple):
                    self._error(number, Kind.BAD_HEADER, message[0], **message[1])
                else:
                    self._error(number, Kind.BAD_HEADER, message)
            return
        self.width = len(names)
        self._quoted_header = '"' in header
        self._reader = True

    @property
    def ok(self) -> bool:
        """True when the header was read; rows can be iterated."""
        return self._reader is not None

    def field_name(self, position: int) -> str | None:
        """The key of the column at ``position`` (None for an unnamed column)."""
        for key, at in self.index.items():
            if at == position:
                return key
        return None

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
        if lines.over_limit:
            self._too_many_lines()
            return
        if not lines.plain:
            yield self.rows(max(self.line, self.header_line)), False

    def _too_many_lines(self) -> None:
        limit = self.limits.max_lines
        self._error(limit + 1, Kind.TOO_MANY_LINES, N_("the file has more than %(limit)s lines; split it"),
                    limit=f"{limit:,}")

    def _checked(self, row: list[str], start: int, physical: str) -> list[str] | None:
        """The row when it can be used; otherwise None after logging why (blank rows silently)."""
        source = self.lines
        if source.dirty and not source.clean("".join(row)):
            self._error(start, Kind.UNDECODABLE, N_("the line contains bytes that are not valid %(encoding)s"),
                        encoding=ENCODING_NAMES.get(source.encoding, source.encoding))
            return None
        if len(row) != self.width:
            if not is_blank(row):
                self._error(start, Kind.WRONG_COLUMN_COUNT, N_("%(count)s columns, the header has %(width)s"),
                            count=len(row), width=self.width)
            return None
        limit = self.limits.max_field_chars
        if len(physical) > limit or '"' in physical:
            for position, value in enumerate(row):
                if len(value) > limit:
                    self._error(
                        start,
                        Kind.FIELD_TOO_LONG,
                        N_("column %(column)s has %(length)s characters (at most %(limit)s)"),
                        self.field_name(position),
                        column=position + 1, length=f"{len(value):,}", limit=f"{limit:,}",
                    )
                    return None
        return row

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
        line = offset
        quoted = 0
        for physical in text:
            line += 1
            start = line
            if line > self.limits.max_lines:
                self._too_many_lines()
                return
            if '"' in physical:
                quoted += 1
                if quoted > 1000:
                    yield from self._csv_rows(line - 1, first=physical)
                    return
                reader = csv.reader(
                    itertools.chain((physical,), text), delimiter=self.delimiter, quotechar='"', strict=True
                )
                try:
                    row = next(reader)
                except csv.Error as exc:
                    line += reader.line_num - 1
                    self._error(start, Kind.MALFORMED_ROW, N_("cannot read the row: %(problem)s"), problem=str(exc))
                    continue
                line += reader.line_num - 1
            else:
                row = physical.rstrip("\r\n").split(self.delimiter)
            if self._checked(row, start, physical) is not None:
                self.line = start
                yield row

    def _csv_rows(self, offset: int, first: str | None = None) -> Iterator[list[str]]:
        """The csv module over the rest of the file; ``offset`` is the last line already consumed."""
        text = self.lines.rest()
        lines: Iterator[str] = text if first is None else itertools.chain((first,), text)
        reader = csv.reader(lines, delimiter=self.delimiter, quotechar='"', strict=True)
        previous = 0
        while True:
            try:
                for row in reader:
                    line = previous + 1 + offset
                    previous = reader.line_num
                    if line > self.limits.max_lines:
                        self._too_many_lines()
                        return
                    if self._checked(row, line, '"') is not None:
                        self.line = line
                        yield row
                break
            except csv.Error as exc:
                line = previous + 1 + offset
                previous = reader.line_num
                self._error(line, Kind.MALFORMED_ROW, N_("cannot read the row: %(problem)s"), problem=str(exc))

    def records(self) -> Iterator[tuple[int, dict[str, str]]]:
        """``(line, {key: value})`` for every usable, non-blank row (known columns only)."""
        keys = list(self.index.items())
        line = self.header_line
        for run, counted in self.segments():
            for row in run:
                if counted:
                    line += 1
                    if self._checked(row, line, "") is None:
                        continue
                else:
                    line = self.line
                if not is_blank(row):
                    yield line, {key: row[at] for key, at in keys}
            self.line = line
