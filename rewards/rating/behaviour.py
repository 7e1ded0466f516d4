"""Streaming reader of monthly behaviour rows (one row per account and month), for the rating engine.

Same files as snapshots (encodings, delimiters, line endings, header matching: it reuses
``rewards.snapshots.csvfile.Table``). Columns (any order; English or Russian, any case, ``ё`` = ``е``,
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
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, BinaryIO
from zoneinfo import ZoneInfo

from rewards.snapshots.csvfile import (
    ACCOUNT_MAX_DIGITS,
    WRONG_COLUMN_COUNT,
    Column,
    ErrorLog,
    Table,
    _account_problem,
    account_ok,
    normalise_name,
)

if TYPE_CHECKING:
    from rewards.rating.engine import Engine

# Error kinds specific to behaviour files (the common ones come from csvfile).
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

    def ordinal(self, text: str) -> int | str:
        """The local date's ordinal, or an error message (a str)."""
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

    def _parse(self, text: str) -> int | str:
        if len(text) == 10:
            try:
                return date.fromisoformat(text).toordinal()
            except ValueError:
                return f"{text!r} is not a date (YYYY-MM-DD)"
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            return f"{text[:40]!r} is not an ISO 8601 date-time"
        if instant.tzinfo is None or instant.utcoffset() is None:
            return f"{text[:40]!r} has no UTC offset (write Z or +05:00)"
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


def read_accounts(
    stream: BinaryIO,
    engine: Engine,
    errors: ErrorLog,
    source: str | None = None,
    source_index: int = 0,
) -> Iterator[tuple]:
    """Read one behaviour file and score it, yielding one aggregate per account (file order).

    Each item is ``(account, points, every, present, tokens, first_line, source_index)``:
    ``points`` summed over the account's months, ``every`` the criteria met in all its months (a
    mask, see ``engine.BIT``), ``present`` a bit per month of the window that has a row, ``tokens``
    one facts token per month (``"-"`` when missing; format in :func:`rewards.rating.engine.decode`).

    Parsing and scoring share one loop on purpose: 9 million rows must cost at most 3x the csv
    module's own parse, so each row is touched once. Rows with problems go to ``errors`` (by line)
    and are left out; the caller must not use the result when ``errors`` is not empty.
    """
    table = Table(stream, BEHAVIOUR_COLUMNS, errors, source)
    if not table.ok:
        return
    ix = table.index
    ai, mo, rai, rci, pai, pci = (
        ix[k] for k in ("account", "month", "reading_at", "reading_channel", "payment_at", "payment_channel")
    )
    gi, ei, ppi, pli, pki = (
        ix[k] for k in ("registered", "email_confirmed", "paperless", "plan", "plan_kept")
    )
    months = engine.months
    width = len(months)
    month_index = {m: i for i, m in enumerate(months)}
    rd, pd, early, mstart = (
        engine.reading_deadline,
        engine.payment_deadline,
        engine.early_before,
        engine.month_start,
    )
    rules = engine.rules
    rch, pch = rules.reading_channels, rules.payment_channels
    read_bit, pay_bit, early_bit = engine.READ, engine.PAY, engine.PAY | engine.EARLY
    points_by_mask = engine.points_by_mask
    full = engine.full_mask
    dates = LocalDates(rules.zone)
    tails = dates.tails
    channels = CHANNEL_NAMES
    letters = CHANNEL_LETTERS
    fcache: dict[str, tuple[int, str]] = {}
    rinfo: dict[str, tuple[str, bool]] = {}
    pinfo: dict[str, tuple[str, bool]] = {}
    maxlen = ACCOUNT_MAX_DIGITS

    def error(line: int, kind: str, message: str) -> None:
        errors.add(line, kind, message, source)

    def slow_date(raw: str, line: int, what: str) -> int | bool | None:
        """The ordinal; None when empty; False (after logging) when bad."""
        if not raw or raw.isspace():
            return None
        found = dates.ordinal(raw)
        if found.__class__ is str:
            error(line, BAD_DATE, f"{what} date {found}")
            return False
        return found

    def slow_channel(
        raw: str, line: int, what: str, cache: dict[str, tuple[str, bool]], allowed: frozenset[str]
    ) -> tuple[str, bool] | None:
        """(facts letter, counts for the criterion) of a channel's text, cached by the text."""
        found = channels.get(normalise_name(raw))
        if found is None:
            stripped = raw.strip()
            error(
                line,
                BAD_CHANNEL,
                f"unknown {what} channel {stripped[:30]!r}"
                if stripped
                else f"{what} date given without a channel",
            )
            return None
        info = (letters[found], found in allowed)
        if len(cache) < 10_000:
            cache[raw] = info
        return info

    def slow_flags(key: str, line: int) -> tuple[int, str] | None:
        """(mask contribution, facts flags token) for the flag columns' text, cached by it."""
        raws = key.split(delimiter)
        if len(raws) != 5:
            error(line, WRONG_COLUMN_COUNT, f"{len(raws) + 6} columns, the header has {columns}")
            return None
        flags = 0
        bad = False
        for raw, bit, name in zip(  # noqa: B905 - raws has exactly five items
            raws[:3], (REGISTERED, EMAIL_CONFIRMED, PAPERLESS), ("registered", "email_confirmed", "paperless")
        ):
            value = BOOLS.get(raw.strip().lower())
            if value is None:
                error(line, BAD_FLAG, f"{name} {raw.strip()[:20]!r} is not yes/no")
                bad = True
            elif value:
                flags |= bit
        plan = PLAN_NAMES.get(normalise_name(raws[3]), "?")
        if plan == "?":
            error(line, BAD_PLAN, f"plan {raws[3].strip()[:20]!r} is not none, deferral or instalment")
            return None
        if plan is not None:
            value = BOOLS.get(raws[4].strip().lower())
            if value is None:
                error(line, BAD_FLAG, f"plan_kept {raws[4].strip()[:20]!r} is not yes/no")
                return None
            if value:
                flags |= PLAN_KEPT
        if bad:
            return None
        result = (engine.flags_mask(flags, plan), flags_token(flags, plan))
        if len(fcache) < 10_000:
            fcache[key] = result
        return result

    current = ""
    points = every = present = first_line = 0
    tokens: list[str] = []
    any_rows = False
    columns = table.width
    delimiter = table.delimiter
    # In the documented column order (and no extra column), the five flag columns are the tail of
    # the line: split six times and the tail is the flags' cache key as it stands.
    standard = [k for k, _ in sorted(ix.items(), key=lambda kv: kv[1])] == [
        c.key for c in BEHAVIOUR_COLUMNS
    ] and columns == len(BEHAVIOUR_COLUMNS)
    maxsplit = 6 if standard else -1
    counted_width = 7 if standard else columns

    def blank(row: list[str]) -> bool:
        return not "".join(row).replace(delimiter, "").strip()

    def flags_key(row: list[str]) -> str:
        return delimiter.join((row[gi], row[ei], row[ppi], row[pli], row[pki]))

    line = table.header_line
    for run, counted in table.segments(maxsplit):
        for row in run:
            if counted:
                line += 1
                if len(row) != counted_width:
                    if not blank(row):
                        width = len(row) if len(row) < counted_width else len(row) + row[-1].count(delimiter)
                        error(line, WRONG_COLUMN_COUNT, f"{width} columns, the header has {columns}")
                    continue
            else:
                line = table.line
            any_rows = True
            account = row[ai]
            if account != current:
                if not (account.isdigit() and account.isascii() and len(account) <= maxlen):
                    account = account.strip()
                    if not account_ok(account):
                        if not account and blank(row):
                            continue
                        error(line, *_account_problem(account))
                        continue
                if account < current:
                    error(
                        line,
                        UNSORTED,
                        f"account {account} comes after {current}: the file must be sorted by account",
                    )
                    continue
                if account != current:
                    if current:
                        yield current, points, every, present, tokens, first_line, source_index
                    current = account
                    points = present = 0
                    every = full
                    tokens = ["-"] * width
                    first_line = line
            mi = month_index.get(row[mo])
            if mi is None:
                raw = row[mo].strip()
                mi = month_index.get(raw)
                if mi is None:
                    if month_of(raw) is None:
                        error(line, BAD_MONTH, f"month {raw[:20]!r} is not YYYY-MM")
                    else:
                        error(line, BAD_MONTH, f"month {raw} is outside the window {months[0]}..{months[-1]}")
                    continue
            bit = 1 << mi
            if present & bit:
                error(line, DUPLICATE_MONTH, f"account {account} has a second row for {months[mi]}")
                continue
            start = mstart[mi]
            bad = False
            mask = 0
            # Reading: a date and a channel, or neither. Fast path: a cached minute.
            raw = row[rai]
            tail = tails.get(raw[16:])
            r_date = tail.get(raw[:16]) if tail is not None else None
            if r_date is None:
                r_date = slow_date(raw, line, "reading")
            if r_date is None:
                rl = ""
                if row[rci] and not row[rci].isspace():
                    error(line, BAD_CHANNEL, "reading channel given without a reading date")
                    bad = True
            elif r_date is False:
                bad = True
            else:
                raw = row[rci]
                info = rinfo.get(raw) or slow_channel(raw, line, "reading", rinfo, rch)
                if info is None:
                    bad = True
                else:
                    if r_date <= rd[mi] and info[1]:
                        mask = read_bit
                    rl = info[0]
            # Payment, the same way.
            raw = row[pai]
            tail = tails.get(raw[16:])
            p_date = tail.get(raw[:16]) if tail is not None else None
            if p_date is None:
                p_date = slow_date(raw, line, "payment")
            if p_date is None:
                pl = ""
                if row[pci] and not row[pci].isspace():
                    error(line, BAD_CHANNEL, "payment channel given without a payment date")
                    bad = True
            elif p_date is False:
                bad = True
            else:
                raw = row[pci]
                info = pinfo.get(raw) or slow_channel(raw, line, "payment", pinfo, pch)
                if info is None:
                    bad = True
                else:
                    if p_date <= pd[mi] and info[1]:
                        mask |= early_bit if p_date < early[mi] else pay_bit
                    pl = info[0]
            key = row[6] if len(row) == 7 else flags_key(row)
            found = fcache.get(key) or slow_flags(key, line)
            if found is None or bad:
                continue
            mask |= found[0]
            points += points_by_mask[mask]
            every &= mask
            present |= bit
            # One f-string per row: the facts token READING.PAYMENT.FLAGS (see engine.Engine.decode).
            if rl:
                if pl:
                    tokens[mi] = f"{r_date - start}{rl}.{p_date - start}{pl}.{found[1]}"
                else:
                    tokens[mi] = f"{r_date - start}{rl}..{found[1]}"
            elif pl:
                tokens[mi] = f".{p_date - start}{pl}.{found[1]}"
            else:
                tokens[mi] = ".." + found[1]
        table.line = line  # where a following run starts (see Table.segments)
    if current:
        yield current, points, every, present, tokens, first_line, source_index
    if not any_rows:
        error(table.header_line + 1, "empty_file", "the file has a header but no rows")


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
