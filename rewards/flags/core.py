"""Priority flags, the pure part: reasons, validity dates, and the bulk file reader.

No Flask, no SQLAlchemy: the rules here can be read and tested on their own.

Validity dates are local calendar dates of the retailer's time zone. ``valid_to`` is the *last* day
the flag is valid (inclusive); ``None`` means open-ended. A flag is valid on day ``d`` when
``valid_from <= d`` and (``valid_to`` is None or ``d <= valid_to``) and it has not been closed.

A flag derived from a tier snapshot of period ``P`` (``YYYY-MM``) is valid from the first day of
``P`` to the last day of month ``P + 1 + grace``: the next snapshot (``P + 1``) is expected during
that month, and the grace months cover the days until it is loaded, so a customer who stays in the
tier never loses priority between snapshots, and one who drops out keeps it until that date.
"""

from __future__ import annotations

import csv
import io
import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date

# Reasons staff may set, in the order pages show them.
STAFF_REASONS: tuple[str, ...] = ("pensioner", "large_family", "disability", "hardship", "other")
REASONS_NEEDING_NOTE = frozenset({"other"})
TIER_PREFIX = "tier:"

SOURCE_STAFF = "staff"
SOURCE_TIER = "tier"

# How a flag was closed (one closure row per flag at most).
CLOSED_REVOKED = "revoked"  # by staff, with a reason
CLOSED_REPLACED = "replaced"  # staff set the same reason again with new dates or note: a new row
CLOSED_RECOMPUTED = "recomputed"  # the snapshot of its period was replaced and no longer has the account

ACCOUNT_RE = re.compile(r"^[0-9]{1,20}$")
PERIOD_RE = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
NOTE_MAX = 500
REVOKE_REASON_MAX = 500


class FlagInputError(ValueError):
    """A value given for a flag is not acceptable; ``field`` names the input."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def tier_reason(tier: str) -> str:
    """The reason code of a flag derived from ``tier``."""
    return TIER_PREFIX + tier


def is_known_reason(reason: str, tiers: tuple[str, ...]) -> bool:
    """True for a staff reason or ``tier:<tier>`` of a known tier."""
    return reason in STAFF_REASONS or (reason.startswith(TIER_PREFIX) and reason[len(TIER_PREFIX) :] in tiers)


def parse_period(period: str) -> tuple[int, int]:
    """``(year, month)`` of a ``YYYY-MM`` period; ValueError otherwise."""
    m = PERIOD_RE.match(period or "")
    if not m:
        raise FlagInputError(f"period must be YYYY-MM, not {period!r}", "period")
    return int(m.group(1)), int(m.group(2))


def month_end(year: int, month: int, plus_months: int = 0) -> date:
    """The last day of the month ``plus_months`` after ``year-month``."""
    index = year * 12 + (month - 1) + plus_months
    y, m = divmod(index, 12)
    return date(y, m + 1, monthrange(y, m + 1)[1])


def tier_validity(period: str, grace_months: int) -> tuple[date, date]:
    """``(valid_from, valid_to)`` of a flag derived from the snapshot of ``period``."""
    if grace_months < 0:
        raise FlagInputError("the grace period must not be negative", "grace_months")
    year, month = parse_period(period)
    return date(year, month, 1), month_end(year, month, 1 + grace_months)


def parse_date(text: str | None, field_name: str) -> date | None:
    """A date written ``YYYY-MM-DD`` or ``DD.MM.YYYY`` (Russian spreadsheets); empty means None."""
    text = (text or "").strip()
    if not text:
        return None
    iso = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", text)
    ru = re.match(r"^(\d{2})\.(\d{2})\.(\d{4})$", text)
    try:
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        if ru:
            return date(int(ru.group(3)), int(ru.group(2)), int(ru.group(1)))
    except ValueError:
        pass
    raise FlagInputError(f"{field_name}: {text!r} is not a date (YYYY-MM-DD or DD.MM.YYYY)", field_name)


@dataclass(frozen=True)
class StaffFlagInput:
    """A checked request to set a staff flag."""

    account: str
    reason: str
    valid_from: date
    valid_to: date | None
    note: str | None


def check_account(account: str | None) -> str:
    """The account number, stripped; digits only, 1-20 of them (leading zeros are kept)."""
    value = (account or "").strip()
    if not ACCOUNT_RE.match(value):
        raise FlagInputError(f"account must be 1-20 digits, not {value!r}", "account")
    return value


def check_staff_flag(
    account: str | None,
    reason: str | None,
    valid_from: date | None,
    valid_to: date | None,
    note: str | None,
    *,
    today: date,
) -> StaffFlagInput:
    """Validate a staff flag; the first problem raises FlagInputError naming its field."""
    acct = check_account(account)
    reason = (reason or "").strip()
    if reason not in STAFF_REASONS:
        raise FlagInputError(f"unknown reason {reason!r}; use one of: {', '.join(STAFF_REASONS)}", "reason")
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise FlagInputError(f"the note is longer than {NOTE_MAX} characters", "note")
    if reason in REASONS_NEEDING_NOTE and note is None:
        raise FlagInputError(f"reason {reason!r} needs a note saying why", "note")
    start = valid_from or today
    if valid_to is not None and valid_to < start:
        raise FlagInputError(f"valid_to {valid_to.isoformat()} is before valid_from {start.isoformat()}", "valid_to")
    return StaffFlagInput(acct, reason, start, valid_to, note)


def check_revoke_reason(text: str | None) -> str:
    """A revocation needs a reason, at most REVOKE_REASON_MAX characters."""
    value = (text or "").strip()
    if not value:
        raise FlagInputError("give a reason for the revocation", "reason")
    if len(value) > REVOKE_REASON_MAX:
        raise FlagInputError(f"the reason is longer than {REVOKE_REASON_MAX} characters", "reason")
    return value


# --- the bulk file -------------------------------------------------------------------------------

ACTION_SET = "set"
ACTION_REVOKE = "revoke"

# Accepted header names (lower case, ``ё`` read as ``е``) -> column.
HEADER_ALIASES: dict[str, str] = {
    "account": "account",
    "лицевой счет": "account",
    "лицевой_счет": "account",
    "лс": "account",
    "reason": "reason",
    "причина": "reason",
    "valid_from": "valid_from",
    "действует с": "valid_from",
    "с": "valid_from",
    "valid_to": "valid_to",
    "действует по": "valid_to",
    "по": "valid_to",
    "note": "note",
    "примечание": "note",
    "комментарий": "note",
    "action": "action",
    "действие": "action",
}
ACTION_ALIASES = {"set": ACTION_SET, "": ACTION_SET, "установить": ACTION_SET, "revoke": ACTION_REVOKE, "снять": ACTION_REVOKE}
REQUIRED_COLUMNS = ("account", "reason")
MAX_ERRORS_SHOWN = 100


@dataclass(frozen=True)
class BulkLine:
    """One checked line of a bulk file: set a flag, or revoke the open flag of ``reason``."""

    line: int
    action: str
    account: str
    reason: str
    valid_from: date | None
    valid_to: date | None
    note: str | None


@dataclass
class BulkReport:
    """What a bulk file holds: the good lines, and every problem by line (line 0: the whole file)."""

    lines: list[BulkLine] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ";"

    def add_error(self, line: int, message: str) -> None:
        self.errors.append((line, message))

    def errors_by_line(self) -> dict[str, list[str]]:
        """``{"line 3": [...]}``: the ``errors`` member of the API error shape (first 100 lines)."""
        out: dict[str, list[str]] = {}
        for line, message in self.errors:
            key = f"line {line}" if line else "file"
            if key not in out and len(out) >= MAX_ERRORS_SHOWN:
                continue
            out.setdefault(key, []).append(message)
        return out


def decode_bytes(data: bytes) -> tuple[str, str]:
    """``(text, encoding)``: UTF-8 with or without a byte-order mark, else Windows-1251.

    Cyrillic text in Windows-1251 is practically never valid UTF-8, so "UTF-8 if it decodes" is safe.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FlagInputError("UTF-16 files are not accepted: save the file as UTF-8 or Windows-1251", "file")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            return data.decode("cp1251"), "cp1251"
        except UnicodeDecodeError as exc:  # 0x98 is the one undefined byte of Windows-1251
            raise FlagInputError("the file is neither UTF-8 nor Windows-1251", "file") from exc


def _norm_header(name: str) -> str:
    return " ".join(name.strip().lower().replace("ё", "е").split())


def read_bulk(data: bytes, *, today: date) -> BulkReport:
    """Read a bulk flag file; every line is checked and every problem reported with its line number.

    Columns (header on line 1, English or Russian names, any order): ``account``, ``reason`` (required),
    ``valid_from``, ``valid_to``, ``note``, ``action`` (``set``, the default, or ``revoke``; for a
    revocation ``note`` is the revocation's reason). The delimiter is ``;`` or ``,``, whichever the
    header line has more of. Blank lines are skipped.
    """
    report = BulkReport()
    try:
        text, report.encoding = decode_bytes(data)
    except FlagInputError as exc:
        report.add_error(0, exc.message)
        return report
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        report.add_error(0, "the file is empty")
        return report
    header_line = lines[0]
    report.delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=report.delimiter, strict=True)
    rows_iter = iter(reader)
    try:
        header = next(rows_iter)
        while not any(h.strip() for h in header):
            header = next(rows_iter)
    except (StopIteration, csv.Error):
        report.add_error(1, "cannot read the header line")
        return report
    columns: list[str | None] = []
    for name in header:
        columns.append(HEADER_ALIASES.get(_norm_header(name)))
    unknown = [h for h, c in zip(header, columns, strict=True) if c is None and h.strip()]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        report.add_error(reader.line_num, "; ".join(parts) + " (expected account;reason;valid_from;valid_to;note;action)")
        return report
    seen: dict[tuple[str, str], int] = {}
    while True:
        try:
            row = next(rows_iter)
        except StopIteration:
            break
        except csv.Error as exc:
            report.add_error(reader.line_num, f"malformed line: {exc}")
            continue
        line_no = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            report.add_error(line_no, f"expected {len(columns)} fields, found {len(row)}")
            continue
        values = {c: v for c, v in zip(columns, row, strict=True) if c is not None}
        action = ACTION_ALIASES.get(_norm_header(values.get("action", "")))
        if action is None:
            report.add_error(line_no, f"action must be set or revoke, not {values.get('action')!r}")
            continue
        try:
            if action == ACTION_SET:
                checked = check_staff_flag(
                    values.get("account"),
                    values.get("reason"),
                    parse_date(values.get("valid_from"), "valid_from"),
                    parse_date(values.get("valid_to"), "valid_to"),
                    values.get("note"),
                    today=today,
                )
                bulk = BulkLine(line_no, action, checked.account, checked.reason, checked.valid_from, checked.valid_to, checked.note)
            else:
                account = check_account(values.get("account"))
                reason = (values.get("reason") or "").strip()
                if reason not in STAFF_REASONS:
                    raise FlagInputError(f"unknown reason {reason!r}; use one of: {', '.join(STAFF_REASONS)}", "reason")
                note = check_revoke_reason(values.get("note"))
                bulk = BulkLine(line_no, action, account, reason, None, None, note)
        except FlagInputError as exc:
            report.add_error(line_no, exc.message)
            continue
        key = (bulk.account, bulk.reason)
        if key in seen:
            report.add_error(line_no, f"account {bulk.account} with reason {bulk.reason} already on line {seen[key]}")
            continue
        seen[key] = line_no
        report.lines.append(bulk)
    if not report.lines and not report.errors:
        report.add_error(0, "the file has a header but no lines")
    return report
