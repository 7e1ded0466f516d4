"""The rating engine: each account's tier and points for period P from its months P-5..P.

How a month is scored (criteria and points come from the rules file, see ``rules.py``):

- ``reading_on_time``: the reading's local date is on or before the reading deadline day of the month
  and its channel is one of ``channels.reading``. (The billing system assigns readings to months; the
  engine checks only the deadline.)
- ``payment_on_time``: the payment's local date is on or before the payment deadline day of the next
  month and its channel is one of ``channels.payment`` (``autopay``, set up in the cabinet, counts).
- ``payment_early``: ``payment_on_time`` and the local date is before the 1st of the next month.
- ``registered``: registered in the cabinet or app *and* e-mail confirmed. ``paperless``: as given.
- Hardship: a month under one of ``hardship.plans`` whose schedule was kept is credited with
  ``hardship.kept_plan_credits`` (by default on-time *and* early payment), on top of whatever its
  actual payment earned. So a kept plan can never score below the same month paid on time.
- A month with no row earns nothing and meets no criterion (a new customer builds up over 6 months).

The account's points are the sum over the window; its tier is the highest tier whose
``min_points`` it reaches and whose ``every_month`` criteria are met in every month of the window.
Every step is monotone: making any one input worse can only lower the points or the tier.

The engine consumes rows grouped by account (``behaviour.merge_accounts``), keeps one account at a
time, and yields ``(account, tier, points, facts)`` in account order (ready for the streaming
snapshot digest). ``facts`` is a compact text of the month-by-month inputs (see :func:`encode_facts`)
that the service stores so that :func:`explain` can later say why, without the behaviour files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from rewards.rating.behaviour import (
    CHANNEL_LETTERS,
    EMAIL_CONFIRMED,
    PAPERLESS,
    PLAN_KEPT,
    REGISTERED,
    month_of,
    window,
)
from rewards.rating.rules import CRITERIA, Rules
from rewards.snapshots.csvfile import ErrorLog
from rewards.tiers import RUSSIAN_NAMES, TIER_RANK, TIERS

DUPLICATE_MONTH = "duplicate_month"

# Criterion bits of a month mask.
BIT: dict[str, int] = {name: 1 << i for i, name in enumerate(CRITERIA)}
READ, PAY, EARLY, REG, PAPER = (BIT[c] for c in CRITERIA)

_LETTER_CHANNEL = {v: k for k, v in CHANNEL_LETTERS.items()}
_PLAN_LETTER = {"deferral": "d", "instalment": "i"}
_LETTER_PLAN = {v: k for k, v in _PLAN_LETTER.items()}


@dataclass(frozen=True)
class MonthFacts:
    """One month's inputs, as local dates (what an explanation needs)."""

    month: str
    reading_date: date | None = None
    reading_channel: str | None = None
    payment_date: date | None = None
    payment_channel: str | None = None
    registered: bool = False
    email_confirmed: bool = False
    paperless: bool = False
    plan: str | None = None
    plan_kept: bool = False


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


class Engine:
    """The rules compiled for one period: deadlines as local-date ordinals, points by month mask."""

    def __init__(self, rules: Rules, period: str) -> None:
        self.rules = rules
        self.period = period
        self.months: list[str] = window(period, rules.window_months)
        self.width = len(self.months)
        self.month_start: list[int] = []
        self.reading_deadline: list[int] = []
        self.payment_deadline: list[int] = []
        self.early_before: list[int] = []
        for m in self.months:
            ym = month_of(m)
            assert ym is not None
            year, month = ym
            ny, nm = _next_month(year, month)
            self.month_start.append(date(year, month, 1).toordinal())
            self.reading_deadline.append(date(year, month, rules.reading_day).toordinal())
            self.payment_deadline.append(date(ny, nm, rules.payment_day).toordinal())
            self.early_before.append(date(ny, nm, 1).toordinal())
        self.credit = 0
        for c in rules.kept_plan_credits:
            self.credit |= BIT[c]
        self.points_by_mask = [
            sum(rules.points[c] for c in CRITERIA if mask & BIT[c]) for mask in range(1 << len(CRITERIA))
        ]
        # Highest tier first: (tier, min_points, required mask in every month).
        self.tier_checks = [
            (t.tier, t.min_points, sum(BIT[c] for c in t.every_month)) for t in reversed(rules.tiers)
        ]
        self.full_mask = (1 << len(CRITERIA)) - 1

    # -- one month -------------------------------------------------------------------------------

    def month_mask(self, row: Sequence) -> int:
        """The criteria met by one behaviour row (tuple layout of ``behaviour.F_*``)."""
        mi = row[1]
        rules = self.rules
        mask = 0
        r_date = row[2]
        if r_date is not None and r_date <= self.reading_deadline[mi] and row[3] in rules.reading_channels:
            mask = READ
        p_date = row[4]
        if p_date is not None and p_date <= self.payment_deadline[mi] and row[5] in rules.payment_channels:
            mask |= (PAY | EARLY) if p_date < self.early_before[mi] else PAY
        flags = row[6]
        if flags & 3 == 3:
            mask |= REG
        if flags & PAPERLESS:
            mask |= PAPER
        if flags & PLAN_KEPT and row[7] in rules.hardship_plans:
            mask |= self.credit
        return mask

    def tier_for(self, points: int, every: int) -> str:
        """The tier for ``points`` and the criteria met in every month (``every``, a mask)."""
        for tier, min_points, required in self.tier_checks:
            if points >= min_points and every & required == required:
                return tier
        return TIERS[0]

    # -- bulk ------------------------------------------------------------------------------------

    def rate(
        self,
        groups: Iterable[tuple[str, Iterable[tuple]]],
        errors: ErrorLog,
        sources: Sequence[str | None] = (None,),
        with_facts: bool = True,
    ) -> Iterator[tuple[str, str, int, str | None]]:
        """Yield ``(account, tier, points, facts_or_None)`` for each account group, in input order.

        A second row for the same account and month is an error (``duplicate_month``) and is ignored.
        The caller must check ``errors`` at the end: with any error the result must not be used.
        """
        width = self.width
        rd, pd, early = self.reading_deadline, self.payment_deadline, self.early_before
        rch, pch = self.rules.reading_channels, self.rules.payment_channels
        plans, credit = self.rules.hardship_plans, self.credit
        table = self.points_by_mask
        tier_checks = self.tier_checks
        full = self.full_mask
        beginner = TIERS[0]
        encode = self.encode
        for account, group in groups:
            slots: list = [None] * width
            masks = [0] * width
            points = 0
            every = full
            present = 0
            for r in group:
                mi = r[1]
                if slots[mi] is not None:
                    first = slots[mi]
                    errors.add(
                        r[8], DUPLICATE_MONTH,
                        f"account {account} has a second row for {self.months[mi]} "
                        f"(first at line {first[8]}{_where(sources, first[9])})",
                        sources[r[9]] if r[9] < len(sources) else None,
                    )
                    continue
                slots[mi] = r
                present += 1
                mask = 0
                r_date = r[2]
                if r_date is not None and r_date <= rd[mi] and r[3] in rch:
                    mask = READ
                p_date = r[4]
                if p_date is not None and p_date <= pd[mi] and r[5] in pch:
                    mask |= (PAY | EARLY) if p_date < early[mi] else PAY
                flags = r[6]
                if flags & 3 == 3:
                    mask |= REG
                if flags & PAPERLESS:
                    mask |= PAPER
                if flags & PLAN_KEPT and r[7] in plans:
                    mask |= credit
                masks[mi] = mask
                points += table[mask]
                every &= mask
            if present < width:
                every = 0
            tier = beginner
            for t, min_points, required in tier_checks:
                if points >= min_points and every & required == required:
                    tier = t
                    break
            yield account, tier, points, (encode(slots) if with_facts else None)

    # -- facts -----------------------------------------------------------------------------------

    def encode(self, slots: Sequence) -> str:
        """Compact text of an account's month-by-month inputs (one behaviour row or None per month).

        Months oldest first, separated by ``,``; a missing month is ``-``; otherwise
        ``READING.PAYMENT.FLAGS`` where READING and PAYMENT are the local date as a day offset from the
        1st of the month followed by a channel letter (empty when there is none), and FLAGS are
        ``r`` registered, ``e`` e-mail confirmed, ``p`` paperless, then ``d``/``i`` for a deferral or
        instalment plan followed by ``k`` if its schedule was kept. Example: ``23c.39a.repdk``.
        """
        parts = []
        for mi, r in enumerate(slots):
            if r is None:
                parts.append("-")
                continue
            start = self.month_start[mi]
            reading = "" if r[2] is None else f"{r[2] - start}{CHANNEL_LETTERS[r[3]]}"
            payment = "" if r[4] is None else f"{r[4] - start}{CHANNEL_LETTERS[r[5]]}"
            f = r[6]
            flags = ("r" if f & REGISTERED else "") + ("e" if f & EMAIL_CONFIRMED else "") + (
                "p" if f & PAPERLESS else "")
            if r[7] is not None:
                flags += _PLAN_LETTER[r[7]] + ("k" if f & PLAN_KEPT else "")
            parts.append(f"{reading}.{payment}.{flags}")
        return ",".join(parts)

    def decode(self, code: str) -> list[MonthFacts | None]:
        """The months of :meth:`encode`'s text, as :class:`MonthFacts` (None for a missing month)."""
        tokens = code.split(",")
        if len(tokens) != self.width:
            raise ValueError(f"facts have {len(tokens)} months, the window has {self.width}")
        out: list[MonthFacts | None] = []
        for mi, token in enumerate(tokens):
            if token == "-":
                out.append(None)
                continue
            reading, payment, flags = token.split(".")
            start = self.month_start[mi]
            r_date, r_ch = _day(reading, start)
            p_date, p_ch = _day(payment, start)
            plan = None
            for letter, name in _LETTER_PLAN.items():
                if letter in flags:
                    plan = name
            out.append(MonthFacts(
                month=self.months[mi], reading_date=r_date, reading_channel=r_ch, payment_date=p_date,
                payment_channel=p_ch, registered="r" in flags, email_confirmed="e" in flags,
                paperless="p" in flags, plan=plan, plan_kept=plan is not None and "k" in flags,
            ))
        return out

    def row_of(self, facts: MonthFacts) -> tuple:
        """A behaviour row tuple for ``facts`` (so that explanations score with the same code)."""
        mi = self.months.index(facts.month)
        flags = (REGISTERED if facts.registered else 0) | (EMAIL_CONFIRMED if facts.email_confirmed else 0) | (
            PAPERLESS if facts.paperless else 0) | (PLAN_KEPT if facts.plan and facts.plan_kept else 0)
        return (
            "", mi,
            facts.reading_date.toordinal() if facts.reading_date else None, facts.reading_channel,
            facts.payment_date.toordinal() if facts.payment_date else None, facts.payment_channel,
            flags, facts.plan, 0, 0,
        )

    def rate_facts(self, months: Sequence[MonthFacts | None]) -> tuple[str, int, list[int | None]]:
        """``(tier, points, masks)`` for one account's months (None = no data), window order."""
        masks: list[int | None] = [None if f is None else self.month_mask(self.row_of(f)) for f in months]
        points = sum(self.points_by_mask[m] for m in masks if m is not None)
        every = self.full_mask
        for m in masks:
            every &= 0 if m is None else m
        return self.tier_for(points, every), points, masks


def _where(sources: Sequence[str | None], index: int) -> str:
    name = sources[index] if index < len(sources) else None
    return f" of {name}" if name else ""


def _day(token: str, start: int) -> tuple[date | None, str | None]:
    if not token:
        return None, None
    return date.fromordinal(start + int(token[:-1])), _LETTER_CHANNEL[token[-1]]


# -- explanations --------------------------------------------------------------------------------

_CHANNEL_TEXT = {
    "cabinet": "the personal cabinet", "app": "the mobile app", "autopay": "an autopayment set up in the cabinet",
    "bank": "a bank", "post": "the post office", "office": "an office", "terminal": "a terminal",
    "phone": "the phone", "sms": "SMS", "agent": "an intermediary", "other": "another channel",
}


def _channels_text(channels: Iterable[str]) -> str:
    return " or ".join(sorted(channels))


def explain(engine: Engine, account: str, months: Sequence[MonthFacts | None]) -> dict:
    """Everything a customer (or staff) needs to understand a tier: JSON-ready.

    ``months`` are the account's facts in window order (from :meth:`Engine.decode`). Returns the tier,
    points, rules version and hash, every criterion month by month (met or not, points, and why), and
    what would reach the next tier.
    """
    rules = engine.rules
    tier, points, masks = engine.rate_facts(months)
    month_entries = []
    for mi, facts in enumerate(months):
        month = engine.months[mi]
        mask = masks[mi]
        criteria = []
        for c in CRITERIA:
            met = mask is not None and bool(mask & BIT[c])
            criteria.append({
                "criterion": c,
                "met": met,
                "points": rules.points[c] if met else 0,
                "reason": _reason(engine, mi, c, facts, met),
            })
        month_entries.append({
            "month": month,
            "data": facts is not None,
            "points": 0 if mask is None else engine.points_by_mask[mask],
            "criteria": criteria,
        })
    rank = TIER_RANK[tier]
    return {
        "account": account,
        "period": engine.period,
        "tier": tier,
        "tier_label": RUSSIAN_NAMES[tier],
        "points": points,
        "max_points": rules.max_points,
        "rules_version": rules.version,
        "rules_sha256": rules.sha256,
        "window": list(engine.months),
        "months": month_entries,
        "next_tier": None if rank == len(TIERS) - 1 else _next_tier(engine, TIERS[rank + 1], points, masks),
    }


def _reason(engine: Engine, mi: int, criterion: str, facts: MonthFacts | None, met: bool) -> str:
    rules = engine.rules
    month = engine.months[mi]
    if facts is None:
        return f"no data for {month}: a month without data earns nothing"
    reading_deadline = date.fromordinal(engine.reading_deadline[mi])
    payment_deadline = date.fromordinal(engine.payment_deadline[mi])
    early_before = date.fromordinal(engine.early_before[mi])
    plan_credit = (
        facts.plan is not None and facts.plan_kept and facts.plan in rules.hardship_plans
        and criterion in rules.kept_plan_credits
    )
    if criterion == "reading_on_time":
        d, ch = facts.reading_date, facts.reading_channel
        if d is None:
            return f"no meter reading submitted for {month}"
        where = f"reading on {d.isoformat()} through {_CHANNEL_TEXT.get(ch or '', ch)}"
        if d > reading_deadline:
            return f"{where}, after the {rules.reading_day}th ({reading_deadline.isoformat()})"
        if ch not in rules.reading_channels:
            return f"{where}: only {_channels_text(rules.reading_channels)} count"
        return f"{where}, by the {rules.reading_day}th"
    if criterion in ("payment_on_time", "payment_early"):
        d, ch = facts.payment_date, facts.payment_channel
        if d is None:
            base = f"no payment recorded for the {month} bill"
        else:
            base = f"paid on {d.isoformat()} through {_CHANNEL_TEXT.get(ch or '', ch)}"
        on_time = d is not None and d <= payment_deadline and ch in rules.payment_channels
        if criterion == "payment_on_time":
            if on_time:
                why = f"{base}, by {payment_deadline.isoformat()}"
            elif d is None:
                why = base
            elif d > payment_deadline:
                why = f"{base}, after {payment_deadline.isoformat()}"
            else:
                why = f"{base}: only {_channels_text(rules.payment_channels)} count (no intermediaries)"
        else:
            if on_time and d is not None and d < early_before:
                why = f"{base}, before {early_before.isoformat()}"
            elif on_time:
                why = f"{base}, not before {early_before.isoformat()}"
            else:
                why = f"{base}: the early bonus needs an on-time payment before {early_before.isoformat()}"
        if plan_credit:
            return (f"approved {facts.plan} plan with its schedule kept: counts as met "
                    f"(never lowers the rating); {why}")
        if facts.plan is not None and not facts.plan_kept and not met:
            return f"{why}; the {facts.plan} plan's schedule was not kept"
        return why
    if criterion == "registered":
        if not facts.registered:
            return "not registered in the personal cabinet or mobile app"
        if not facts.email_confirmed:
            return "registered, but the e-mail address is not confirmed"
        return "registered in the cabinet or app with a confirmed e-mail"
    if criterion == "paperless":
        return "electronic bill instead of paper" if facts.paperless else "paper bill still sent"
    raise ValueError(criterion)  # pragma: no cover


_ADVICE = {
    "reading_on_time": "submit meter readings through {reading} by the {reading_day}th of each month",
    "payment_on_time": "pay each bill through {payment} by the {payment_day}th of the next month",
    "payment_early": "pay before the 1st of the next month (e.g. pay the estimate when submitting readings)",
    "registered": "register in the personal cabinet or mobile app and confirm the e-mail address",
    "paperless": "give up the paper bill for the electronic one in the cabinet",
}


def _next_tier(engine: Engine, target: str, points: int, masks: Sequence[int | None]) -> dict:
    rules = engine.rules
    rule = rules.tier_rule(target)
    fmt = {
        "reading": _channels_text(rules.reading_channels),
        "payment": _channels_text(rules.payment_channels),
        "reading_day": rules.reading_day,
        "payment_day": rules.payment_day,
    }
    missing_requirements = []
    for c in rule.every_month:
        months = [engine.months[mi] for mi, m in enumerate(masks) if m is None or not m & BIT[c]]
        if months:
            missing_requirements.append({
                "criterion": c,
                "months": months,
                # A month stays in the window for window_months ratings; it drops out after that.
                "clears_with_period": _add_months(months[-1], rules.window_months),
            })
    advice = []
    for c in CRITERIA:
        if rules.points[c] == 0 and c not in rule.every_month:
            continue
        if any(m is None or not m & BIT[c] for m in masks):
            advice.append({"criterion": c, "points_per_month": rules.points[c],
                           "text": _ADVICE[c].format(**fmt)})
    return {
        "tier": target,
        "tier_label": RUSSIAN_NAMES[target],
        "min_points": rule.min_points,
        "points_missing": max(0, rule.min_points - points),
        "every_month": list(rule.every_month),
        "requirements_missing": missing_requirements,
        "advice": advice,
    }


def _add_months(month: str, n: int) -> str:
    ym = month_of(month)
    assert ym is not None
    index = ym[0] * 12 + ym[1] - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
