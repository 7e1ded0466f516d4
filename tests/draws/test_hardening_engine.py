"""Pure-core hardening: bounded prize counts, shapes refused before any work."""

from __future__ import annotations

import pytest

from draws.engine import MAX_PRIZE_COUNT, BadPrize, expand_prizes, validate_prizes


def test_total_prize_count_is_capped_without_expanding() -> None:
    assert len(expand_prizes([{"amount_kopecks": 100, "count": MAX_PRIZE_COUNT}])) == MAX_PRIZE_COUNT
    for prizes in (
        [{"amount_kopecks": 100, "count": 10**10}],  # would need ~80 GB if expanded first
        [{"amount_kopecks": 100, "count": MAX_PRIZE_COUNT}, {"amount_kopecks": 100, "count": 1}],
    ):
        with pytest.raises(BadPrize, match="prizes in total"):
            validate_prizes(prizes)
        with pytest.raises(BadPrize):
            expand_prizes(prizes)


@pytest.mark.parametrize("prizes", ["400000 x 1", {"amount_kopecks": 1, "count": 1}, 5, None])
def test_prize_list_shape(prizes: object) -> None:
    with pytest.raises(BadPrize):
        validate_prizes(prizes)  # type: ignore[arg-type]
