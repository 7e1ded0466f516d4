"""The yearly prize cap."""

from __future__ import annotations

import pytest

from draws.cap import DEFAULT_YEARLY_CAP_KOPECKS, capped_accounts, exceeds_yearly_cap, largest_prize


def test_rule() -> None:
    assert DEFAULT_YEARLY_CAP_KOPECKS == 400_000
    assert not exceeds_yearly_cap(0, 400_000)
    assert not exceeds_yearly_cap(300_000, 100_000)
    assert exceeds_yearly_cap(300_001, 100_000)
    assert exceeds_yearly_cap(1, 400_000)
    assert not exceeds_yearly_cap(500_000, 100_000, cap_kopecks=600_000)


def test_capped_accounts_uses_the_largest_prize() -> None:
    won = {"a": 0, "b": 250_001, "c": 350_000, "d": 250_000}
    assert capped_accounts(won, largest_prize([50_000, 150_000])) == {"b", "c"}


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_refuses_non_integer_money(bad: object) -> None:
    with pytest.raises(ValueError):
        exceeds_yearly_cap(bad, 1)  # type: ignore[arg-type]
