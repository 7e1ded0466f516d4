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

The engine reads behaviour files sorted by account (``behaviour.read_accounts`` parses and scores
each row in one pass), keeps one account at a time, and yields ``(account, tier, points, facts)`` in
account order (ready for the streaming snapshot digest). ``facts`` is a compact text of the
month-by-month inputs (see :meth:`Engine.decode`) that the service stores so that :func:`explain`
can later say why, without the behaviour files.

Compiled by mypyc when the package is built (``setup.py``, ``[tool.rewards] compiled``): plain typed
Python that follows mypyc's rules (``docs/contributing.md``, "Compiled modules"); reinstall after editing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO, ClassVar

from rewards.csvread import N_, ErrorLog
from rewards.rating.behaviour import (
    CHANNEL_LETTERS,
    EMAIL_CONFIRMED,
    PAPERLESS,
    PLAN_KEPT,
    PLAN_LETTERS,
    REGISTERED,
    AccountMonths,
    flags_token,
    month_of,
    read_accounts,
    window,
)
from rewards.rating.rules import CRITERIA, Rules
from rewards.tiers import RUSSIAN_NAMES, TIER_RANK, TIERS

DUPLICATE_MONTH = "duplicate_month"

# Criterion bits of a month mask.
BIT: dict[str, int] = {name: 1 << i for i, name in enumerate(CRITERIA)}
READ, PAY, EARLY, REG, PAPER = [BIT[c] for c in CRITERIA]

_LETTER_CHANNEL = {v: k for k, v in CHANNEL_LETTERS.items()}
_LETTER_PLAN = {v: k for k, v in PLAN_LETTERS.items()}


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

    # One name per line, as class variables: mypyc (setup.py) compiles this class, takes no tuple
    # assignment in its body and would otherwise read these as instance attributes' defaults.
    READ: ClassVar[int] = READ
    PAY: ClassVar[int] = PAY
    EARLY: ClassVar[int] = EARLY
    REG: ClassVar[int] = REG
    PAPER: ClassVar[int] = PAPER

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
        self.all_present = (1 << self.width) - 1

    # -- one month -------------------------------------------------------------------------------

    def flags_mask(self, flags: int, plan: str | None) -> int:
        """The criteria met by a month's flags: registration, paperless, and a kept hardship plan."""
        mask = 0
        if flags & REGISTERED and flags & EMAIL_CONFIRMED:
            mask |= REG
        if flags & PAPERLESS:
            mask |= PAPER
        if flags & PLAN_KEPT and plan in self.rules.hardship_plans:
            mask |= self.credit
        return mask

    def month_mask(self, mi: int, facts: MonthFacts) -> int:
        """The criteria met in month ``mi`` by ``facts`` (the same rules as the bulk reader)."""
        rules = self.rules
        mask = 0
        if (
            facts.reading_date is not None
            and facts.reading_date.toordinal() <= self.reading_deadline[mi]
            and facts.reading_channel in rules.reading_channels
        ):
            mask = READ
        if facts.payment_date is not None:
            paid = facts.payment_date.toordinal()
            if paid <= self.payment_deadline[mi] and facts.payment_channel in rules.payment_channels:
                mask |= (PAY | EARLY) if paid < self.early_before[mi] else PAY
        flags = (
            (REGISTERED if facts.registered else 0)
            | (EMAIL_CONFIRMED if facts.email_confirmed else 0)
            | (PAPERLESS if facts.paperless else 0)
            | (PLAN_KEPT if facts.plan and facts.plan_kept else 0)
        )
        return mask | self.flags_mask(flags, facts.plan)

    def tier_for(self, points: int, every: int) -> str:
        """The tier for ``points`` and the criteria met in every month (``every``, a mask)."""
        for tier, min_points, required in self.tier_checks:
            if points >= min_points and every & required == required:
                return tier
        return TIERS[0]

    # -- bulk ------------------------------------------------------------------------------------

    def rate(
        self,
        files: Sequence[tuple[BinaryIO, str | None]],
        errors: ErrorLog,
    ) -> Iterator[tuple[str, str, int, str]]:
        """Yield ``(account, tier, points, facts)`` for every account of the behaviour ``files``.

        ``files`` are ``(binary stream, name)`` pairs, each sorted by account; several files (e.g.
        one per month) are merged by account. Output is in account order, ready for the streaming
        snapshot digest. The caller must check ``errors`` at the end: with any error the result must
        not be used (all or nothing).
        """
        names = [name for _, name in files]
        streams = [read_accounts(stream, self, errors, name, i) for i, (stream, name) in enumerate(files)]
        accounts = streams[0] if len(streams) == 1 else self._lockstep(streams, errors, names)
        all_present = self.all_present
        tier_checks = self.tier_checks
        beginner = TIERS[0]
        for account, points, every, present, tokens, _line, _source in accounts:
            if present != all_present:
                every = 0  # a month without data meets no criterion: it fails every "each month" rule
            tier = beginner
            for t, min_points, required in tier_checks:  # tier_for, inline: once per account
                if points >= min_points and every & required == required:
                    tier = t
                    break
            yield account, tier, points, ",".join(tokens)

    def _lockstep(
        self, streams: list[Iterator[AccountMonths]], errors: ErrorLog, names: Sequence[str | None]
    ) -> Iterator[AccountMonths]:
        """Merge the per-file accounts (each stream in account order) and join each account's months.

        Files usually hold the same accounts (one file per month), so the streams advance together:
        take the smallest head account, join the heads that have it, advance those. Cheaper than a
        heap when every head usually matches.
        """
        heads: list[AccountMonths | None] = [next(s, None) for s in streams]
        while any(head is not None for head in heads):
            account = min(head.account for head in heads if head is not None)
            holders = [i for i, head in enumerate(heads) if head is not None and head.account == account]
            joined = heads[holders[0]]
            assert joined is not None
            for i in holders[1:]:
                joined = self._join(joined, heads[i], errors, names)  # type: ignore[arg-type]
            for i in holders:
                heads[i] = next(streams[i], None)
            yield joined

    def _join(
        self, first: AccountMonths, other: AccountMonths, errors: ErrorLog, names: Sequence[str | None]
    ) -> AccountMonths:
        """One account's months from two files; a month in both is an error (``duplicate_month``)."""
        overlap = first.present & other.present
        if overlap:
            months = [self.months[m] for m in range(self.width) if overlap >> m & 1]
            errors.add(
                other.first_line,
                DUPLICATE_MONTH,
                N_("account %(account)s has rows for %(months)s in two files (also line %(other_line)s of %(file)s)"),
                names[other.source_index],
                "month",
                account=first.account, months=", ".join(months), other_line=first.first_line,
                file=names[first.source_index],
            )
        tokens = [b if b != "-" else a for a, b in zip(first.tokens, other.tokens, strict=True)]
        return first._replace(
            points=first.points + other.points,
            every=first.every & other.every,
            present=first.present | other.present,
            tokens=tokens,
        )

    # -- facts -----------------------------------------------------------------------------------

    def decode(self, code: str) -> list[MonthFacts | None]:
        """The months of a facts text (as stored with each computed snapshot row).

        Months oldest first, separated by ``,``; a missing month is ``-``; otherwise
        ``READING.PAYMENT.FLAGS`` where READING and PAYMENT are the local date as a day offset from the
        1st of the month followed by a channel letter (empty when there is none: ``c`` cabinet, ``a``
        app, ``u`` autopay, ``b`` bank, ``p`` post, ``o`` office, ``t`` terminal, ``h`` phone,
        ``s`` SMS, ``g`` agent, ``x`` other), and FLAGS are ``r`` registered, ``e`` e-mail confirmed,
        ``p`` paperless, then ``d``/``i`` for a deferral or instalment plan followed by ``k`` if its
        schedule was kept. Example: ``23c.39a.repdk`` (reading on the 24th through the cabinet, paid
        on the 40th day, i.e. the 9th or 10th of the next month, through the app).
        """
        tokens = code.split(",")
        if len(tokens) != self.width:
            raise ValueError(f"facts have {len(tokens)} months, the window has {self.width}")
        return [self.decode_month(mi, token) for mi, token in enumerate(tokens)]

    def decode_month(self, mi: int, token: str) -> MonthFacts | None:
        """One month of a facts text (:meth:`decode`): month ``mi`` of the window; ``-`` is None."""
        if token == "-":
            return None
        reading, payment, flags = token.split(".")
        start = self.month_start[mi]
        r_date, r_ch = _day(reading, start)
        p_date, p_ch = _day(payment, start)
        plan = None
        for letter, name in _LETTER_PLAN.items():
            if letter in flags:
                plan = name
        return MonthFacts(
            month=self.months[mi],
            reading_date=r_date,
            reading_channel=r_ch,
            payment_date=p_date,
            payment_channel=p_ch,
            registered="r" in flags,
            email_confirmed="e" in flags,
            paperless="p" in flags,
            plan=plan,
            plan_kept=plan is not None and "k" in flags,
        )

    def encode(self, months: Sequence[MonthFacts | None]) -> str:
        """The facts text of :meth:`decode` for ``months`` (window order)."""
        parts = []
        for mi, f in enumerate(months):
            if f is None:
                parts.append("-")
                continue
            start = self.month_start[mi]
            reading = (
                ""
                if f.reading_date is None
                else (f"{f.reading_date.toordinal() - start}{CHANNEL_LETTERS[f.reading_channel or 'other']}")
            )
            payment = (
                ""
                if f.payment_date is None
                else (f"{f.payment_date.toordinal() - start}{CHANNEL_LETTERS[f.payment_channel or 'other']}")
            )
            flags = (
                (REGISTERED if f.registered else 0)
                | (EMAIL_CONFIRMED if f.email_confirmed else 0)
                | (PAPERLESS if f.paperless else 0)
                | (PLAN_KEPT if f.plan and f.plan_kept else 0)
            )
            parts.append(f"{reading}.{payment}.{flags_token(flags, f.plan)}")
        return ",".join(parts)

    def rate_facts(self, months: Sequence[MonthFacts | None]) -> tuple[str, int, list[int | None]]:
        """``(tier, points, masks)`` for one account's months (None = no data), window order."""
        masks: list[int | None] = [
            None if f is None else self.month_mask(mi, f) for mi, f in enumerate(months)
        ]
        points = sum(self.points_by_mask[m] for m in masks if m is not None)
        every = self.full_mask
        for m in masks:
            every &= 0 if m is None else m
        return self.tier_for(points, every), points, masks


def _day(token: str, start: int) -> tuple[date | None, str | None]:
    if not token:
        return None, None
    return date.fromordinal(start + int(token[:-1])), _LETTER_CHANNEL[token[-1]]


# -- explanations --------------------------------------------------------------------------------

LANGUAGES = ("en", "ru")

_CHANNEL_TEXT = {
    "en": {
        "cabinet": "the personal cabinet",
        "app": "the mobile app",
        "autopay": "an autopayment set up in the cabinet",
        "bank": "a bank",
        "post": "the post office",
        "office": "an office",
        "terminal": "a terminal",
        "phone": "the phone",
        "sms": "SMS",
        "agent": "an intermediary",
        "other": "another channel",
    },
    "ru": {
        "cabinet": "личный кабинет",
        "app": "мобильное приложение",
        "autopay": "автоплатёж в личном кабинете",
        "bank": "банк",
        "post": "почту",
        "office": "офис",
        "terminal": "терминал",
        "phone": "телефон",
        "sms": "СМС",
        "agent": "посредника",
        "other": "другой канал",
    },
}
_PLAN_TEXT = {
    "en": {"deferral": "deferral", "instalment": "instalment"},
    "ru": {"deferral": "отсрочка", "instalment": "рассрочка"},
}
_OR = {"en": " or ", "ru": " или "}

# Reason templates by language; the criterion's outcome picks one, the facts fill it in.
_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "no_data": "no data for {month}: a month without data earns nothing",
        "no_reading": "no meter reading submitted for {month}",
        "reading": "reading on {date} through {channel}",
        "reading_late": "{base}, after the {day}th ({deadline})",
        "reading_channel": "{base}: only {allowed} count",
        "reading_ok": "{base}, by the {day}th",
        "no_payment": "no payment recorded for the {month} bill",
        "paid": "paid on {date} through {channel}",
        "pay_ok": "{base}, by {deadline}",
        "pay_late": "{base}, after {deadline}",
        "pay_channel": "{base}: only {allowed} count (no intermediaries)",
        "early_ok": "{base}, before {before}",
        "early_not": "{base}, not before {before}",
        "early_needs": "{base}: the early bonus needs an on-time payment before {before}",
        "plan_credit": (
            "approved {plan} plan with its schedule kept: counts as met (never lowers the rating); {why}"
        ),
        "plan_broken": "{why}; the {plan} plan's schedule was not kept",
        "not_registered": "not registered in the personal cabinet or mobile app",
        "no_email": "registered, but the e-mail address is not confirmed",
        "registered": "registered in the cabinet or app with a confirmed e-mail",
        "paperless": "electronic bill instead of paper",
        "paper": "paper bill still sent",
    },
    "ru": {
        "no_data": "нет данных за {month}: месяц без данных не даёт баллов",
        "no_reading": "показания за {month} не переданы",
        "reading": "показания переданы {date} через {channel}",
        "reading_late": "{base}, позже {day}-го числа ({deadline})",
        "reading_channel": "{base}: засчитываются только {allowed}",
        "reading_ok": "{base}, не позже {day}-го числа",
        "no_payment": "оплата счёта за {month} не поступила",
        "paid": "оплачено {date} через {channel}",
        "pay_ok": "{base}, не позже {deadline}",
        "pay_late": "{base}, позже {deadline}",
        "pay_channel": "{base}: засчитываются только {allowed} (без посредников)",
        "early_ok": "{base}, до {before}",
        "early_not": "{base}, но не до {before}",
        "early_needs": "{base}: баллы за раннюю оплату — только за своевременную оплату до {before}",
        "plan_credit": (
            "одобрена {plan}, график соблюдён: условие считается выполненным (рейтинг не снижается); {why}"
        ),
        "plan_broken": "{why}; график ({plan}) не соблюдён",
        "not_registered": "нет регистрации в личном кабинете или мобильном приложении",
        "no_email": "регистрация есть, но адрес электронной почты не подтверждён",
        "registered": "зарегистрирован в личном кабинете или приложении, почта подтверждена",
        "paperless": "электронная квитанция вместо бумажной",
        "paper": "по-прежнему приходит бумажная квитанция",
    },
}

_ADVICE = {
    "en": {
        "reading_on_time": "submit meter readings through {reading} by the {reading_day}th of each month",
        "payment_on_time": "pay each bill through {payment} by the {payment_day}th of the next month",
        "payment_early": (
            "pay before the 1st of the next month (e.g. pay the estimate when submitting readings)"
        ),
        "registered": "register in the personal cabinet or mobile app and confirm the e-mail address",
        "paperless": "give up the paper bill for the electronic one in the cabinet",
    },
    "ru": {
        "reading_on_time": "передавайте показания через {reading} до {reading_day}-го числа каждого месяца",
        "payment_on_time": "оплачивайте счёт через {payment} до {payment_day}-го числа следующего месяца",
        "payment_early": "оплачивайте до 1-го числа следующего месяца (например, предварительный расчёт "
        "при передаче показаний)",
        "registered": "зарегистрируйтесь в личном кабинете или мобильном приложении и подтвердите почту",
        "paperless": "откажитесь от бумажной квитанции в пользу электронной в личном кабинете",
    },
}


def _channels_text(channels: Iterable[str], lang: str) -> str:
    names = _CHANNEL_TEXT[lang]
    return _OR[lang].join(names.get(c, c) for c in sorted(channels))


def explain(engine: Engine, account: str, months: Sequence[MonthFacts | None], lang: str = "en") -> dict[str, Any]:
    """Everything a customer (or staff) needs to understand a tier: JSON-ready.

    ``months`` are the account's facts in window order (from :meth:`Engine.decode`). Returns the tier,
    points, rules version and hash, every criterion month by month (met or not, points, and why), and
    what would reach the next tier. Texts in ``lang`` (``en`` or ``ru``).
    """
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} (en or ru)")
    rules = engine.rules
    tier, points, masks = engine.rate_facts(months)
    month_entries = []
    for mi, facts in enumerate(months):
        month = engine.months[mi]
        mask = masks[mi]
        criteria = []
        for c in CRITERIA:
            met = mask is not None and bool(mask & BIT[c])
            criteria.append(
                {
                    "criterion": c,
                    "met": met,
                    "points": rules.points[c] if met else 0,
                    "reason": _reason(engine, mi, c, facts, met, lang),
                }
            )
        month_entries.append(
            {
                "month": month,
                "data": facts is not None,
                "points": 0 if mask is None else engine.points_by_mask[mask],
                "criteria": criteria,
            }
        )
    rank = TIER_RANK[tier]
    nxt = None if rank == len(TIERS) - 1 else _next_tier(engine, TIERS[rank + 1], points, masks, lang)
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
        "next_tier": nxt,
    }


def _reason(engine: Engine, mi: int, criterion: str, facts: MonthFacts | None, met: bool, lang: str) -> str:
    """Why ``criterion`` was (not) met in month ``mi``, in ``lang``."""
    if facts is None:
        return _TEXT[lang]["no_data"].format(month=engine.months[mi])
    if criterion == "reading_on_time":
        return _reading_reason(engine, mi, facts, lang)
    if criterion in ("payment_on_time", "payment_early"):
        return _payment_reason(engine, mi, criterion, facts, met, lang)
    text = _TEXT[lang]
    if criterion == "registered":
        if not facts.registered:
            return text["not_registered"]
        return text["registered"] if facts.email_confirmed else text["no_email"]
    if criterion == "paperless":
        return text["paperless"] if facts.paperless else text["paper"]
    raise ValueError(criterion)  # pragma: no cover


def _reading_reason(engine: Engine, mi: int, facts: MonthFacts, lang: str) -> str:
    rules = engine.rules
    text = _TEXT[lang]
    d, ch = facts.reading_date, facts.reading_channel
    if d is None:
        return text["no_reading"].format(month=engine.months[mi])
    base = text["reading"].format(date=d.isoformat(), channel=_CHANNEL_TEXT[lang].get(ch or "", ch))
    deadline = date.fromordinal(engine.reading_deadline[mi])
    if d > deadline:
        return text["reading_late"].format(base=base, day=rules.reading_day, deadline=deadline.isoformat())
    if ch not in rules.reading_channels:
        return text["reading_channel"].format(base=base, allowed=_channels_text(rules.reading_channels, lang))
    return text["reading_ok"].format(base=base, day=rules.reading_day)


def _payment_reason(engine: Engine, mi: int, criterion: str, facts: MonthFacts, met: bool, lang: str) -> str:
    rules = engine.rules
    text = _TEXT[lang]
    d, ch = facts.payment_date, facts.payment_channel
    if d is None:
        base = text["no_payment"].format(month=engine.months[mi])
    else:
        base = text["paid"].format(date=d.isoformat(), channel=_CHANNEL_TEXT[lang].get(ch or "", ch))
    deadline = date.fromordinal(engine.payment_deadline[mi])
    early_before = date.fromordinal(engine.early_before[mi])
    on_time = d is not None and d <= deadline and ch in rules.payment_channels
    if criterion == "payment_on_time":
        why = _on_time_reason(text, base, d, on_time, deadline, rules, lang)
    else:
        key = (
            "early_ok"
            if on_time and d is not None and d < early_before
            else ("early_not" if on_time else "early_needs")
        )
        why = text[key].format(base=base, before=early_before.isoformat())
    plan = _PLAN_TEXT[lang].get(facts.plan or "", facts.plan)
    if (
        facts.plan is not None
        and facts.plan_kept
        and facts.plan in rules.hardship_plans
        and criterion in rules.kept_plan_credits
    ):
        return text["plan_credit"].format(plan=plan, why=why)
    if facts.plan is not None and not facts.plan_kept and not met:
        return text["plan_broken"].format(plan=plan, why=why)
    return why


def _on_time_reason(
    text: dict[str, str], base: str, paid: date | None, on_time: bool, deadline: date, rules: Rules, lang: str
) -> str:
    if on_time:
        return text["pay_ok"].format(base=base, deadline=deadline.isoformat())
    if paid is None:
        return base
    if paid > deadline:
        return text["pay_late"].format(base=base, deadline=deadline.isoformat())
    return text["pay_channel"].format(base=base, allowed=_channels_text(rules.payment_channels, lang))


def _next_tier(engine: Engine, target: str, points: int, masks: Sequence[int | None], lang: str) -> dict[str, Any]:
    rules = engine.rules
    rule = rules.tier_rule(target)
    fmt = {
        "reading": _channels_text(rules.reading_channels, lang),
        "payment": _channels_text(rules.payment_channels, lang),
        "reading_day": rules.reading_day,
        "payment_day": rules.payment_day,
    }
    missing_requirements = []
    for c in rule.every_month:
        months = [engine.months[mi] for mi, m in enumerate(masks) if m is None or not m & BIT[c]]
        if months:
            missing_requirements.append(
                {
                    "criterion": c,
                    "months": months,
                    # A month stays in the window for window_months ratings; it drops out after that.
                    "clears_with_period": _add_months(months[-1], rules.window_months),
                }
            )
    advice = []
    for c in CRITERIA:
        if rules.points[c] == 0 and c not in rule.every_month:
            continue
        if any(m is None or not m & BIT[c] for m in masks):
            advice.append(
                {"criterion": c, "points_per_month": rules.points[c], "text": _ADVICE[lang][c].format(**fmt)}
            )
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
