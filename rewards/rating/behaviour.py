"""Streaming reader of monthly behaviour rows (one row per account and month), for the rating engine.

Same files as snapshots (encodings, delimiters, line endings, header matching: it reuses
``rewards.csvread.Table``). Columns (any order; English or Russian, any case, ``ё`` = ``е``,
``_`` = space):

==================  =========================================  =============================================
key                 accepted header names                      value
==================  =========================================  =============================================
account             account / Лицевой счет                     1-20 digits
month               month / Месяц / Период                     ``YYYY-MM``, one of the window's months
reading_at          reading_at / Дата показаний                instant (ISO 8601 with ``Z`` or offset) or a
                                                               bare local date ``YYYY-MM-DD``; empty: none
reading_channel     reading_channel / Канал показаний          a channel (below); required with a date
payment_at          payment_at / Дата оплаты                   as ``reading_at``
payment_channel     payment_channel / Канал оплаты             a channel; required with a date
registered          registered / Зарегистрирован               yes/no (1/0, true/false, да/нет; empty: no)
email_confirmed     email_confirmed / Email подтвержден        yes/no
paperless           paperless / Электронная квитанция          yes/no
plan                plan / План                                none/deferral/instalment (нет/отсрочка/
                                                               рассрочка; empty: none)
plan_kept           plan_kept / График соблюден                yes/no (only read when there is a plan)
==================  =========================================  =============================================

Channels: ``cabinet`` (личный кабинет, ЛК), ``app`` (мобильное приложение), ``autopay`` (автоплатеж:
an automatic payment set up in the cabinet), ``bank``, ``post`` (почта), ``office`` (офис, касса),
``terminal``, ``phone`` (телефон), ``sms``, ``agent`` (посредник), ``other`` (другое).

**Order.** Each file must be sorted by account (byte order, ascending; an account's months in any
order), so that the engine can work account by account and keep only one account in memory. A row
out of order is an error (``unsorted``) naming its line. Several files (e.g. one per month) are merged
by account (``Engine.rate``). Sort a file with, e.g., ``LC_ALL=C sort -t';' -k1,1 -s`` after
its header.

The reader scores each row as it parses it (:func:`read_accounts`) and keeps one account at a time.

Compiled by mypyc when the package is built (``setup.py``, ``[tool.rewards] compiled``): plain typed
Python that follows mypyc's rules (``docs/contributing.md``, "Compiled modules"); reinstall after editing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple
from zoneinfo import ZoneInfo

from rewards.csvread import (
    ACCOUNT_MAX_DIGITS,
    N_,
    Column,
    ErrorLog,
    Kind,
    Table,
    account_ok,
    account_problem,
    normalise_name,
)

if TYPE_CHECKING:
    from rewards.rating.engine import Engine

WRONG_COLUMN_COUNT = Kind.WRONG_COLUMN_COUNT
# Error kinds specific to behaviour files (the common ones are rewards.csvread.Kind).
BAD_MONTH = "bad_month"
BAD_DATE = "bad_date"
BAD_CHANNEL = "bad_channel"
BAD_FLAG = "bad_flag"
BAD_PLAN = "bad_plan"
DUPLICATE_MONTH = "duplicate_month"
UNSORTED = "unsorted"

BEHAVIOUR_COLUMNS: tuple[Column, ...] = (
    Column.of("account", "лицевой счет", "номер лицевого счета", "лс", "л/с"),
    Column.of("month", "месяц", "период", "расчетный месяц"),
    Column.of("reading_at", "reading date", "дата показаний", "дата передачи показаний"),
    Column.of("reading_channel", "канал показаний", "канал передачи показаний"),
    Column.of("payment_at", "payment date", "дата оплаты"),
    Column.of("payment_channel", "канал оплаты"),
    Column.of("registered", "зарегистрирован", "регистрация"),
    Column.of("email_confirmed", "email подтвержден", "e-mail подтвержден", "почта подтверждена"),
    Column.of("paperless", "электронная квитанция", "без бумажной квитанции"),
    Column.of("plan", "план", "отсрочка/рассрочка"),
    Column.of("plan_kept", "график соблюден", "план соблюден"),
)

CHANNEL_NAMES: dict[str, str] = {}
for _code, _names in {
    "cabinet": ("cabinet", "личный кабинет", "лк", "кабинет", "web"),
    "app": ("app", "мобильное приложение", "приложение", "mobile"),
    "autopay": ("autopay", "автоплатеж", "автоплатеж в лк", "автооплата"),
    "bank": ("bank", "банк"),
    "post": ("post", "почта", "почта россии"),
    "office": ("office", "офис", "касса"),
    "terminal": ("terminal", "терминал"),
    "phone": ("phone", "телефон", "ivr"),
    "sms": ("sms", "смс"),
    "agent": ("agent", "агент", "посредник"),
    "other": ("other", "другое", "прочее"),
}.items():
    for _name in _names:
        CHANNEL_NAMES[normalise_name(_name)] = _code
CHANNEL_LETTERS: dict[str, str] = {
    "cabinet": "c",
    "app": "a",
    "autopay": "u",
    "bank": "b",
    "post": "p",
    "office": "o",
    "terminal": "t",
    "phone": "h",
    "sms": "s",
    "agent": "g",
    "other": "x",
}

_YES = ("1", "yes", "y", "true", "t", "да", "д", "+")
_NO = ("", "0", "no", "n", "false", "f", "нет", "н", "-")
BOOLS: dict[str, bool] = {}
for _word in _YES:
    for _v in (_word, _word.upper(), _word.capitalize()):
        BOOLS[_v] = True
for _word in _NO:
    for _v in (_word, _word.upper(), _word.capitalize()):
        BOOLS[_v] = False

PLAN_LETTERS: dict[str, str] = {"deferral": "d", "instalment": "i"}
PLAN_NAMES: dict[str, str | None] = {
    "": None,
    "none": None,
    "no": None,
    "нет": None,
    "-": None,
    "deferral": "deferral",
    "отсрочка": "deferral",
    "instalment": "instalment",
    "installment": "instalment",
    "рассрочка": "instalment",
}

# Flag bits of F_FLAGS.
REGISTERED, EMAIL_CONFIRMED, PAPERLESS, PLAN_KEPT = 1, 2, 4, 8


_SECONDS = frozenset(f"{s:02d}" for s in range(60))


class LocalDates:
    """Local dates (as ``date.toordinal()``) of instants, in one time zone, with a cache.

    An instant needs a UTC offset (``Z`` or ``+05:00``): a naive date-time is refused, because
    deadlines are local dates and stored instants are UTC. A bare ``YYYY-MM-DD`` is taken as the
    local date itself.

    The cache (``tails``) serves the common shapes ``YYYY-MM-DDTHH:MM:SSZ`` and
    ``YYYY-MM-DDTHH:MM:SS+HH:MM``: ``tails[text[16:]]`` is a dict by ``text[:16]`` (the minute). It
    holds a tail (``":SS"`` + offset) only for valid seconds and an offset already seen in a valid
    instant, and a minute only after a full parse succeeded, so a hit implies a valid instant. The
    seconds never change the local date (no offset in use has seconds).
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.tails: dict[str, dict[str, int]] = {}
        self._size = 0

    def ordinal(self, text: str) -> int | tuple[str, str]:
        """The local date's ordinal, or an error: ``(message template, the value quoted)``."""
        tail = self.tails.get(text[16:])
        if tail is not None:
            hit = tail.get(text[:16])
            if hit is not None:
                return hit
        result = self._parse(text.strip())
        n = len(text)
        if (n == 20 or n == 25) and isinstance(result, int) and text[16] == ":" and text[17:19] in _SECONDS:
            suffix = text[19:]
            minutes = self.tails.get(":00" + suffix)
            if minutes is None:
                minutes = {}
                for seconds in _SECONDS:
                    self.tails[":" + seconds + suffix] = minutes
            if self._size > 2_000_000:
                for cache in self.tails.values():
                    cache.clear()
                self._size = 0
            minutes[text[:16]] = result
            self._size += 1
        return result

    def _parse(self, text: str) -> int | tuple[str, str]:
        if len(text) == 10:
            try:
                return date.fromisoformat(text).toordinal()
            except ValueError:
                return N_("%(column)s %(value)s is not a date (YYYY-MM-DD)"), repr(text)
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            return N_("%(column)s %(value)s is not an ISO 8601 date-time"), repr(text[:40])
        if instant.tzinfo is None or instant.utcoffset() is None:
            return N_("%(column)s %(value)s has no UTC offset (write Z or +05:00)"), repr(text[:40])
        return instant.astimezone(self.zone).toordinal()


def month_of(text: str) -> tuple[int, int] | None:
    """``(year, month)`` for ``YYYY-MM``, else None."""
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit() or not text.isascii():
        return None
    year, month = int(text[:4]), int(text[5:])
    if not (1 <= month <= 12 and year >= 1):
        return None
    return year, month


def window(period: str, months: int) -> list[str]:
    """The ``months`` months ending with ``period``, oldest first (``YYYY-MM`` strings)."""
    ym = month_of(period)
    if ym is None:
        raise ValueError(f"period {period!r} is not YYYY-MM")
    year, month = ym
    out = []
    for back in range(months - 1, -1, -1):
        index = year * 12 + (month - 1) - back
        out.append(f"{index // 12:04d}-{index % 12 + 1:02d}")
    return out


class AccountMonths(NamedTuple):
    """One account's scored months from one behaviour file (or several, joined)."""

    account: str
    points: int  # summed over its months
    every: int  # the criteria met in every month it has (a mask, see ``engine.BIT``)
    present: int  # a bit per month of the window that has a row
    tokens: list[str]  # one facts token per month, ``"-"`` when missing (``Engine.decode``)
    first_line: int  # where the account starts in its file
    source_index: int  # which file


@dataclass(frozen=True, slots=True)
class BehaviourColumns:
    """Where each column is in one file, and whether the file has the documented layout."""

    account: int
    month: int
    reading_at: int
    reading_channel: int
    payment_at: int
    payment_channel: int
    flags: tuple[int, int, int, int, int]  # registered, email_confirmed, paperless, plan, plan_kept
    width: int
    standard: bool

    @classmethod
    def of(cls, table: Table) -> BehaviourColumns:
        ix = table.index
        in_order = [k for k, _ in sorted(ix.items(), key=lambda kv: kv[1])] == [c.key for c in BEHAVIOUR_COLUMNS]
        return cls(
            ix["account"], ix["month"], ix["reading_at"], ix["reading_channel"], ix["payment_at"],
            ix["payment_channel"],
            (ix["registered"], ix["email_confirmed"], ix["paperless"], ix["plan"], ix["plan_kept"]),
            table.width,
            in_order and table.width == len(BEHAVIOUR_COLUMNS),
        )

    @property
    def maxsplit(self) -> int:
        """In the documented layout the five flag columns are the line's tail: split six times."""
        return 6 if self.standard else -1

    @property
    def split_width(self) -> int:
        """How many fields a good line has after splitting at most ``maxsplit`` times."""
        return 7 if self.standard else self.width


_NO_DATE = 0  # the "date" of an empty date field (no real date has ordinal 0)
_EMPTY: dict[str, int] = {}
_NO_PARTS: dict[int | None, tuple[str, int]] = {}


# One event of a month as the engine counts it: (its part of the facts token, its criterion bits).
Part = tuple[str, int]


def reading_part(engine: Engine, mi: int, on: int, by: tuple[str, int]) -> Part:
    """A reading in month ``mi``: ``("23c", READ)`` (local date as a day offset from the 1st, channel
    letter; the bit when the date is on or before the reading deadline and the channel counts)."""
    letter, bit = by
    if not letter:  # no reading
        return "", 0
    return f"{on - engine.month_start[mi]}{letter}", bit if on <= engine.reading_deadline[mi] else 0


def payment_part(engine: Engine, mi: int, on: int, by: tuple[str, int]) -> Part:
    """A payment for month ``mi``: on time by the payment deadline, early before the next month's 1st
    (both only through a channel that counts)."""
    letter, counts = by
    if not letter:  # no payment
        return "", 0
    bits = 0
    if counts and on <= engine.payment_deadline[mi]:
        bits = engine.PAY | engine.EARLY if on < engine.early_before[mi] else engine.PAY
    return f"{on - engine.month_start[mi]}{letter}", bits


# How many parts an EventParts keeps before it empties itself. A module global read when a reader
# starts, so that a test can lower it (compiled code reads a module's globals when it runs; a class
# attribute of a compiled class cannot be patched).
PARTS_LIMIT = 1_000_000


class EventParts:
    """Each month's reading (or payment) parts by channel text and local date: ``months[mi][channel]
    [date ordinal]`` (0: no date).

    Holds only channel texts that were valid with that date, so a hit (with an ordinal from the
    date cache) is a valid event. A few thousand parts in a monthly run (months x channels x days);
    emptied past ``limit`` (a million), so that memory stays flat whatever the dates.
    """

    def __init__(self, width: int, limit: int = PARTS_LIMIT) -> None:
        # Looked up with the date cache's answer, None when it has none (a miss here too).
        self.months: list[dict[str, dict[int | None, Part]]] = [{} for _ in range(width)]
        self.limit = limit
        self._size = 0

    def remember(self, mi: int, channel: str, on: int, part: Part) -> None:
        """Keep ``part`` for month ``mi``, the channel's text and the local date ``on``."""
        if self._size > self.limit:
            for month in self.months:
                month.clear()
            self._size = 0
        self.months[mi].setdefault(channel, {})[on] = part
        self._size += 1


class _RowChecks:
    """The slow paths of :class:`BehaviourReader`: cache misses and problems, each logged by line.

    Caches (all keyed by the field's text as it stands): ``dates.tails`` (see :class:`LocalDates`),
    ``reading``/``payment`` channels as ``(facts letter, criterion bit when on time)``, the five
    flag columns as ``(mask, facts flags token)``, and ``parts``: each month's reading and payment
    parts (:class:`EventParts`) by their date and channel text.
    """

    def __init__(self, engine: Engine, errors: ErrorLog, source: str | None, delimiter: str, width: int) -> None:
        self.engine = engine
        self.errors = errors
        self.source = source
        self.delimiter = delimiter
        self.width = width
        self.dates = LocalDates(engine.rules.zone)
        self.dates.tails[""] = {"": _NO_DATE}
        self.channels = {
            "reading": ({"": ("", 0)}, engine.rules.reading_channels, engine.READ),
            "payment": ({"": ("", 0)}, engine.rules.payment_channels, 1),
        }
        self.flags: dict[str, tuple[int, str]] = {}
        self.parts = {what: EventParts(engine.width, PARTS_LIMIT) for what in ("reading", "payment")}

    def part(self, what: str, mi: int, raw_date: str, raw_channel: str, line: int) -> Part | None:
        """A reading's or payment's part of month ``mi`` (:func:`reading_part`, :func:`payment_part`),
        or None after logging; remembered in ``parts`` when the channel cache holds the channel's text."""
        on, by = self.event(raw_date, raw_channel, line, what)
        if by is None:
            return None
        found = (reading_part if what == "reading" else payment_part)(self.engine, mi, on, by)
        if raw_channel in self.channels[what][0]:
            self.parts[what].remember(mi, raw_channel, on, found)
        return found

    def error(self, line: int, kind: str, message: str, field: str | None = None, **params: Any) -> None:
        self.errors.add(line, kind, message, self.source, field, **params)

    def blank(self, row: list[str]) -> bool:
        return not "".join(row).replace(self.delimiter, "").strip()

    def wrong_width(self, row: list[str], line: int, expected: int) -> None:
        """A line split into the wrong number of fields (blank lines are skipped silently)."""
        if self.blank(row):
            return
        width = len(row) if len(row) < expected else len(row) + row[-1].count(self.delimiter)
        self.error(line, WRONG_COLUMN_COUNT, N_("%(count)s columns, the header has %(width)s"),
                   count=width, width=self.width)

    def account(self, row: list[str], account: str, current: str | None, line: int) -> str:
        """The account that starts at this row, or ``""`` when the row is skipped (logged unless blank)."""
        if not (account.isdigit() and account.isascii() and len(account) <= ACCOUNT_MAX_DIGITS):
            account = account.strip()
            if not account_ok(account):
                if account or not self.blank(row):
                    kind, message, params = account_problem(account)
                    self.error(line, kind, message, "account", **params)
                return ""
        if current is not None and account < current:
            self.error(
                line, UNSORTED, N_("account %(account)s comes after %(previous)s: the file must be sorted by account"),
                                   "account",
                account=account, previous=current,
            )
            return ""
        return account

    def month(self, text: str, line: int, month_index: dict[str, int]) -> int | None:
        """The window index of a month written loosely (spaces), or None after logging."""
        raw = text.strip()
        found = month_index.get(raw)
        if found is None:
            months = self.engine.months
            if month_of(raw) is None:
                self.error(line, BAD_MONTH, N_("month %(month)s is not YYYY-MM"), "month", month=repr(raw[:20]))
            else:
                self.error(line, BAD_MONTH, N_("month %(month)s is outside the window %(first)s..%(last)s"), "month",
                           month=raw, first=months[0], last=months[-1])
        return found

    def duplicate_month(self, account: str, mi: int, line: int) -> None:
        self.error(line, DUPLICATE_MONTH, N_("account %(account)s has a second row for %(month)s"), "month",
                   account=account, month=self.engine.months[mi])

    def event(self, raw_date: str, raw_channel: str, line: int, what: str) -> tuple[int, tuple[str, int] | None]:
        """A reading or payment: ``(date ordinal or 0, (letter, bit))``; ``(0, None)`` after logging."""
        on_date = self._date(raw_date, line, what)
        if on_date is None:
            return _NO_DATE, None
        channel = raw_channel.strip()
        if on_date == _NO_DATE:
            if channel:
                self.error(line, BAD_CHANNEL, N_("%(channel)s given without %(date)s"), f"{what}_channel",
                           channel=f"{what}_channel", date=f"{what}_at")
                return _NO_DATE, None
            return _NO_DATE, ("", 0)
        return on_date, self._channel(raw_channel, line, what)

    def _date(self, raw: str, line: int, what: str) -> int | None:
        if not raw or raw.isspace():
            return _NO_DATE
        found = self.dates.ordinal(raw)
        if isinstance(found, tuple):
            self.error(line, BAD_DATE, found[0], f"{what}_at", column=f"{what}_at", value=found[1])
            return None
        return found

    def _channel(self, raw: str, line: int, what: str) -> tuple[str, int] | None:
        cache, allowed, bit = self.channels[what]
        found = CHANNEL_NAMES.get(normalise_name(raw))
        if found is None:
            stripped = raw.strip()
            if stripped:
                self.error(line, BAD_CHANNEL, N_("unknown %(column)s %(value)s"), f"{what}_channel",
                           column=f"{what}_channel", value=repr(stripped[:30]))
            else:
                self.error(line, BAD_CHANNEL, N_("%(date)s given without %(channel)s"), f"{what}_channel",
                           channel=f"{what}_channel", date=f"{what}_at")
            return None
        info = (CHANNEL_LETTERS[found], bit if found in allowed else 0)
        if len(cache) < 10_000:
            cache[raw] = info
        return info

    def flag_columns(self, key: str, line: int) -> tuple[int, str] | None:
        """``(mask, facts flags token)`` of the five flag columns' text, or None after logging."""
        raws = key.split(self.delimiter)
        if len(raws) != 5:
            self.error(line, WRONG_COLUMN_COUNT, N_("%(count)s columns, the header has %(width)s"),
                       count=len(raws) + 6, width=self.width)
            return None
        flags, bad = self._yes_no_flags(raws[:3], line)
        plan = PLAN_NAMES.get(normalise_name(raws[3]), "?")
        if plan == "?":
            self.error(line, BAD_PLAN, N_("plan %(value)s is not none, deferral or instalment"),
                       "plan", value=repr(raws[3].strip()[:20]))
            return None
        if plan is not None:
            kept = BOOLS.get(raws[4].strip().lower())
            if kept is None:
                self.error(line, BAD_FLAG, N_("%(column)s %(value)s is not yes/no"),
                           "plan_kept", column="plan_kept", value=repr(raws[4].strip()[:20]))
                return None
            flags |= PLAN_KEPT if kept else 0
        if bad:
            return None
        result = (self.engine.flags_mask(flags, plan), flags_token(flags, plan))
        if len(self.flags) < 10_000:
            self.flags[key] = result
        return result

    def _yes_no_flags(self, raws: list[str], line: int) -> tuple[int, bool]:
        flags = 0
        bad = False
        for raw, bit, name in zip(raws, (REGISTERED, EMAIL_CONFIRMED, PAPERLESS),
                                  ("registered", "email_confirmed", "paperless"), strict=True):
            value = BOOLS.get(raw.strip().lower())
            if value is None:
                self.error(line, BAD_FLAG, N_("%(column)s %(value)s is not yes/no"),
                           name, column=name, value=repr(raw.strip()[:20]))
                bad = True
            elif value:
                flags |= bit
        return flags, bad


# score(row, mi, line, tokens) -> the month's criteria mask (its facts token set in tokens[mi]), or -1
MonthScorer = Callable[[list[str], int, int, list[str]], int]


def month_scorer(engine: Engine, columns: BehaviourColumns, checks: _RowChecks) -> MonthScorer:
    """The function that scores one row of month ``mi``: its criteria mask, and its facts token.

    Called for every row (9 million in a monthly run), so it reads caches kept in local names: the
    local dates (:class:`LocalDates`), then the reading's and the payment's parts of the month by
    channel text and date (:class:`EventParts`), and the flags' (mask, token). Cache misses and
    problems go to ``checks``; it returns -1 when the row has a problem (already logged). The rules
    are the engine's (see ``rewards.rating.engine``).
    """
    reading_at, reading_channel = columns.reading_at, columns.reading_channel
    payment_at, payment_channel = columns.payment_at, columns.payment_channel
    registered, email_confirmed, paperless, plan, plan_kept = columns.flags
    delimiter = checks.delimiter
    tails = checks.dates.tails
    readings, payments = checks.parts["reading"].months, checks.parts["payment"].months
    flags_cache = checks.flags
    part, flag_columns = checks.part, checks.flag_columns

    def score(row: list[str], mi: int, line: int, tokens: list[str]) -> int:
        raw = row[reading_at]
        on = tails.get(raw[16:], _EMPTY).get(raw[:16])
        read = readings[mi].get(row[reading_channel], _NO_PARTS).get(on)
        if read is None:
            read = part("reading", mi, raw, row[reading_channel], line)
        raw = row[payment_at]
        on = tails.get(raw[16:], _EMPTY).get(raw[:16])
        paid = payments[mi].get(row[payment_channel], _NO_PARTS).get(on)
        if paid is None:
            paid = part("payment", mi, raw, row[payment_channel], line)
        key = row[6] if len(row) == 7 else delimiter.join(
            (row[registered], row[email_confirmed], row[paperless], row[plan], row[plan_kept])
        )
        flags = flags_cache.get(key) or flag_columns(key, line)
        if read is None or paid is None or flags is None:
            return -1
        tokens[mi] = f"{read[0]}.{paid[0]}.{flags[1]}"  # READING.PAYMENT.FLAGS (see engine.Engine.decode)
        return flags[0] | read[1] | paid[1]

    return score


def read_accounts(
    stream: BinaryIO,
    engine: Engine,
    errors: ErrorLog,
    source: str | None = None,
    source_index: int = 0,
) -> Iterator[AccountMonths]:
    """Read one behaviour file and score it, yielding one :class:`AccountMonths` per account (file order).

    Parsing and scoring share one pass on purpose: 9 million rows must cost at most 3x the csv
    module's own parse, so each row is touched once. Rows with problems go to ``errors`` (by line)
    and are left out; the caller must not use the result when ``errors`` is not empty.
    """
    table = Table(stream, BEHAVIOUR_COLUMNS, errors, source)
    if not table.ok:
        return iter(())
    columns = BehaviourColumns.of(table)
    checks = _RowChecks(engine, errors, source, table.delimiter, table.width)
    return _group_by_account(table, columns, checks, month_scorer(engine, columns, checks), source_index)


def _group_by_account(
    table: Table,
    columns: BehaviourColumns,
    checks: _RowChecks,
    score: MonthScorer,
    source_index: int,
) -> Iterator[AccountMonths]:
    """Walk the rows, score each month, and add the months up account by account."""
    engine = checks.engine
    month_index = {m: i for i, m in enumerate(engine.months)}
    account_at, month_at, split_width = columns.account, columns.month, columns.split_width
    points_by_mask, full, width = engine.points_by_mask, engine.full_mask, engine.width
    done = AccountMonths._make  # tuple.__new__ in C: one per account
    current: str | None = None
    points = every = present = first_line = 0
    tokens: list[str] = []
    line = table.header_line
    for run, counted in table.segments(columns.maxsplit):
        for row in run:
            if counted:
                line += 1
                if len(row) != split_width:
                    checks.wrong_width(row, line, split_width)
                    continue
            else:
                line = table.line
            account = row[account_at]
            if account != current:
                account = checks.account(row, account, current, line)
                if not account:
                    continue
                if current is not None and account != current:
                    yield done((current, points, every, present, tokens, first_line, source_index))
                if account != current:
                    current, points, every, present, tokens, first_line = account, 0, full, 0, ["-"] * width, line
            mi = month_index.get(row[month_at])
            if mi is None:
                mi = checks.month(row[month_at], line, month_index)
                if mi is None:
                    continue
            bit = 1 << mi
            if present & bit:
                checks.duplicate_month(current, mi, line)
                continue
            mask = score(row, mi, line, tokens)
            if mask >= 0:
                points += points_by_mask[mask]
                every &= mask
                present |= bit
        table.line = line  # where a following run starts (see Table.segments)
    if current is not None:
        yield AccountMonths(current, points, every, present, tokens, first_line, source_index)
    elif not checks.errors:
        checks.error(table.header_line + 1, "empty_file", N_("the file has a header but no rows"))


def flags_token(flags: int, plan: str | None) -> str:
    """The FLAGS part of a month's facts token: ``r``, ``e``, ``p``, then ``d``/``i`` and ``k``."""
    token = (
        ("r" if flags & REGISTERED else "")
        + ("e" if flags & EMAIL_CONFIRMED else "")
        + ("p" if flags & PAPERLESS else "")
    )
    if plan is not None:
        token += PLAN_LETTERS[plan] + ("k" if flags & PLAN_KEPT else "")
    return token
