"""Weighted selection without replacement: Fenwick tree against the naive reference, and the rules."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from draws.engine import (
    ALGORITHM_RFC3797,
    ALGORITHM_WEIGHTED,
    BadWeight,
    EmptyEntrantList,
    Entrant,
    TooManyPrizes,
    canonical_entrants,
    run_selection,
)
from draws.fenwick import FenwickTree, select_weighted, select_weighted_naive
from draws.stream import ByteStream

SEED = hashlib.sha256(b"selection").digest()


@settings(max_examples=150, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=60),
    data=st.data(),
    seed=st.binary(min_size=32, max_size=32),
)
def test_fenwick_matches_naive(weights: list[int], data: st.DataObject, seed: bytes) -> None:
    count = data.draw(st.integers(min_value=0, max_value=len(weights)))
    fast = select_weighted(weights, count, ByteStream(seed))
    slow = select_weighted_naive(weights, count, ByteStream(seed))
    assert fast == slow
    assert len(set(fast)) == len(fast)  # no duplicates


@settings(max_examples=100, deadline=None)
@given(weights=st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=70), data=st.data())
def test_fenwick_find_is_first_cumulative_weight_above_r(weights: list[int], data: st.DataObject) -> None:
    total = sum(weights)
    if total == 0:
        return
    r = data.draw(st.integers(min_value=0, max_value=total - 1))
    tree = FenwickTree(weights)
    assert tree.total() == total
    cumulative = 0
    for expected, w in enumerate(weights):  # noqa: B007 (read after the break)
        cumulative += w
        if cumulative > r:
            break
    assert tree.find(r) == expected


def test_huge_weights_fenwick_matches_naive() -> None:
    weights = [2**63 - 1, 2**62 + 1, 3, 2**63 - 7, 1]
    for i in range(20):
        seed = hashlib.sha256(f"huge-{i}".encode()).digest()
        assert select_weighted(weights, 5, ByteStream(seed)) == select_weighted_naive(weights, 5, ByteStream(seed))


def test_prizes_first_then_reserves_from_the_same_stream() -> None:
    weights = [1, 3, 3, 1, 2, 5, 1, 1, 3]
    outcome = run_selection(ALGORITHM_WEIGHTED, SEED, weights, 3, 4)
    assert outcome.winners + outcome.reserves == select_weighted(weights, 7, ByteStream(SEED))
    assert len(outcome.winners) == 3 and len(outcome.reserves) == 4


def test_deterministic() -> None:
    weights = list(range(1, 200))
    first = run_selection(ALGORITHM_WEIGHTED, SEED, weights, 10, 5)
    assert first == run_selection(ALGORITHM_WEIGHTED, SEED, weights, 10, 5)
    other = run_selection(ALGORITHM_WEIGHTED, hashlib.sha256(b"other").digest(), weights, 10, 5)
    assert other.winners != first.winners


def test_reserves_are_limited_to_entrants_left() -> None:
    outcome = run_selection(ALGORITHM_WEIGHTED, SEED, [1, 1, 1], 2, 5)
    assert len(outcome.reserves) == 1
    assert sorted(outcome.winners + outcome.reserves) == [0, 1, 2]


def test_weight_zero_entrants_are_excluded_before_the_draw() -> None:
    people = [Entrant("3", "ideal", 3), Entrant("1", "beginner", 0), Entrant("2", "responsible", 1)]
    canon = canonical_entrants(people)
    assert [e.account for e in canon] == ["2", "3"]
    with_zero = canonical_entrants([*people, Entrant("0", "beginner", 0)])
    assert with_zero == canon  # indices and digest unaffected by ineligible accounts


def test_errors() -> None:
    with pytest.raises(EmptyEntrantList, match="empty"):
        run_selection(ALGORITHM_WEIGHTED, SEED, [], 1, 0)
    with pytest.raises(TooManyPrizes, match="3 prizes but only 2"):
        run_selection(ALGORITHM_WEIGHTED, SEED, [1, 1], 3, 0)
    with pytest.raises(BadWeight):
        run_selection(ALGORITHM_WEIGHTED, SEED, [1, 0], 1, 0)
    with pytest.raises(BadWeight, match="unweighted"):
        run_selection(ALGORITHM_RFC3797, SEED, [1, 2], 1, 0)


@pytest.mark.parametrize("bad", [-1, 1.0, True, "2", 2**63])
def test_bad_weights_refused(bad: object) -> None:
    with pytest.raises(BadWeight):
        canonical_entrants([Entrant("1", "ideal", bad)])  # type: ignore[arg-type]


def test_weights_change_the_odds() -> None:
    # A weight-9 entrant against nine weight-1 entrants wins the first pick about half the time.
    wins = 0
    for i in range(2000):
        seed = hashlib.sha256(f"odds-{i}".encode()).digest()
        if select_weighted([9] + [1] * 9, 1, ByteStream(seed)) == [0]:
            wins += 1
    assert 900 < wins < 1100
