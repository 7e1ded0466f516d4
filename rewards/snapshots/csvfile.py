"""Streaming readers for the files that billing systems send: tier snapshots (CSV and JSON lines).

Decoding, dialect, header matching, limits and the error log are ``rewards.csvread``'s (shared by
every importer); this module checks ``account, tier, points`` rows. Snapshot files: see
:func:`read_snapshot` and ``docs/snapshots.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from rewards.csvread import (
    ACCOUNT_MAX_DIGITS,
    CHUNK_SIZE,
    LIMITS,
    N_,
    Column,
    ErrorLog,
    Kind,
    LineSource,
    RowError,
    Table,
    account_ok,
    account_problem,
    is_blank,
    normalise_name,
)
from rewards.tiers import RUSSIAN_NAMES, TIERS, parse_tier

__all__ = [
    "ACCOUNT_MAX_DIGITS", "CHUNK_SIZE", "Column", "ErrorLog", "LineSource", "RowError", "SnapshotReport", "Table",
    "account_key", "account_ok", "is_blank", "normalise_name", "read_snapshot", "read_snapshot_csv",
    "read_snapshot_jsonl", "tier_of",
]

DETAIL_LIMIT = LIMITS.max_errors_shown
POINTS_MAX = 2_147_483_647  # fits a 32-bit signed integer column

# Error kinds: stable codes that pages and the API show (with a message in English).
EMPTY_FILE = Kind.EMPTY_FILE
BAD_HEADER = Kind.BAD_HEADER
UNDECODABLE = Kind.UNDECODABLE
WRONG_COLUMN_COUNT = Kind.WRONG_COLUMN_COUNT
MALFORMED_ROW = Kind.MALFORMED_ROW
EMPTY_ACCOUNT = Kind.EMPTY_ACCOUNT
MALFORMED_ACCOUNT = Kind.MALFORMED_ACCOUNT
DUPLICATE_ACCOUNT = "duplicate_account"
UNKNOWN_TIER = "unknown_tier"
BAD_POINTS = "bad_points"
_account_problem = account_problem


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

    def __init__(self, report: SnapshotReport, source: str | None, duplicates: bool = True) -> None:
        self.report = report
        self.source = source
        self.duplicates = duplicates
        self.seen: set[int] = set()
        self.first_line: dict[int, int] = {}

    def error(self, line: int, kind: str, message: str, field: str | None = None, **params: Any) -> None:
        self.report.errors.add(line, kind, message, self.source, field, **params)

    def points(self, line: int, text: str) -> tuple[bool, int | None]:
        text = text.strip()
        if not text:
            return True, None
        if text.isascii() and text.isdigit():
            value = int(text)
            if value <= POINTS_MAX:
                return True, value
            self.error(line, BAD_POINTS, N_("points %(points)s are too large"), "points", points=repr(text[:20]))
            return False, None
        if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
            self.error(line, BAD_POINTS, N_("points %(points)s are negative"), "points", points=repr(text))
        else:
            self.error(line, BAD_POINTS, N_("points %(points)s are not a whole number"),
                       "points", points=repr(text[:40]))
        return False, None

    def account(self, row: list[str], account: str, line: int) -> str:
        """The account written loosely (spaces), or ``""`` when the row is skipped (logged unless blank)."""
        account = account.strip()
        if account_ok(account):
            return account
        if account or not is_blank(row):
            kind, message, params = _account_problem(account)
            self.error(line, kind, message, "account", **params)
        return ""

    def wrong_width(self, row: list[str], line: int, width: int) -> None:
        if not is_blank(row):
            self.error(line, WRONG_COLUMN_COUNT, N_("%(count)s columns, the header has %(width)s"),
                       count=len(row), width=width)

    def no_rows(self, line: int) -> None:
        """A file with a header, no rows and no other problem is refused too."""
        if self.report.rows == 0 and not self.report.errors:
            self.error(line, EMPTY_FILE, N_("the file has a header but no rows"))

    def duplicate(self, line: int, account: str) -> bool:
        if not self.duplicates:
            return False
        key = int("1" + account)
        seen = self.seen
        if key in seen:
            self.error(line, DUPLICATE_ACCOUNT, N_("account %(account)s appears more than once"),
                       "account", account=account)
            return True
        seen.add(key)
        return False


def read_snapshot_csv(
    stream: BinaryIO, report: SnapshotReport | None = None, source: str | None = None, duplicates: bool = True
) -> Iterator[tuple[str, str, int | None]]:
    """Yield the good ``(account, tier_code, points_or_None)`` rows of a snapshot CSV file.

    Every problem goes to ``report.errors`` (by line). The caller must check ``report.ok`` after
    the iteration ends: a file with any error must load nothing. Duplicate accounts are detected
    with a set of ints (about 75 bytes per account: ~110 MB for 1.5 million accounts); with
    ``duplicates=False`` they are not, and memory stays flat: for a caller whose store refuses a
    repeated account itself (the import: the table's primary key), which reads again to report.
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
    check = _RowChecker(report, source, duplicates)
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
                    check.wrong_width(row, line, width)
                    continue
            else:
                line = table.line
            account = row[ai]
            if not (account.isdigit() and account.isascii() and len(account) <= maxlen):
                account = check.account(row, account, line)
                if not account:
                    continue
            raw_tier = row[ti]
            tier = tier_fast.get(raw_tier) or parse_tier(raw_tier)
            if tier is None:
                error(line, UNKNOWN_TIER, N_("unknown tier %(tier)s"), "tier", tier=repr(raw_tier.strip()[:40]))
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
            if duplicates:
                key = int("1" + account)
                if key in seen:
                    check.duplicate(line, account)
                    continue
                seen.add(key)
            rows += 1
            counts[tier] += 1
            yield account, tier, points
        table.line = line  # where a following run starts (see Table.segments)
    report.rows = rows
    report.encoding = table.lines.encoding
    check.no_rows(table.header_line + 1)


_JSON_KEYS = frozenset({"account", "tier", "points"})


Error = Callable[..., None]


def _json_row(text: str, line: int, error: Error) -> tuple[str, str, int | None] | None:
    """``(account, tier, points)`` of one JSON line, or None after logging its first problem."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        error(line, MALFORMED_ROW, N_("not a JSON value: %(problem)s"), problem=str(exc))
        return None
    if not isinstance(obj, dict):
        error(line, MALFORMED_ROW, N_("each line must be a JSON object"))
        return None
    extra = obj.keys() - _JSON_KEYS
    if extra:
        error(line, MALFORMED_ROW, N_("unknown field(s): %(fields)s"), fields=", ".join(sorted(extra)))
        return None
    account = _json_account(obj.get("account"), line, error)
    if account is None:
        return None
    raw_tier = obj.get("tier")
    tier = tier_of(raw_tier) if isinstance(raw_tier, str) else None
    if tier is None:
        error(line, UNKNOWN_TIER, N_("unknown tier %(tier)s"), "tier", tier=repr(raw_tier)[:48])
        return None
    points = obj.get("points")
    if points is not None and not _json_points_ok(points, line, error):
        return None
    return account, tier, points


def _json_account(account: object, line: int, error: Error) -> str | None:
    if account is None or account == "":
        error(line, EMPTY_ACCOUNT, N_("the account number is empty"), "account")
        return None
    if not isinstance(account, str):
        error(line, MALFORMED_ACCOUNT, N_("account must be a JSON string (leading zeros matter)"), "account")
        return None
    account = account.strip()
    if not account_ok(account):
        kind, message, params = _account_problem(account)
        error(line, kind, message, "account", **params)
        return None
    return account


def _json_points_ok(points: object, line: int, error: Error) -> bool:
    if isinstance(points, bool) or not isinstance(points, int):
        error(line, BAD_POINTS, N_("points %(points)s are not a whole number"), "points", points=repr(points)[:48])
    elif points < 0:
        error(line, BAD_POINTS, N_("points %(points)s are negative"), "points", points=points)
    elif points > POINTS_MAX:
        error(line, BAD_POINTS, N_("points %(points)s are too large"), "points", points=points)
    else:
        return True
    return False


def read_snapshot_jsonl(
    stream: BinaryIO, report: SnapshotReport | None = None, source: str | None = None, duplicates: bool = True
) -> Iterator[tuple[str, str, int | None]]:
    """Yield the good rows of a JSON-lines snapshot: ``{"account": "...", "tier": "...", "points": 12}``.

    UTF-8 only (a BOM is allowed). ``account`` must be a JSON string (a number would lose leading
    zeros); ``points`` is optional, a non-negative integer or null; other keys are refused.
    Blank lines are skipped. Same error kinds and rules (``duplicates`` too) as the CSV reader.
    """
    report = report if report is not None else SnapshotReport()
    report.format = "jsonl"
    report.delimiter = ""
    lines = LineSource(stream, ("utf-8",))
    check = _RowChecker(report, source, duplicates)
    error = check.error
    counts = report.tier_counts
    rows = 0
    any_line = False
    for line, text in enumerate(lines, start=1):
        if lines.dirty and not lines.clean(text):
            error(line, UNDECODABLE, "the line contains bytes that are not valid UTF-8")
            any_line = True
            continue
        if not text.strip():
            continue
        any_line = True
        found = _json_row(text, line, error)
        if found is None:
            continue
        account, tier, points = found
        report.has_points = report.has_points or points is not None
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
    stream: BinaryIO, fmt: str = "csv", report: SnapshotReport | None = None, source: str | None = None,
    duplicates: bool = True,
) -> Iterator[tuple[str, str, int | None]]:
    """Dispatch on ``fmt`` (``"csv"`` or ``"jsonl"``); ``duplicates``: see :func:`read_snapshot_csv`."""
    readers: dict[str, Callable[..., Iterator[tuple[str, str, int | None]]]] = {
        "csv": read_snapshot_csv,
        "jsonl": read_snapshot_jsonl,
    }
    if fmt not in readers:
        raise ValueError(f"unknown snapshot format {fmt!r} (csv or jsonl)")
    return readers[fmt](stream, report, source, duplicates)
