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

import io
import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rewards.csvread import N_, Column, ErrorLog, HeaderMessage, HeaderProblems, Kind, Table, normalise_name

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
    """A value given for a flag is not acceptable; ``field`` names the input.

    ``template`` is the English message template (``%(name)s`` parameters, in the catalogues),
    ``message`` the English text.
    """

    def __init__(self, template: str, field: str, **params: Any) -> None:
        self.template = template
        self.params = params
        self.message = template % params if params else template
        super().__init__(self.message)
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
        raise FlagInputError(N_("period must be YYYY-MM, not %(period)s"), "period", period=repr(period))
    return int(m.group(1)), int(m.group(2))


def month_end(year: int, month: int, plus_months: int = 0) -> date:
    """The last day of the month ``plus_months`` after ``year-month``."""
    index = year * 12 + (month - 1) + plus_months
    y, m = divmod(index, 12)
    return date(y, m + 1, monthrange(y, m + 1)[1])


def tier_validity(period: str, grace_months: int) -> tuple[date, date]:
    """``(valid_from, valid_to)`` of a flag derived from the snapshot of ``period``."""
    if grace_months < 0:
        raise FlagInputError(N_("the grace period must not be negative"), "grace_months")
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
    raise FlagInputError(N_("%(name)s: %(value)s is not a date (YYYY-MM-DD or DD.MM.YYYY)"), field_name,
                         name=field_name, value=repr(text))


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
        raise FlagInputError(N_("account must be 1-20 digits, not %(value)s"), "account", value=repr(value))
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
        raise FlagInputError(N_("unknown reason %(reason)s; use one of: %(reasons)s"), "reason",
                             reason=repr(reason), reasons=", ".join(STAFF_REASONS))
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise FlagInputError(N_("the note is longer than %(limit)s characters"), "note", limit=NOTE_MAX)
    if reason in REASONS_NEEDING_NOTE and note is None:
        raise FlagInputError(N_("reason %(reason)s needs a note saying why"), "note", reason=repr(reason))
    start = valid_from or today
    if valid_to is not None and valid_to < start:
        raise FlagInputError(N_("valid_to %(valid_to)s is before valid_from %(valid_from)s"), "valid_to",
                             valid_to=valid_to.isoformat(), valid_from=start.isoformat())
    return StaffFlagInput(acct, reason, start, valid_to, note)


def check_revoke_reason(text: str | None) -> str:
    """A revocation needs a reason, at most REVOKE_REASON_MAX characters."""
    value = (text or "").strip()
    if not value:
        raise FlagInputError(N_("give a reason for the revocation"), "reason")
    if len(value) > REVOKE_REASON_MAX:
        raise FlagInputError(N_("the reason is longer than %(limit)s characters"), "reason", limit=REVOKE_REASON_MAX)
    return value


# --- the bulk file -------------------------------------------------------------------------------

ACTION_SET = "set"
ACTION_REVOKE = "revoke"

# Accepted header names (any case, ``ё`` read as ``е``, ``_`` as a space), English or Russian.
BULK_COLUMNS: tuple[Column, ...] = (
    Column.of("account", "лицевой счет", "лс"),
    Column.of("reason", "причина"),
    Column.of("valid_from", "действует с", "с", required=False),
    Column.of("valid_to", "действует по", "по", required=False),
    Column.of("note", "примечание", "комментарий", required=False),
    Column.of("action", "действие", required=False),
)
ACTION_ALIASES = {"set": ACTION_SET, "": ACTION_SET, "установить": ACTION_SET, "revoke": ACTION_REVOKE,
                  "снять": ACTION_REVOKE}

# Error kinds of bulk flag files (the common ones are rewards.csvread.Kind).
BAD_VALUE = "bad_value"
BAD_ACTION = "bad_action"
DUPLICATE_LINE = "duplicate_line"
UNKNOWN_ACCOUNT = "unknown_account"
NOT_OPEN = "not_open"


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
class BulkFile:
    """A checked bulk file (of flags, of register entries): its encoding and every problem by line (line 0:
    the whole file)."""

    log: ErrorLog = field(default_factory=ErrorLog)
    encoding: str = "utf-8"

    def add_error(
        self, line: int, message: str, kind: str = BAD_VALUE, field: str | None = None, **params: Any
    ) -> None:
        self.log.add(line, kind, message, None, field, **params)

    def problem_lines(self) -> int:
        """How many lines have problems (each problem past the detail limit counted as a line)."""
        shown = self.log.details
        return len({e.line for e in shown}) + self.log.total - len(shown)


@dataclass
class BulkReport(BulkFile):
    """What a bulk file of flags holds: the good lines, and every problem by line."""

    lines: list[BulkLine] = field(default_factory=list)
    delimiter: str = ";"

    @property
    def errors(self) -> list[tuple[int, str]]:
        """``(line, message)`` of the problems kept in detail (the first ``Limits.max_errors_shown``)."""
        return [(e.line, e.message) for e in self.log.details]

    def errors_by_line(self) -> dict[str, list[str]]:
        """``{"line 3": [...]}``: the ``errors`` member of the API error shape."""
        return self.log.by_line()


def _header_messages(problems: HeaderProblems) -> list[HeaderMessage]:
    out: list[HeaderMessage] = []
    if problems.missing:
        out.append((N_("missing column(s): %(columns)s (expected account;reason;valid_from;valid_to;note;action)"),
                    {"columns": ", ".join(c.key for c in problems.missing)}))
    if problems.unknown:
        out.append((N_("unknown column(s): %(columns)s (expected account;reason;valid_from;valid_to;note;action)"),
                    {"columns": ", ".join(raw for _position, raw in problems.unknown)}))
    if problems.twice:
        out.append((N_("column(s) given twice: %(columns)s (expected account;reason;valid_from;valid_to;note;action)"),
                    {"columns": ", ".join(problems.twice)}))
    return out


def _check_line(line_no: int, values: dict[str, str], *, today: date) -> BulkLine:
    """One line's values checked (``FlagInputError`` names the field at fault)."""
    action = ACTION_ALIASES.get(normalise_name(values.get("action", "")))
    if action is None:
        raise FlagInputError(N_("action must be set or revoke, not %(value)s"),
                             "action", value=repr(values.get("action")))
    if action == ACTION_SET:
        checked = check_staff_flag(
            values.get("account"),
            values.get("reason"),
            parse_date(values.get("valid_from"), "valid_from"),
            parse_date(values.get("valid_to"), "valid_to"),
            values.get("note"),
            today=today,
        )
        return BulkLine(line_no, action, checked.account, checked.reason, checked.valid_from, checked.valid_to,
                        checked.note)
    account = check_account(values.get("account"))
    reason = (values.get("reason") or "").strip()
    if reason not in STAFF_REASONS:
        raise FlagInputError(N_("unknown reason %(reason)s; use one of: %(reasons)s"), "reason",
                             reason=repr(reason), reasons=", ".join(STAFF_REASONS))
    return BulkLine(line_no, action, account, reason, None, None, check_revoke_reason(values.get("note")))


def read_bulk(data: bytes, *, today: date) -> BulkReport:
    """Read a bulk flag file; every line is checked and every problem reported with its line number.

    Columns (header on the first non-blank line, English or Russian names, any order): ``account``,
    ``reason`` (required), ``valid_from``, ``valid_to``, ``note``, ``action`` (``set``, the default,
    or ``revoke``; for a revocation ``note`` is the revocation's reason). Decoding, delimiter (``;``,
    ``,`` or TAB, whichever the header line has most of), blank lines and limits as every import
    (``rewards.csvread``).
    """
    report = BulkReport()
    table = Table(io.BytesIO(data), BULK_COLUMNS, report.log, header_messages=_header_messages)
    report.encoding = "utf-8-sig" if table.lines.bom else table.lines.encoding
    report.delimiter = table.delimiter
    if not table.ok:
        return report
    seen: dict[tuple[str, str], int] = {}
    for line_no, values in table.records():
        try:
            bulk = _check_line(line_no, values, today=today)
        except FlagInputError as exc:
            kind = BAD_ACTION if exc.field == "action" else BAD_VALUE
            report.add_error(line_no, exc.template, kind, exc.field, **exc.params)
            continue
        key = (bulk.account, bulk.reason)
        if key in seen:
            report.add_error(
                line_no, N_("account %(account)s with reason %(reason)s already on line %(other_line)s"),
                            DUPLICATE_LINE,
                account=bulk.account, reason=bulk.reason, other_line=seen[key],
            )
            continue
        seen[key] = line_no
        report.lines.append(bulk)
    if not report.lines and not report.log:
        report.add_error(0, N_("the file has a header but no lines"), Kind.EMPTY_FILE)
    return report
