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
by account (:func:`merge_accounts`). Sort a file with, e.g., ``LC_ALL=C sort -t';' -k1,1 -s`` after
its header.

Each good row becomes a plain tuple (fields at the ``F_*`` positions) to keep 9 million rows fast.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from operator import itemgetter
from typing import BinaryIO
from zoneinfo import ZoneInfo

from rewards.snapshots.csvfile import (
    ACCOUNT_MAX_DIGITS,
    Column,
    ErrorLog,
    Table,
    _account_problem,
    account_ok,
    is_blank,
    normalise_name,
)

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
    "cabinet": "c", "app": "a", "autopay": "u", "bank": "b", "post": "p", "office": "o",
    "terminal": "t", "phone": "h", "sms": "s", "agent": "g", "other": "x",
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

PLAN_NAMES: dict[str, str | None] = {
    "": None, "none": None, "no": None, "нет": None, "-": None,
    "deferral": "deferral", "отсрочка": "deferral",
    "instalment": "instalment", "installment": "instalment", "рассрочка": "instalment",
}

# Flag bits of F_FLAGS.
REGISTERED, EMAIL_CONFIRMED, PAPERLESS, PLAN_KEPT = 1, 2, 4, 8

# Positions in a behaviour row tuple.
F_ACCOUNT, F_MONTH, F_READ_DATE, F_READ_CH, F_PAY_DATE, F_PAY_CH, F_FLAGS, F_PLAN, F_LINE, F_SOURCE = range(10)

_SECONDS = frozenset(f"{s:02d}" for s in range(60))


class LocalDates:
    """Local dates (as ``date.toordinal()``) of instants, in one time zone, with a cache.

    An instant needs a UTC offset (``Z`` or ``+05:00``): a naive date-time is refused, because
    deadlines are local dates and stored instants are UTC. A bare ``YYYY-MM-DD`` is taken as the
    local date itself. The cache key drops the seconds (validated first): no time zone offset in use
    today has seconds, so they never change the local date.
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._cache: dict[str, int] = {}

    def ordinal(self, text: str) -> int | str:
        """The local date's ordinal, or an error message (a str)."""
        n = len(text)
        key = None
        if (n == 20 or n == 25) and text[16] == ":" and text[17:19] in _SECONDS:
            key = text[:16] + text[19:]
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        result = self._parse(text.strip())
        if key is not None and isinstance(result, int):
            if len(self._cache) > 2_000_000:
                self._cache.clear()
            self._cache[key] = result
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


def read_behaviour(
    stream: BinaryIO,
    months: Sequence[str],
    zone: ZoneInfo,
    errors: ErrorLog,
    source: str | None = None,
    source_index: int = 0,
) -> Iterator[tuple]:
    """Yield the good behaviour rows of one file (tuples, see ``F_*``), checking the account order.

    ``months`` is the rating window (``YYYY-MM``); a row for another month is an error. Problems go
    to ``errors`` by line (``source`` names the file in each error).
    """
    table = Table(stream, BEHAVIOUR_COLUMNS, errors, source)
    if not table.ok:
        return
    ix = table.index
    ai, mi_, rai, rci, pai, pci = (ix[k] for k in ("account", "month", "reading_at", "reading_channel",
                                                     "payment_at", "payment_channel"))
    gi, ei, ppi, pli, pki = (ix[k] for k in ("registered", "email_confirmed", "paperless", "plan",
                                              "plan_kept"))
    month_index = {m: i for i, m in enumerate(months)}
    dates = LocalDates(zone)
    ordinal = dates.ordinal
    channels = CHANNEL_NAMES
    bools = BOOLS
    plans = PLAN_NAMES
    maxlen = ACCOUNT_MAX_DIGITS
    last = ""
    any_rows = False

    def error(line: int, kind: str, message: str) -> None:
        errors.add(line, kind, message, source)

    for line, row in table.rows():
        any_rows = True
        account = row[ai]
        if not (account.isdigit() and account.isascii() and len(account) <= maxlen):
            account = account.strip()
            if not account_ok(account):
                if not account and is_blank(row):
                    continue
                error(line, *_account_problem(account))
                continue
        if account < last:
            error(line, UNSORTED, f"account {account} comes after {last}: the file must be sorted by account")
        else:
            last = account
        raw = row[mi_]
        mi = month_index.get(raw)
        if mi is None:
            raw = raw.strip()
            mi = month_index.get(raw)
            if mi is None:
                if month_of(raw) is None:
                    error(line, BAD_MONTH, f"month {raw[:20]!r} is not YYYY-MM")
                else:
                    error(line, BAD_MONTH, f"month {raw} is outside the window {months[0]}..{months[-1]}")
                continue
        bad = False
        # Reading and payment: a date and a channel, or neither.
        r_date = r_ch = p_date = p_ch = None
        for what, di, ci in (("reading", rai, rci), ("payment", pai, pci)):
            raw_date, raw_ch = row[di], row[ci]
            if raw_date and not raw_date.isspace():
                found = ordinal(raw_date)
                if found.__class__ is str:
                    error(line, BAD_DATE, f"{what} date {found}")
                    bad = True
                    continue
                ch = channels.get(raw_ch) or channels.get(normalise_name(raw_ch))
                if ch is None:
                    stripped = raw_ch.strip()
                    error(line, BAD_CHANNEL, f"unknown {what} channel {stripped[:30]!r}" if stripped
                          else f"{what} date given without a channel")
                    bad = True
                    continue
                if what == "reading":
                    r_date, r_ch = found, ch
                else:
                    p_date, p_ch = found, ch
            elif raw_ch and not raw_ch.isspace():
                error(line, BAD_CHANNEL, f"{what} channel given without a {what} date")
                bad = True
        flags = 0
        for position, bit, name in ((gi, REGISTERED, "registered"), (ei, EMAIL_CONFIRMED, "email_confirmed"),
                                    (ppi, PAPERLESS, "paperless")):
            raw = row[position]
            value = bools.get(raw)
            if value is None:
                value = bools.get(raw.strip().lower())
                if value is None:
                    error(line, BAD_FLAG, f"{name} {raw.strip()[:20]!r} is not yes/no")
                    bad = True
                    continue
            if value:
                flags |= bit
        raw = row[pli]
        plan = plans.get(raw, "?")
        if plan == "?":
            plan = plans.get(normalise_name(raw), "?")
            if plan == "?":
                error(line, BAD_PLAN, f"plan {raw.strip()[:20]!r} is not none, deferral or instalment")
                bad = True
                plan = None
        if plan is not None:
            raw = row[pki]
            value = bools.get(raw)
            if value is None:
                value = bools.get(raw.strip().lower())
            if value is None:
                error(line, BAD_FLAG, f"plan_kept {raw.strip()[:20]!r} is not yes/no")
                bad = True
            elif value:
                flags |= PLAN_KEPT
        if bad:
            continue
        yield (account, mi, r_date, r_ch, p_date, p_ch, flags, plan, line, source_index)
    if not any_rows and table.ok:
        error(table.header_line + 1, "empty_file", "the file has a header but no rows")


def merge_accounts(streams: Iterable[Iterator[tuple]]) -> Iterator[tuple[str, Iterator[tuple]]]:
    """Merge per-file row streams (each sorted by account) and group them: ``(account, rows)``."""
    streams = list(streams)
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=itemgetter(0))
    return itertools.groupby(merged, key=itemgetter(0))
