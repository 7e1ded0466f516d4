"""Statistics mode: many seeded draws on a small pool, win counts and a chi-square test.

For a test lab (GLI-style): the selection must keep the distribution exactly proportional to the
weights. :func:`simulate` runs ``runs`` independent draws with seeds
``SHA-256(lp("loyalty-draw/simulate/v1") || lp(base_seed) || u64(run))`` and counts, per entrant, how
many times it was selected among the ``picks`` selections of a run.

Expected counts are exact: the probability that entrant ``i`` is among the first ``picks`` weighted
selections without replacement is computed by recursion over the sets already selected, in exact
fractions (feasible for the small pools this mode is for; above a state limit only the first pick is
tested, whose probability is simply ``w_i / W``). The chi-square statistic is
``sum((observed - expected)^2 / expected)`` and the p-value is the upper regularized incomplete gamma
function ``Q(df / 2, chi2 / 2)``. Floats appear only in this report, never in a draw.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

from draws.encoding import lp, u64
from draws.fenwick import select_weighted
from draws.stream import ByteStream

SIMULATE_TAG = b"loyalty-draw/simulate/v1"
MAX_EXACT_STATES = 200_000


def run_seed(base_seed: bytes, run: int) -> bytes:
    """Seed of simulation run ``run``."""
    return hashlib.sha256(lp(SIMULATE_TAG) + lp(base_seed) + u64(run)).digest()


def inclusion_probabilities(weights: Sequence[int], picks: int) -> list[Fraction]:
    """Exact probability that each entrant is among the first ``picks`` weighted selections."""
    n = len(weights)
    total = sum(weights)

    @cache
    def dist(selected: frozenset[int]) -> tuple[Fraction, ...]:
        # Expected number of selections of each entrant in the remaining picks, given ``selected``.
        left = picks - len(selected)
        out = [Fraction(0)] * n
        if left == 0:
            return tuple(out)
        remaining = total - sum(weights[j] for j in selected)
        for i in range(n):
            if i in selected:
                continue
            p = Fraction(weights[i], remaining)
            out[i] += p
            sub = dist(selected | {i})
            for j in range(n):
                out[j] += p * sub[j]
        return tuple(out)

    return list(dist(frozenset()))


def _state_count(n: int, picks: int) -> int:
    return sum(math.comb(n, k) for k in range(picks))


def gamma_q(a: float, x: float) -> float:
    """Upper regularized incomplete gamma ``Q(a, x)`` (series for x < a+1, continued fraction else)."""
    if x <= 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    # Lentz's continued fraction (Numerical Recipes gcf).
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(log_prefix) * h


def chi_square(observed: Sequence[int], expected: Sequence[float]) -> tuple[float, int, float]:
    """``(statistic, degrees of freedom, p-value)``; df = number of cells - 1."""
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True) if e > 0)
    df = max(1, sum(1 for e in expected if e > 0) - 1)
    return stat, df, gamma_q(df / 2, stat / 2)


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """Outcome of :func:`simulate`."""

    runs: int
    picks: int
    weights: tuple[int, ...]
    wins: tuple[int, ...]
    first_pick: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float
    df: int
    p_value: float
    exact_inclusion: bool
    first_pick_chi2: float
    first_pick_p_value: float
    rejections: int

    def as_table(self) -> str:
        """A plain-text table for the CLI."""
        lines = [
            f"runs={self.runs} picks={self.picks} entrants={len(self.weights)} rejections={self.rejections}",
            f"{'entrant':>7} {'weight':>6} {'wins':>9} {'expected':>12} {'first':>9}",
        ]
        for i, (w, c, e, f) in enumerate(zip(self.weights, self.wins, self.expected, self.first_pick, strict=True)):
            lines.append(f"{i:>7} {w:>6} {c:>9} {e:>12.1f} {f:>9}")
        kind = "inclusion (exact expectation)" if self.exact_inclusion else "first pick only"
        lines.append(f"chi-square {kind}: {self.chi2:.3f} on {self.df} df, p = {self.p_value:.4f}")
        lines.append(f"chi-square first pick: {self.first_pick_chi2:.3f}, p = {self.first_pick_p_value:.4f}")
        return "\n".join(lines)


def simulate(weights: Sequence[int], picks: int, runs: int, base_seed: bytes = b"simulate") -> SimulationReport:
    """Run ``runs`` seeded draws of ``picks`` selections each over ``weights`` and test the counts."""
    n = len(weights)
    if n == 0 or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in weights):
        raise ValueError("simulation needs at least one entrant, every weight an integer >= 1")
    if not 1 <= picks <= n:
        raise ValueError(f"picks must be between 1 and {n}")
    if runs < 1:
        raise ValueError("runs must be positive")
    wins = [0] * n
    first = [0] * n
    rejections = 0
    for run in range(runs):
        stream = ByteStream(run_seed(base_seed, run))
        chosen = select_weighted(weights, picks, stream)
        rejections += stream.rejections
        first[chosen[0]] += 1
        for index in chosen:
            wins[index] += 1
    total = sum(weights)
    first_expected = [runs * w / total for w in weights]
    f_chi2, _, f_p = chi_square(first, first_expected)
    exact = _state_count(n, picks) <= MAX_EXACT_STATES
    if exact:
        expected = [runs * float(p) for p in inclusion_probabilities(weights, picks)]
        chi2, df, p_value = chi_square(wins, expected)
        if picks == n:  # every entrant always wins: nothing to test
            chi2, p_value = 0.0, 1.0
    else:
        expected, chi2, df, p_value = first_expected, f_chi2, n - 1, f_p
    return SimulationReport(
        runs, picks, tuple(weights), tuple(wins), tuple(first), tuple(expected),
        chi2, df, p_value, exact, f_chi2, f_p, rejections,
    )
