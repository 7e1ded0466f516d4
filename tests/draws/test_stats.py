"""Statistics mode: exact expectations, chi-square p-values, a small simulation."""

from __future__ import annotations

from fractions import Fraction

import pytest

from draws.stats import chi_square, gamma_q, inclusion_probabilities, simulate


def test_gamma_q_known_values() -> None:
    assert gamma_q(0.5, 3.841459 / 2) == pytest.approx(0.05, abs=1e-5)  # chi2(1) 95 % quantile
    assert gamma_q(5, 5) == pytest.approx(0.440493, abs=1e-5)  # chi2(10) at 10
    assert gamma_q(2, 0) == 1.0


def test_inclusion_probabilities_exact() -> None:
    assert inclusion_probabilities([1, 1, 2], 1) == [Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)]
    two = inclusion_probabilities([1, 1, 2], 2)
    assert sum(two) == 2
    assert two[2] == Fraction(1, 2) + Fraction(1, 4) * Fraction(2, 3) * 2


def test_simulation_is_consistent_with_the_weights() -> None:
    report = simulate([1, 2, 3, 1, 1], picks=2, runs=3000, base_seed=b"test")
    assert sum(report.wins) == 6000
    assert report.exact_inclusion
    assert report.p_value > 0.001 and report.first_pick_p_value > 0.001
    assert "chi-square" in report.as_table()


def test_chi_square_detects_bias() -> None:
    _, _, p = chi_square([200, 100, 100], [133.3, 133.3, 133.4])
    assert p < 1e-6
