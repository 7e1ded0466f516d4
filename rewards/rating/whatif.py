"""Rules what-if: re-rate a computed snapshot's stored month facts under a draft rules file.

Pure core (no Flask, no SQLAlchemy). A computed snapshot keeps, for every account, the month-by-month
inputs of its rating window (``Engine.decode``'s facts text). :class:`Simulation` reads those facts
under another rules file and keeps what the pages and the API show: the tier counts before (the
snapshot's real tiers) and after, the movement matrix, and each account whose tier changes.

Drafts get more checks than a rules file for a compute (:func:`check_draft`): a draft whose tiers
overlap or whose tier nobody can reach is a mistake worth refusing before anyone budgets with it.

When the draft's window differs from the snapshot's, the months are matched by name: months of the
new window that the facts do not cover count as months without data (they meet no criterion), which
is what the engine would do with behaviour files that lack them (``Simulation.missing_months``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewards.rating.engine import Engine, MonthFacts
from rewards.rating.rules import CRITERIA, N_, PAYMENT_CRITERIA, Rules, RulesError, parse_rules
from rewards.tiers import TIER_RANK, TIERS


def check_draft(data: bytes, source: str = "draft") -> Rules:
    """A draft's rules, validated; :class:`RulesError` names the field (``params["path"]``).

    On top of :func:`parse_rules` (unknown fields, negative or out-of-range numbers, ...):

    - overlapping tiers: a tier with the same threshold and the same monthly requirements as the tier
      below it, so that the lower one would never be given;
    - an unreachable tier: its monthly requirement cannot be met by anyone (no channel counts for
      it and no hardship plan credits it), or its threshold is above the most points anyone can earn
      in the window with the criteria that can be met.
    """
    rules = parse_rules(data, source)
    possible = achievable_criteria(rules)
    for lower, upper in zip(rules.tiers, rules.tiers[1:], strict=False):
        if upper.min_points == lower.min_points and set(upper.every_month) == set(lower.every_month):
            raise RulesError(
                N_("%(path)s: overlaps %(lower)s (the same threshold %(points)s and the same monthly requirements): "
                   "nobody would stay %(lower)s"),
                path=f"rules.tiers.{upper.tier}.min_points", lower=lower.tier, points=upper.min_points,
            )
    best = sum(rules.points[c] for c in possible) * rules.window_months
    for tier in rules.tiers[1:]:
        impossible = [c for c in tier.every_month if c not in possible]
        if impossible:
            raise RulesError(
                N_("%(path)s: nobody can reach %(tier)s: %(criterion)s can never be met (no channel counts for it)"),
                path=f"rules.tiers.{tier.tier}.every_month", tier=tier.tier, criterion=impossible[0],
            )
        if tier.min_points > best:
            raise RulesError(
                N_("%(path)s: nobody can reach %(tier)s: %(points)s points, but at most %(best)s can be earned "
                   "in %(months)s months"),
                path=f"rules.tiers.{tier.tier}.min_points", tier=tier.tier, points=tier.min_points, best=best,
                months=rules.window_months,
            )
    return rules


def achievable_criteria(rules: Rules) -> frozenset[str]:
    """The criteria that someone can meet under ``rules``."""
    possible = {"registered", "paperless"}
    if rules.reading_channels:
        possible.add("reading_on_time")
    if rules.payment_channels or rules.hardship_plans:
        # A kept hardship plan credits its payment criteria even without an allowed channel.
        possible |= PAYMENT_CRITERIA if rules.payment_channels else set(rules.kept_plan_credits)
    return frozenset(possible)


def rules_diff(old: Rules, new: Rules) -> list[dict[str, Any]]:
    """What changed between two rules files, field by field: ``[{"field", "old", "new"}]`` (JSON-ready)."""
    out: list[dict[str, Any]] = []

    def add(name: str, a: Any, b: Any) -> None:
        if a != b:
            out.append({"field": name, "old": a, "new": b})

    add("window_months", old.window_months, new.window_months)
    add("timezone", old.timezone, new.timezone)
    add("channels.reading", sorted(old.reading_channels), sorted(new.reading_channels))
    add("channels.payment", sorted(old.payment_channels), sorted(new.payment_channels))
    add("deadlines.reading_day", old.reading_day, new.reading_day)
    add("deadlines.payment_day_next_month", old.payment_day, new.payment_day)
    for c in CRITERIA:
        add(f"points.{c}", old.points[c], new.points[c])
    add("hardship.plans", sorted(old.hardship_plans), sorted(new.hardship_plans))
    add("hardship.kept_plan_credits", sorted(old.kept_plan_credits), sorted(new.kept_plan_credits))
    for a, b in zip(old.tiers[1:], new.tiers[1:], strict=True):
        add(f"tiers.{a.tier}.min_points", a.min_points, b.min_points)
        add(f"tiers.{a.tier}.every_month", list(a.every_month), list(b.every_month))
    return out


class Rerater:
    """Rates facts texts stored under one window (``fact_months``) with another engine, fast.

    A month's criteria depend only on its token (``23c.39a.rep``) and its place in the window, and
    tokens repeat a lot across accounts, so each (month, token) is scored once and cached.
    """

    def __init__(self, engine: Engine, source: Engine) -> None:
        self.engine = engine
        self.source = source
        where = {m: i for i, m in enumerate(source.months)}
        # For each month of the new window: its index in the stored facts, or None (no data).
        self.index: list[int | None] = [where.get(m) for m in engine.months]
        self.missing_months = [m for m, i in zip(engine.months, self.index, strict=True) if i is None]
        self._caches: list[dict[str, int]] = [{"-": -1} for _ in engine.months]
        self._plan = list(zip(self._caches, self.index, strict=True))

    def month_facts(self, tokens: Sequence[str]) -> list[MonthFacts | None]:
        """The new window's months from the stored tokens (window order), for explanations."""
        return [None if i is None else self.source.decode_month(i, tokens[i]) for i in self.index]

    def _mask(self, mi: int, si: int | None, token: str) -> int:
        """Month ``mi``'s criteria for ``token`` (month ``si`` of the stored facts), cached; -1: no data."""
        facts = None if si is None else self.source.decode_month(si, token)
        mask = -1 if facts is None else self.engine.month_mask(mi, facts)
        self._caches[mi][token] = mask
        return mask

    def rate(self, facts: str) -> tuple[str, int]:
        """``(tier, points)`` of one stored facts text under the new rules."""
        tokens = facts.split(",")
        points_by_mask = self.engine.points_by_mask
        points = 0
        every = self.engine.full_mask
        mi = 0
        for cache, si in self._plan:
            token = tokens[si] if si is not None else "-"
            mask = cache.get(token)
            if mask is None:
                mask = self._mask(mi, si, token)
            if mask < 0:
                every = 0  # a month without data meets no criterion
            else:
                points += points_by_mask[mask]
                every &= mask
            mi += 1
        for tier, min_points, required in self.engine.tier_checks:
            if points >= min_points and every & required == required:
                return tier, points
        return TIERS[0], points


class Simulation:
    """One what-if: feed every account's ``(account, real tier, facts)``; read the summary after."""

    def __init__(self, new_rules: Rules, old_rules: Rules, period: str) -> None:
        self.period = period
        self.rules = new_rules
        self.old_rules = old_rules
        self.rerater = Rerater(Engine(new_rules, period), Engine(old_rules, period))
        self._pairs: dict[tuple[str, str], int] = {}  # (real tier, new tier) -> accounts: one update per account
        self.rate = self.rerater.rate

    def add(self, old_tier: str, facts: str) -> tuple[str, int]:
        """Count one account; returns its ``(new tier, new points)``."""
        tier, points = self.rate(facts)
        key = (old_tier, tier)
        self._pairs[key] = self._pairs.get(key, 0) + 1
        return tier, points

    @property
    def matrix(self) -> dict[str, dict[str, int]]:
        """``matrix[real tier][new tier]``: accounts."""
        out = {t: {u: 0 for u in TIERS} for t in TIERS}
        for (a, b), n in self._pairs.items():
            out[a][b] += n
        return out

    def summary(self) -> dict[str, Any]:
        """Counts before and after, the movement matrix and its totals: JSON-ready."""
        matrix = self.matrix
        up = sum(matrix[a][b] for a in TIERS for b in TIERS if TIER_RANK[b] > TIER_RANK[a])
        down = sum(matrix[a][b] for a in TIERS for b in TIERS if TIER_RANK[b] < TIER_RANK[a])
        accounts = sum(self._pairs.values())
        return {
            "period": self.period,
            "accounts": accounts,
            "tiers": list(TIERS),
            "before": {a: sum(matrix[a].values()) for a in TIERS},
            "after": {b: sum(matrix[a][b] for a in TIERS) for b in TIERS},
            "matrix": matrix,
            "moved_up": up,
            "moved_down": down,
            "unchanged": accounts - up - down,
            "old_rules": {"version": self.old_rules.version, "sha256": self.old_rules.sha256},
            "new_rules": {"version": self.rules.version, "sha256": self.rules.sha256},
            "missing_months": list(self.rerater.missing_months),
            "changes": rules_diff(self.old_rules, self.rules),
        }


def tier_costs(counts: dict[str, int], weights: dict[str, int]) -> tuple[int, int]:
    """``(entrants, total weight)`` of a draw over ``counts`` with tier ``weights`` (weight 0: not entered)."""
    entrants = sum(n for t, n in counts.items() if weights.get(t, 0) > 0)
    return entrants, sum(n * weights.get(t, 0) for t, n in counts.items())
