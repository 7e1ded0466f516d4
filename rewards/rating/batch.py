"""The behaviour reader's fast path: a chunk of plain lines scored column by column.

Why it exists: a monthly run scores 9 million rows and must cost at most 3x the csv module's own
parse (issue 15). Scoring a row in Python bytecode costs about three parses; here each step maps a
C builtin (a dict's ``get``, ``str.format``, an ``operator`` function) over a whole column of a
chunk, so that almost no bytecode runs per row. Only the documented layout (the eleven columns in
order) comes here, a chunk of plain lines (no quotes: ``Table.plain_chunks``) at a time.

This path never logs. A row that the caches do not answer is scored by the row scorer against a
private error log (:meth:`_RowChecks.quiet`), which also warms the caches. When any row has a
problem, or the chunk breaks an assumption (a line without eleven fields, a month not written
exactly as the window's, accounts not strictly ascending or not plain digits, a month twice), the
chunk goes back to the row path (``behaviour._AccountGrouper``), which logs every problem by line
exactly as it always has.

The rules are the engine's; :func:`reading_part` and :func:`payment_part` state them for one
(date, channel, month) and must agree with ``behaviour.month_scorer`` (the tests compare the paths).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, reduce
from itertools import compress, repeat
from operator import and_, is_, itemgetter, lt, ne, or_
from typing import TYPE_CHECKING

from rewards.csvread import ACCOUNT_MAX_DIGITS

if TYPE_CHECKING:
    from rewards.rating.behaviour import AccountMonths, _RowChecks
    from rewards.rating.engine import Engine

FIELDS = 11  # the documented layout's columns
_MINUTE = itemgetter(slice(None, 16))  # the local-date cache's keys (see LocalDates.tails)
_TAIL = itemgetter(slice(16, None))
_EMPTY: dict[str, int] = {}
_CACHE_LIMIT = 100_000  # (date, channel, month) parts; a file of odd dates cannot grow it without end
_TOKEN = "{}.{}.{}".format  # READING.PAYMENT.FLAGS (engine.Engine.decode)

# One part of a month: (its facts text, its criterion bits), e.g. ("23c", READ).
Part = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ChunkFields:
    """A chunk's lines split into the documented layout's columns (one entry per line each)."""

    account: list[str]
    month: list[str]
    reading_at: list[str]
    reading_channel: list[str]
    payment_at: list[str]
    payment_channel: list[str]
    flags: list[list[str]]  # registered, email_confirmed, paperless, plan, plan_kept

    @classmethod
    def split(cls, lines: list[str], delimiter: str) -> ChunkFields | None:
        """The columns, or None unless every line has exactly eleven fields.

        One ``join`` and one ``split`` for the chunk: no list per line (thousands of lists alive at
        once would wake the cyclic garbage collector over and over).
        """
        if list(map(str.count, lines, repeat(delimiter))).count(FIELDS - 1) != len(lines):
            return None
        flat = delimiter.join(lines).split(delimiter)
        columns = [flat[k::FIELDS] for k in range(FIELDS)]
        return cls(*columns[:6], columns[6:])


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """Per line of a chunk: its account, its month (window index), criteria mask, points and facts token."""

    accounts: list[str]
    months: list[int]
    masks: list[int]
    points: list[int]
    tokens: list[str]


def reading_part(engine: Engine, mi: int, on: int, by: tuple[str, int]) -> Part:
    """The READING part of month ``mi`` for a local date ordinal and a channel's (letter, bit when on time)."""
    letter, bit = by
    if not letter:  # no reading
        return "", 0
    return f"{on - engine.month_start[mi]}{letter}", bit if on <= engine.reading_deadline[mi] else 0


def payment_part(engine: Engine, mi: int, on: int, by: tuple[str, int]) -> Part:
    """The PAYMENT part of month ``mi``: on time by the deadline, early before the next month's 1st."""
    letter, allowed = by
    if not letter:  # no payment
        return "", 0
    bits = 0
    if allowed and on <= engine.payment_deadline[mi]:
        bits = engine.PAY | engine.EARLY if on < engine.early_before[mi] else engine.PAY
    return f"{on - engine.month_start[mi]}{letter}", bits


class ChunkScorer:
    """Scores whole chunks (:meth:`score`) with caches of parts keyed by what the row path caches."""

    def __init__(self, engine: Engine, checks: _RowChecks, score_row: Callable[[list[str], int, int, list[str]], int]):
        self.engine = engine
        self.checks = checks
        self.score_row = score_row  # the row scorer over a quiet copy of checks
        self.month_index = {m: i for i, m in enumerate(engine.months)}
        # (local date ordinal, channel text, month index) -> Part; flag fields -> (mask, FLAGS token)
        self.reading: dict[tuple[int | None, str, int], Part] = {}
        self.payment: dict[tuple[int | None, str, int], Part] = {}
        self.flags: dict[tuple[str, ...], tuple[int, str]] = {}

    def score(self, lines: list[str]) -> ScoredChunk | None:
        """Every line's month scored, or None when the chunk must go through the row path."""
        fields = ChunkFields.split(lines, self.checks.delimiter)
        if fields is None:
            return None
        months = self.month_indices(fields.month)
        if months is None:
            return None
        reading = self.parts(self.reading, self.local_dates(fields.reading_at), fields.reading_channel, months)
        payment = self.parts(self.payment, self.local_dates(fields.payment_at), fields.payment_channel, months)
        flags = list(map(self.flags.get, zip(*fields.flags)))
        fixed = self.score_misses(lines, months, reading, payment, flags)
        if fixed is None:
            return None
        masks = self.masks(reading, payment, flags)
        tokens = list(map(_TOKEN, map(itemgetter(0), reading), map(itemgetter(0), payment), map(itemgetter(1), flags)))
        for i, (mask, token) in fixed.items():
            masks[i], tokens[i] = mask, token
        points = list(map(self.engine.points_by_mask.__getitem__, masks))
        return ScoredChunk(fields.account, months, masks, points, tokens)

    def month_indices(self, texts: list[str]) -> list[int] | None:
        """Each line's month as a window index; None if any is not exactly one of the window's."""
        months = list(map(self.month_index.get, texts))
        return None if None in months else months  # type: ignore[return-value]

    def local_dates(self, texts: list[str]) -> list[int | None]:
        """Each instant's local date ordinal from the row path's cache (0: no date; None: not cached)."""
        tails = self.checks.dates.tails
        return list(map(dict.get, map(tails.get, map(_TAIL, texts), repeat(_EMPTY)), map(_MINUTE, texts)))

    @staticmethod
    def parts(cache: dict[tuple[int | None, str, int], Part], dates: list[int | None], channels: list[str],
              months: list[int]) -> list[Part | None]:
        """Each line's reading or payment part from the cache (None: not cached yet)."""
        return list(map(cache.get, zip(dates, channels, months)))

    def masks(self, reading: list[Part], payment: list[Part], flags: list[tuple[int, str]]) -> list[int]:
        """Each line's criteria mask: the flags' criteria, the reading's and the payment's bits."""
        bits = map(or_, map(itemgetter(1), reading), map(itemgetter(1), payment))
        return list(map(or_, map(itemgetter(0), flags), bits))

    def score_misses(self, lines: list[str], months: list[int], reading: list[Part | None],
                     payment: list[Part | None], flags: list[tuple[int, str] | None]) -> dict[int, tuple[int, str]] | None:
        """Score the lines the caches missed with the row scorer: ``{line index: (mask, token)}``.

        Their entries in ``reading``, ``payment`` and ``flags`` become placeholders (the result
        overrides them) and the caches learn them for the next lines; None when a line has a problem.
        """
        misses: set[int] = set()
        for column in (reading, payment, flags):
            if None in column:
                misses.update(compress(range(len(column)), map(is_, column, repeat(None))))
        fixed: dict[int, tuple[int, str]] = {}
        tokens = ["-"] * self.engine.width
        split = self.checks.delimiter
        for i in sorted(misses):
            row = lines[i].split(split, 6)
            mi = months[i]
            mask = self.score_row(row, mi, 0, tokens)
            if mask < 0:
                return None
            fixed[i] = (mask, tokens[mi])
            self.learn(row, mi)
            reading[i] = payment[i] = ("", 0)
            flags[i] = (0, "")
        return fixed

    def learn(self, row: list[str], mi: int) -> None:
        """Remember the parts of a row just scored, from the row path's caches (now warm)."""
        checks, engine = self.checks, self.engine
        tails = checks.dates.tails
        for cache, at, part, what in ((self.reading, 2, reading_part, "reading"),
                                       (self.payment, 4, payment_part, "payment")):
            raw, channel = row[at], row[at + 1]
            on = tails.get(raw[16:], _EMPTY).get(raw[:16])
            by = checks.channels[what][0].get(channel)
            if on is not None and by is not None and (not on) == (not by[0]) and len(cache) < _CACHE_LIMIT:
                cache[(on, channel, mi)] = part(engine, mi, on, by)
        found = checks.flags.get(row[6])
        if found is not None and len(self.flags) < _CACHE_LIMIT:
            self.flags[tuple(row[6].split(checks.delimiter))] = found


@dataclass(frozen=True, slots=True)
class ChunkAccounts:
    """A scored chunk's accounts: the first one's lines (the row path takes them, as that account may
    continue the one left open), then each following account added up."""

    head: int  # lines of the first account
    accounts: list[AccountMonths]  # in order; the last may continue into the next chunk


def group_accounts(
    chunk: ScoredChunk, first_line: int, source_index: int, engine: Engine, make: Callable[..., AccountMonths]
) -> ChunkAccounts | None:
    """Add the months up account by account (consecutive equal accounts), or None when the row path
    must take the chunk after its first account (accounts not ascending or not plain, a month twice)."""
    accounts = chunk.accounts
    n = len(accounts)
    starts = [0, *compress(range(1, n), map(ne, accounts[1:], accounts[:-1]))]
    heads = list(map(accounts.__getitem__, starts))
    if not (
        all(map(str.isdigit, heads)) and all(map(str.isascii, heads))
        and max(map(len, heads)) <= ACCOUNT_MAX_DIGITS and all(map(lt, heads, heads[1:]))
    ):
        return None
    spans = list(map(slice, starts[1:], [*starts[2:], n]))
    months = list(map(chunk.months.__getitem__, spans))
    tokens = list(map(chunk.tokens.__getitem__, spans))
    present = [engine.all_present] * len(spans)
    in_order = list(range(engine.width))
    for g in compress(range(len(spans)), map(in_order.__ne__, months)):  # a month missing, or out of order
        found = _place_months(months[g], tokens[g], engine.width)
        if found is None:
            return None
        present[g], tokens[g] = found
    points = map(sum, map(chunk.points.__getitem__, spans))
    every = map(partial(reduce, and_), map(chunk.masks.__getitem__, spans))
    lines = map(first_line.__add__, starts[1:])
    rows = zip(heads[1:], points, every, present, tokens, lines, repeat(source_index))
    return ChunkAccounts(starts[1] if len(starts) > 1 else n, list(map(make, rows)))


def _place_months(months: list[int], tokens: list[str], width: int) -> tuple[int, list[str]] | None:
    """``(present, tokens in window order)`` of an account whose months are not the whole window in
    order; None when a month comes twice."""
    present = 0
    placed = ["-"] * width
    for mi, token in zip(months, tokens, strict=True):
        if present >> mi & 1:
            return None
        present |= 1 << mi
        placed[mi] = token
    return present, placed
